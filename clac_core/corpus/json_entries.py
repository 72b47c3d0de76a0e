"""Crystals from JSON files of documents that each carry a pymatgen Structure dict: pymatgen /
Materials Project JSON (``mpjson:PATH``) and Alexandria's entry files (``alexandria:PATH``).

Both are read as a stream (:func:`clac_core.corpus.json_stream.iter_json_array`): one document
is decoded, checked and turned into a record at a time, so a file of 100,000 entries never
exists as parsed Python objects all at once. Every structure goes through the same checks as an
uploaded pymatgen JSON file (:func:`clac_core.io.read_structures`; partially occupied sites are
refused, as in the CSV reader). A document without a usable structure, or with text where a
property number belongs, is skipped with a reason (``skipped=``; else one warning at the end);
``strict=True`` raises :class:`~clac_core.corpus.tables.BadRowError` at the first. Plain, ``.gz``,
``.bz2`` and ``.xz`` files are read. Property units are those of
:data:`clac_core.properties.QUANTITIES`; numbers that are not one of them (``energy_above_hull``,
``density``, Alexandria's ``band_gap_dir`` ...) are kept as strings in ``provenance``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from clac_core.corpus.json_stream import iter_json_array
from clac_core.corpus.streamed import (
    READ_ERRORS,
    Skips,
    SourceFileError,
    entry_record,
    file_stem,
    open_text,
    require_file,
    split_fields,
)
from clac_core.corpus.tables import global_id
from clac_core.properties import COLUMN_ALIASES
from clac_core.record import CrystalRecord

MP_ALIASES: dict[str, str] = {
    **COLUMN_ALIASES,
    "k_vrh": "bulk_modulus",
    "g_vrh": "shear_modulus",
    "bulk_modulus": "bulk_modulus",  # a number, or MP's {"voigt", "reuss", "vrh"} (vrh is read)
    "shear_modulus": "shear_modulus",
    "homogeneous_poisson": "poisson_ratio",
}
"""Materials Project document fields -> canonical quantities: the CSV reader's names plus the
MP API's names for the elastic moduli (GPa) and Poisson's ratio."""

ALEXANDRIA_ALIASES: dict[str, str] = {
    "e_form": "formation_energy_per_atom",
    "band_gap_ind": "band_gap",  # the fundamental (indirect) gap
    "total_mag": "total_magnetization",
}
"""Alexandria ``data`` fields -> canonical quantities."""

ALEXANDRIA_LICENCE = "CC BY 4.0 (Alexandria, J. Schmidt et al., alexandria.icams.rub.de)"
"""Written to each Alexandria record's ``provenance["licence"]``."""

JSON_SUFFIXES = (".json", ".json.gz", ".json.bz2", ".json.xz")
"""Files a folder given to ``alexandria:`` is read for."""

_MP_NOT_FIELDS = {"structure", "material_id", "elasticity"}


def iter_mp_json(
    path: str | Path,
    *,
    source: str = "mpjson",
    skipped: list[str] | None = None,
    strict: bool = False,
) -> Iterator[CrystalRecord]:
    """Yield a CrystalRecord per usable document of a pymatgen / Materials Project JSON file.

    The file holds a list of documents, or an object with a ``data`` list (as the MP API
    returns); each document has a ``structure`` (a pymatgen ``Structure.as_dict()``) and fields
    such as ``material_id``, ``formation_energy_per_atom``, ``band_gap``, ``efermi``,
    ``total_magnetization``, ``energy_above_hull``, ``density``, ``k_vrh`` / ``g_vrh`` or
    ``bulk_modulus`` / ``shear_modulus`` (``{"vrh": ...}``). Properties: the fields the CSV
    reader maps (:data:`MP_ALIASES`), as for ``mp_37k``; a legacy ``elasticity`` object's
    ``K_VRH`` / ``G_VRH`` / ``poisson_ratio`` too; without ``total_magnetization``,
    ``total_magnetization_normalized_formula_units`` times the formula units in the cell (MP's
    normalization). Ids: ``material_id`` when it looks global (``mp-149``), else prefixed with
    the file stem; a document without one is ``<file stem>:<position>`` (from 0).

    Args:
        path: the ``.json`` (or ``.json.gz`` / ``.bz2`` / ``.xz``) file.
        source: source name for the records.
        skipped: if given, one "<file> entry N (id): reason" per skipped document (no warning).
        strict: raise :class:`~clac_core.corpus.tables.BadRowError` at the first bad document.

    Raises:
        FileNotFoundError: no such file.
        SourceFileError: a damaged archive, not JSON, or neither a list nor a ``data`` list.
        BadRowError: a bad document with ``strict=True``.
    """
    path = require_file(Path(path), "Materials Project JSON file")
    stem = file_stem(path)
    skips = Skips(path, skipped=skipped, strict=strict)
    total = 0
    for k, doc in _items(path, ("data",)):
        total += 1
        raw_id = _mp_id(doc)
        where = f"entry {k}" + (f" ({raw_id[:40]})" if raw_id else "")
        try:
            structure = _structure(doc, where)
            props, extra = split_fields(
                _mp_fields(doc), aliases=MP_ALIASES, skip=_MP_NOT_FIELDS, what="field"
            )
            _mp_magnetization(props, extra, structure)
        except ValueError as err:
            skips.note(err, where)
            continue
        yield entry_record(
            structure, record_id=global_id(raw_id, stem) if raw_id else f"{stem}:{k}", raw_id=raw_id,
            source=source, provenance={"file": str(path), "entry": str(k), **extra}, properties=props,
        )
    skips.warn(total, "documents")


