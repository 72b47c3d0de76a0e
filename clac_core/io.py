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

Validation applied to every structure, in this order: it has a lattice (a molecule is
rejected with :class:`NoLatticeError`), a non-degenerate cell, at least one site, at most
``max_sites`` sites, no two atoms closer than :data:`MIN_DISTANCE` Å (periodic images
included), and, for partially occupied sites, the ``on_partial`` policy.

Partial occupancy with ``on_partial="most_probable"``: each site keeps only its most probable
species at occupancy 1; a site whose vacancy fraction (1 - total occupancy) is larger than
every species' occupancy is dropped. The result is recorded in
``structure.properties["clac_note"]`` (:data:`PARTIAL_NOTE`). This is a crude, deterministic
stand-in for a proper ordering (e.g. pymatgen's ``OrderDisorderedStructureTransformation``,
which enumerates supercells and is far too slow for an interactive upload).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SITES",
    "MIN_DISTANCE",
    "PARTIAL_NOTE",
    "SUPPORTED_FORMATS",
    "BadLatticeError",
    "BadSitesError",
    "DecodeError",
    "EmptyFileError",
    "FileTooLargeError",
    "NoLatticeError",
    "ParseError",
    "PartialOccupancyError",
    "ReadLimits",
    "StructureReadError",
    "TooManySitesError",
    "UnsupportedFormatError",
    "describe_limits",
    "detect_format",
    "read_structures",
    "structure_to_cif",
]

DEFAULT_MAX_SITES: int = 500
"""Largest number of sites accepted per structure (graph building and the viewer scale with it)."""

DEFAULT_MAX_BYTES: int = 5_000_000
"""Largest file accepted, in bytes (after gzip decompression for ``.gz`` files)."""

MIN_DISTANCE: float = 0.5
"""Å; two atoms closer than this (periodic images included) are reported as overlapping."""

PARTIAL_NOTE: str = "partial occupancy resolved to most-probable species"
"""Value written to ``structure.properties["clac_note"]`` when partial occupancy was resolved."""

Format = Literal["cif", "poscar", "extxyz", "json"]

SUPPORTED_FORMATS: dict[str, str] = {
    "cif": "CIF (.cif, .mcif; several data_ blocks give several structures)",
    "poscar": "VASP POSCAR/CONTCAR (.vasp, .poscar, POSCAR*, CONTCAR*)",
    "extxyz": "extended XYZ with a Lattice= header (.xyz, .extxyz)",
    "json": "pymatgen Structure JSON (Structure.as_dict(), or a list of them; .json)",
}

_EXTENSIONS: dict[str, Format] = {
    ".cif": "cif",
    ".mcif": "cif",
    ".vasp": "poscar",
    ".poscar": "poscar",
    ".contcar": "poscar",
    ".xyz": "extxyz",
    ".extxyz": "extxyz",
    ".json": "json",
}

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]


# --------------------------------------------------------------------------- errors


class StructureReadError(ValueError):
    """Base class: the input could not be turned into a usable crystal structure.

    Attributes:
        filename: The file name the message refers to (may be ``"<bytes>"``).
    """

    def __init__(self, message: str, *, filename: str = "<input>") -> None:
        super().__init__(message)
        self.filename = filename


class EmptyFileError(StructureReadError):
    """The file has no content (or only whitespace)."""


class DecodeError(StructureReadError):
    """The bytes are not text (binary file, or an unknown encoding)."""


class ParseError(StructureReadError):
    """The text is in a known format but could not be parsed."""


class NoLatticeError(StructureReadError):
    """The input describes a molecule (no periodic lattice), not a crystal."""


class BadLatticeError(StructureReadError):
    """The lattice is degenerate (zero or near-zero cell volume)."""


class BadSitesError(StructureReadError):
    """The structure has no atoms, or atoms that overlap (closer than ``MIN_DISTANCE``)."""


class PartialOccupancyError(StructureReadError):
    """Partially occupied sites were found and ``on_partial="reject"`` was requested."""


class TooManySitesError(StructureReadError):
    """A structure has more sites than ``max_sites``."""


class FileTooLargeError(StructureReadError):
    """The file is larger than ``max_bytes``."""


