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
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SITES",
    "DEFAULT_NEIGHBOR_CUTOFF",
    "DEFAULT_TIME_BUDGET",
    "MAX_CELL_LENGTH",
    "MAX_NEIGHBOR_IMAGES",
    "MIN_DISTANCE",
    "PARTIAL_NOTE",
    "SUPPORTED_FORMATS",
    "SYMMETRY_ALLOWANCE",
    "BadLatticeError",
    "BadOccupancyError",
    "BadSitesError",
    "DecodeError",
    "EmptyFileError",
    "FileTooLargeError",
    "IsolatedAtomError",
    "NoLatticeError",
    "ParseError",
    "PartialOccupancyError",
    "ReadLimits",
    "ReadTimeoutError",
    "StructureReadError",
    "TooManyBlocksError",
    "TooManySitesError",
    "UnknownElementError",
    "UnsupportedFormatError",
    "is_element_symbol",
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

DEFAULT_MAX_BLOCKS: int = 100
"""Largest number of structures per file (CIF data blocks, XYZ frames, JSON list items)."""

SYMMETRY_ALLOWANCE: int = 8
"""A CIF may declare at most this many times ``max_sites`` candidate positions (symmetry
operations × atom-site rows). Atoms on special positions merge, so the real count is often far
lower (spinel in Fd-3m: 192 × 3 candidates, 56 atoms); the allowance keeps such files while
refusing a 300-site F m -3 m file (57,600 candidates, minutes of expansion) before expanding."""

MAX_CELL_LENGTH: float = 500.0
"""Å; longest accepted lattice vector (1e6 Å cells made the neighbour search allocate GBs)."""

MIN_CELL_VOLUME: float = 1e-3
"""Å³; a smaller cell volume means (nearly) parallel or zero lattice vectors."""

MAX_NEIGHBOR_IMAGES: int = 2_000_000
"""Largest estimated number of periodic image points the neighbour search may visit
(sites × images within the cutoff); a nearly flat cell needs millions of images."""

DEFAULT_NEIGHBOR_CUTOFF: float = 8.0
"""Å; an atom with no neighbour within this distance is an error. The default graph cutoff
(:class:`clac_core.config.GraphConfig`); such an atom would be an isolated graph node."""

DEFAULT_TIME_BUDGET: float = 5.0
"""Seconds one :func:`read_structures` call may take before :class:`ReadTimeoutError`."""

OCCUPANCY_TOLERANCE: float = 1e-3
"""An occupancy (or a site's total) may exceed 1 by this much (rounding in written files)."""

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


class UnknownElementError(ParseError):
    """A site names something that is not a chemical element (``Xx``, ``123``, ``*``, ``Uue``)."""


class BadOccupancyError(ParseError):
    """An occupancy is not a number in (0, 1], or a site's occupancies add up to more than 1."""


class IsolatedAtomError(BadSitesError):
    """An atom has no neighbour within the neighbour cutoff (it would be an isolated graph node)."""


class TooManyBlocksError(StructureReadError):
    """A file holds more structures (data blocks, frames, list items) than ``max_blocks``."""


class ReadTimeoutError(StructureReadError):
    """Reading one file took longer than its time budget."""


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class ReadLimits:
    """The limits :func:`read_structures` applies, for display in the app."""

    max_sites: int = DEFAULT_MAX_SITES  # sites per structure
    max_bytes: int = DEFAULT_MAX_BYTES  # bytes per file (after gzip decompression)
    min_distance: float = MIN_DISTANCE  # Å, closer atom pairs are "overlapping"
    max_blocks: int = DEFAULT_MAX_BLOCKS  # structures per file
    max_cell_length: float = MAX_CELL_LENGTH  # Å, longest lattice vector
    neighbor_cutoff: float = DEFAULT_NEIGHBOR_CUTOFF  # Å, every atom needs a neighbour within it
    time_budget: float = DEFAULT_TIME_BUDGET  # seconds per file


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
        f"atoms closer than {MIN_DISTANCE} Å are rejected as overlapping, and so is an atom "
        f"with no neighbour within {DEFAULT_NEIGHBOR_CUTOFF:g} Å; "
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
    max_blocks: int = DEFAULT_MAX_BLOCKS,
    neighbor_cutoff: float = DEFAULT_NEIGHBOR_CUTOFF,
    time_budget: float | None = DEFAULT_TIME_BUDGET,
    fmt: Format | None = None,
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
        max_blocks: Largest number of structures in one file.
        neighbor_cutoff: Å; every atom needs a neighbour (another atom or its own periodic
            image) within this distance.
        time_budget: Seconds the whole read may take (``None``: no budget). Checked between
            stages; in the main thread of a Unix process an alarm also interrupts a stage.
        fmt: The format (``"cif"``, ``"poscar"``, ``"extxyz"``, ``"json"``), when the name
            cannot say it (a CIF string from a CSV cell); default: from name and content.

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
    if fmt is not None and fmt not in SUPPORTED_FORMATS:
        raise ValueError(f"fmt must be one of {sorted(SUPPORTED_FORMATS)}, got {fmt!r}")
    data, name = _read_bytes(source, filename=filename, max_bytes=max_bytes)
    budget = _Budget(time_budget, name)
    try:
        with budget.alarm():
            return _read(
                data,
                name,
                _Limits(max_sites, max_blocks, neighbor_cutoff),
                on_partial=on_partial,
                max_bytes=max_bytes,
                budget=budget,
                fmt=fmt,
            )
    except _BudgetExceeded as exc:
        raise budget.error() from exc


