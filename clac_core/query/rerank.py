"""Property-aware re-rank: how well each crystal meets a :class:`~clac_core.query.intent.QueryIntent`.

:func:`rerank_scores` fuses the model's cosine score with the match of each crystal to the
intent, over known DFT values, or over values predicted from the crystal (the model's aux
head, ``predicted_<property>`` columns) where no DFT value is known.

Numpy only (no model, no pandas). Shape legend: N crystals.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from clac_core.properties import HULL_COLUMN as HULL
from clac_core.properties import PREDICTED_PREFIX
from clac_core.query.intent import QueryIntent
from clac_core.query.numbers import LABELS, Constraint
from clac_core.query.structure import VDW_FAMILY
from clac_core.vocab.applications import REDOX_METALS, ApplicationQuery
from clac_core.vocab.classes import NEAR_HULL, STABLE

# how far outside a stated interval a value may lie before its match halves (per property unit)
SCALES = {
    "band_gap": 0.35, "formation_energy_per_atom": 0.25, "density": 0.6, "total_magnetization": 0.5,
    "bulk_modulus": 20.0, "shear_modulus": 15.0, "poisson_ratio": 0.03,  # GPa, GPa, unitless
    HULL: 0.05,  # eV/atom
}
FUSION_WEIGHT = 2.0  # property match (0..1) x weight + model cosine (about -1..1)
# weight of "on or near the hull" beside a query's stated wishes when it states no number and no
# stability (see :func:`property_match`): half a wish
NEAR_HULL_PART = 0.5


def constraint_match(c: Constraint, values: np.ndarray) -> np.ndarray:
    """(N,) match in [0, 1] of values to one constraint; NaN (unknown) -> 0.

    Inside a range or bound: 1. A point ("around 2 eV", a plain number): decays with the
    distance to the stated value. Outside: decays with the distance to the interval.
    """
    scale = SCALES[c.prop]
    x = np.asarray(values, dtype=np.float64)
    if c.kind in ("value", "approx"):
        dist = np.abs(x - 0.5 * (c.lo + c.hi))
    else:
        dist = np.maximum(c.lo - x, 0.0) + np.maximum(x - c.hi, 0.0)
    m = np.exp(-dist / scale)
    return np.where(np.isfinite(m), m, 0.0)


def property_values(columns: Mapping[str, np.ndarray], prop: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, predicted) for one property: DFT values where known, else the
    ``predicted_<prop>`` column; ``predicted`` (N,) bool marks which came from the model."""
    known = np.asarray(columns.get(prop, np.full(n, np.nan)), dtype=np.float64)
    pred = np.asarray(columns.get(f"{PREDICTED_PREFIX}{prop}", np.full(n, np.nan)), dtype=np.float64)
    if prop == "band_gap":  # properties.band_gap_of, per row: band_gap, else min(direct, indirect)
        alt = [np.asarray(columns[k], dtype=np.float64) for k in ("direct_gap", "indirect_gap") if k in columns]
        if alt:
            known = np.where(np.isnan(known), np.fmin.reduce(alt), known)
    use_pred = np.isnan(known) & np.isfinite(pred)
    if prop == "band_gap":
        pred = np.clip(pred, 0.0, None)
    if prop == "total_magnetization":
        known, pred = np.abs(known), np.abs(pred)
    return np.where(use_pred, pred, known), use_pred


