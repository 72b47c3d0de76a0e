"""Named structure prototypes: pymatgen's AFLOW library and robocrys's mineral library.

Both libraries ship as data files inside the installed packages and are read directly (no
import of robocrys, which takes seconds):

- ``pymatgen/analysis/prototypes/aflow_prototypes.json.gz``: 288 AFLOW prototypes (Mehl et
  al. 2017, Hicks et al. 2019), each a StructureNL with tags ``mineral``, ``pearson``,
  ``strukturbericht`` and ``aflow`` (the AFLOW prototype label). Source ``"prototype"``.
- ``robocrys/condense/mineral_db.json.gz``: 180 minerals (pandas "split" layout, columns
  structure, mineral, pearson, strukturbericht, ...). Source ``"mineral"``.

Most minerals are the same structures as AFLOW prototypes. Duplicates are found with
pymatgen's ``StructureMatcher`` within groups of equal reduced formula (cheap: only a few
comparisons per group); the AFLOW entry is kept and a differing mineral name is merged into
its ``labels["mineral"]`` ("A; B"). Minerals without an AFLOW twin are yielded as their own
records.

Labels: ``mineral``, ``pearson``, ``strukturbericht`` (omitted when the library says "None"),
``aflow`` (AFLOW label), and ``prototype``, the reduced formula of the prototype compound
("NaCl" for rock salt), which is how structure types are usually named ("NaCl-type").

Ids are stable across runs: ``"aflow:<label>"`` (``"aflow:<label>-2"`` for the few repeated
labels, numbered in library order) and ``"mineral:<slug of name>"``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from clac_core.record import CrystalRecord

_LABEL_KEYS = ("mineral", "pearson", "strukturbericht", "aflow")


def _package_file(package: str, *parts: str) -> Path:
    """Path of a data file shipped inside an installed package, without importing it.

    Only the top-level package is located (``find_spec`` on a subpackage would import its
    parents, and robocrys's ``__init__`` imports matminer, which takes seconds).
    """
    import importlib.util

    top, *sub = package.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{top} is not installed; {'/'.join(parts)} is unavailable")
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*sub, *parts)
        if path.exists():
            return path
    raise FileNotFoundError(f"{'/'.join([*sub, *parts])} not found in the installed {top}")


def aflow_library_path() -> Path:
    """The AFLOW prototype JSON shipped with pymatgen."""
    return _package_file("pymatgen.analysis.prototypes", "aflow_prototypes.json.gz")


def mineral_library_path() -> Path:
    """robocrys's mineral database (``mineral_db.json.gz``)."""
    return _package_file("robocrys.condense", "mineral_db.json.gz")


def _clean_labels(tags: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key in _LABEL_KEYS:
        value = tags.get(key)
        if value is None:
            continue
        value = str(value).strip()
        if value and value.lower() not in {"none", "nan"}:
            labels[key] = value
    return labels


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"


@lru_cache(maxsize=1)
def _load_aflow() -> tuple[tuple[str, dict[str, Any], dict[str, str]], ...]:
    with gzip.open(aflow_library_path(), "rt") as fh:
        entries = json.load(fh)
    out = []
    seen: dict[str, int] = {}
    for entry in entries:
        labels = _clean_labels(entry["tags"])
        label = labels.get("aflow", "unknown")
        seen[label] = seen.get(label, 0) + 1
        pid = f"aflow:{label}" if seen[label] == 1 else f"aflow:{label}-{seen[label]}"
        snl = entry["snl"]
        struct_dict = {"lattice": snl["lattice"], "sites": snl["sites"], "charge": snl.get("charge")}
        out.append((pid, struct_dict, labels))
    return tuple(out)


@lru_cache(maxsize=1)
def _load_minerals() -> tuple[tuple[str, dict[str, Any], dict[str, str]], ...]:
    with gzip.open(mineral_library_path(), "rt") as fh:
        db = json.load(fh)
    cols = db["columns"]
    out = []
    seen: dict[str, int] = {}
    for aflow_label, row in zip(db["index"], db["data"], strict=True):
        rec = dict(zip(cols, row, strict=True))
        labels = _clean_labels({**rec, "aflow": aflow_label})
        slug = _slug(labels.get("mineral", aflow_label))
        seen[slug] = seen.get(slug, 0) + 1
        mid = f"mineral:{slug}" if seen[slug] == 1 else f"mineral:{slug}-{seen[slug]}"
        out.append((mid, rec["structure"], labels))
    return tuple(out)


def _structure(d: dict[str, Any]) -> Structure:
    return Structure.from_dict({"charge": None, **d})


def iter_prototypes(
    *, include_minerals: bool = True, max_sites: int | None = None
) -> Iterator[CrystalRecord]:
    """Yield AFLOW prototypes, then robocrys minerals that are not AFLOW duplicates.

    Args:
        include_minerals: also read robocrys's mineral library (skipped with a warning if
            robocrys is not installed).
        max_sites: skip structures with more sites than this (None keeps all).

    Yields:
        CrystalRecord with source "prototype" or "mineral", labels from the library tags and
        provenance naming the library file.
    """
    aflow = [(pid, _structure(sd), labels) for pid, sd, labels in _load_aflow()]
    minerals: list[tuple[str, Structure, dict[str, str]]] = []
    if include_minerals:
        try:
            minerals = [(mid, _structure(sd), labels) for mid, sd, labels in _load_minerals()]
        except FileNotFoundError as err:
            import warnings

            warnings.warn(f"mineral library skipped: {err}", stacklevel=2)
    unique_minerals, extra_names = _match_minerals(aflow, minerals)

    for i, (pid, s, labels) in enumerate(aflow):
        if max_sites is not None and len(s) > max_sites:
            continue
        yield _aflow_record(pid, s, labels, extra_names.get(i, []))
    for mid, s, labels in unique_minerals:
        if max_sites is not None and len(s) > max_sites:
            continue
        yield _mineral_record(mid, s, labels)


def _match_minerals(
    aflow: list[tuple[str, Structure, dict[str, str]]], minerals: list[tuple[str, Structure, dict[str, str]]]
) -> tuple[list[tuple[str, Structure, dict[str, str]]], dict[int, list[str]]]:
    """Find each mineral's AFLOW twin (same reduced formula; same AFLOW label and size, else
    ``StructureMatcher``). Returns (minerals without a twin, AFLOW index -> mineral names
    of its twins)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    by_formula: dict[str, list[int]] = {}
    for i, (_, s, _) in enumerate(aflow):
        by_formula.setdefault(s.composition.reduced_formula, []).append(i)

    extra_names: dict[int, list[str]] = {}
    unique_minerals = []
    matcher = StructureMatcher()
    for mid, s, labels in minerals:
        twin = None
        for i in by_formula.get(s.composition.reduced_formula, []):
            if len(aflow[i][1]) == len(s) and labels.get("aflow") == aflow[i][2].get("aflow"):
                twin = i  # same AFLOW label and size: same entry, skip the matcher
                break
        if twin is None:
            for i in by_formula.get(s.composition.reduced_formula, []):
                if matcher.fit(aflow[i][1], s):
                    twin = i
                    break
        if twin is None:
            unique_minerals.append((mid, s, labels))
        elif labels.get("mineral"):
            extra_names.setdefault(twin, []).append(labels["mineral"])
    return unique_minerals, extra_names


def _aflow_record(pid: str, s: Structure, labels: dict[str, str], extra: list[str]) -> CrystalRecord:
    """Record of an AFLOW prototype; ``extra`` mineral names (of its twins) are merged into
    ``labels["mineral"]`` unless already there (case-insensitive)."""
    labels = dict(labels)
    names = [n for n in [labels.get("mineral")] if n]
    for name in extra:
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    if names:
        labels["mineral"] = "; ".join(names)
    labels["prototype"] = s.composition.reduced_formula
    return CrystalRecord(
        id=pid,
        structure=s,
        source="prototype",
        provenance={
            "library": "pymatgen aflow_prototypes.json.gz",
            "aflow_label": labels.get("aflow", ""),
        },
        labels=labels,
    )


def _mineral_record(mid: str, s: Structure, labels: dict[str, str]) -> CrystalRecord:
    """Record of a robocrys mineral without an AFLOW twin."""
    labels = dict(labels)
    labels["prototype"] = s.composition.reduced_formula
    return CrystalRecord(
        id=mid,
        structure=s,
        source="mineral",
        provenance={"library": "robocrys mineral_db.json.gz", "aflow_label": labels.get("aflow", "")},
        labels=labels,
    )
