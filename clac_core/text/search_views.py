"""The ``search`` view: a short request as a scientist types it into a search box.

"I need a layered selenide", "find me tetragonal tin compounds", "Li-ion cathode candidate with
octahedral coordination", "spinel oxide": one to three facts of the crystal, each computed
(dimensionality, coordination polyhedra, crystal system, in the extra requests of
``--search-texts N`` also the number of elements ("ternary", "four-element";
:func:`clac_core.vocab.elements.arity_words`), the structure type by the rules of
:mod:`clac_core.vocab.structure_types`, an element's name, the anion class, an application
word of :mod:`clac_core.vocab.applications`), in a request frame. Formula-free. Every phrase is
true of its crystal (``tests/test_text.py`` reads them back against the facts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.properties import band_gap_of
from clac_core.text import templates as T
from clac_core.text.templates import Picker
from clac_core.vocab.applications import applications
from clac_core.vocab.elements import arity_words
from clac_core.vocab.structure_types import structure_type_of

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts

# dimensionality of the bonded network -> the words materials scientists use for it; a 2D
# network has no bonds between its layers, so they are held by van der Waals forces
STRUCTURE_WORDS: dict[int, tuple[str, ...]] = {
    0: ("molecular", "0D molecular", "zero-dimensional"),
    1: ("chain-like", "1D chain", "one-dimensional chain"),
    2: ("layered", "2D layered", "van der Waals layered", "two-dimensional layered"),
    3: ("a 3D framework", "a three-dimensional framework"),  # written as "with ..."
}
FRAMES = ("{x}", "{x}", "{a}", "I need {a}", "find me {a}", "show me {a}", "looking for {a}", "search: {x}")


def _phrases(record: CrystalRecord, f: CrystalFacts, p: Picker, arity: bool) -> list[tuple[str, str]]:
    """(kind, phrase) facts this crystal can be searched by (the element count with ``arity``)."""
    out: list[tuple[str, str]] = []
    if f.dimensionality is not None:
        kind = "with" if f.dimensionality == 3 else "adj"
        out.append((kind, p.choice("dim", STRUCTURE_WORDS[f.dimensionality])))
    polys = sorted({s.polyhedron for s in f.sites if s.polyhedron and s.element not in f.anions} - {"single-bonded"})
    if polys and f.anions:
        out.append(("with", f"{p.choice('poly', polys)} coordination"))
    out.append(("adj", f.crystal_system))
    words = arity_words(len(f.elements)) if arity else ()  # "ternary oxide", "four-element selenide"
    if words:
        out.append(("adj", p.choice("arity", words)))
    kind = structure_type_of(f.spacegroup_number, f.anions, f.sites)
    if kind:  # "rock salt compound", "spinel oxide", "CsCl-type intermetallic"
        out.append(("type", kind))
    gap = band_gap_of(record.properties)
    for app in applications(f.elements, f.anion_class, gap):
        out.append(("noun", app.phrase))
    return out


def _noun(f: CrystalFacts, p: Picker) -> str:
    cations = [e for e in f.elements if e not in f.anions]
    opts = ["material", "compound"]
    if f.anion_class not in ("element", "compound", "intermetallic"):
        opts += [f.anion_class] * 2
    if cations and f.anion_class != "element":
        opts.append(f"{T.element_name(p.choice('cat', cations))} compound")
    if f.anion_class == "intermetallic":
        opts.append("intermetallic")
    if f.anion_class == "element":
        opts.append(f"elemental {T.element_name(f.elements[0])}")
    return p.choice("noun", opts)


def search_text(record: CrystalRecord, f: CrystalFacts, p: Picker, *, arity: bool = False) -> str:
    """One search-box request of 1-3 facts (see the module docstring). ``arity``: the element
    count is among the facts it may name; off for the one request a default build writes, which
    keeps the texts the shipped model was trained on as they were."""
    facts = p.shuffled("facts", _phrases(record, f, p, arity))[: 1 + p.index("n", 3)]
    nouns = [x for k, x in facts if k == "noun"]
    noun = nouns[0] if nouns else _noun(f, p)
    adj = " ".join([x for k, x in facts if k == "adj"] + [x for k, x in facts if k == "type"])  # "cubic spinel"
    withs = [x for k, x in facts if k == "with"]
    text = f"{adj} {noun}" if adj else noun
    if withs:
        text += f" with {' and '.join(withs)}"
    if len(nouns) > 1:
        text += f", {nouns[1]}"
    frame = p.choice("frame", FRAMES)
    return " ".join(frame.format(x=text, a=T.with_article(text)).split())