def property_match(
    intent: QueryIntent,
    columns: Mapping[str, np.ndarray],
    n: int,
    *,
    elements: list[set[str]] | None = None,
    crystal_systems: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(match (N,) in [0, 1], allowed (N,) bool) of every crystal for ``intent``.

    ``match`` averages the numeric constraints (and "stable", crystal-system, structure,
    composition and application words; a known member of an application's family counts once
    more than a crystal its rule admits);
    ``allowed`` applies the element include/exclude lists as hard filters."""
    parts = []
    for c in intent.constraints:
        vals, _ = property_values(columns, c.prop, n)
        parts.append(constraint_match(c, vals))
    if intent.stable:
        parts.append(stability_match(columns, n))
    if intent.crystal_systems and crystal_systems is not None:
        cs = np.asarray([str(x).lower() for x in crystal_systems])
        parts.append(np.isin(cs, intent.crystal_systems).astype(np.float64))
    parts += structure_parts(intent, columns)
    if intent.applications and elements is not None:
        parts += [application_match(a, columns, elements) for a in intent.applications]
        # the family a word names comes before the crystals its rule merely admits ("Li-ion
        # cathode with cobalt": LiCoO2 before every other Li-Co salt the rule lets in)
        parts += [known_member(a, columns) for a in intent.applications if a.known and "formula" in columns]
    if elements is not None:
        parts += _composition_parts(intent, elements, columns)
    if intent.words_only() and HULL in columns:
        # a query of words only ("cubic perovskite", "thermoelectric telluride"): among the
        # crystals that meet them, those on or near the corpus's hull first, then the model's
        # order; a hypothetical substitution far above the hull is not what such words name
        parts.append(NEAR_HULL_PART * near_hull(columns, n))
    match = np.mean(parts, axis=0) if parts else np.zeros(n)
    allowed = np.ones(n, dtype=bool)
    if elements is not None and (intent.include or intent.exclude or intent.any_of):
        inc, exc = set(intent.include), set(intent.exclude)
        groups = [set(g) for _, g in intent.any_of]
        allowed = np.fromiter(
            (inc <= els and not (exc & els) and all(g & els for g in groups) for els in elements),
            dtype=bool,
            count=n,
        )
    return match, allowed


def _hull(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(N,) energy above the corpus's hull, eV/atom (NaN: unknown, or no such column)."""
    return np.asarray(columns.get(HULL, np.full(n, np.nan)), dtype=np.float64)


def near_hull(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(N,) 1.0 where the crystal lies on or within ``NEAR_HULL`` of the corpus's hull, else 0
    (also where unknown)."""
    with np.errstate(invalid="ignore"):
        return (_hull(columns, n) <= NEAR_HULL).astype(np.float64)


def stability_match(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(N,) match in [0, 1] to "stable": by the energy above the corpus's hull where the index
    has it (1 within ``NEAR_HULL``, decaying above), else by a negative formation energy."""
    fe, _ = property_values(columns, STABLE.prop, n)
    by_fe = constraint_match(Constraint(STABLE.prop, -10.0, STABLE.hi, "below", STABLE.name), fe)
    eh = _hull(columns, n)
    by_hull = constraint_match(Constraint(HULL, 0.0, NEAR_HULL, "below", "near the hull"), eh)
    return np.where(np.isfinite(eh), by_hull, by_fe)


def stable_mask(columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """(N,) bool: meets "stable" (on or near the hull where known, else formation energy < 0)."""
    fe, _ = property_values(columns, STABLE.prop, n)
    return np.where(np.isfinite(_hull(columns, n)), near_hull(columns, n) > 0, np.nan_to_num(fe, nan=1.0) < STABLE.hi)


def application_match(
    a: ApplicationQuery, columns: Mapping[str, np.ndarray], elements: list[set[str]] | list[frozenset[str]]
) -> np.ndarray:
    """(N,) match to an application word: 1 for its known family, else its rule (gap match,
    anion, elements), in [0, 1]."""
    n = len(elements)
    rule = np.ones(n)
    if a.gap is not None:
        lo, hi = a.gap.reader_interval()
        vals, _ = property_values(columns, "band_gap", n)
        rule *= constraint_match(Constraint("band_gap", lo, hi, "class", a.name), vals)
    comp = columns if all(c in columns for c in COMPOSITION_COLUMNS) else composition_columns(elements)
    if a.anion:
        rule *= np.fromiter((a.anion in s for s in comp["composition_anions"]), dtype=np.float64, count=n)
    if a.needs_any:
        rule *= np.fromiter((bool(a.needs_any & set(s)) for s in elements), dtype=np.float64, count=n)
    if a.needs_redox:
        rule *= np.fromiter((bool(REDOX_METALS & set(s)) for s in elements), dtype=np.float64, count=n)
        rule *= np.fromiter((bool(s) for s in comp["composition_anions"]), dtype=np.float64, count=n)
    if a.known and "formula" in columns:
        rule = np.maximum(rule, np.isin(np.asarray(columns["formula"], dtype=object), a.known).astype(np.float64))
    return rule


def known_member(a: ApplicationQuery, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N,) 1 where the crystal's reduced formula is one of the application's known family."""
    return np.isin(np.asarray(columns["formula"], dtype=object), a.known).astype(np.float64)


def structure_parts(intent: QueryIntent, columns: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """(N,) 0/1 match per structure word: the bonded network's dimensionality ("layered"),
    each named cation polyhedron and the structure type ("perovskite": any of the types named);
    read only where the index has the columns (older indexes do not: the words then leave the
    ranking to the model)."""
    parts = []
    if intent.dimensionality and "dimensionality" in columns:
        dim = np.asarray(columns["dimensionality"], dtype=np.float64)
        parts.append(np.isin(dim, intent.dimensionality).astype(np.float64))
        if 2 in intent.dimensionality and "formula" in columns:  # the known vdW crystals first
            family = np.isin(np.asarray(columns["formula"], dtype=object), VDW_FAMILY)
            parts.append((family & (dim == 2)).astype(np.float64))
    if "cation_polyhedra" in columns:  # (N,) frozensets of polyhedron names
        for p in intent.polyhedra:
            parts.append(np.fromiter((p in s for s in columns["cation_polyhedra"]), dtype=np.float64))
    if intent.structure_types and "structure_type" in columns:
        parts.append(np.isin(np.asarray(columns["structure_type"], dtype=object), intent.structure_types)
                     .astype(np.float64))
    return parts


# optional precomputed columns (see composition_columns): number of elements, metals only, anions
COMPOSITION_COLUMNS = ("composition_n_elements", "composition_all_metal", "composition_anions")


def composition_columns(elements: list[frozenset[str]] | list[set[str]]) -> dict[str, np.ndarray]:
    """The composition facts of N crystals as columns (N,) that ``rerank_scores`` reads when
    present: computing them once per index keeps them out of every query's time."""
    from clac_core.query.words import composition_facts

    facts = [composition_facts(els if isinstance(els, frozenset) else frozenset(els)) for els in elements]
    anions = np.empty(len(facts), dtype=object)
    anions[:] = [f[2] for f in facts]
    return {
        "composition_n_elements": np.array([f[0] for f in facts], dtype=np.int64),
        "composition_all_metal": np.array([f[1] for f in facts], dtype=bool),
        "composition_anions": anions,
    }


def _composition_parts(
    intent: QueryIntent, elements: list[set[str]], columns: Mapping[str, np.ndarray]
) -> list[np.ndarray]:
    """(N,) 0/1 match per composition wish: number of elements, metals only, named anions."""
    parts = []
    if intent.n_elements or intent.all_metal or intent.anions:
        comp = columns if all(c in columns for c in COMPOSITION_COLUMNS) else composition_columns(elements)
        if intent.n_elements:
            parts.append((comp["composition_n_elements"] == intent.n_elements).astype(np.float64))
        if intent.all_metal:
            parts.append(np.asarray(comp["composition_all_metal"], dtype=np.float64))
        for a in intent.anions:
            parts.append(np.fromiter((a in s for s in comp["composition_anions"]), dtype=np.float64))
    if intent.formulas and "formula" in columns:  # the formula written first, its relatives next
        parts.append(np.isin(np.asarray(columns["formula"], dtype=object), intent.formulas).astype(np.float64))
    return parts


def rerank_scores(
    model_scores: np.ndarray,
    intent: QueryIntent,
    columns: Mapping[str, np.ndarray],
    *,
    elements: list[set[str]] | None = None,
    crystal_systems: np.ndarray | None = None,
    weight: float = FUSION_WEIGHT,
) -> np.ndarray:
    """Fused scores (N,): ``weight * match + model score``; crystals the element lists
    exclude get -inf. With an empty intent the model's scores come back unchanged."""
    s = np.asarray(model_scores, dtype=np.float64)
    if intent.is_empty():
        return s
    match, allowed = property_match(intent, columns, len(s), elements=elements, crystal_systems=crystal_systems)
    return np.where(allowed, weight * match + s, -np.inf)


def known_properties() -> dict[str, tuple[str, str]]:
    """Property -> (label, unit) of the quantities the parser understands."""
    return dict(LABELS)