def iter_alexandria(
    path: str | Path,
    *,
    source: str = "alexandria",
    skipped: list[str] | None = None,
    strict: bool = False,
) -> Iterator[CrystalRecord]:
    """Yield a CrystalRecord per usable entry of Alexandria's JSON files.

    Alexandria (J. Schmidt et al., https://alexandria.icams.rub.de) is licensed CC BY 4.0: credit
    it when you publish an index or results built from it (each record's
    ``provenance["licence"]`` says so). A file (``alexandria_000.json.bz2``, ..., or plain
    ``.json``) is an object with an ``entries`` list of pymatgen ``ComputedStructureEntry``
    dicts, each with a ``structure`` and a ``data`` object. Properties from ``data``:
    ``e_form`` -> formation energy per atom (eV/atom), ``band_gap_ind`` -> band gap (eV; the
    fundamental gap, i.e. the indirect one, which is the smaller; ``band_gap_dir`` stays in
    provenance), ``total_mag`` -> total magnetization (μB per cell); other numbers go to
    provenance. Ids: ``data.mat_id`` (global), else ``entry_id``, else ``<file stem>:<position>``.
    Entries are decoded and built one at a time, never a whole file's structures at once.

    Args:
        path: one such file, or a folder of them (``*.json``, ``*.json.gz`` / ``.bz2`` /
            ``.xz``, read in sorted name order).
        source: source name for the records.
        skipped: if given, one "<file> entry N (id): reason" per skipped entry (no warning).
        strict: raise :class:`~clac_core.corpus.tables.BadRowError` at the first bad entry.

    Raises:
        FileNotFoundError: no such file or folder (or no JSON files in it).
        SourceFileError: a damaged archive, not JSON, or no ``entries`` list; BadRowError: strict.
    """
    for file in _alexandria_files(Path(path)):
        stem = file_stem(file)
        skips = Skips(file, skipped=skipped, strict=strict)
        total = 0
        for k, entry in _items(file, ("entries",)):
            total += 1
            data = entry.get("data") if isinstance(entry, dict) else None
            raw_id = _alexandria_id(entry, data)
            where = f"entry {k}" + (f" ({raw_id[:40]})" if raw_id else "")
            try:
                structure = _structure(entry, where)
                if data is not None and not isinstance(data, dict):
                    raise ValueError("its 'data' is not a JSON object")
                props, extra = split_fields(
                    data or {}, aliases=ALEXANDRIA_ALIASES, skip={"mat_id"}, what="field"
                )
            except ValueError as err:
                skips.note(err, where)
                continue
            yield entry_record(
                structure, record_id=raw_id or f"{stem}:{k}", raw_id=raw_id, source=source,
                provenance={"file": str(file), "entry": str(k), **extra, "licence": ALEXANDRIA_LICENCE},
                properties=props,
            )
        skips.warn(total, "entries")


def _alexandria_id(entry: object, data: object) -> str | None:
    """``data.mat_id``, else the entry's ``entry_id``, else None."""
    raw = _text_id(data.get("mat_id")) if isinstance(data, dict) else None
    return raw or (_text_id(entry.get("entry_id")) if isinstance(entry, dict) else None)


def _alexandria_files(path: Path) -> list[Path]:
    """The file itself, or a folder's JSON files in sorted name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(JSON_SUFFIXES))
        if not files:
            raise FileNotFoundError(
                f"{path} has no Alexandria JSON files ({', '.join('*' + s for s in JSON_SUFFIXES)})"
            )
        return files
    return [require_file(path, "Alexandria JSON file or folder")]


def _items(path: Path, keys: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    """(position, document) of the file's list, or of its list under one of ``keys``."""
    try:
        with open_text(path) as fh:
            yield from enumerate(iter_json_array(fh, keys=keys, name=path.name))
    except READ_ERRORS as exc:
        raise SourceFileError(f"{path} could not be read as JSON text ({type(exc).__name__}: {exc})") from exc


def _structure(doc: Any, where: str):
    """The document's ``structure``, checked as an uploaded pymatgen JSON file is."""
    from clac_core.io import read_structures

    if not isinstance(doc, dict):
        raise ValueError(f"it is a JSON {type(doc).__name__}, not an object with a 'structure'")
    d = doc.get("structure")
    if not isinstance(d, dict):
        raise ValueError("it has no 'structure' object (a pymatgen Structure.as_dict())")
    (structure,) = read_structures(
        json.dumps(d).encode("utf-8"), filename=where, fmt="json", on_partial="reject"
    )
    return structure


def _text_id(value: Any) -> str | None:
    """An id field as text (MP's serialized ``MPID`` objects carry it under ``string``)."""
    if isinstance(value, dict):
        value = value.get("string")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _mp_id(doc: Any) -> str | None:
    return _text_id(doc.get("material_id")) if isinstance(doc, dict) else None


def _mp_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's fields with the moduli flattened: ``{"vrh": x}`` -> x, and a legacy
    ``elasticity`` object's ``K_VRH`` / ``G_VRH`` / ``poisson_ratio`` (top-level fields win)."""
    fields = dict(doc)
    for key in ("bulk_modulus", "shear_modulus"):
        if isinstance(fields.get(key), dict):
            fields[key] = fields[key].get("vrh")
    legacy = doc.get("elasticity")
    if isinstance(legacy, dict):
        for key in ("K_VRH", "G_VRH", "poisson_ratio"):
            fields.setdefault(key, legacy.get(key))
    return fields


def _mp_magnetization(props: dict[str, float], extra: Mapping[str, str], structure) -> None:
    """Total magnetization per cell from MP's per-formula-unit value when only that is given."""
    per_fu = extra.get("total_magnetization_normalized_formula_units")
    if "total_magnetization" not in props and per_fu is not None:
        units = structure.composition.get_reduced_composition_and_factor()[1]
        props["total_magnetization"] = float(per_fu) * units
