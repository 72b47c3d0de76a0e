"""Concepts a text can name, one per phrase of the project's word tables, for sampling that
balances them in training (``train.concept_replay``, :func:`clac_core.data.sampling.concept_weights`).

A concept is one phrase pattern of a table that already has its home elsewhere: each
dimensionality phrase ("layered", "van der Waals", "chain", "framework") and cation polyhedron
(:mod:`~clac_core.vocab.structure_words`), each structure type (:mod:`~clac_core.vocab.structure_types`),
each property class word (:mod:`~clac_core.vocab.classes`), each application
(:mod:`~clac_core.vocab.applications`), each anion and oxoanion class name ("oxide",
"carbonate"; :mod:`~clac_core.vocab.elements`), each composition arity ("ternary") and each
crystal system. The phrases of one dimensionality stay separate concepts: "van der Waals"
and "layered" state the same fact, but a text encoder must learn each wording (a frozen
sentence encoder puts "van der Waals" beside "vanadium"). Element names are not concepts: the
composition texts name every crystal's elements. Plain Python.
"""

from __future__ import annotations

import re
from functools import lru_cache

from clac_core.symmetry import CRYSTAL_SYSTEMS
from clac_core.vocab.applications import SEARCH_APPLICATIONS
from clac_core.vocab.classes import CLASS_WORDS
from clac_core.vocab.elements import ANION_CLASS_ELEMENTS, ARITY_ADJECTIVES, COUNT_WORDS
from clac_core.vocab.structure_types import STRUCTURE_TYPES
from clac_core.vocab.structure_words import DIMENSION_PHRASES, POLYHEDRON_WORDS


def _table() -> tuple[tuple[str, str], ...]:
    """(concept name, case-insensitive regex) for every phrase of the word tables."""
    out: list[tuple[str, str]] = []
    for d, (phrases, _) in DIMENSION_PHRASES.items():
        out += [(f"dimensionality {d}: {p}", p) for p in phrases]
    out += [(f"polyhedron: {name}", p) for p, name in POLYHEDRON_WORDS]
    out += [(f"structure type: {t.name}", t.pattern) for t in STRUCTURE_TYPES]
    out += [(f"class: {name}", w.pattern) for name, w in CLASS_WORDS.items() if w.pattern]
    out += [(f"application: {a.name}", a.pattern) for a in SEARCH_APPLICATIONS]
    out += [(f"anion class: {name}", rf"\b{re.escape(name)}s?\b") for name in ANION_CLASS_ELEMENTS]
    out += [(f"arity: {n}", rf"\b{ary}\b|\b{COUNT_WORDS[n]}[\s-]elements?\b") for n, (ary, _) in ARITY_ADJECTIVES.items()]
    out += [(f"crystal system: {s}", rf"\b{s}\b") for s in CRYSTAL_SYSTEMS]
    return tuple(out)


CONCEPTS: tuple[tuple[str, str], ...] = _table()


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(p, re.IGNORECASE)) for name, p in CONCEPTS)


def concepts_in(text: str) -> list[str]:
    """Names of the concepts ``text`` names, in :data:`CONCEPTS` order."""
    return [name for name, rx in _compiled() if rx.search(text)]
