"""Words for the bonded network's dimensionality and the cation polyhedra, as materials
scientists write them.

The one home of these phrase tables: the query reader (:mod:`clac_core.query.structure`) reads
them, and the concept table (:mod:`clac_core.vocab.concepts`) counts each phrase in the training
texts. "layered", "2D", "van der Waals", "lamellar" and "exfoliable" name a two-dimensional
bonded network (layers held by weaker forces); "chain"/"1D" one dimension; "framework"/"3D" a
network bonded in all three; "molecular"/"0D" isolated units. Polyhedra are the cation's
coordination ("octahedral", "corner-sharing octahedra"), as :mod:`clac_core.text.geometry`
names them. Plain Python.
"""

from __future__ import annotations

# dimensionality -> (the phrases that name it, each a case-insensitive regex; the word shown on
# the "Understood" line)
DIMENSION_PHRASES: dict[int, tuple[tuple[str, ...], str]] = {
    2: (
        (r"\blayer(?:ed|s)?\b", r"\b2\s?-?d\b", r"\btwo[\s-]dimensional\b", r"\bvan\s+der\s+waals\b|\bvdw\b",
         r"\blamellar\b", r"\bexfoliat", r"\bsheets?\b", r"\bmonolayers?\b"),
        "layered (2D bonded network)",
    ),
    1: ((r"\bchains?\b", r"\b1\s?-?d\b", r"\bone[\s-]dimensional\b", r"\bwire[\s-]?like\b"), "chains (1D bonded network)"),
    3: (
        (r"\bframeworks?\b", r"\b3\s?-?d\b(?![\s-]*(?:view|viewer|print))", r"\bthree[\s-]dimensional\b"),
        "framework (3D bonded network)",
    ),
    0: (
        (r"\bmolecular\b", r"\b0\s?-?d\b", r"\bzero[\s-]dimensional\b", r"\bisolated\s+(?:molecules|clusters)\b"),
        "molecular (0D units)",
    ),
}

# (pattern, polyhedron name as clac_core.text.geometry.polyhedron_name writes it)
POLYHEDRON_WORDS: tuple[tuple[str, str], ...] = (
    (r"\boctahedr(?:al|a|on|ally)\b", "octahedral"),
    (r"\btetrahedr(?:al|a|on|ally)\b", "tetrahedral"),
    (r"\bsquare[\s-]planar\b", "square planar"),
    (r"\btrigonal[\s-]prism(?:atic|s)?\b", "trigonal prismatic"),
    (r"\btrigonal[\s-]planar\b", "trigonal planar"),
    (r"\blinear(?:ly)?[\s-]coordinated\b|\blinear\s+coordination\b", "linear"),
)
