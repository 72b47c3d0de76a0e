"""Hand-written free-text queries with relevance rules, and precision@k.

Each query in ``clac_core/resources/queries.yaml`` has a ``text`` and a ``rule``: a mapping
of conditions that must *all* hold for a crystal to count as relevant. A condition on a fact
that is unknown for a crystal (e.g. a band gap range for a crystal without a band gap) is
false: unknown never counts as relevant.

Rule keys (values in brackets are ``[min, max]`` ranges, ``null`` = open end):

- ``elements_all`` / ``elements_any`` / ``elements_none``: element symbols.
- ``anions_any``: anion element symbols (from :func:`clac_core.text.analyze`).
- ``anion_class``: one class or a list ("oxide", "sulfide", "intermetallic", "element", ...);
  ``anion_class_contains``: substring of the class ("oxide" also matches "oxide fluoride").
- ``families_any``: element families ("transition metal", "alkali metal", "halogen", ...).
- ``crystal_system``: one or a list.
- ``spacegroup_number``: list of numbers.
- ``band_gap``, ``formation_energy``, ``nsites``, ``n_elements``, ``density``: ranges.
- ``magnetic``: true or false, by the class-word table's "magnetic" / "non-magnetic"
  (:mod:`clac_core.vocab.classes`: at least 0.05 μB per cell, or below).
- ``classes``: class words of :data:`clac_core.vocab.classes.CLASS_WORDS` ("narrow band gap",
  "semiconductor", "insulator", "dense", ...); the crystal's value must have every one. Rules
  whose query uses a class word say so here, so they mean what the writers and the reader mean.
- ``dimensionality``: one of 0-3 or a list.
- ``polyhedra_any``: coordination polyhedra names present on some site ("octahedral", ...).
- ``cn_any``: coordination numbers present on some site.
- ``cation_polyhedra``: {element: polyhedron} that must hold for a site of that element.
- ``label_contains``: substring of any label (prototype, mineral) of the crystal.

Shape legend: Q queries, N crystals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.vocab.classes import CLASS_WORDS

RANGE_KEYS = ("band_gap", "formation_energy", "nsites", "n_elements", "density")
LIST_KEYS = (
    "elements_all",
    "elements_any",
    "elements_none",
    "anions_any",
    "families_any",
    "polyhedra_any",
    "cn_any",
    "spacegroup_number",
    "classes",
)
ONE_OR_LIST_KEYS = ("anion_class", "crystal_system", "dimensionality")
OTHER_KEYS = ("magnetic", "anion_class_contains", "cation_polyhedra", "label_contains")
RULE_KEYS = frozenset(RANGE_KEYS + LIST_KEYS + ONE_OR_LIST_KEYS + OTHER_KEYS)

# rule-facts key of each class-word property
_FACT_OF = {
    "band_gap": "band_gap",
    "formation_energy_per_atom": "formation_energy",
    "density": "density",
    "total_magnetization": "magnetization",
}


def default_queries_path() -> Path:
    return Path(__file__).resolve().parents[1] / "resources" / "queries.yaml"


@dataclass(frozen=True)
class QueryRule:
    """Parsed relevance rule (see module docstring for the keys)."""

    conditions: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> QueryRule:
        """Validate a rule mapping.

        Raises:
            ValueError: unknown key, malformed range or wrong value type.
        """
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"a rule must be a non-empty mapping, got {raw!r}")
        cond: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in RULE_KEYS:
                raise ValueError(f"unknown rule key {key!r}; known: {sorted(RULE_KEYS)}")
            if key in RANGE_KEYS:
                if not isinstance(value, (list, tuple)) or len(value) != 2:
                    raise ValueError(f"{key} must be [min, max] (null for an open end), got {value!r}")
                lo, hi = (None if v is None else float(v) for v in value)
                if lo is None and hi is None:
                    raise ValueError(f"{key} range is open at both ends")
                if lo is not None and hi is not None and lo > hi:
                    raise ValueError(f"{key} range has min > max: {value!r}")
                cond[key] = (lo, hi)
            elif key in LIST_KEYS:
                if not isinstance(value, (list, tuple)) or not value:
                    raise ValueError(f"{key} must be a non-empty list, got {value!r}")
                unknown = [v for v in value if key == "classes" and v not in CLASS_WORDS]
                if unknown:
                    raise ValueError(f"unknown class words {unknown}; known: {sorted(CLASS_WORDS)}")
                cond[key] = tuple(value)
            elif key in ONE_OR_LIST_KEYS:
                cond[key] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            elif key == "magnetic":
                if not isinstance(value, bool):
                    raise ValueError(f"magnetic must be true or false, got {value!r}")
                cond[key] = value
            elif key == "cation_polyhedra":
                if not isinstance(value, dict) or not value:
                    raise ValueError(f"cation_polyhedra must map element -> polyhedron, got {value!r}")
                cond[key] = dict(value)
            else:
                if not isinstance(value, str) or not value:
                    raise ValueError(f"{key} must be a non-empty string, got {value!r}")
                cond[key] = value.lower()
        return cls(cond)

    def matches(self, facts: dict[str, Any]) -> bool:
        """True if every condition holds for ``facts`` (see :func:`facts_record`)."""
        for key, want in self.conditions.items():
            if not _check(key, want, facts):
                return False
        return True


def _in_range(value: Any, lo: float | None, hi: float | None) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _has_class(name: str, f: dict[str, Any]) -> bool:
    """Whether the crystal's value of the class word's property has that class (unknown: no)."""
    word = CLASS_WORDS[name]
    v = f.get(_FACT_OF[word.prop])
    if v is None:
        return False
    return word.contains(abs(v) if word.prop == "total_magnetization" else v)


def _check(key: str, want: Any, f: dict[str, Any]) -> bool:
    elements = set(f.get("elements") or ())
    if key in RANGE_KEYS:
        return _in_range(f.get(key), *want)
    if key == "elements_all":
        return set(want) <= elements
    if key == "elements_any":
        return bool(set(want) & elements)
    if key == "elements_none":
        return not (set(want) & elements)
    if key == "anions_any":
        return bool(set(want) & set(f.get("anions") or ()))
    if key == "families_any":
        return bool(set(want) & set(f.get("families") or ()))
    if key == "polyhedra_any":
        return bool(set(want) & set(f.get("polyhedra") or ()))
    if key == "cn_any":
        return bool({int(v) for v in want} & {int(v) for v in f.get("cns") or ()})
    if key == "spacegroup_number":
        return f.get("spacegroup_number") in {int(v) for v in want}
    if key in ONE_OR_LIST_KEYS:
        return f.get(key) is not None and f.get(key) in want
    if key == "magnetic":
        return _has_class("magnetic" if want else "non-magnetic", f)
    if key == "classes":
        return all(_has_class(name, f) for name in want)
    if key == "anion_class_contains":
        return want in str(f.get("anion_class") or "").lower()
    if key == "cation_polyhedra":
        site_polys = f.get("site_polyhedra") or {}
        return all(poly in site_polys.get(el, ()) for el, poly in want.items())
    if key == "label_contains":
        return any(want in str(v).lower() for v in (f.get("labels") or {}).values())
    raise ValueError(f"unknown rule key {key!r}")  # pragma: no cover (parse rejects it)


@dataclass(frozen=True)
class FreeTextQuery:
    text: str
    rule: QueryRule
    tags: tuple[str, ...] = field(default_factory=tuple)


def load_queries(path: str | Path | None = None) -> list[FreeTextQuery]:
    """Read and validate the free-text queries file.

    Raises:
        ValueError: malformed file or rule (the message names the query).
    """
    import yaml

    path = Path(path) if path is not None else default_queries_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("queries") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a top-level 'queries:' list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"{path}: query #{i} needs a 'text' string")
        try:
            rule = QueryRule.parse(item.get("rule"))
        except ValueError as exc:
            raise ValueError(f"{path}: query #{i} ({item['text']!r}): {exc}") from exc
        out.append(FreeTextQuery(item["text"], rule, tuple(item.get("tags") or ())))
    return out


def facts_record(facts: Any, properties: dict[str, float] | None = None) -> dict[str, Any]:
    """Flatten :class:`clac_core.text.CrystalFacts` + known properties into a rule-facts dict.

    Band gap: ``band_gap`` when known, else the smaller of ``direct_gap``/``indirect_gap``
    (perov_5 style tables); formation energy: ``formation_energy_per_atom``.
    """
    from clac_core.properties import band_gap_of

    props = dict(properties or {})
    gap = band_gap_of(props)
    site_polys: dict[str, set[str]] = {}
    for s in facts.sites:
        if s.polyhedron:
            site_polys.setdefault(s.element, set()).add(s.polyhedron)
    return {
        "formula": facts.formula,
        "elements": list(facts.elements),
        "anions": list(facts.anions),
        "anion_class": facts.anion_class,
        "families": sorted(set(facts.families.values())),
        "crystal_system": facts.crystal_system,
        "spacegroup_number": int(facts.spacegroup_number),
        "nsites": int(facts.nsites),
        "n_elements": len(facts.elements),
        "density": float(facts.density),
        "dimensionality": facts.dimensionality,
        "polyhedra": sorted({s.polyhedron for s in facts.sites if s.polyhedron}),
        "cns": sorted({int(s.cn) for s in facts.sites}),
        "site_polyhedra": {k: sorted(v) for k, v in site_polys.items()},
        "labels": dict(facts.labels or {}),
        "band_gap": gap,
        "formation_energy": props.get("formation_energy_per_atom"),
        "magnetization": props.get("total_magnetization"),
    }


def relevance_matrix(queries: Sequence[FreeTextQuery], facts: Sequence[dict[str, Any]]) -> np.ndarray:
    """(Q, N) bool: query q's rule holds for crystal n."""
    return np.array([[q.rule.matches(f) for f in facts] for q in queries], dtype=bool).reshape(
        len(queries), len(facts)
    )


