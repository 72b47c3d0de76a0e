"""The project's vocabulary: the element table and the class words of properties.

One home for the words the text writers write and the query reader reads:
:mod:`~clac_core.vocab.elements` (symbols, names, families, metal / non-metal, anion and
oxoanion names, composition arity words), :mod:`~clac_core.vocab.classes` (class word ->
property interval), :mod:`~clac_core.vocab.structure_words` (dimensionality and polyhedron
phrases), :mod:`~clac_core.vocab.structure_types`, :mod:`~clac_core.vocab.applications`, and
:mod:`~clac_core.vocab.concepts`, which counts every phrase of those tables as one concept for
concept-balanced training. Base layer: plain Python, no pymatgen.
"""

from __future__ import annotations

from clac_core.vocab.classes import CLASS_WORDS, ClassWord, gap_word
from clac_core.vocab.elements import (
    ANION_NAMES,
    NAMES,
    SYMBOLS,
    element_family,
    is_element,
    is_metal,
)

__all__ = [
    "ANION_NAMES",
    "CLASS_WORDS",
    "NAMES",
    "SYMBOLS",
    "ClassWord",
    "element_family",
    "gap_word",
    "is_element",
    "is_metal",
]
