"""Never an empty page: which wishes of a search no crystal meets, and the nearest relaxation.

A search asks for several things at once: the query's understood constraints (a
:class:`~clac_core.query.intent.QueryIntent`) and the page's hard filters
(:class:`~clac_core.index.SearchFilters`). Each becomes a *wish* with an exact (N,) bool mask
over the index (a property inside its interval, known DFT value or else the model's
prediction; an element present or absent; a filter passed). :func:`diagnose` says

- which wishes no crystal of this corpus meets at all ("empty"),
- which pairs of wishes no crystal meets together ("conflicts"),
- and, when no crystal meets all of them, the nearest relaxation: a numeric range widened to
  the nearest crystals that meet everything else, or else the one wish whose removal leaves
  the most crystals.

Numpy only; the search itself stays in :class:`~clac_core.inference.Explorer`.
Shape legend: N crystals.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clac_core.index import SearchFilters
from clac_core.query.intent import QueryIntent
from clac_core.query.numbers import Constraint
from clac_core.query.rerank import (
    COMPOSITION_COLUMNS,
    application_match,
    composition_columns,
    property_values,
    stable_mask,
)
from clac_core.query.structure import DIMENSION_LABELS

MAX_STEPS = 3  # at most this many wishes are widened or dropped
WIDEN_TO = 5  # a widened range takes in this many of the nearest crystals that meet the rest


@dataclass
class Wish:
    """One thing a search asks for, with its exact mask and how to give it up."""

    label: str
    mask: np.ndarray  # (N,) bool
    drop: Callable[[QueryIntent, SearchFilters], tuple[QueryIntent, SearchFilters]]
    constraint: Constraint | None = None  # a numeric wish (may be widened instead of dropped)


@dataclass
class Diagnosis:
    """What a search's wishes mean in this corpus, and the nearest relaxation."""

    n_meeting_all: int
    empty: list[str] = field(default_factory=list)  # wishes no crystal meets
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # pairs no crystal meets together
    relaxation: str | None = None  # plain words: "dropped “no Pb”", "band gap widened to 1–2.6 eV"
    intent: QueryIntent | None = None  # the relaxed intent and filters (None: nothing to relax)
    filters: SearchFilters | None = None

    def messages(self) -> list[str]:
        out = [f"No crystal in this corpus meets “{w}”." for w in self.empty]
        out += [f"No crystal in this corpus meets both “{a}” and “{b}”." for a, b in self.conflicts]
        return out


@dataclass
class SearchAnswer:
    """A search's hits, what was understood, the diagnosis, and the relaxation's hits (or None)."""

    hits: Any  # pd.DataFrame, as CorpusIndex.search returns it
    intent: QueryIntent
    diagnosis: Diagnosis
    relaxed_hits: Any = None  # pd.DataFrame of the relaxed search, when there is a relaxation

    @property
    def dead_end(self) -> bool:
        """No hit at all, or no crystal that meets every wish."""
        return self.hits.empty or self.diagnosis.n_meeting_all == 0


