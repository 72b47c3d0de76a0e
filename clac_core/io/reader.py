"""The one entry point, :func:`read_structures`: bytes from the source, text, the format's
parser, then validation of every structure, all within the limits and the time budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from clac_core.io.budget import _Budget, _BudgetExceeded
from clac_core.io.cif import _parse_cif
from clac_core.io.errors import (
    BadSitesError,
    EmptyFileError,
    ParseError,
    StructureReadError,
    UnsupportedFormatError,
)
from clac_core.io.extxyz import _parse_extxyz
from clac_core.io.formats import SUPPORTED_FORMATS, Format, detect_format
from clac_core.io.limits import (
    DEFAULT_MAX_BLOCKS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SITES,
    DEFAULT_NEIGHBOR_CUTOFF,
    DEFAULT_TIME_BUDGET,
    _Limits,
)
from clac_core.io.poscar import _parse_poscar
from clac_core.io.pymatgen_json import _parse_json
from clac_core.io.source import Source, _decode, _gunzip, _read_bytes
from clac_core.io.validate import _validate
from clac_core.io.words import _parse_with_warnings

if TYPE_CHECKING:
    from pymatgen.core import Structure


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
    text = _text(data, name, max_bytes)
    structures = _parse(text, name, limits, fmt)
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


def _text(data: bytes, name: str, max_bytes: int) -> str:
    """The decoded, non-empty text (gunzipped first for a ``.gz`` name)."""
    if name.lower().endswith(".gz"):
        data = _gunzip(data, name, max_bytes)
    text = _decode(data, name)
    if not text.strip():
        raise EmptyFileError(
            f"'{name}' is empty: it contains no structure. Upload a CIF, POSCAR, "
            "extended XYZ or pymatgen JSON file.",
            filename=name,
        )
    return text


def _parse(text: str, name: str, limits: _Limits, fmt: Format | None) -> list[Structure]:
    """Structures parsed with ``fmt``'s parser (default: detected; POSCAR as a last resort)."""
    parsers: dict[Format, Callable[[str, str, _Limits], list[Structure]]] = {
        "cif": _parse_cif,
        "poscar": _parse_poscar,
        "extxyz": _parse_extxyz,
        "json": _parse_json,
    }
    fmt = fmt or detect_format(name, text)
    if fmt is not None:
        return _parse_with_warnings(parsers[fmt], text, name, limits)
    # Last resort: POSCAR has no magic marker. Anything it cannot parse is "unknown";
    # a specific complaint about a POSCAR-shaped file (unknown element, too many atoms)
    # is more useful than "unknown format", so those pass through.
    try:
        return _parse_with_warnings(_parse_poscar, text, name, limits)
    except StructureReadError as exc:
        if type(exc) is not ParseError:
            raise
        raise UnsupportedFormatError(
            f"Could not recognise the format of '{name}'. Supported formats: "
            + "; ".join(SUPPORTED_FORMATS.values())
            + ". Rename the file with the matching extension (e.g. .cif).",
            filename=name,
        ) from exc
