"""What chemistry words in a search query mean, beyond property numbers.

Read by :func:`clac_core.query.intent.understand`:

* element families ("alkali", "transition metal", "rare earth", "halide", "chalcogenide",
  "pnictide", "noble metal"): at least one element of the family must be present;
* composition arity ("elemental", "binary", "ternary", "four elements", "two-element");
* "intermetallic" / "alloy": every element a metal;
* chemical formulas ("ZnO", "LiFePO4-like"): their elements must be present;
* negations that flip a class word ("not magnetic", "is not a metal", "not an oxide"), rewritten
  into the words the parsers already read ("non-magnetic", "non-metallic", "no O").

Family membership comes from the one element table (:mod:`clac_core.vocab.elements`);
"chalcogenide" and "pnictide" follow the textbook anion sets (S, Se, Te; N, P, As, Sb, Bi).
Plain Python; no model. Shape legend: N crystals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from clac_core.vocab.elements import (
    ARITY_WORDS,
    ATOMIC_NUMBER,
    CHALCOGENIDE_ANIONS,
    COUNT_WORDS,
    NOBLE_METALS,
    PNICTIDE_ANIONS,
    RARE_EARTHS,
    composition_anions,
    element_family,
    is_metal,
)

# (pattern, label shown to the user, family names of element_family or explicit symbols)
_FAMILY_WORDS: list[tuple[str, str, tuple[str, ...]]] = [
    (r"\balkaline[\s-]earths?\b|\balkaline[\s-]earth[\s-]metals?\b", "an alkaline-earth metal",
     ("alkaline-earth metal",)),
    (r"\balkali\b(?![\s-]*earth)(?:[\s-]metals?)?", "an alkali metal", ("alkali metal",)),
    (r"\btransition[\s-]metals?\b", "a transition metal", ("transition metal",)),
    (r"\brare[\s-]earths?\b", "a rare-earth element", RARE_EARTHS),
    (r"\blanthan(?:ide|oid)s?\b", "a lanthanide", ("lanthanide",)),
    (r"\bactin(?:ide|oid)s?\b", "an actinide", ("actinide",)),
    (r"\bhalides?\b|\bhalogens?\b", "a halogen", ("halogen",)),
    (r"\bchalcogenides?\b", "a chalcogen (S, Se, Te)", CHALCOGENIDE_ANIONS),
    (r"\bpnictides?\b|\bpnictogens?\b", "a pnictogen (N, P, As, Sb, Bi)", PNICTIDE_ANIONS),
    (r"\bnoble[\s-]metals?\b", "a noble metal", NOBLE_METALS),
]
_FAMILY_RE = [(re.compile(p, re.IGNORECASE), label, members) for p, label, members in _FAMILY_WORDS]

_NUMBER_WORDS = {"one": 1, "single": 1, **{w: n for n, w in COUNT_WORDS.items()}, "six": 6}
_ARITY_RE = re.compile(
    rf"\b({'|'.join(ARITY_WORDS)})\b"
    rf"|\b({'|'.join(_NUMBER_WORDS)}|[1-6])[\s-](?:different\s+)?(?:elements?|components?)\b"
    r"|\b(allotropes?)\b",
    re.IGNORECASE,
)
_ALL_METAL_RE = re.compile(r"\bintermetallics?\b|\balloys?\b", re.IGNORECASE)

_NOT = r"\b(?:not|never|isn't|aren't|is\s+not|are\s+not)\s+(?:an?\s+|very\s+)?"
# negated class words -> the words the parsers read as the opposite class
_NEGATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_NOT + r"(?:ferro|ferri)?magnetic\b|" + _NOT + r"magnets?\b", re.IGNORECASE), "non-magnetic"),
    (re.compile(_NOT + r"(?:metals?|metallic|conducting|conductors?)\b", re.IGNORECASE), "non-metallic"),
    (re.compile(_NOT + r"stable\b", re.IGNORECASE), "unstable"),
    # a magnet is magnetic; a transparent conductor is a (doped) wide-gap compound, not a metal
    (re.compile(r"\b(?:ferro|ferri)?magnets\b|\b(?:ferro|ferri)magnet\b", re.IGNORECASE), "magnetic"),
    # an application word (vocab.applications.SEARCH_APPLICATIONS), not "conducting" = metallic
    (re.compile(r"\btransparent[\s-]+conduct(?:ing|ive|ors?)\b", re.IGNORECASE), "TCO"),
    (re.compile(r"\bnon[\s-]?metals?\b(?![\s-]*(?:oxide|compound|element|atom|ion|anion))", re.IGNORECASE),
     "non-metallic"),
]


@lru_cache(maxsize=1)
def _family_table() -> dict[str, frozenset[str]]:
    """Family name -> element symbols (Z <= 103), from the one element table."""
    table: dict[str, set[str]] = {}
    for s, z in ATOMIC_NUMBER.items():
        if z <= 103:
            table.setdefault(element_family(s), set()).add(s)
    return {k: frozenset(v) for k, v in table.items()}


def family_members(members: tuple[str, ...]) -> tuple[str, ...]:
    """Element symbols of a family spec (family names and/or symbols), sorted."""
    table = _family_table()
    out: set[str] = set()
    for m in members:
        out |= table.get(m, {m})
    return tuple(sorted(out))


def families_in(query: str) -> list[tuple[str, tuple[str, ...]]]:
    """[(label, symbols)] of every element family the query names, in the order of the table."""
    return [(label, family_members(members)) for rx, label, members in _FAMILY_RE if rx.search(query)]


# a family word may carry its noun: "rare earth elements", "alkali metals", "halogen atoms"
_FAMILY_NOUN = re.compile(r"(?:[\s-]+(?:elements?|metals?|atoms?|ions?|cations?|anions?))?", re.IGNORECASE)


def family_spans(query: str) -> list[tuple[int, int, str, tuple[str, ...]]]:
    """(start, end, label, symbols) of every element family named in ``query``, with the noun
    that may follow it ("rare earth elements"), in order of position; where two words overlap
    ("alkaline earth" inside "alkaline earth metals") the longer is kept.

    The negation reader (:func:`clac_core.query.negation.negated_elements`) uses the spans to read
    "without rare earths", "halogen-free", "no alkali or alkaline-earth metals"."""
    spans = []
    for rx, label, members in _FAMILY_RE:
        for m in rx.finditer(query):
            end = _FAMILY_NOUN.match(query, m.end()).end()  # type: ignore[union-attr]
            spans.append((m.start(), end, label, family_members(members)))
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int, str, tuple[str, ...]]] = []
    for s in spans:
        if not out or s[0] >= out[-1][1]:
            out.append(s)
    return out


def arity_in(query: str) -> int | None:
    """Number of elements the query asks for ("binary" -> 2, "four elements" -> 4), or None."""
    m = _ARITY_RE.search(query)
    if not m:
        return None
    if m.group(1):
        return ARITY_WORDS[m.group(1).lower()]
    if m.group(2):
        word = m.group(2).lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return 1  # an allotrope is one element


def asks_all_metal(query: str) -> bool:
    """True for "intermetallic" / "alloy"."""
    return bool(_ALL_METAL_RE.search(query))


def rewrite_negations(query: str, anion_elements: Mapping[str, Sequence[str]]) -> str:
    """``query`` with negated class words rewritten: "not magnetic" -> "non-magnetic",
    "is not a metal" -> "non-metallic", "not stable" -> "unstable", "not an oxide" -> "no O"
    (the anion element of an -ide word, from ``anion_elements``)."""
    for rx, repl in _NEGATIONS:
        query = rx.sub(repl, query)
    ide_words = "|".join(w for w in anion_elements if w.endswith("ide"))

    def no_anion(m: re.Match[str]) -> str:
        return "no " + anion_elements[m.group(1).lower()][0]

    return re.sub(_NOT + rf"({ide_words})s?\b", no_anion, query, flags=re.IGNORECASE)


@lru_cache(maxsize=65536)
def composition_facts(elements: frozenset[str]) -> tuple[int, bool, frozenset[str]]:
    """(number of elements, every element a metal, anion elements) of a composition.

    Anions as the crystal-facts layer reads them from the composition alone (the most
    electronegative non-metals when a less electronegative element is present)."""
    els = sorted(elements)
    return len(els), bool(els) and all(is_metal(e) for e in els), frozenset(composition_anions(els))


# words in capitals that happen to spell element symbols
_CAPS_WORDS = {"NO", "ON", "IN", "IS", "IF", "OF", "SO", "AS", "AT", "BE", "HE", "BY", "NOW", "ONLY", "BUT"}
_SYMBOL_COUNT = r"[A-Z][a-z]?\d*(?:\.\d+)?"
_FORMULA_TOKEN = re.compile(
    rf"(?<![A-Za-z0-9(])((?:{_SYMBOL_COUNT}|\((?:{_SYMBOL_COUNT})+\)\d*){{2,}})(?![A-Za-z0-9)])"
)


def formulas_in(query: str, symbols: set[str]) -> list[str]:
    """Chemical formulas written in the query ("ZnO", "LiFePO4-like", "Zn(HO)2"): tokens
    of two or more element symbols, each a real element, as written."""
    out: list[str] = []
    for m in _FORMULA_TOKEN.finditer(query):
        if m.group(1) in _CAPS_WORDS:
            continue
        parts = re.findall(r"[A-Z][a-z]?", m.group(1))
        if len(parts) >= 2 and all(p in symbols for p in parts) and m.group(1) not in out:
            out.append(m.group(1))
    return out


def formula_elements(formula: str) -> list[str]:
    """Element symbols of a formula token, in order of appearance."""
    return list(dict.fromkeys(re.findall(r"[A-Z][a-z]?", formula)))


def reduced_formula(formula: str) -> str | None:
    """pymatgen's reduced formula of a formula token ("Zn2O2" -> "ZnO"), None if it does not parse."""
    from pymatgen.core import Composition

    try:
        return Composition(formula).reduced_formula
    except (ValueError, KeyError):
        return None