def _interval(c: Constraint, vals: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (vals >= c.lo) & (vals <= c.hi)


def _without(items: list[Any], item: Any) -> list[Any]:
    return [x for x in items if x != item]


def _intent_wishes(intent: QueryIntent, cols: Mapping[str, np.ndarray], elements: list[frozenset[str]],
                   systems: np.ndarray) -> list[Wish]:
    n = len(elements)
    rep = dataclasses.replace
    wishes: list[Wish] = []
    for c in intent.constraints:
        vals, _ = property_values(cols, c.prop, n)
        wishes.append(Wish(c.describe(), _interval(c, vals),
                           lambda i, f, c=c: (rep(i, constraints=_without(i.constraints, c)), f), c))
    if intent.stable:
        wishes.append(Wish("stable", stable_mask(cols, n), lambda i, f: (rep(i, stable=False), f)))
    for e in intent.include:
        wishes.append(Wish(f"contains {e}", np.fromiter((e in s for s in elements), bool, n),
                           lambda i, f, e=e: (rep(i, include=_without(i.include, e)), f)))
    for e in intent.exclude:
        wishes.append(Wish(f"no {e}", np.fromiter((e not in s for s in elements), bool, n),
                           lambda i, f, e=e: (rep(i, exclude=_without(i.exclude, e)), f)))
    for g in intent.any_of:
        wishes.append(Wish(f"contains {g[0]}", np.fromiter((bool(set(g[1]) & s) for s in elements), bool, n),
                           lambda i, f, g=g: (rep(i, any_of=_without(i.any_of, g)), f)))
    if intent.n_elements or intent.all_metal or intent.anions:
        comp = cols if all(c in cols for c in COMPOSITION_COLUMNS) else composition_columns(elements)
        if intent.n_elements:
            wishes.append(Wish(f"{intent.n_elements} elements", comp["composition_n_elements"] == intent.n_elements,
                               lambda i, f: (rep(i, n_elements=None), f)))
        if intent.all_metal:
            wishes.append(Wish("metals only", np.asarray(comp["composition_all_metal"], bool),
                               lambda i, f: (rep(i, all_metal=False), f)))
        for a in intent.anions:
            wishes.append(Wish(f"{a} as the anion", np.fromiter((a in s for s in comp["composition_anions"]), bool, n),
                               lambda i, f, a=a: (rep(i, anions=_without(i.anions, a)), f)))
    if intent.dimensionality and "dimensionality" in cols:
        wishes.append(Wish(" or ".join(DIMENSION_LABELS[x] for x in intent.dimensionality),
                           np.isin(cols["dimensionality"], intent.dimensionality),
                           lambda i, f: (rep(i, dimensionality=[]), f)))
    for p in intent.polyhedra if "cation_polyhedra" in cols else ():
        wishes.append(Wish(f"{p} cation sites", np.fromiter((p in s for s in cols["cation_polyhedra"]), bool, n),
                           lambda i, f, p=p: (rep(i, polyhedra=_without(i.polyhedra, p)), f)))
    for a in intent.applications:
        wishes.append(Wish(a.name, application_match(a, cols, elements) >= 1.0,
                           lambda i, f, a=a: (rep(i, applications=_without(i.applications, a)), f)))
    if intent.crystal_systems:
        wishes.append(Wish(" or ".join(intent.crystal_systems), np.isin(np.char.lower(systems.astype(str)),
                           intent.crystal_systems), lambda i, f: (rep(i, crystal_systems=[]), f)))
    return wishes


def filter_wishes(filters: SearchFilters | None, mask_of: Callable[[SearchFilters], np.ndarray]) -> list[Wish]:
    """One wish per field of the page's filters that filters anything."""
    if filters is None or filters.is_empty():
        return []
    empty = SearchFilters()
    wishes = []
    for f in dataclasses.fields(SearchFilters):
        value = getattr(filters, f.name)
        alone = dataclasses.replace(empty, **{f.name: value})
        if alone.is_empty():
            continue
        label = "filter: " + f.name.replace("_", " ") + (f" {value}" if not isinstance(value, bool) else "")
        default = getattr(empty, f.name)
        wishes.append(Wish(label, mask_of(alone),
                           lambda i, fl, name=f.name, d=default: (i, dataclasses.replace(fl, **{name: d}))))
    return wishes


def _widened(w: Wish, others: np.ndarray, cols: Mapping[str, np.ndarray]) -> tuple[str, Constraint] | None:
    """The constraint of ``w`` widened to the nearest :data:`WIDEN_TO` crystals meeting ``others``."""
    c = w.constraint
    if c is None:
        return None
    vals, _ = property_values(cols, c.prop, len(others))
    cand = vals[others & np.isfinite(vals)]
    if cand.size == 0:
        return None
    dist = np.maximum(c.lo - cand, 0.0) + np.maximum(cand - c.hi, 0.0)
    reach = float(np.sort(dist)[min(WIDEN_TO, cand.size) - 1])
    lo = c.lo - reach if math.isfinite(c.lo) and (cand < c.lo).any() else c.lo
    hi = c.hi + reach if math.isfinite(c.hi) and (cand > c.hi).any() else c.hi
    wide = Constraint(c.prop, lo, hi, "range" if math.isfinite(lo) and math.isfinite(hi) else c.kind, c.text)
    return f"“{c.describe()}” widened to “{wide.describe()}”", wide


def diagnose(intent: QueryIntent, filters: SearchFilters | None, cols: Mapping[str, np.ndarray],
             elements: list[frozenset[str]], systems: np.ndarray,
             mask_of: Callable[[SearchFilters], np.ndarray]) -> Diagnosis:
    """Which wishes are empty or conflict in this corpus, and the nearest relaxation."""
    wishes = _intent_wishes(intent, cols, elements, systems) + filter_wishes(filters, mask_of)
    n = len(elements)
    d = Diagnosis(int(_joint(wishes, n).sum()), empty=[w.label for w in wishes if not w.mask.any()])
    if d.n_meeting_all or not wishes:
        return d
    live = [w for w in wishes if w.mask.any()]
    d.conflicts = [(a.label, b.label) for i, a in enumerate(live) for b in live[i + 1:] if not (a.mask & b.mask).any()][:3]
    filters = filters if filters is not None else SearchFilters()
    steps: list[str] = []
    while len(steps) < MAX_STEPS:
        step = _best_step(wishes, cols)
        if step is None:
            return d  # nothing short of dropping several wishes at once: say what conflicts
        w, widened, others = step
        wishes = [x for x in wishes if x is not w]
        if widened is not None:
            words, wide = widened
            intent = dataclasses.replace(
                intent, constraints=[wide if c is w.constraint else c for c in intent.constraints]
            )
            vals, _ = property_values(cols, wide.prop, n)
            wishes.append(Wish(wide.describe(), _interval(wide, vals), w.drop, wide))
        else:
            intent, filters = w.drop(intent, filters)
            words = f"dropped “{w.label}”"
        steps.append(words)
        if _joint(wishes, n).any():
            break
    if not _joint(wishes, n).any():
        return d
    d.intent, d.filters, d.relaxation = intent, filters, "; ".join(steps)
    return d


def _joint(wishes: list[Wish], n: int, skip: Wish | None = None) -> np.ndarray:
    out = np.ones(n, dtype=bool)
    for w in wishes:
        if w is not skip:
            out &= w.mask
    return out


def _best_step(wishes: list[Wish], cols: Mapping[str, np.ndarray]) -> tuple[Wish, Any, np.ndarray] | None:
    """The wish to give up next: one no crystal meets first, then the one whose removal leaves
    the most crystals (any crystals at all, else the most of them on the way); a numeric wish is
    widened rather than dropped."""
    n = len(wishes[0].mask) if wishes else 0
    best: tuple[tuple[bool, int], Wish, np.ndarray] | None = None
    for w in wishes:
        others = _joint(wishes, n, skip=w)
        key = (not w.mask.any(), int(others.sum()))
        if best is None or key > best[0]:
            best = (key, w, others)
    if best is None or (best[0][1] == 0 and best[1].mask.any()):
        return None  # no single wish stands out: no crystal meets the rest either
    _, w, others = best
    return w, (_widened(w, others, cols) if others.any() else None), others