class UnsupportedFormatError(StructureReadError):
    """The format could not be recognised from the name or the content."""


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class ReadLimits:
    """The limits :func:`read_structures` applies, for display in the app."""

    max_sites: int = DEFAULT_MAX_SITES  # sites per structure
    max_bytes: int = DEFAULT_MAX_BYTES  # bytes per file (after gzip decompression)
    min_distance: float = MIN_DISTANCE  # Å, closer atom pairs are "overlapping"


def describe_limits(max_sites: int = DEFAULT_MAX_SITES, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """One human sentence listing the accepted formats and the limits.

    Args:
        max_sites: Site limit to describe.
        max_bytes: Byte limit to describe.

    Returns:
        Text such as ``"CIF, POSCAR/CONTCAR, extended XYZ or pymatgen JSON; up to 500 sites
        per structure and 5.0 MB per file; ..."``.
    """
    return (
        "CIF, POSCAR/CONTCAR, extended XYZ (with Lattice=) or pymatgen JSON; "
        f"up to {max_sites} sites per structure and {_fmt_bytes(max_bytes)} per file; "
        f"atoms closer than {MIN_DISTANCE} Å are rejected as overlapping; "
        "partially occupied sites are resolved to their most probable species."
    )


def _fmt_bytes(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} kB"
    return f"{n} bytes"


# --------------------------------------------------------------------------- public API


def detect_format(filename: str, text: str | None = None) -> Format | None:
    """Guess the format from the file name, else from the content.

    Args:
        filename: File name (only the base name and extension are used). A trailing
            ``.gz`` is ignored.
        text: Decoded content used for sniffing when the name is not conclusive.

    Returns:
        ``"cif"``, ``"poscar"``, ``"extxyz"``, ``"json"``, or ``None`` when neither the name nor
        the content is recognised (the caller then tries POSCAR as a last resort).
    """
    fmt = _format_from_name(filename)
    if fmt is not None or text is None:
        return fmt
    return _sniff(text)


def read_structures(
    source: Source,
    *,
    filename: str | None = None,
    max_sites: int = DEFAULT_MAX_SITES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_partial: Literal["most_probable", "reject"] = "most_probable",
) -> list[Structure]:
    """Read one or more crystal structures and validate them.

    Args:
        source: A path (``str`` or ``PathLike``), raw ``bytes``, or a file-like object with
            ``.read()`` (and ideally ``.name``, e.g. Streamlit's ``UploadedFile``).
        filename: Name used to pick the format and in messages. Required for ``bytes``;
            defaults to the path / ``.name`` otherwise.
        max_sites: Largest number of sites accepted per structure.
        max_bytes: Largest file size accepted, in bytes.
        on_partial: ``"most_probable"`` resolves partially occupied sites to their most
            probable species (and notes it in ``structure.properties["clac_note"]``);
            ``"reject"`` raises :class:`PartialOccupancyError`.

    Returns:
        A non-empty list of ordered, periodic structures (several for a multi-block CIF,
        a multi-frame extxyz or a JSON list).

    Raises:
        StructureReadError: Or one of its subclasses, with a message naming the file.
        TypeError: If ``source`` is of an unsupported Python type, or ``bytes`` come without
            ``filename`` (programming errors, not user-file errors).
    """
    if on_partial not in ("most_probable", "reject"):
        raise ValueError(f"on_partial must be 'most_probable' or 'reject', got {on_partial!r}")
    data, name = _read_bytes(source, filename=filename, max_bytes=max_bytes)
    if name.lower().endswith(".gz"):
        data = _gunzip(data, name, max_bytes)
    text = _decode(data, name)
    if not text.strip():
        raise EmptyFileError(
            f"'{name}' is empty: it contains no structure. Upload a CIF, POSCAR, "
            "extended XYZ or pymatgen JSON file.",
            filename=name,
        )

    fmt = detect_format(name, text)
    if fmt is None:
        # Last resort: POSCAR has no magic marker. Anything it cannot parse is "unknown".
        try:
            structures = _parse_with_warnings(_parse_poscar, text, name)
        except StructureReadError as exc:
            if isinstance(exc, (NoLatticeError, BadSitesError, BadLatticeError)):
                raise
            raise UnsupportedFormatError(
                f"Could not recognise the format of '{name}'. Supported formats: "
                + "; ".join(SUPPORTED_FORMATS.values())
                + ". Rename the file with the matching extension (e.g. .cif).",
                filename=name,
            ) from exc
    else:
        parser = {
            "cif": _parse_cif,
            "poscar": _parse_poscar,
            "extxyz": _parse_extxyz,
            "json": _parse_json,
        }[fmt]
        structures = _parse_with_warnings(parser, text, name)

    if not structures:
        raise BadSitesError(f"'{name}' contains no structure.", filename=name)
    many = len(structures) > 1
    return [
        _validate(
            s,
            name=name,
            label=f"structure {i + 1} of {len(structures)} in '{name}'" if many else f"'{name}'",
            max_sites=max_sites,
            on_partial=on_partial,
        )
        for i, s in enumerate(structures)
    ]


def structure_to_cif(structure: Structure, *, symprec: float | None = None) -> str:
    """Serialize a structure to CIF text (for downloads).

    Args:
        structure: Any pymatgen ``Structure``.
        symprec: If given, write the symmetrized cell found with this tolerance (Å);
            by default the cell is written as is, in P1.

    Returns:
        The CIF as a string; :func:`read_structures` reads it back.
    """
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(CifWriter(structure, symprec=symprec))


# --------------------------------------------------------------------------- input handling


def _read_bytes(source: Source, *, filename: str | None, max_bytes: int) -> tuple[bytes, str]:
    """Return (content bytes, display name), enforcing ``max_bytes``."""
    too_large = (
        "'{name}' is {size} large; the limit is {limit} (max_bytes). "
        "Upload a smaller file, e.g. one structure per file."
    )
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = filename or path.name
        if not path.is_file():
            raise StructureReadError(f"'{path}' does not exist or is not a file.", filename=name)
        size = path.stat().st_size
        if size > max_bytes:
            raise FileTooLargeError(
                too_large.format(name=name, size=_fmt_bytes(size), limit=_fmt_bytes(max_bytes)),
                filename=name,
            )
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise StructureReadError(f"Could not read '{path}': {exc}.", filename=name) from exc

    if isinstance(source, (bytes, bytearray, memoryview)):
        if filename is None:
            raise TypeError("read_structures(bytes) needs filename= to choose the format")
        data = bytes(source)
        name = filename
    elif hasattr(source, "read"):
        name = filename or os.path.basename(str(getattr(source, "name", "") or "")) or "<upload>"
        # Read one byte past the limit so an oversized stream is detected without reading
        # all of it.
        raw = source.read(max_bytes + 1)
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    else:
        raise TypeError(
            f"source must be a path, bytes, or a file-like object with .read(); got {type(source).__name__}"
        )
    if len(data) > max_bytes:
        size = f"larger than {_fmt_bytes(max_bytes)}" if hasattr(source, "read") else None
        raise FileTooLargeError(
            too_large.format(name=name, size=size or _fmt_bytes(len(data)), limit=_fmt_bytes(max_bytes)),
            filename=name,
        )
    return data, name


def _gunzip(data: bytes, name: str, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            out = fh.read(max_bytes + 1)
    except (OSError, EOFError) as exc:
        raise DecodeError(
            f"'{name}' ends in .gz but is not a valid gzip file ({exc}). "
            "Upload the uncompressed file instead.",
            filename=name,
        ) from exc
    if len(out) > max_bytes:
        raise FileTooLargeError(
            f"'{name}' decompresses to more than {_fmt_bytes(max_bytes)}; the limit is "
            f"{_fmt_bytes(max_bytes)} (max_bytes). Upload a smaller file.",
            filename=name,
        )
    return out


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _decode(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM); tolerate a few Latin-1 characters in comments."""
    binary_msg = (
        f"'{name}' is not a text file (it looks like binary data: an image, archive or "
        "document?). Structure files must be plain text: export it as CIF or POSCAR."
    )
    if len(_CONTROL.findall(data[:65536])) > 0:
        raise DecodeError(binary_msg, filename=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Old CIF writers emit Latin-1 for the odd "Å" or author name; accept that when
        # nearly all bytes are ASCII, but refuse text that is mostly high bytes (garbage).
        high = sum(b >= 0x80 for b in data)
        if high <= max(2, len(data) // 100):
            return data.decode("latin-1")
        raise DecodeError(
            f"'{name}' could not be decoded as UTF-8 text (byte {exc.start}: "
            f"{data[exc.start : exc.start + 1]!r}); {high} of {len(data)} bytes are not ASCII. "
            "Save the file as UTF-8 (or plain ASCII) text and try again.",
            filename=name,
        ) from exc


def _format_from_name(filename: str) -> Format | None:
    base = os.path.basename(filename).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    stem, ext = os.path.splitext(base)
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if base.startswith(("poscar", "contcar")):
        return "poscar"
    return None


def _sniff(text: str) -> Format | None:
    head = text.lstrip()[:4096]
    if head.startswith(("{", "[")):
        return "json"
    if re.search(r"^\s*data_\S*", head, flags=re.MULTILINE) and "_cell_length_a" in text:
        return "cif"
    lines = head.splitlines()
    if len(lines) > 1 and "lattice=" in lines[1].lower():
        return "extxyz"
    return None


# --------------------------------------------------------------------------- parsers


def _parse_with_warnings(
    parser: Callable[[str, str], list[Structure]], text: str, name: str
) -> list[Structure]:
    """Run a parser with pymatgen/ASE warnings silenced; wrap unexpected exceptions.

    The recorded warnings are appended to the error message when parsing fails, because
    pymatgen often explains the real cause (e.g. an occupancy above 1) only as a warning.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return parser(text, name)
        except StructureReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any library error becomes a ParseError
            hints = _warning_text(caught)
            raise ParseError(
                f"Could not parse '{name}': {_clean(exc)}.{hints} Check that the file is a "
                "valid, complete structure file in the format its extension says.",
                filename=name,
            ) from exc


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    msgs = []
    for w in caught:
        m = str(w.message).strip()
        if m and "deprecated" not in m.lower() and m not in msgs:
            msgs.append(m)
    return (" Parser notes: " + " | ".join(msgs[:3]) + ".") if msgs else ""


def _clean(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()).rstrip(".")
    if isinstance(exc, KeyError):
        msg = f"missing field {msg}"
    return msg or type(exc).__name__


def _parse_cif(text: str, name: str) -> list[Structure]:
    from pymatgen.io.cif import CifParser

    if not re.search(r"^\s*data_", text, flags=re.MULTILINE):
        raise ParseError(
            f"Could not parse '{name}' as CIF: there is no 'data_' block. "
            "A CIF starts with a line such as 'data_NaCl'.",
            filename=name,
        )
    # on_error="warn" keeps the good blocks of a multi-block file; failed blocks are recorded
    # as warnings (the only place pymatgen says why), turned into an error below.
    structures: list[Structure] = []
    n_blocks = 0
    cause: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
            n_blocks = len(parser._cif.data)  # noqa: SLF001 - blocks are only exposed here
            structures = parser.parse_structures(primitive=False, on_error="warn", check_occu=True)
        except Exception as exc:  # noqa: BLE001
            cause = exc
            if not any("No structure parsed" in str(w.message) for w in caught):
                if not _has_atom_sites(text):
                    raise BadSitesError(
                        f"'{name}' contains no atoms: the CIF has no _atom_site loop with "
                        "coordinates. Add the atom sites (_atom_site_fract_x/y/z) to the file.",
                        filename=name,
                    ) from exc
                raise ParseError(
                    f"Could not parse '{name}' as CIF: {_clean(exc)}. Check that it is a "
                    "complete CIF with cell lengths, angles and an atom-site loop.",
                    filename=name,
                ) from exc

    failed = [str(w.message) for w in caught if "No structure parsed" in str(w.message)]
    if failed or not structures:
        reason = " ".join((failed[0] if failed else _warning_text(caught)).split())
        if not _has_atom_sites(text):
            raise BadSitesError(
                f"'{name}' contains no atoms: the CIF has no _atom_site loop with "
                "coordinates. Add the atom sites (_atom_site_fract_x/y/z) to the file.",
                filename=name,
            ) from cause
        if re.search(r"occupancy .* exceeded tolerance", reason, flags=re.IGNORECASE):
            raise ParseError(
                f"Could not parse '{name}': a site occupancy is above 1 ({reason}). "
                "Fix the _atom_site_occupancy values (they must be between 0 and 1).",
                filename=name,
            ) from cause
        which = f"{len(failed)} of {n_blocks} crystal blocks" if n_blocks > 1 else "the crystal block"
        raise ParseError(
            f"Could not parse {which} in '{name}' as CIF ({reason}). Check the cell "
            "parameters and the atom-site loop.",
            filename=name,
        )
    return list(structures)


def _has_atom_sites(text: str) -> bool:
    return bool(re.search(r"_atom_site_(fract|cartn)_x", text, flags=re.IGNORECASE))


def _parse_poscar(text: str, name: str) -> list[Structure]:
    from pymatgen.io.vasp import Poscar

    try:
        poscar = Poscar.from_str(text, read_velocities=False)
    except Exception as exc:  # noqa: BLE001
        if "at least 1 site" in str(exc):
            raise BadSitesError(
                f"'{name}' contains no atoms (all species counts are zero). Add atoms to the POSCAR.",
                filename=name,
            ) from exc
        raise ParseError(
            f"Could not parse '{name}' as a VASP POSCAR/CONTCAR: {_clean(exc)}. Expected a "
            "comment line, a scale, 3 lattice vectors, element symbols, counts and coordinates.",
            filename=name,
        ) from exc
    return [poscar.structure]


def _parse_extxyz(text: str, name: str) -> list[Structure]:
    import numpy as np
    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        frames = ase_read(io.StringIO(text), format="extxyz", index=":")
    except Exception as exc:  # noqa: BLE001
        raise ParseError(
            f"Could not parse '{name}' as extended XYZ: {_clean(exc)}. The first line must be "
            "the atom count and the second a header such as "
            "'Lattice=\"a1 a2 a3 b1 b2 b3 c1 c2 c3\" Properties=species:S:1:pos:R:3'.",
            filename=name,
        ) from exc
    if not frames:
        raise BadSitesError(f"'{name}' contains no atoms.", filename=name)
    out = []
    for i, atoms in enumerate(frames):
        where = f"frame {i + 1} of '{name}'" if len(frames) > 1 else f"'{name}'"
        if len(atoms) == 0:
            raise BadSitesError(f"{where} contains no atoms.", filename=name)
        volume = abs(float(np.linalg.det(np.asarray(atoms.cell[:]))))
        if not atoms.pbc.any() or volume < 1e-6:
            raise NoLatticeError(
                f"{where} is a molecule, not a periodic crystal: the XYZ header has no "
                "Lattice= (or pbc is all false). Add "
                "'Lattice=\"a1 a2 a3 b1 b2 b3 c1 c2 c3\"' to the comment line, or upload a "
                "CIF/POSCAR.",
                filename=name,
            )
        # A slab with pbc="T T F" and a full cell is treated as a 3D periodic cell.
        atoms = atoms.copy()
        atoms.pbc = True
        try:
            out.append(AseAtomsAdaptor.get_structure(atoms))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not convert {where} to a crystal: {_clean(exc)}.", filename=name
            ) from exc
    return out


def _parse_json(text: str, name: str) -> list[Structure]:
    from pymatgen.core import Structure

    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"Could not parse '{name}' as JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            filename=name,
        ) from exc
    items = obj if isinstance(obj, list) else [obj]
    if not items:
        raise BadSitesError(f"'{name}' is an empty JSON list: it contains no structure.", filename=name)
    out = []
    for i, d in enumerate(items):
        where = f"item {i + 1} of '{name}'" if len(items) > 1 else f"'{name}'"
        if not isinstance(d, dict) or "sites" not in d:
            raise ParseError(
                f"{where} is not a pymatgen Structure: expected an object with 'lattice' and "
                "'sites' (as written by json.dumps(structure.as_dict())).",
                filename=name,
            )
        if d.get("@class") == "Molecule" or "lattice" not in d:
            raise NoLatticeError(
                f"{where} is a molecule, not a periodic crystal (it has no lattice). "
                "Upload a periodic Structure (with a 'lattice'), a CIF or a POSCAR.",
                filename=name,
            )
        if not d["sites"]:
            raise BadSitesError(f"{where} contains no atoms (its 'sites' list is empty).", filename=name)
        try:
            out.append(Structure.from_dict(d))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not build a structure from {where}: {_clean(exc)}.", filename=name
            ) from exc
    return out


