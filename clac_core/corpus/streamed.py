"""What the streamed file sources share (extended XYZ, pymatgen / Materials Project JSON,
Alexandria JSON): opening plain or compressed text, named fields mapped to properties, the
bookkeeping of skipped frames and entries, and the file-level error.

Fields (an extxyz frame's ``info``, a Materials Project document, an Alexandria entry's
``data``) are read like the columns of a CSV table (:mod:`clac_core.corpus.tables`): a name in
:data:`clac_core.properties.COLUMN_ALIASES` (or in a source's own small table of extra names)
becomes a canonical property; every other plain number is kept as a string in ``provenance``
under its own name, so nothing is silently lost but nothing unknown enters text or evaluation.
Missing (None) and NaN values are left out; text where a number belongs makes the frame or
entry unusable, as a bad CSV cell does.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from clac_core.corpus.tables import as_number, note_bad_row

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.record import CrystalRecord

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
"""Suffixes read through gzip, bz2 and lzma (xz)."""

# Errors a damaged archive or a non-UTF-8 file raises while it is read.
READ_ERRORS = (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError)


class SourceFileError(ValueError):
    """A source file cannot be read as its kind says: not valid gzip / bz2 / xz, not UTF-8
    text, not JSON, or not in the layout the kind expects (no ``entries`` list, ...)."""


def open_text(path: Path) -> IO[str]:
    """``path`` opened as UTF-8 text, decompressed on the fly for ``.gz`` / ``.bz2`` / ``.xz``."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    if suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")  # noqa: SIM115 (the caller closes it)


def file_stem(path: Path) -> str:
    """The name without a compression suffix and the format suffix: ``train.extxyz.gz`` ->
    ``train``, ``alexandria_000.json.bz2`` -> ``alexandria_000``."""
    name = path.name
    if name.lower().endswith(COMPRESSED_SUFFIXES):
        name = name.rsplit(".", 1)[0]
    return Path(name).stem or name


def entry_record(
    structure: Any, *, record_id: str, raw_id: str | None, source: str, provenance: dict[str, str],
    properties: dict[str, float],
) -> CrystalRecord:
    """The record of one frame or entry; ``provenance`` gains ``material_id`` (the id as the
    source wrote it) when the source gave one."""
    from clac_core.record import CrystalRecord

    if raw_id:
        provenance = {**provenance, "material_id": raw_id}
    return CrystalRecord(id=record_id, structure=structure, source=source, provenance=provenance,
                         properties=properties)


def require_file(path: Path, what: str) -> Path:
    """``path`` when it is a file; FileNotFoundError naming ``what`` ("extxyz file") otherwise."""
    if not path.is_file():
        raise FileNotFoundError(f"no such {what}: {path}")
    return path


def split_fields(
    fields: Mapping[str, Any], *, aliases: Mapping[str, str], skip: set[str], what: str
) -> tuple[dict[str, float], dict[str, str]]:
    """(canonical properties, other plain numbers as provenance strings) of named fields.

    Args:
        fields: name -> value (JSON values, or the parsed values of an extxyz header).
        aliases: field name -> canonical quantity name (the CSV table's
            :data:`~clac_core.properties.COLUMN_ALIASES`, plus a source's own names).
        skip: names that are neither (ids, the lattice, ...).
        what: how messages name a field ("info key", "field").

    Raises:
        ValueError: a property field holds text or a list instead of a number.
    """
    props: dict[str, float] = {}
    extra: dict[str, str] = {}
    for key, value in fields.items():
        if key in skip or value is None:
            continue
        if key in aliases:
            v = as_number(value, key, what=what)
            if not math.isnan(v):
                props[aliases[key]] = v
        elif isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            extra[str(key)] = repr(float(value))
    return props, extra


class Skips:
    """The bad frames or entries of one file: each reason goes to ``skipped`` (when given),
    ``strict`` raises :class:`~clac_core.corpus.tables.BadRowError` at the first, and
    :meth:`warn` closes a read without ``skipped`` with one warning (count and first reasons),
    as the CSV reader does."""

    def __init__(self, path: Path, *, skipped: list[str] | None, strict: bool) -> None:
        self.path = path
        self.skipped = skipped
        self.strict = strict
        self.count = 0
        self.first: list[str] = []

    def note(self, err: ValueError, where: str) -> None:
        """Record (or, ``strict``, raise) why the item at ``where`` ("frame 3 (mp-1)") is skipped."""
        self.count += 1
        note_bad_row(err, where, self.path, strict=self.strict, skipped=self.skipped, reasons=self.first)

    def warn(self, total: int, items: str) -> None:
        """One warning for the skipped ``items`` ("frames") of ``total`` when no list was given."""
        if self.count and self.skipped is None:
            warnings.warn(
                f"{self.path}: skipped {self.count} of {total} {items}; first: {'; '.join(self.first)}",
                stacklevel=3,
            )