@dataclass(frozen=True)
class _Limits:
    max_sites: int
    max_blocks: int
    neighbor_cutoff: float


def _read(
    data: bytes,
    name: str,
    limits: _Limits,
    *,
    on_partial: Literal["most_probable", "reject"],
    max_bytes: int,
    budget: _Budget,
    fmt: Format | None,
) -> list[Structure]:
    if name.lower().endswith(".gz"):
        data = _gunzip(data, name, max_bytes)
    text = _decode(data, name)
    if not text.strip():
        raise EmptyFileError(
            f"'{name}' is empty: it contains no structure. Upload a CIF, POSCAR, "
            "extended XYZ or pymatgen JSON file.",
            filename=name,
        )

    parsers: dict[Format, Callable[[str, str, _Limits], list[Structure]]] = {
        "cif": _parse_cif,
        "poscar": _parse_poscar,
        "extxyz": _parse_extxyz,
        "json": _parse_json,
    }
    fmt = fmt or detect_format(name, text)
    if fmt is None:
        # Last resort: POSCAR has no magic marker. Anything it cannot parse is "unknown";
        # a specific complaint about a POSCAR-shaped file (unknown element, too many atoms)
        # is more useful than "unknown format", so those pass through.
        try:
            structures = _parse_with_warnings(_parse_poscar, text, name, limits)
        except StructureReadError as exc:
            if type(exc) is not ParseError:
                raise
            raise UnsupportedFormatError(
                f"Could not recognise the format of '{name}'. Supported formats: "
                + "; ".join(SUPPORTED_FORMATS.values())
                + ". Rename the file with the matching extension (e.g. .cif).",
                filename=name,
            ) from exc
    else:
        structures = _parse_with_warnings(parsers[fmt], text, name, limits)
    budget.check()

    if not structures:
        raise BadSitesError(f"'{name}' contains no structure.", filename=name)
    many = len(structures) > 1
    out = []
    for i, s in enumerate(structures):
        out.append(
            _validate(
                s,
                name=name,
                label=f"structure {i + 1} of {len(structures)} in '{name}'" if many else f"'{name}'",
                limits=limits,
                on_partial=on_partial,
            )
        )
        budget.check()
    return out


# --------------------------------------------------------------------------- time budget


class _BudgetExceeded(BaseException):  # noqa: N818 - internal signal, never escapes
    """Raised inside a read when the time budget is spent.

    A ``BaseException`` so that library code that catches ``Exception`` (pymatgen's CIF
    parser turns per-block exceptions into warnings) cannot swallow it.
    """


class _Budget:
    """A per-read deadline: cooperative checks, plus SIGALRM where that is possible."""

    def __init__(self, seconds: float | None, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _BudgetExceeded

    def error(self) -> ReadTimeoutError:
        return ReadTimeoutError(
            f"Reading '{self.name}' took longer than {self.seconds:g} s (time_budget) and was "
            "stopped. The file is probably very large or very symmetric; upload a smaller "
            "cell (primitive or conventional), one structure per file.",
            filename=self.name,
        )

    @contextlib.contextmanager
    def alarm(self) -> Iterator[None]:
        """Interrupt a long stage with SIGALRM, only in the main thread and if no timer runs.

        Signals can only be handled in the main thread (Streamlit runs pages elsewhere: there
        the cooperative checks between stages apply); an already armed ITIMER_REAL belongs to
        someone else (e.g. a test timeout) and is left alone.
        """
        usable = (
            self.seconds is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        )
        if not usable:
            yield
            return

        def _on_alarm(signum: int, frame: Any) -> None:
            raise _BudgetExceeded

        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(float(self.seconds or 0), 1e-3))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


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


# --------------------------------------------------------------------------- plain words


def is_element_symbol(symbol: str) -> bool:
    """True for a real element symbol as written (``"Na"``, ``"D"``); False for ``"Xx"``,
    ``"123"``, ``"*"``, ``"X"`` or ``"Uue"``."""
    from pymatgen.core import Element

    return bool(re.fullmatch(r"[A-Z][a-z]?", symbol)) and Element.is_valid_symbol(symbol)