# --------------------------------------------------------------------------- validation


def _validate(
    s: Structure,
    *,
    name: str,
    label: str,
    max_sites: int,
    on_partial: Literal["most_probable", "reject"],
) -> Structure:
    """Check lattice, site count, partial occupancy and overlaps; return the final structure."""
    if len(s) == 0:
        raise BadSitesError(f"{label} contains no atoms.", filename=name)
    import numpy as np

    if not (np.isfinite(s.lattice.matrix).all() and np.isfinite(s.frac_coords).all()):
        raise ParseError(
            f"{label} has non-numeric (NaN or infinite) cell parameters or coordinates. "
            "Check the numbers in the file.",
            filename=name,
        )
    from pymatgen.core import DummySpecies

    unknown = sorted(
        {
            getattr(sp, "symbol", str(sp))
            for sp in s.composition
            if isinstance(sp, DummySpecies) or not 1 <= getattr(sp, "Z", 0) <= 118
        }
    )
    if unknown:
        raise ParseError(
            f"{label} contains unknown element symbol(s) {', '.join(unknown)}. Use real "
            "element symbols (e.g. Na, Cl); dummy or placeholder species are not supported.",
            filename=name,
        )
    if not s.lattice.volume >= 1e-3:
        raise BadLatticeError(
            f"{label} has a degenerate cell (volume {s.lattice.volume:.3g} Å³): its lattice "
            "vectors are (nearly) parallel or zero. Check the cell parameters.",
            filename=name,
        )
    # Count before anything expensive (the neighbour search scales with the site count).
    if len(s) > max_sites:
        raise TooManySitesError(
            f"{label} has {len(s)} sites; the limit is {max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell, or raise max_sites.",
            filename=name,
        )
    if not s.is_ordered:
        n_partial = sum(not site.is_ordered for site in s)
        if on_partial == "reject":
            raise PartialOccupancyError(
                f"{label} has {n_partial} partially occupied site(s) (disorder or vacancies). "
                "Upload an ordered structure, or pass on_partial='most_probable' to keep each "
                "site's most probable species.",
                filename=name,
            )
        s = _most_probable(s, label=label, name=name)
    _check_overlaps(s, label=label, name=name)
    return s


