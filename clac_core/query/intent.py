"""What a search query asks for: property constraints, elements, families, composition, symmetry.

:func:`understand` turns a query into a :class:`QueryIntent`: numeric property constraints
("band gap around 2 eV", "gap above 3 eV", "metallic", "magnetic", "density below 3 g/cm³",
from :func:`clac_core.query.numbers.parse_constraints`), "stable" (negative formation energy),
elements to include or exclude ("with Li but no Co", "cobalt-free", "iron oxide"), element
families, number of elements, named anions, formulas (:mod:`clac_core.query.words`), crystal
systems ("cubic"), structure words ("layered", "octahedral"; :mod:`clac_core.query.structure`) and
structure types ("perovskite", "rock salt"; :mod:`clac_core.vocab.structure_types`). The words come from the one element table and class-word table
(:mod:`clac_core.vocab`). :mod:`clac_core.query.rerank` scores crystals against an intent.

Plain Python; no model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from clac_core.query.moduli import modulus_constraints
from clac_core.query.negation import negated_elements, split_neither
from clac_core.query.numbers import MAX_TEXT_CHARS, Constraint, class_constraints, parse_constraints
from clac_core.query.structure import DIMENSION_LABELS, dimensionalities_in, polyhedra_in
from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST
from clac_core.vocab.applications import SEARCH_APPLICATIONS, ApplicationQuery
from clac_core.vocab.classes import NEAR_HULL, STABLE
from clac_core.vocab.elements import ANION_CLASS_ELEMENTS, ATOMIC_NUMBER, SYMBOL_OF_NAME
from clac_core.vocab.structure_types import structure_types_in

CRYSTAL_SYSTEM_WORDS = CRYSTAL_SYSTEMS_HIGH_FIRST  # the one table (clac_core.symmetry)
# anion and oxoanion words that name elements the crystal must contain (the element table's)
ANION_ELEMENTS = ANION_CLASS_ELEMENTS
# symbols a query may name: Z <= 103 (the superheavy ones are never in a corpus)
_SYMBOLS = frozenset(s for s, z in ATOMIC_NUMBER.items() if z <= 103)
_NAMES = {n: s for n, s in SYMBOL_OF_NAME.items() if s in _SYMBOLS}
_STABLE_RE = re.compile(STABLE.pattern, re.IGNORECASE)

@dataclass
class QueryIntent:
    """What a query asks for, beyond its words."""

    constraints: list[Constraint] = field(default_factory=list)
    include: list[str] = field(default_factory=list)  # element symbols every hit must contain
    exclude: list[str] = field(default_factory=list)  # element symbols no hit may contain
    # (label, symbols) of each family negated as a whole ("rare-earth-free"): its symbols are in
    # ``exclude``; the page names the family instead of listing its members
    exclude_families: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    crystal_systems: list[str] = field(default_factory=list)
    stable: bool = False
    # (label, symbols): every hit contains at least one ("alkali halide", "Mn or Fe compound")
    any_of: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    n_elements: int | None = None  # "binary" -> 2, "elemental" -> 1, "four elements" -> 4
    all_metal: bool = False  # "intermetallic", "alloy": every element a metal
    anions: list[str] = field(default_factory=list)  # "sulfide": S is the crystal's anion
    formulas: list[str] = field(default_factory=list)  # reduced formulas written in the query ("ZnO")
    dimensionality: list[int] = field(default_factory=list)  # "layered" -> [2] (bonded network)
    polyhedra: list[str] = field(default_factory=list)  # "octahedral": a cation site's polyhedron
    # "perovskite", "NaCl-type" -> the index's structure_type values (vocab.structure_types)
    structure_types: list[str] = field(default_factory=list)
    # application words read by their rule (vocab.applications): a known family or the rule
    applications: list[ApplicationQuery] = field(default_factory=list)

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
            or self.dimensionality
            or self.polyhedra
            or self.structure_types
            or self.applications
        )

    def words_only(self) -> bool:
        """Wishes stated by words alone ("cubic perovskite", "thermoelectric telluride"): no
        number and no stability. Among the crystals that meet them, the property-aware order
        puts those on or near the corpus's hull first (:func:`clac_core.query.rerank.property_match`)."""
        return not self.is_empty() and not self.constraints and not self.stable

    def describe(self) -> list[str]:
        """Plain phrases for the page: "band gap ≈ 2 eV", "contains Li", "no Co", "cubic"."""
        out = [c.describe() for c in self.constraints]
        if self.stable:
            out.append(f"stable (within {NEAR_HULL * 1000:g} meV/atom of this corpus's hull where known, "
                       f"else formation energy < {STABLE.hi:g} eV/atom)")
        in_family = {e for _, g in self.exclude_families for e in g}
        out += [f"contains {e}" for e in self.include] + [f"no {e}" for e in self.exclude if e not in in_family]
        out += [f"no {_without_article(label)}" for label, _ in self.exclude_families]
        out += [f"contains {label}" for label, _ in self.any_of]
        if self.n_elements:
            out.append(f"{self.n_elements} element{'s' if self.n_elements > 1 else ''}")
        if self.all_metal:
            out.append("metals only")
        out += [f"{e} as the anion" for e in self.anions]
        out += [f"formula {f} first" for f in self.formulas]
        out += self.crystal_systems
        out += [DIMENSION_LABELS[d] for d in self.dimensionality]
        if 2 in self.dimensionality:
            out.append("known van der Waals crystals first (graphite, h-BN, MoS2, ...)")
        out += [f"{p} cation sites" for p in self.polyhedra]
        out += [f"{t} structure" for t in self.structure_types]
        out += [f"{a.name} (rule: {a.rule})" for a in self.applications]
        return out