def _number(text: Any) -> float | None:
    """A number as written in a structure file: ``5.43``, ``5.43(2)``; None for ``?``/``.``.

    Raises:
        ValueError: not a number (message in plain words).
    """
    s = str(text).strip()
    if s in ("?", "."):
        return None
    s2 = re.sub(r"\(\d*\)?$", "", s)
    try:
        return float(s2)
    except ValueError:
        raise ValueError(f"'{s[:40]}' is not a number") from None


def _finite_number(text: Any, what: str, where: str, name: str) -> float | None:
    try:
        v = _number(text)
    except ValueError as exc:
        raise ParseError(f"Could not parse {where}: {what} {exc}.", filename=name) from None
    if v is not None and not math.isfinite(v):
        raise ParseError(
            f"Could not parse {where}: {what} is {str(text)[:40]} (NaN or infinite). Check the "
            "numbers in the file.",
            filename=name,
        )
    return v


# Library messages that are internals rather than explanations -> plain words.
_PLAIN: tuple[tuple[str, str], ...] = (
    (
        r"is not a multiple of",
        "a loop has a number of values that does not fill whole rows (a value is missing or extra)",
    ),
    (r"could not convert string to float: '?([^']*)'?", "'{0}' is not a number"),
    (r"invalid literal for int\(\) with base 10: '?([^']*)'?", "'{0}' is not a whole number"),
    (
        r"list index out of range|index \d+ is out of bounds|pop from an empty deque",
        "the file ends early or a line is incomplete",
    ),
    (
        r"thickness=.* below threshold",
        "the cell is flat (a lattice vector lies in the plane of the other two)",
    ),
    (r"Incommensurate", "incommensurate (modulated) structures are not supported"),
    (r"cannot reshape|shape mismatch|inhomogeneous", "a line has the wrong number of values"),
    (
        r"Invalid element symbol|is not a valid Element|Unknown element",
        "an element symbol is not a real element",
    ),
)
_INTERNALS = re.compile(r"\w\(|\w=|\[|\]|NoneType|object|Error|__|\bint\b|\bfloat\b|\bstr\b|\btuple\b")


def _plain(exc: BaseException) -> str:
    """What went wrong, in words a user understands; library internals are not shown."""
    msg = " ".join(str(exc).split()).rstrip(".")
    for pattern, words in _PLAIN:
        m = re.search(pattern, msg)
        if m:
            return words.format(*(g[:40] for g in m.groups()))
    if isinstance(exc, KeyError):
        return f"the field {msg} is missing"
    if not msg or _INTERNALS.search(msg) or len(msg) > 160:
        return "the content does not follow the format"
    return msg


# --------------------------------------------------------------------------- parsers


