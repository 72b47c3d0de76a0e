"""Property-aware search: read the constraints a query states and re-rank by them.

:func:`understand` turns a query into a :class:`QueryIntent`: numeric property constraints
("band gap around 2 eV", "gap above 3 eV", "metallic", "magnetic", "density below 3 g/cm³",
from :func:`clac_core.quantities.parse_constraints`), "stable" (negative formation
energy), elements to include or exclude ("with Li but no Co", "cobalt-free", "iron oxide") and
crystal systems ("cubic"). :func:`rerank_scores` fuses the model's cosine score with how well
each crystal meets them, over known DFT values, or over values predicted from the crystal (the
model's aux head, ``predicted_<property>`` columns) where no DFT value is known.

Numpy only (no model, no pandas needed by the scoring). Shape legend: N crystals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from clac_core.properties import PREDICTED_PREFIX
from clac_core.quantities import LABELS, MAX_TEXT_CHARS, Constraint, class_constraints, parse_constraints
from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST

CRYSTAL_SYSTEM_WORDS = CRYSTAL_SYSTEMS_HIGH_FIRST  # the one table (clac_core.symmetry)
# how far outside a stated interval a value may lie before its match halves (per property unit)
SCALES = {"band_gap": 0.35, "formation_energy_per_atom": 0.25, "density": 0.6, "total_magnetization": 0.5}
# anion words that name an element the crystal must contain
ANION_ELEMENTS = {
    "oxide": ["O"], "sulfide": ["S"], "selenide": ["Se"], "telluride": ["Te"], "nitride": ["N"],
    "fluoride": ["F"], "chloride": ["Cl"], "bromide": ["Br"], "iodide": ["I"], "phosphide": ["P"],
    "carbide": ["C"], "boride": ["B"], "hydride": ["H"], "phosphate": ["P", "O"], "sulfate": ["S", "O"],
    "silicate": ["Si", "O"], "borate": ["B", "O"], "carbonate": ["C", "O"], "nitrate": ["N", "O"],
    "arsenide": ["As"], "antimonide": ["Sb"], "silicide": ["Si"], "germanide": ["Ge"], "selenate": ["Se", "O"],
}
# anion words also count inside longer words: "dioxide", "disulfide", "oxynitride"
FUSION_WEIGHT = 2.0  # property match (0..1) x weight + model cosine (about -1..1)


@lru_cache(maxsize=1)
def _elements() -> tuple[dict[str, str], dict[str, str]]:
    """(symbol -> symbol, lower-case name -> symbol) for every element."""
    from pymatgen.core.periodic_table import Element

    syms = {el.symbol: el.symbol for el in Element if el.Z <= 103}
    names = {el.long_name.lower(): el.symbol for el in Element if el.Z <= 103}
    names.update({"aluminum": "Al", "cesium": "Cs", "sulphur": "S"})
    return syms, names


@dataclass
class QueryIntent:
    """What a query asks for, beyond its words."""

    constraints: list[Constraint] = field(default_factory=list)
    include: list[str] = field(default_factory=list)  # element symbols every hit must contain
    exclude: list[str] = field(default_factory=list)  # element symbols no hit may contain
    crystal_systems: list[str] = field(default_factory=list)
    stable: bool = False
    # (label, symbols): every hit contains at least one ("alkali halide", "Mn or Fe compound")
    any_of: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    n_elements: int | None = None  # "binary" -> 2, "elemental" -> 1, "four elements" -> 4
    all_metal: bool = False  # "intermetallic", "alloy": every element a metal
    anions: list[str] = field(default_factory=list)  # "sulfide": S is the crystal's anion
    formulas: list[str] = field(default_factory=list)  # reduced formulas written in the query ("ZnO")

    def is_empty(self) -> bool:
        return not (
            self.constraints
            or self.include
            or self.exclude
            or self.crystal_systems
            or self.stable
            or self.any_of
            or self.n_elements
            or self.all_metal
            or self.anions
            or self.formulas
        )

    def describe(self) -> list[str]:
        """Plain phrases for the page: "band gap ≈ 2 eV", "contains Li", "no Co", "cubic"."""
        out = [c.describe() for c in self.constraints]
        if self.stable:
            out.append("stable (formation energy < 0 eV/atom)")
        out += [f"contains {e}" for e in self.include] + [f"no {e}" for e in self.exclude]
        out += [f"contains {label}" for label, _ in self.any_of]
        if self.n_elements:
            out.append(f"{self.n_elements} element{'s' if self.n_elements > 1 else ''}")
        if self.all_metal:
            out.append("metals only")
        out += [f"{e} as the anion" for e in self.anions]
        out += [f"formula {f} first" for f in self.formulas]
        out += self.crystal_systems
        return out


def _element_token(tok: str) -> str | None:
    syms, names = _elements()
    t = tok.strip(" ,.;:()")
    if t in syms and (len(t) > 1 or t in "BCFHIKNOPSUVWY"):
        return t
    return names.get(t.lower())


# two-letter symbols that are also common English words: only read inside "with/no ..." lists
_WORDLIKE_SYMBOLS = {"In", "As", "At", "Be", "He", "No", "Am"}
_LIST = r"((?:[A-Za-z]+)(?:\s*(?:,|and|or|&|/)\s*[A-Za-z]+)*)"
_INCLUDE_RE = re.compile(rf"\b(?:with|containing|contains|including|includes|having|has)\s+{_LIST}", re.IGNORECASE)
_EXCLUDE_RE = re.compile(
    rf"\b(?:but\s+no|no|without|not\s+containing|free\s+of|excluding|except|lacking)\s+{_LIST}", re.IGNORECASE
)
_FREE_RE = re.compile(r"\b([A-Za-z]+)[- ]free\b", re.IGNORECASE)
_CONTAINING_RE = re.compile(r"\b([A-Za-z]+)[- ](?:containing|bearing|based|rich)\b", re.IGNORECASE)


def _elements_in(phrase: str) -> list[str]:
    out = []
    for tok in re.split(r"\s*(?:,|\band\b|\bor\b|&|/)\s*|\s+", phrase):
        sym = _element_token(tok)
        if sym and sym not in out:
            out.append(sym)
    return out


_OR_LIST_RE = re.compile(r"\b([A-Za-z]+)((?:\s*,\s*[A-Za-z]+)*)\s+or\s+([A-Za-z]+)\b")


def _or_groups(q: str) -> list[tuple[str, ...]]:
    """Element lists joined by "or" ("Mn or Fe", "Co, Ni or Fe"): any one of them will do."""
    groups = []
    for m in _OR_LIST_RE.finditer(q):
        words = [m.group(1), *re.findall(r"[A-Za-z]+", m.group(2)), m.group(3)]
        syms = [_element_token(w) for w in words]
        group = tuple(dict.fromkeys(s for s in syms if s))
        if len(syms) >= 2 and all(syms) and len(group) >= 2 and group not in groups:
            groups.append(group)
    return groups


def understand(query: str) -> QueryIntent:
    """Read a query's property, element, family, composition and symmetry constraints
    (see the module docstring and :mod:`clac_core.query_words`)."""
    from clac_core.query_words import (
        arity_in,
        asks_all_metal,
        families_in,
        formulas_in,
        reduced_formula,
        rewrite_negations,
    )

    q = rewrite_negations(" ".join(str(query)[:MAX_TEXT_CHARS].split()), ANION_ELEMENTS)
    intent = QueryIntent(constraints=_narrowed(parse_constraints(q), class_constraints(q)))
    if re.search(r"(?<!un)\bstable\b|\bstability\b", q, re.IGNORECASE) and not any(
        c.prop == "formation_energy_per_atom" for c in intent.constraints
    ):
        intent.stable = True
    excluded: list[str] = []
    for m in _EXCLUDE_RE.finditer(q):
        excluded += _elements_in(m.group(1))
    for m in _FREE_RE.finditer(q):
        excluded += _elements_in(m.group(1))
    or_groups = _or_groups(q)
    either = {e for g in or_groups for e in g}
    written = formulas_in(q, set(_elements()[0]))  # "ZnO", "LiFePO4-like", as written
    included = [e for e in _included_elements(q, written) if e not in either]
    intent.exclude = list(dict.fromkeys(excluded))
    intent.include = [e for e in dict.fromkeys(included) if e not in intent.exclude]
    intent.any_of = [(" or ".join(g), g) for g in or_groups] + families_in(q)
    intent.n_elements = arity_in(q)
    intent.all_metal = asks_all_metal(q)
    intent.formulas = list(dict.fromkeys(f for f in map(reduced_formula, written) if f))
    intent.anions = [
        els[0] for word, els in ANION_ELEMENTS.items() if word.endswith("ide") and re.search(rf"\b{word}s?\b", q, re.I)
    ]
    intent.crystal_systems = [w for w in CRYSTAL_SYSTEM_WORDS if re.search(rf"\b{w}\b", q, re.IGNORECASE)]
    return intent


def _narrowed(constraints: list[Constraint], classes: list[Constraint]) -> list[Constraint]:
    """A stated number narrowed by a class word of the same property where both can hold:
    "below 1 eV but not a metal" -> band gap 0.05-1 eV; "metal with a gap below 1 eV" -> 0 eV."""
    by_prop = {c.prop: c for c in classes}
    out = []
    for c in constraints:
        k = by_prop.get(c.prop)
        if c.kind != "class" and k is not None and (c.lo, c.hi) != (k.lo, k.hi):
            lo, hi = max(c.lo, k.lo), min(c.hi, k.hi)
            if lo <= hi and (lo, hi) != (c.lo, c.hi):
                c = Constraint(c.prop, lo, hi, "range", f"{c.text}; {k.text}")
        out.append(c)
    return out


def _included_elements(q: str, formulas: list[str]) -> list[str]:
    """Elements a query asks every hit to contain: "with Li", "Li-rich", the elements of the
    ``formulas`` written in it, element names, anion words."""
    included: list[str] = []
    for m in _INCLUDE_RE.finditer(q):
        # "with Li but no Co": stop the include list where an exclusion starts
        phrase = re.split(r"\b(?:but|no|without|not)\b", m.group(1), maxsplit=1, flags=re.IGNORECASE)[0]
        included += _elements_in(phrase)
    for m in _CONTAINING_RE.finditer(q):
        included += _elements_in(m.group(1))
    syms, names = _elements()
    from clac_core.query_words import formula_elements

    for f in formulas:  # "ZnO", "LiFePO4-like": their elements
        included += formula_elements(f)
    for word in re.findall(r"[A-Za-z]+", q):  # element names anywhere ("iron oxide")
        if word.lower() in names:
            included.append(names[word.lower()])
        elif len(word) == 2 and word in syms and word not in _WORDLIKE_SYMBOLS:  # "Li oxide"
            included.append(word)
    for word, els in ANION_ELEMENTS.items():
        if re.search(rf"{word}s?\b", q, re.IGNORECASE):
            included += els
    if re.search(r"\boxy[a-z]*ides?\b", q, re.IGNORECASE):  # oxynitride, oxyfluoride, oxysulfide
        included.append("O")
    return included


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
    if prop == "band_gap" and np.isnan(known).all():
        alt = [np.asarray(columns[k], dtype=np.float64) for k in ("direct_gap", "indirect_gap") if k in columns]
        if alt:
            known = np.fmin.reduce(alt) if len(alt) > 1 else alt[0]
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

    ``match`` averages the numeric constraints (and "stable", and crystal-system words);
    ``allowed`` applies the element include/exclude lists as hard filters."""
    parts = []
    for c in intent.constraints:
        vals, _ = property_values(columns, c.prop, n)
        parts.append(constraint_match(c, vals))
    if intent.stable:
        vals, _ = property_values(columns, "formation_energy_per_atom", n)
        parts.append(constraint_match(Constraint("formation_energy_per_atom", -10.0, 0.0, "below", "stable"), vals))
    if intent.crystal_systems and crystal_systems is not None:
        cs = np.asarray([str(x).lower() for x in crystal_systems])
        parts.append(np.isin(cs, intent.crystal_systems).astype(np.float64))
    if elements is not None:
        parts += _composition_parts(intent, elements, columns)
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


# optional precomputed columns (see composition_columns): number of elements, metals only, anions
COMPOSITION_COLUMNS = ("composition_n_elements", "composition_all_metal", "composition_anions")


def composition_columns(elements: list[frozenset[str]] | list[set[str]]) -> dict[str, np.ndarray]:
    """The composition facts of N crystals as columns (N,) that ``rerank_scores`` reads when
    present: computing them once per index keeps them out of every query's time."""
    from clac_core.query_words import composition_facts

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
