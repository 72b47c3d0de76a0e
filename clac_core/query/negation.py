"""Negated element lists in a query: a negation governs the whole list that follows it.

"without lead or cadmium", "no lead and no cadmium", "neither Pb nor Cd", "free of Pb, Cd",
"excluding Co", "other than Fe", "lead- and cadmium-free": every element of the list is
excluded, and the list's words are blanked out of the query so that no other reader takes
"lead or cadmium" as an either-or wish or "cadmium" as an element to include.

Scientists write these in papers and searches ("Pb-free perovskites", "Co-free cathodes",
"rare-earth-free magnets"); the rule is the grammar of English lists, not a list of examples.
Plain Python; no model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# words that negate the list after them (longest first so "but no" wins over "no")
_TRIGGER = re.compile(
    r"\b(?:but\s+no|not\s+containing|not\s+contain(?:ing)?|free\s+(?:of|from)|excluding|exclude|except(?:\s+for)?"
    r"|other\s+than|apart\s+from|lacking|without|neither|nor|not|no)\s+",
    re.IGNORECASE,
)
# between items of one list: a separator, optionally repeating the negation ("and no", ", nor")
_SEP = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+|nor\s+)?|\s(?:and|or|nor|&)\s|/|&)\s*(?:(?:no|not|nor|any)\s+)?", re.I)
_FILLER = re.compile(r"(?:any|the|elemental|toxic|heavy)\s+", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")
# "lead- and cadmium-free", "Pb-free", "Co free"
_FREE = re.compile(r"((?:\b[A-Za-z]+-\s*(?:,|\band\b|\bor\b|&)?\s*)*)\b([A-Za-z]+)[- ]free\b", re.IGNORECASE)
# "neither A nor B" (class words too) -> "not A and not B", which the other readers know
_NEITHER = re.compile(r"\bneither\s+(?:an?\s+)?([\w-]+)\s+nor\s+(?:an?\s+)?([\w-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class NegatedElements:
    """Elements a query excludes, and the query with their lists blanked out."""

    symbols: tuple[str, ...]
    rest: str  # the query with each negated list (trigger and items) replaced by spaces


def split_neither(query: str) -> str:
    """"neither magnetic nor metallic" -> "not magnetic and not metallic"."""
    return _NEITHER.sub(r"not \1 and not \2", query)


def _list_after(q: str, pos: int, element: Callable[[str], str | None]) -> tuple[list[str], int]:
    """Element symbols of the list starting at ``q[pos:]`` and where the list ends."""
    found: list[str] = []
    end = pos
    while True:
        f = _FILLER.match(q, pos)
        if f:
            pos = f.end()
        m = _WORD.match(q, pos)
        sym = element(m.group(0)) if m else None
        if not sym:
            return found, end
        found.append(sym)
        end = m.end()
        sep = _SEP.match(q, end)
        if not sep:
            return found, end
        pos = sep.end()


def negated_elements(query: str, element: Callable[[str], str | None]) -> NegatedElements:
    """Every element under a negation in ``query`` (``element`` reads one word as a symbol,
    or None), and the query with those lists blanked."""
    chars = list(query)
    symbols: list[str] = []

    def blank(a: int, b: int) -> None:
        chars[a:b] = " " * (b - a)

    for m in _TRIGGER.finditer(query):
        found, end = _list_after(query, m.end(), element)
        if found:
            symbols += found
            blank(m.start(), end)
    for m in _FREE.finditer(query):
        words = _WORD.findall(m.group(1)) + [m.group(2)]
        found = [s for w in words if (s := element(w))]
        if found:
            symbols += found
            blank(m.start(), m.end())
    return NegatedElements(tuple(dict.fromkeys(symbols)), "".join(chars))