def _without_article(label: str) -> str:
    """"a rare-earth element" -> "rare-earth element"."""
    return re.sub(r"^(?:a|an)\s+", "", label)


def _element_token(tok: str) -> str | None:
    t = tok.strip(" ,.;:()")
    if t in _SYMBOLS and (len(t) > 1 or t in "BCFHIKNOPSUVWY"):
        return t
    return _NAMES.get(t.lower())


# two-letter symbols that are also common English words: only read inside "with/no ..." lists
_WORDLIKE_SYMBOLS = {"In", "As", "At", "Be", "He", "No", "Am"}
_LIST = r"((?:[A-Za-z]+)(?:\s*(?:,|and|or|&|/)\s*[A-Za-z]+)*)"
_INCLUDE_RE = re.compile(rf"\b(?:with|containing|contains|including|includes|having|has)\s+{_LIST}", re.IGNORECASE)
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
    (see the module docstring and :mod:`clac_core.query.words`)."""
    from clac_core.query.words import (
        arity_in,
        asks_all_metal,
        families_in,
        family_spans,
        formulas_in,
        reduced_formula,
        rewrite_negations,
    )

    q = rewrite_negations(split_neither(" ".join(str(query)[:MAX_TEXT_CHARS].split())), ANION_ELEMENTS)
    # structure-type words first, blanked: "NaCl-type" is no formula, "zinc blende" asks for no zinc
    types, q = structure_types_in(q)
    constraints = [_open_ended(c) for c in _narrowed(parse_constraints(q), class_constraints(q))]
    constraints += modulus_constraints(q)
    intent = QueryIntent(constraints=constraints, structure_types=types)
    if _STABLE_RE.search(q) and not any(
        c.prop == "formation_energy_per_atom" for c in intent.constraints
    ):
        intent.stable = True
    # "without lead or cadmium": both excluded; "rare-earth-free": every rare earth excluded
    negated = negated_elements(q, _element_token, family_spans(q))
    excluded, rest = list(negated.symbols), negated.rest
    or_groups = _or_groups(rest)
    either = {e for g in or_groups for e in g}
    written = formulas_in(q, set(_SYMBOLS))  # "ZnO", "LiFePO4-like", as written
    included = [e for e in _included_elements(rest, written) if e not in either]
    intent.exclude = list(dict.fromkeys(excluded))
    intent.exclude_families = list(negated.families)
    intent.include = [e for e in dict.fromkeys(included) if e not in intent.exclude]
    groups = [(" or ".join(g), g) for g in or_groups] + families_in(rest)
    # "a transition metal other than Fe": the family less the excluded elements
    intent.any_of = [(label, kept) for label, g in groups if (kept := tuple(e for e in g if e not in excluded))]
    intent.n_elements = arity_in(q)
    intent.all_metal = asks_all_metal(q)
    intent.formulas = list(dict.fromkeys(f for f in map(reduced_formula, written) if f))
    intent.anions = [
        els[0] for word, els in ANION_ELEMENTS.items() if word.endswith("ide") and re.search(rf"\b{word}s?\b", q, re.I)
    ]
    intent.dimensionality, intent.polyhedra = dimensionalities_in(q), polyhedra_in(q)
    intent.applications = [a for a in SEARCH_APPLICATIONS if re.search(a.pattern, q, re.IGNORECASE)]
    app_gaps = {(a.gap.prop, *a.gap.reader_interval()) for a in intent.applications if a.gap is not None}
    # the application's own rule carries its gap (with its known family): no second gap wish
    intent.constraints = [c for c in intent.constraints if not (c.kind == "class" and (c.prop, c.lo, c.hi) in app_gaps)]
    intent.crystal_systems = [w for w in CRYSTAL_SYSTEM_WORDS if re.search(rf"\b{w}\b", q, re.IGNORECASE)]
    return intent


def _open_ended(c: Constraint) -> Constraint:
    """"above X" has no upper end in a search (the feature reader stops it at its grid's end:
    "band gap above 12 eV" would otherwise ask for 12-8 eV)."""
    if c.kind == "above" and math.isfinite(c.hi):
        return Constraint(c.prop, c.lo, math.inf, c.kind, c.text)
    return c


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
    from clac_core.query.words import formula_elements

    for f in formulas:  # "ZnO", "LiFePO4-like": their elements
        included += formula_elements(f)
    for word in re.findall(r"[A-Za-z]+", q):  # element names anywhere ("iron oxide")
        if word.lower() in _NAMES:
            included.append(_NAMES[word.lower()])
        elif len(word) == 2 and word in _SYMBOLS and word not in _WORDLIKE_SYMBOLS:  # "Li oxide"
            included.append(word)
    for word, els in ANION_ELEMENTS.items():
        if re.search(rf"{word}s?\b", q, re.IGNORECASE):
            included += list(els)
    if re.search(r"\boxy[a-z]*ides?\b", q, re.IGNORECASE):  # oxynitride, oxyfluoride, oxysulfide
        included.append("O")
    return included