def precision_at_k(
    scores: np.ndarray, relevant: np.ndarray, k: int = 10, min_relevant: int | None = None
) -> dict[str, Any]:
    """Precision@k of ranked candidates, averaged over queries with enough relevant items.

    Args:
        scores: (Q, N) query-candidate scores.
        relevant: (Q, N) bool relevance.
        k: cut-off.
        min_relevant: only queries with at least this many relevant candidates count
            (default ``k``, so a perfect ranker can reach 1.0).

    Returns:
        {"P@k": mean over used queries (NaN if none), "chance": mean fraction of relevant
        candidates over the same queries, "n_queries_used", "per_query": list of P@k
        (None for unused queries)}. Ties are broken by a stable sort on candidate order.
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} differ")
    min_relevant = k if min_relevant is None else min_relevant
    per: list[float | None] = []
    chance = []
    for s, r in zip(scores, relevant, strict=True):
        if r.sum() < min_relevant or len(s) < k:
            per.append(None)
            continue
        top = np.argsort(-s, kind="stable")[:k]
        per.append(float(r[top].mean()))
        chance.append(float(r.mean()))
    used = [p for p in per if p is not None]
    return {
        f"P@{k}": float(np.mean(used)) if used else float("nan"),
        "chance": float(np.mean(chance)) if chance else float("nan"),
        "n_queries_used": len(used),
        "per_query": per,
    }