def _most_probable(s: Structure, *, label: str, name: str) -> Structure:
    """Ordered copy: each site keeps its most probable species; vacancy-dominated sites go."""
    from pymatgen.core import Structure

    species, coords, kept = [], [], []
    for i, site in enumerate(s):
        occu = site.species  # Composition: species -> occupancy
        sp, frac = max(occu.items(), key=lambda kv: (kv[1], str(kv[0])))
        vacancy = 1.0 - sum(occu.values())
        if vacancy > frac:
            continue
        species.append(sp)
        coords.append(site.frac_coords)
        kept.append(i)
    if not species:
        raise BadSitesError(
            f"{label}: every site is mostly vacant, so resolving partial occupancy leaves no "
            "atoms. Upload an ordered structure.",
            filename=name,
        )
    site_props = {k: [v[i] for i in kept] for k, v in s.site_properties.items()}
    out = Structure(
        s.lattice,
        species,
        coords,
        site_properties=site_props or None,
        properties=dict(getattr(s, "properties", {}) or {}),
    )
    out.properties["clac_note"] = PARTIAL_NOTE
    return out


def _check_overlaps(s: Structure, *, label: str, name: str) -> None:
    # get_neighbor_list is vectorized and includes periodic images (and an atom's own
    # images if a lattice vector is shorter than MIN_DISTANCE); exact duplicates of
    # different sites (distance 0, i != j) are kept, so they count as overlaps.
    centers, neighbors, _, dists = s.get_neighbor_list(r=MIN_DISTANCE)
    mask = dists < MIN_DISTANCE  # exclude_self only drops an atom's zero-distance self pair
    if not mask.any():
        return
    k = int(mask.nonzero()[0][int(dists[mask].argmin())])
    i, j, d = int(centers[k]), int(neighbors[k]), float(dists[k])
    raise BadSitesError(
        f"{label} has overlapping atoms: site {i} ({s[i].species_string}) and site {j} "
        f"({s[j].species_string}) are {d:.2f} Å apart; the minimum is {MIN_DISTANCE} Å. "
        "Check the coordinates (fractional vs Cartesian, units) and remove duplicate atoms.",
        filename=name,
    )
