"""Negated element lists in a query: a negation governs the whole list that follows it.

"without lead or cadmium", "no lead and no cadmium", "neither Pb nor Cd", "free of Pb, Cd",
"excluding Co", "other than Fe", "lead- and cadmium-free": every element of the list is
excluded, and the list's words are blanked out of the query so that no other reader takes
"lead or cadmium" as an either-or wish or "cadmium" as an element to include.

A list item may name an element family as well as an element ("rare-earth-free", "free of
rare earths", "without rare earth elements", "halogen-free", "no alkali metals",
"noble-metal-free", "without transition metals", "no lead or alkali metals"): every element of
the family is excluded. The family words and their members are the query reader's one family
table (:func:`clac_core.query.words.family_spans`), passed in as spans.

Scientists write these in papers and searches ("Pb-free perovskites", "Co-free cathodes",
"rare-earth-free magnets"); the rule is the grammar of English lists, not a list of examples.
Plain Python; no model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
# "<family>-free", "<family> free" right after a family word
_FAMILY_FREE = re.compile(r"[\s-]*free\b", re.IGNORECASE)
# "neither A nor B" (class words too) -> "not A and not B", which the other readers know
_NEITHER = re.compile(r"\bneither\s+(?:an?\s+)?([\w-]+)\s+nor\s+(?:an?\s+)?([\w-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class NegatedElements:
    """Elements a query excludes, and the query with their lists blanked out."""

    symbols: tuple[str, ...]
    rest: str  # the query with each negated list (trigger and items) replaced by spaces
    # (label, members) of each negated family ("a rare-earth element", ("Ce", ...)): its
    # members are in ``symbols`` too
    families: tuple[tuple[str, tuple[str, ...]], ...] = ()


# (start, end, label, symbols) of a family word in the query (words.family_spans)
FamilySpan = tuple[int, int, str, tuple[str, ...]]


def split_neither(query: str) -> str:
    """"neither magnetic nor metallic" -> "not magnetic and not metallic"."""
    return _NEITHER.sub(r"not \1 and not \2", query)


def _list_after(
    q: str, pos: int, element: Callable[[str], str | None], family_at: dict[int, FamilySpan]
) -> tuple[list[str], list[tuple[str, tuple[str, ...]]], int]:
    """Element symbols and families of the list starting at ``q[pos:]``, and where it ends."""
    found: list[str] = []
    families: list[tuple[str, tuple[str, ...]]] = []
    end = pos
    while True:
        f = _FILLER.match(q, pos)
        if f:
            pos = f.end()
        if pos in family_at:  # "rare earths", "alkali metals"
            _, end, label, members = family_at[pos]
            families.append((label, members))
            found += members
        else:
            m = _WORD.match(q, pos)
            sym = element(m.group(0)) if m else None
            if not sym or m is None:
                return found, families, end
            found.append(sym)
            end = m.end()
        sep = _SEP.match(q, end)
        if not sep:
            return found, families, end
        pos = sep.end()


def negated_elements(
    query: str, element: Callable[[str], str | None], families: Sequence[FamilySpan] = ()
) -> NegatedElements:
    """Every element under a negation in ``query`` (``element`` reads one word as a symbol,
    or None; ``families`` are the spans of the family words in ``query``), and the query with
    those lists blanked."""
    chars = list(query)
    symbols: list[str] = []
    negated_families: list[tuple[str, tuple[str, ...]]] = []
    family_at = {f[0]: f for f in families}

    def blank(a: int, b: int) -> None:
        chars[a:b] = " " * (b - a)

    for m in _TRIGGER.finditer(query):
        found, fams, end = _list_after(query, m.end(), element, family_at)
        if found:
            symbols += found
            negated_families += fams
            blank(m.start(), end)
    for start, end, label, members in families:  # "rare-earth-free", "noble metal free"
        free = _FAMILY_FREE.match(query, end)
        if free:
            symbols += members
            negated_families.append((label, members))
            blank(start, free.end())
    for m in _FREE.finditer(query):
        words = _WORD.findall(m.group(1)) + [m.group(2)]
        found = [s for w in words if (s := element(w))]
        if found:
            symbols += found
            blank(m.start(), m.end())
    return NegatedElements(tuple(dict.fromkeys(symbols)), "".join(chars), tuple(dict.fromkeys(negated_families)))