def _parse_with_warnings(
    parser: Callable[[str, str, _Limits], list[Structure]], text: str, name: str, limits: _Limits
) -> list[Structure]:
    """Run a parser with pymatgen/ASE warnings silenced; wrap unexpected exceptions.

    The recorded warnings are appended to the error message when parsing fails, because
    pymatgen often explains the real cause (e.g. an occupancy above 1) only as a warning.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return parser(text, name, limits)
        except StructureReadError:
            raise
        except (MemoryError, RecursionError) as exc:
            raise ParseError(
                f"'{name}' is too large or too deeply nested to read. Upload a smaller file.",
                filename=name,
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any library error becomes a ParseError
            hints = _warning_text(caught)
            raise ParseError(
                f"Could not parse '{name}': {_plain(exc)}.{hints} Check that the file is a "
                "valid, complete structure file in the format its extension says.",
                filename=name,
            ) from exc


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    msgs = []
    for w in caught:
        m = " ".join(str(w.message).split())
        if m and "deprecated" not in m.lower() and m not in msgs and not _INTERNALS.search(m):
            msgs.append(m[:160])
    return (" Parser notes: " + " | ".join(msgs[:3]) + ".") if msgs else ""


# ----------------------------------------------------------------- CIF


_CIF_SYMOP_KEYS = (
    "_symmetry_equiv_pos_as_xyz",
    "_symmetry_equiv_pos_as_xyz_",
    "_space_group_symop_operation_xyz",
    "_space_group_symop_operation_xyz_",
    "_space_group_symop_magn_operation_xyz",
    "_space_group_symop.magn_operation_xyz",
)
_CIF_CENTERING_KEYS = ("_space_group_symop_magn_centering_xyz", "_space_group_symop.magn_centering_xyz")
_CIF_SG_KEYS = (
    "_symmetry_space_group_name_H-M",
    "_symmetry_space_group_name_H_M",
    "_space_group_name_H-M_alt",
    "_space_group_name_Hall",
    "_symmetry_space_group_name_Hall",
)


def _cif_symop_count(block: Any) -> int:
    """Symmetry operations pymatgen will apply to a CIF block (an upper bound)."""
    data = block.data
    n_ops = 0
    for key in _CIF_SYMOP_KEYS:
        v = data.get(key)
        if v:
            n_ops = len(v) if isinstance(v, list) else 1
            break
    if not n_ops:
        n_ops = 1  # pymatgen falls back to P1 when no symbol is understood
        for key in _CIF_SG_KEYS:
            sym = data.get(key)
            if sym and isinstance(sym, str):
                try:
                    from pymatgen.symmetry.groups import SpaceGroup

                    n_ops = len(SpaceGroup(re.sub(r"[\s_]", "", sym)).symmetry_ops)
                except Exception:  # noqa: BLE001 - unknown symbol: assume the worst case
                    n_ops = 192
                break
    for key in _CIF_CENTERING_KEYS:
        v = data.get(key)
        if v:
            n_ops *= len(v) if isinstance(v, list) else 1
    return n_ops


def _cif_column(block: Any, key: str) -> list[str] | None:
    v = block.data.get(key)
    if v is None:
        return None
    return v if isinstance(v, list) else [v]


def _check_cif_block(block: Any, where: str, name: str, limits: _Limits) -> None:
    """Declared cell, site count, symmetry expansion, symbols and occupancies of one block."""
    cell = {}
    for key in ("_cell_length_a", "_cell_length_b", "_cell_length_c"):
        if key in block.data:
            v = _finite_number(block.data[key], key, where, name)
            if v is not None and not 0 < v <= MAX_CELL_LENGTH:
                raise BadLatticeError(
                    f"{where}: {key} is {block.data[key]}; cell lengths must be positive and at "
                    f"most {MAX_CELL_LENGTH:g} Å. Check the cell parameters (in Å).",
                    filename=name,
                )
            cell[key[-1]] = v
    angles = []
    for key in ("_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"):
        if key in block.data:
            v = _finite_number(block.data[key], key, where, name)
            if v is not None and not 0 < v < 180:
                raise BadLatticeError(
                    f"{where}: {key} is {block.data[key]}; cell angles must be between 0 and 180 "
                    "degrees (exclusive). Check the cell parameters (in degrees).",
                    filename=name,
                )
            if v is not None:
                angles.append(math.radians(v))
    if len(angles) == 3:
        ca, cb, cg = (math.cos(x) for x in angles)
        if 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg <= 1e-9:
            raise BadLatticeError(
                f"{where}: the three cell angles cannot form a cell (they give zero or negative "
                "volume). Check _cell_angle_alpha, _beta and _gamma.",
                filename=name,
            )

    labels = _cif_column(block, "_atom_site_label")
    types = _cif_column(block, "_atom_site_type_symbol")
    rows = types if types is not None else labels
    if rows is None:
        return  # no atom-site loop: reported with a plain message by the caller
    n_sites = len(rows)
    if n_sites > limits.max_sites:
        raise TooManySitesError(
            f"{where} has {n_sites} sites; the limit is {limits.max_sites} (max_sites), counted "
            "from its atom-site rows. Use a primitive or conventional cell instead of a supercell.",
            filename=name,
        )
    n_ops = _cif_symop_count(block)
    allowed = SYMMETRY_ALLOWANCE * limits.max_sites
    if n_ops * n_sites > allowed:
        raise TooManySitesError(
            f"{where} has {n_sites} atom sites and {n_ops} symmetry operations: expanding them "
            f"could give up to {n_ops * n_sites} atoms, more than this reader expands "
            f"({allowed} = {SYMMETRY_ALLOWANCE} × max_sites {limits.max_sites}). Upload the "
            "structure in P1 with its atoms listed, or a smaller cell.",
            filename=name,
        )
    for i, raw in enumerate(rows):
        sym = str(raw).strip()
        m = re.match(r"[A-Za-z]+", sym)
        letters = m.group(0) if m else ""
        if types is not None:
            # a type symbol is the element plus an optional charge: Na, Na1+, O2-, Fe3+
            ok = bool(re.fullmatch(r"[A-Za-z]{1,2}(\d*[+-]?|[+-]\d*)?", sym))
        else:
            ok = True  # a label is the element plus any suffix that does not start with a letter
        if not ok or not is_element_symbol(letters[:1].upper() + letters[1:].lower()):
            column = "_atom_site_type_symbol" if types is not None else "_atom_site_label"
            raise UnknownElementError(
                f"{where}: site {i + 1} has {column} '{sym[:20]}', which is not a chemical "
                "element symbol. Use real element symbols (e.g. Na, Cl, O2-); dummy or "
                "placeholder species are not supported.",
                filename=name,
            )
    for key in ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"):
        for v in _cif_column(block, key) or []:
            _finite_number(v, f"a coordinate ({key})", where, name)
    for i, raw in enumerate(_cif_column(block, "_atom_site_occupancy") or []):
        v = _finite_number(raw, f"the occupancy of site {i + 1}", where, name)
        if v is not None and not 0 < v <= 1 + OCCUPANCY_TOLERANCE:
            kind = "above 1" if v > 1 else "zero or negative"
            raise BadOccupancyError(
                f"{where}: a site occupancy is {kind} (site {i + 1}: {raw}). Fix the "
                "_atom_site_occupancy values: each must be above 0 and at most 1.",
                filename=name,
            )


def _parse_cif(text: str, name: str, limits: _Limits) -> list[Structure]:
    from pymatgen.io.cif import CifFile, CifParser

    n_blocks = len(re.findall(r"^\s*data_", text, flags=re.MULTILINE))
    if not n_blocks:
        raise ParseError(
            f"Could not parse '{name}' as CIF: there is no 'data_' block. "
            "A CIF starts with a line such as 'data_NaCl'.",
            filename=name,
        )
    if n_blocks > limits.max_blocks:
        raise TooManyBlocksError(
            f"'{name}' has {n_blocks} data blocks; the limit is {limits.max_blocks} structures "
            "per file (max_blocks). Split it into several files.",
            filename=name,
        )
    # Tokenize once (linear in the text) and check what the blocks declare before pymatgen's
    # parser sanitizes, expands symmetry and merges sites (the expensive, forgiving part).
    try:
        cif = CifFile.from_str(text)
    except Exception as exc:  # noqa: BLE001
        raise ParseError(
            f"Could not parse '{name}' as CIF: {_plain(exc)}. Check that it is a complete CIF "
            "with cell lengths, angles and an atom-site loop.",
            filename=name,
        ) from exc
    blocks = list(cif.data.values())
    for k, block in enumerate(blocks):
        where = f"data block {k + 1} of '{name}'" if len(blocks) > 1 else f"'{name}'"
        _check_cif_block(block, where, name, limits)

    # on_error="warn" keeps the good blocks of a multi-block file; failed blocks are recorded
    # as warnings (the only place pymatgen says why), turned into an error below.
    structures: list[Structure] = []
    cause: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
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
                    f"Could not parse '{name}' as CIF: {_plain(exc)}. Check that it is a "
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
            raise BadOccupancyError(
                f"Could not parse '{name}': a site occupancy is above 1 (the occupancies on "
                "one position add up to more than 1). Fix the _atom_site_occupancy values "
                "(they must be between 0 and 1).",
                filename=name,
            ) from cause
        detail = re.sub(r"^.*?No structure parsed for section \d+ in CIF\.?\s*", "", reason)
        detail = _plain(ValueError(detail)) if detail else "the cell or the atom sites are incomplete"
        which = f"{len(failed)} of {n_blocks} crystal blocks" if n_blocks > 1 else "the crystal block"
        raise ParseError(
            f"Could not parse {which} in '{name}' as CIF ({detail}). Check the cell "
            "parameters and the atom-site loop.",
            filename=name,
        )
    return list(structures)


def _has_atom_sites(text: str) -> bool:
    return bool(re.search(r"_atom_site_(fract|cartn)_x", text, flags=re.IGNORECASE))


# ----------------------------------------------------------------- POSCAR


_POSCAR_HELP = "Expected a comment line, a scale, 3 lattice vectors, element symbols, counts and coordinates."


def _check_poscar_header(text: str, name: str, limits: _Limits) -> list[str] | None:
    """Scale, lattice, symbols and counts of a POSCAR, read before pymatgen builds anything.

    Returns:
        The element symbols of an old (VASP 4) file that has them on its comment line, for
        pymatgen to use (it would otherwise name the species H, He, ...); None otherwise.
    """
    lines = [ln.split("#")[0].split("!")[0].strip() for ln in text.strip("\n").splitlines()]
    bad = f"Could not parse '{name}' as a VASP POSCAR/CONTCAR"
    if len(lines) < 7:
        raise ParseError(f"{bad}: it has only {len(lines)} lines. {_POSCAR_HELP}", filename=name)
    scale = lines[1].split()
    if len(scale) not in (1, 3):
        raise ParseError(f"{bad}: line 2 must be one scale factor (or three). {_POSCAR_HELP}", filename=name)
    for v in scale:
        f = _finite_number(v, "the scale factor (line 2)", f"'{name}'", name)
        if not f:
            raise BadLatticeError(f"'{name}': the scale factor (line 2) is zero or missing.", filename=name)
    for k in range(2, 5):
        vec = lines[k].split()
        if len(vec) < 3:
            raise ParseError(
                f"{bad}: line {k + 1} must be a lattice vector (3 numbers). {_POSCAR_HELP}", filename=name
            )
        for v in vec[:3]:
            _finite_number(v, f"a lattice vector component (line {k + 1})", f"'{name}'", name)

    def ints(tokens: list[str]) -> list[int] | None:
        try:
            return [int(x) for x in tokens]
        except ValueError:
            return None

    tokens = lines[5].split()
    counts = ints(tokens)
    vasp4 = counts is not None
    if counts is None:  # VASP 5: a symbols line, then counts
        symbols = [t.split("_")[0].split("/")[0] for t in tokens]
        counts = ints(lines[6].split())
        if counts is None:
            raise ParseError(
                f"{bad}: line 7 must give the number of atoms of each element. {_POSCAR_HELP}",
                filename=name,
            )
    else:  # VASP 4: symbols may be on the comment line (pymatgen reads them from there)
        symbols = lines[0].split()[: len(counts)]
        if len(symbols) != len(counts) or not all(is_element_symbol(s) for s in symbols):
            raise ParseError(
                f"'{name}' has no element symbols: line 6 gives atom counts directly (old VASP 4 "
                "style). Add a line with the element symbols (e.g. 'Na Cl') above the counts.",
                filename=name,
            )
    unknown = [s for s in symbols if not is_element_symbol(s)]
    if unknown:
        raise UnknownElementError(
            f"'{name}' contains unknown element symbol(s) {', '.join(u[:12] for u in unknown[:5])}. "
            "Use real element symbols (e.g. Na, Cl); dummy or placeholder species are not supported.",
            filename=name,
        )
    if len(symbols) != len(counts):
        raise ParseError(
            f"{bad}: {len(symbols)} element symbols but {len(counts)} atom counts. {_POSCAR_HELP}",
            filename=name,
        )
    result = symbols if vasp4 else None
    if any(c < 0 for c in counts):
        raise ParseError(f"{bad}: an atom count is negative.", filename=name)
    total = sum(counts)
    if total == 0:
        raise BadSitesError(
            f"'{name}' contains no atoms (all species counts are zero). Add atoms to the POSCAR.",
            filename=name,
        )
    if total > limits.max_sites:
        raise TooManySitesError(
            f"'{name}' declares {total} atoms; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell.",
            filename=name,
        )
    return result


def _parse_poscar(text: str, name: str, limits: _Limits) -> list[Structure]:
    from pymatgen.io.vasp import Poscar

    vasp4_symbols = _check_poscar_header(text, name, limits)
    try:
        poscar = Poscar.from_str(text, default_names=vasp4_symbols, read_velocities=False)
    except Exception as exc:  # noqa: BLE001
        if "at least 1 site" in str(exc):
            raise BadSitesError(
                f"'{name}' contains no atoms (all species counts are zero). Add atoms to the POSCAR.",
                filename=name,
            ) from exc
        raise ParseError(
            f"Could not parse '{name}' as a VASP POSCAR/CONTCAR: {_plain(exc)}. {_POSCAR_HELP}",
            filename=name,
        ) from exc
    return [poscar.structure]


# ----------------------------------------------------------------- extended XYZ


def _check_xyz_counts(text: str, name: str, limits: _Limits) -> None:
    """Walk the frames by their atom-count lines (no parsing) and check counts and frames."""
    lines = text.splitlines()
    i = frames = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = lines[i].strip()
        if not re.fullmatch(r"\d+", head):
            raise ParseError(
                f"Could not parse '{name}' as extended XYZ: line {i + 1} should be the number of "
                f"atoms of a frame, but it is '{head[:40]}'.",
                filename=name,
            )
        n = int(head)
        frames += 1
        if n > limits.max_sites:
            raise TooManySitesError(
                f"frame {frames} of '{name}' declares {n} atoms; the limit is {limits.max_sites} "
                "(max_sites). Use a primitive or conventional cell instead of a supercell.",
                filename=name,
            )
        if frames > limits.max_blocks:
            raise TooManyBlocksError(
                f"'{name}' has more than {limits.max_blocks} frames; the limit is "
                f"{limits.max_blocks} structures per file (max_blocks). Split it into several files.",
                filename=name,
            )
        if i + 2 + n > len(lines):
            raise ParseError(
                f"Could not parse '{name}' as extended XYZ: frame {frames} declares {n} atoms "
                f"but the file ends after {max(0, len(lines) - i - 2)} atom lines.",
                filename=name,
            )
        for k in range(i + 2, i + 2 + n):
            sym = lines[k].split()[0] if lines[k].split() else ""
            # species are the first column in every extxyz file we write or have seen; a
            # number there (atomic numbers) is checked after parsing
            if sym and not sym.lstrip("-").isdigit() and not is_element_symbol(sym):
                raise UnknownElementError(
                    f"frame {frames} of '{name}' contains unknown element symbol '{sym[:12]}' "
                    f"(line {k + 1}). Use real element symbols (e.g. Na, Cl).",
                    filename=name,
                )
        i += 2 + n


def _parse_extxyz(text: str, name: str, limits: _Limits) -> list[Structure]:
    import numpy as np
    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    _check_xyz_counts(text, name, limits)
    try:
        frames = ase_read(io.StringIO(text), format="extxyz", index=":")
    except Exception as exc:  # noqa: BLE001
        raise ParseError(
            f"Could not parse '{name}' as extended XYZ: {_plain(exc)}. The first line must be "
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
        cell = np.asarray(atoms.cell[:], dtype=float)
        if not np.isfinite(cell).all():
            raise ParseError(
                f"{where} has non-numeric (NaN or infinite) cell parameters or coordinates. "
                "Check the numbers in the file.",
                filename=name,
            )
        volume = abs(float(np.linalg.det(cell)))
        if not atoms.pbc.any() or volume < 1e-6:
            raise NoLatticeError(
                f"{where} is a molecule, not a periodic crystal: the XYZ header has no "
                "Lattice= (or pbc is all false). Add "
                "'Lattice=\"a1 a2 a3 b1 b2 b3 c1 c2 c3\"' to the comment line, or upload a "
                "CIF/POSCAR.",
                filename=name,
            )
        z = np.asarray(atoms.numbers)
        if ((z < 1) | (z > 118)).any():
            raise UnknownElementError(
                f"{where} contains an atom that is not a chemical element (atomic number "
                f"{int(z[(z < 1) | (z > 118)][0])}). Use real element symbols (e.g. Na, Cl).",
                filename=name,
            )
        # A slab with pbc="T T F" and a full cell is treated as a 3D periodic cell.
        atoms = atoms.copy()
        atoms.pbc = True
        try:
            out.append(AseAtomsAdaptor.get_structure(atoms))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not convert {where} to a crystal: {_plain(exc)}.", filename=name
            ) from exc
    return out


# ----------------------------------------------------------------- JSON


def _check_json_item(d: dict[str, Any], where: str, name: str, limits: _Limits) -> None:
    """Lattice, site count, species and occupancies of a Structure dict, before from_dict."""
    import numpy as np

    sites = d["sites"]
    if not isinstance(sites, list):
        raise ParseError(f"{where}: 'sites' must be a list of sites.", filename=name)
    if len(sites) > limits.max_sites:
        raise TooManySitesError(
            f"{where} has {len(sites)} sites; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell, or raise max_sites.",
            filename=name,
        )
    lattice = d["lattice"]
    matrix = lattice.get("matrix") if isinstance(lattice, dict) else lattice
    try:
        m = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != (3, 3):
        raise ParseError(
            f"{where}: the lattice must be a 3 × 3 matrix of numbers (lattice.matrix).", filename=name
        )
    if not np.isfinite(m).all():
        raise ParseError(
            f"{where} has non-numeric (NaN or infinite) cell parameters or coordinates. "
            "Check the numbers in the file.",
            filename=name,
        )
    for i, site in enumerate(sites):
        at = f"{where}, site {i + 1}"
        species = site.get("species") if isinstance(site, dict) else None
        if not isinstance(species, list) or not species:
            raise ParseError(
                f"{at} has no species: 'species' must be a non-empty list such as "
                '[{"element": "Na", "occu": 1}].',
                filename=name,
            )
        total = 0.0
        for sp in species:
            el = sp.get("element") if isinstance(sp, dict) else None
            if not isinstance(el, str) or not is_element_symbol(el):
                raise UnknownElementError(
                    f"{at} has species {str(el)[:12]!r}, which is not a chemical element symbol. "
                    "Use real element symbols (e.g. Na, Cl).",
                    filename=name,
                )
            occu = sp.get("occu", 1)
            if isinstance(occu, bool) or not isinstance(occu, (int, float)) or not math.isfinite(occu):
                raise BadOccupancyError(f"{at}: the occupancy of {el} is not a number.", filename=name)
            if not 0 < occu <= 1 + OCCUPANCY_TOLERANCE:
                raise BadOccupancyError(
                    f"{at}: the occupancy of {el} is {occu}; occupancies must be above 0 and at most 1.",
                    filename=name,
                )
            total += occu
        if total > 1 + OCCUPANCY_TOLERANCE:
            raise BadOccupancyError(
                f"{at}: the occupancies add up to {total:.3g}, more than 1.", filename=name
            )
        coords = site.get("abc")
        try:
            c = np.asarray(coords, dtype=float)
        except (TypeError, ValueError):
            c = None
        if c is None or c.shape != (3,):
            raise ParseError(f"{at}: 'abc' must be 3 fractional coordinates.", filename=name)


def _parse_json(text: str, name: str, limits: _Limits) -> list[Structure]:
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
    if len(items) > limits.max_blocks:
        raise TooManyBlocksError(
            f"'{name}' holds {len(items)} structures; the limit is {limits.max_blocks} per file "
            "(max_blocks). Split it into several files.",
            filename=name,
        )
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
        _check_json_item(d, where, name, limits)
        try:
            out.append(Structure.from_dict(d))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not build a structure from {where}: {_plain(exc)}.", filename=name
            ) from exc
    return out


# --------------------------------------------------------------------------- validation


def _validate(
    s: Structure,
    *,
    name: str,
    label: str,
    limits: _Limits,
    on_partial: Literal["most_probable", "reject"],
) -> Structure:
    """Check sites, lattice, species, occupancies, neighbours; return the final structure."""
    if len(s) == 0:
        raise BadSitesError(f"{label} contains no atoms.", filename=name)
    # Count before anything expensive (the neighbour search scales with the site count).
    if len(s) > limits.max_sites:
        raise TooManySitesError(
            f"{label} has {len(s)} sites; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell, or raise max_sites.",
            filename=name,
        )
    import numpy as np

    matrix = s.lattice.matrix
    if not (np.isfinite(matrix).all() and np.isfinite(s.frac_coords).all()):
        raise ParseError(
            f"{label} has non-numeric (NaN or infinite) cell parameters or coordinates. "
            "Check the numbers in the file.",
            filename=name,
        )
    with np.errstate(all="ignore"):
        lengths = np.linalg.norm(matrix, axis=1)
    if not (lengths <= MAX_CELL_LENGTH).all():
        raise BadLatticeError(
            f"{label} has a lattice vector {float(lengths.max()):.3g} Å long; the limit is "
            f"{MAX_CELL_LENGTH:g} Å. Check the units (Å, not pm or bohr) and the scale factor.",
            filename=name,
        )
    with np.errstate(all="ignore"):
        volume = abs(float(np.linalg.det(matrix)))
    if not volume >= MIN_CELL_VOLUME:
        raise BadLatticeError(
            f"{label} has a degenerate cell (volume {volume:.3g} Å³): its lattice "
            "vectors are (nearly) parallel or zero. Check the cell parameters.",
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
        raise UnknownElementError(
            f"{label} contains unknown element symbol(s) {', '.join(unknown)}. Use real "
            "element symbols (e.g. Na, Cl); dummy or placeholder species are not supported.",
            filename=name,
        )
    for i, site in enumerate(s):
        occ = list(site.species.values())
        if not all(math.isfinite(o) and 0 < o <= 1 + OCCUPANCY_TOLERANCE for o in occ) or (
            sum(occ) > 1 + OCCUPANCY_TOLERANCE
        ):
            raise BadOccupancyError(
                f"{label}: site {i + 1} has occupancies {', '.join(f'{o:.3g}' for o in occ)}; each "
                "must be above 0 and at most 1, and together at most 1.",
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
    _check_neighbors(s, label=label, name=name, cutoff=limits.neighbor_cutoff, volume=volume)
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


def _check_neighbors(s: Structure, *, label: str, name: str, cutoff: float, volume: float) -> None:
    """Overlapping atoms and atoms without a neighbour, from one periodic neighbour list.

    The cost of the search is estimated first: it visits every site's periodic images within
    ``cutoff`` of the cell, about ``prod(2 * ceil(cutoff / height) + 1)`` per site, where the
    heights are the distances between opposite cell faces (tiny for a nearly flat cell).
    """
    import numpy as np

    m = s.lattice.matrix
    faces = np.linalg.norm(np.cross(m[[1, 2, 0]], m[[2, 0, 1]]), axis=1)  # |b×c|, |c×a|, |a×b|
    heights = volume / faces
    r = max(cutoff, MIN_DISTANCE)
    images = float(np.prod(2 * np.ceil(r / heights) + 1)) * len(s)
    if images > MAX_NEIGHBOR_IMAGES:
        axis = "abc"[int(heights.argmin())]
        raise BadLatticeError(
            f"{label} has a nearly flat cell: it is only {float(heights.min()):.3g} Å thick "
            f"across the faces perpendicular to {axis}, so finding neighbours within {r:g} Å "
            "would need millions of periodic images. Check the lattice vectors, or upload a "
            "reduced (Niggli) cell.",
            filename=name,
        )
    # get_neighbor_list is vectorized and includes periodic images (and an atom's own
    # images); exact duplicates of different sites (distance 0, i != j) are kept, so they
    # count as overlaps.
    centers, neighbors, _, dists = s.get_neighbor_list(r=r)
    mask = dists < MIN_DISTANCE
    if mask.any():
        k = int(mask.nonzero()[0][int(dists[mask].argmin())])
        i, j, d = int(centers[k]), int(neighbors[k]), float(dists[k])
        raise BadSitesError(
            f"{label} has overlapping atoms: site {i} ({s[i].species_string}) and site {j} "
            f"({s[j].species_string}) are {d:.2f} Å apart; the minimum is {MIN_DISTANCE} Å. "
            "Check the coordinates (fractional vs Cartesian, units) and remove duplicate atoms.",
            filename=name,
        )
    if cutoff > 0:
        has = np.zeros(len(s), dtype=bool)
        has[centers[dists <= cutoff]] = True
        if not has.all():
            i = int((~has).nonzero()[0][0])
            raise IsolatedAtomError(
                f"{label} has an isolated atom: site {i} ({s[i].species_string}) has no "
                f"neighbour within {cutoff:g} Å, not even its own periodic image. The cell is "
                "probably too large for its atoms (vacuum, wrong units or scale factor); a "
                "crystal graph needs neighbours.",
                filename=name,
            )
