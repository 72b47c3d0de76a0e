"""Structure types a scientist names ("perovskite", "rock salt", "spinel"): the words and the
rule that tells each type from a crystal's computed facts.

One table serves the index (a ``structure_type`` column computed at build time, see
:func:`clac_core.index.build.structure_columns`), the query reader ("cubic perovskite",
"NaCl-type", :func:`structure_types_in`) and the pages (results and viewer show the column).

The rule (:func:`structure_type_of`) reads what :func:`clac_core.text.analyze` computes: the
space group, the anion elements and, per symmetry-distinct site, its element, multiplicity and
bonded neighbours (cation-anion bonds within 1.2 x the shortest; every neighbour for a crystal
without anions). A site's *coordination* here is its number of bonded counter-ions (anions
around a cation, cations around an anion, the other element in a two-element intermetallic).
Each type is the textbook description (e.g. West, *Solid State Chemistry*, ch. 1) written as
a check on the anonymous formula, the coordination of each kind of site and, where the
geometry alone is ambiguous, the space group:

==============  ==========================================================================
type            rule
==============  ==========================================================================
rock salt       AB, Fm-3m (225), both sites 6-coordinated by the other (octahedral)
CsCl-type       AB, Pm-3m (221), both sites 8-coordinated by the other
zinc blende     AB, F-43m (216), both sites 4-coordinated by the other (tetrahedral)
wurtzite        AB, P6_3mc (186), both sites 4-coordinated by the other (tetrahedral)
fluorite        AB2, Fm-3m (225), the cation 8-coordinated, the anion 4 (CaF2)
antifluorite    A2B, Fm-3m (225), the anion 8-coordinated, the cation 4 (Li2O)
rutile          AB2, P4_2/mnm (136), the cation octahedral, the anion 3-coordinated (TiO2)
perovskite      A : B : X = 1 : 1 : 3 (A2BB'X6 and the like included), B octahedral (6 X),
                A with 7 or more X, every X bonded to two B (corner-sharing octahedra); not in
                a hexagonal space group (168-194), where the face-sharing "hexagonal
                perovskites" (BaNiO3) live
spinel          tetrahedral : octahedral cations : X = 1 : 2 : 4, cubic or tetragonal space
                group (MgAl2O4, Fe3O4, Mn3O4)
olivine         tetrahedral : octahedral cations : X = 1 : 2 : 4, Pnma (62) (Mg2SiO4, LiFePO4)
delafossite     linear (2 X) : octahedral cations : X = 1 : 1 : 2, R-3m (166) or
                P6_3/mmc (194) (CuFeO2, PdCoO2)
garnet          Ia-3d (230), 8-, 6- and 4-coordinated cations : X = 3 : 2 : 3 : 12 (Y3Al5O12)
==============  ==========================================================================

A crystal that meets none of the rules has no structure type (""), which is what most crystals
are; the rules are strict so that a labelled crystal is that type (a distorted perovskite whose
A site keeps fewer than 7 close anions is left unlabelled rather than guessed). Plain Python;
no pymatgen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from math import gcd
from typing import Protocol


class SiteLike(Protocol):
    """A symmetry-distinct site as :class:`clac_core.text.sites.SiteEnvironment` holds it."""

    element: str
    multiplicity: int
    cn: int
    polyhedron: str | None
    neighbors: dict[str, int]


@dataclass(frozen=True)
class StructureTypeWord:
    """A structure type: its name (the index column's value, shown in results) and the words
    a query names it with."""

    name: str
    pattern: str  # regex, case-insensitive


# The words follow materials usage: the mineral name, "-type" with the prototype formula, and
# common spellings ("rocksalt", "zincblende", "sphalerite" for zinc blende, "B2" for CsCl).
STRUCTURE_TYPES: tuple[StructureTypeWord, ...] = (
    # not "antiperovskite" (Li3OCl: anion and cation sites swapped), which the rule does not label
    StructureTypeWord("perovskite", r"(?<!anti)(?<!anti-)\bperovskites?\b"),
    StructureTypeWord("spinel", r"\bspinels?\b"),
    StructureTypeWord("rock salt", r"\brock[\s-]?salts?\b|\bhalite[\s-](?:type|structure)\b"
                      r"|\bnacl[\s-](?:type|structure|prototype)\b"),
    StructureTypeWord("rutile", r"\brutiles?\b"),
    StructureTypeWord("wurtzite", r"\bwurtzites?\b"),
    StructureTypeWord("zinc blende", r"\bzinc[\s-]?blendes?\b|\bsphalerites?\b"),
    StructureTypeWord("fluorite", r"(?<!anti)(?<!anti-)\bfluorites?\b|\bcaf2[\s-](?:type|structure)\b"),
    StructureTypeWord("antifluorite", r"\banti-?fluorites?\b"),
    StructureTypeWord("olivine", r"\bolivines?\b"),
    StructureTypeWord("CsCl-type", r"\bcscl[\s-](?:type|structure|prototype)\b|\bb2[\s-](?:type|structure|phase)\b"
                      r"|\bc(?:a)?esium[\s-]chloride[\s-](?:type|structure)\b"),
    StructureTypeWord("delafossite", r"\bdelafossites?\b"),
    StructureTypeWord("garnet", r"\bgarnets?\b"),
)
STRUCTURE_TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in STRUCTURE_TYPES)
_TYPE_RE = [(re.compile(t.pattern, re.IGNORECASE), t.name) for t in STRUCTURE_TYPES]
_HEXAGONAL = range(168, 195)


def structure_types_in(query: str) -> tuple[list[str], str]:
    """(structure types a query names, the query with those words blanked).

    The words are blanked so that no other reader takes "NaCl-type" as a formula, "zinc
    blende" as zinc or "cesium chloride structure" as Cs and Cl."""
    found: list[str] = []
    chars = list(query)
    for rx, name in _TYPE_RE:
        for m in rx.finditer(query):
            if name not in found:
                found.append(name)
            chars[m.start():m.end()] = " " * (m.end() - m.start())
    return found, "".join(chars)


def _coordination(site: SiteLike, anions: frozenset[str]) -> int:
    """Bonded counter-ions of a site: anions around a cation, cations around an anion, the
    other elements around a site of a crystal without anions."""
    if not anions:
        return sum(n for e, n in site.neighbors.items() if e != site.element)
    if site.element in anions:
        return sum(n for e, n in site.neighbors.items() if e not in anions)
    return sum(n for e, n in site.neighbors.items() if e in anions)


def _ratio(counts: Sequence[int]) -> tuple[int, ...]:
    """Counts divided by their greatest common divisor: (4, 8, 16) -> (1, 2, 4)."""
    g = 0
    for c in counts:
        g = gcd(g, c)
    return tuple(c // g for c in counts) if g else tuple(counts)


def _binary_type(sg: int, a: SiteLike, b: SiteLike, anions: frozenset[str]) -> str:
    """The AB and AB2 types: rock salt, CsCl, zinc blende, wurtzite, fluorite, antifluorite, rutile."""
    ca, cb = _coordination(a, anions), _coordination(b, anions)
    ratio = _ratio([a.multiplicity, b.multiplicity])
    if ratio == (1, 1):
        if sg == 225 and ca == cb == 6 and a.polyhedron == b.polyhedron == "octahedral":
            return "rock salt"
        if sg == 221 and ca == cb == 8:
            return "CsCl-type"
        if ca == cb == 4 and a.polyhedron == b.polyhedron == "tetrahedral":
            return {216: "zinc blende", 186: "wurtzite"}.get(sg, "")
        return ""
    if ratio == (2, 1):  # let a be the site with fewer atoms
        a, b, ca, cb = b, a, cb, ca
    elif ratio != (1, 2):
        return ""
    if sg == 225 and ca == 8 and cb == 4:
        return "antifluorite" if a.element in anions else "fluorite"
    if sg == 136 and ca == 6 and cb == 3 and a.polyhedron == "octahedral" and b.element in anions:
        return "rutile"
    return ""


def _perovskite(sg: int, cations: list[tuple[SiteLike, int]], xs: list[SiteLike]) -> bool:
    """B octahedral, A 7+ coordinated, A : B : X = 1 : 1 : 3, each X bonded to two B."""
    if sg in _HEXAGONAL:
        return False
    b = [s for s, c in cations if c == 6 and s.polyhedron == "octahedral"]
    a = [s for s, c in cations if c >= 7]
    if not a or not b or len(a) + len(b) != len(cations):
        return False
    b_el = {s.element for s in b}
    if b_el & {s.element for s in a}:  # one element on both sites: the X-B count cannot tell
        return False
    n_a, n_b, n_x = (sum(s.multiplicity for s in group) for group in (a, b, xs))
    if _ratio([n_a, n_b, n_x]) != (1, 1, 3):
        return False
    return all(sum(n for e, n in x.neighbors.items() if e in b_el) == 2 for x in xs)


def _ordered_cations(cations: list[tuple[SiteLike, int]], xs: list[SiteLike], cns: Sequence[int]) -> tuple[int, ...]:
    """Atoms on cation sites of each coordination in ``cns`` and on anion sites, as a ratio;
    () when a cation has another coordination."""
    if any(c not in cns for _, c in cations):
        return ()
    counts = [sum(s.multiplicity for s, c in cations if c == cn) for cn in cns]
    if not all(counts):
        return ()
    return _ratio([*counts, sum(x.multiplicity for x in xs)])


def structure_type_of(spacegroup_number: int, anions: Sequence[str], sites: Sequence[SiteLike]) -> str:
    """The structure type of a crystal (a name of :data:`STRUCTURE_TYPE_NAMES`), or "" when it
    is none of them; the rules are in the module docstring.

    Args:
        spacegroup_number: 1-230.
        anions: the crystal's anion elements ([] for intermetallics).
        sites: one entry per symmetry-distinct site (element, multiplicity, neighbours).
    """
    sg, an = int(spacegroup_number), frozenset(anions)
    elements = {s.element for s in sites}
    if len(sites) == 2 and len(elements) == 2:
        return _binary_type(sg, sites[0], sites[1], an)
    if not an:
        return ""
    xs = [s for s in sites if s.element in an]
    cations = [(s, _coordination(s, an)) for s in sites if s.element not in an]
    if not xs or not cations:
        return ""
    if _perovskite(sg, cations, xs):
        return "perovskite"
    ratio = _ordered_cations(cations, xs, (4, 6))
    if ratio == (1, 2, 4) and all(s.polyhedron in ("tetrahedral", "octahedral") for s, _ in cations):
        if 75 <= sg <= 142 or sg >= 195:  # tetragonal or cubic
            return "spinel"
        if sg == 62:
            return "olivine"
    if sg in (166, 194) and _ordered_cations(cations, xs, (2, 6)) == (1, 1, 2):
        if all(s.polyhedron in ("linear", "octahedral") for s, _ in cations):
            return "delafossite"
    if sg == 230 and _ordered_cations(cations, xs, (8, 6, 4)) == (3, 2, 3, 12):
        return "garnet"
    return ""
