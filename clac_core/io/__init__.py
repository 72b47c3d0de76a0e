"""Read and validate crystal structures from user files or uploaded bytes.

One entry point, :func:`read_structures`, turns a path, raw bytes or a file-like object into a
list of ordered, periodic pymatgen ``Structure`` objects, or raises a
:class:`StructureReadError` subclass whose message names the file, says what is wrong in plain
words and what to do about it. No raw pymatgen / ASE / decoding exception escapes: they are
wrapped with ``raise ... from exc`` so the cause stays available for debugging.

Supported formats (picked from the file name, else sniffed from the content):

* CIF (``.cif``, ``.mcif``); a multi-block CIF gives one structure per crystal block.
* VASP POSCAR/CONTCAR (``.vasp``, ``.poscar``, ``POSCAR*``, ``CONTCAR*``).
* Extended XYZ with a ``Lattice=`` header (``.xyz``, ``.extxyz``), read with ASE because
  pymatgen has no extxyz reader, then converted with ``AseAtomsAdaptor``.
* pymatgen JSON: one ``Structure.as_dict()`` object or a list of them (``.json``).

A ``.gz`` suffix on any of these is decompressed first (within ``max_bytes``).

Limits are checked *before* the expensive work, from what the file declares: the byte size
(also after gzip decompression, read in bounded chunks), the number of data blocks / frames /
JSON items (``max_blocks``), the declared atom counts (POSCAR counts, the XYZ atom-count line,
CIF atom-site rows, JSON sites), and for a CIF the sites that symmetry expansion could produce
(operations × sites, at most :data:`SYMMETRY_ALLOWANCE` × ``max_sites``). Declared cell
parameters, occupancies and element symbols are checked in the raw text too, because the
parsers silently "fix" them (negative lengths become positive, an angle of 270° becomes 90°,
``Uue`` is read as U, zero occupancies and unknown symbols are dropped). A whole read has a
time budget (``time_budget`` seconds, :class:`ReadTimeoutError`).

Validation applied to every structure, in this order: it has a lattice (a molecule is
rejected with :class:`NoLatticeError`), at least one and at most ``max_sites`` sites, finite
numbers, cell lengths in (0, :data:`MAX_CELL_LENGTH`] Å and a non-degenerate cell, known
element symbols only, occupancies in (0, 1], the ``on_partial`` policy for partially occupied
sites, a cell thick enough for a bounded neighbour search, no two atoms closer than
:data:`MIN_DISTANCE` Å and no atom without a neighbour within ``neighbor_cutoff`` Å (the
graph cutoff; periodic images included in both, one vectorized neighbour list).

Partial occupancy with ``on_partial="most_probable"``: each site keeps only its most probable
species at occupancy 1; a site whose vacancy fraction (1 - total occupancy) is larger than
every species' occupancy is dropped. The result is recorded in
``structure.properties["clac_note"]`` (:data:`PARTIAL_NOTE`). This is a crude, deterministic
stand-in for a proper ordering (e.g. pymatgen's ``OrderDisorderedStructureTransformation``,
which enumerates supercells and is far too slow for an interactive upload).

The package, one job per module: :mod:`~clac_core.io.reader` (the entry point),
:mod:`~clac_core.io.errors`, :mod:`~clac_core.io.limits`, :mod:`~clac_core.io.budget`,
:mod:`~clac_core.io.source` (bytes, gzip, decoding), :mod:`~clac_core.io.formats`,
:mod:`~clac_core.io.words` (plain-words messages), one module per format
(:mod:`~clac_core.io.cif` with :mod:`~clac_core.io.cif_checks`, :mod:`~clac_core.io.poscar`,
:mod:`~clac_core.io.extxyz`, :mod:`~clac_core.io.pymatgen_json`) and
:mod:`~clac_core.io.validate`. Its public names are importable from ``clac_core.io``.
"""

from __future__ import annotations

from clac_core.io.cif import structure_to_cif
from clac_core.io.errors import (
    BadLatticeError,
    BadOccupancyError,
    BadSitesError,
    DecodeError,
    EmptyFileError,
    FileTooLargeError,
    IsolatedAtomError,
    NoLatticeError,
    ParseError,
    PartialOccupancyError,
    ReadTimeoutError,
    StructureReadError,
    TooManyBlocksError,
    TooManySitesError,
    UnknownElementError,
    UnsupportedFormatError,
)
from clac_core.io.formats import SUPPORTED_FORMATS, Format, detect_format
from clac_core.io.limits import (
    DEFAULT_MAX_BLOCKS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SITES,
    DEFAULT_NEIGHBOR_CUTOFF,
    DEFAULT_TIME_BUDGET,
    MAX_CELL_LENGTH,
    MAX_NEIGHBOR_IMAGES,
    MIN_CELL_VOLUME,
    MIN_DISTANCE,
    OCCUPANCY_TOLERANCE,
    PARTIAL_NOTE,
    SYMMETRY_ALLOWANCE,
    ReadLimits,
    describe_limits,
)
from clac_core.io.reader import read_structures
from clac_core.io.source import Source
from clac_core.io.words import is_element_symbol

__all__ = [
    "BadLatticeError",
    "BadOccupancyError",
    "BadSitesError",
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SITES",
    "DEFAULT_NEIGHBOR_CUTOFF",
    "DEFAULT_TIME_BUDGET",
    "DecodeError",
    "EmptyFileError",
    "FileTooLargeError",
    "Format",
    "IsolatedAtomError",
    "MAX_CELL_LENGTH",
    "MAX_NEIGHBOR_IMAGES",
    "MIN_CELL_VOLUME",
    "MIN_DISTANCE",
    "NoLatticeError",
    "OCCUPANCY_TOLERANCE",
    "PARTIAL_NOTE",
    "ParseError",
    "PartialOccupancyError",
    "ReadLimits",
    "ReadTimeoutError",
    "SUPPORTED_FORMATS",
    "SYMMETRY_ALLOWANCE",
    "Source",
    "StructureReadError",
    "TooManyBlocksError",
    "TooManySitesError",
    "UnknownElementError",
    "UnsupportedFormatError",
    "describe_limits",
    "detect_format",
    "is_element_symbol",
    "read_structures",
    "structure_to_cif",
]
