"""The element table and the class-word table (clac_core.vocab) against pymatgen and their uses."""

from __future__ import annotations

import math

import pytest
from pymatgen.core import Element, Lattice, Structure

from clac_core.vocab import classes as C
from clac_core.vocab.elements import (
    ANION_CLASS_ELEMENTS,
    ANION_NAMES,
    FAMILIES,
    NAMES,
    SYMBOL_OF_NAME,
    SYMBOLS,
    element_family,
    family_members,
    is_metal,
)

ALL = [el.symbol for el in Element]

# primary family -> the pymatgen flag every member must carry
_FLAG = {
    "alkali metal": "is_alkali",
    "alkaline-earth metal": "is_alkaline",
    "lanthanide": "is_lanthanoid",
    "actinide": "is_actinoid",
    "halogen": "is_halogen",
    "noble gas": "is_noble_gas",
    "metalloid": "is_metalloid",
    "post-transition metal": "is_post_transition_metal",
    "transition metal": "is_transition_metal",
}


def test_symbols_and_names_are_pymatgens():
    assert list(SYMBOLS[1:]) == ALL
    for el in Element:
        assert NAMES[el.symbol] == el.long_name.lower()
        assert SYMBOL_OF_NAME[el.long_name.lower()] == el.symbol
    assert SYMBOL_OF_NAME["aluminium"] == "Al" and SYMBOL_OF_NAME["sulphur"] == "S"


@pytest.mark.parametrize("symbol", ALL)
def test_is_metal_agrees_with_pymatgen(symbol):
    assert is_metal(symbol) == bool(Element(symbol).is_metal), element_family(symbol)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_member_carries_its_pymatgen_flag(family):
    members = family_members(family)
    assert members, family
    flag = _FLAG.get(family)
    for s in members:
        el = Element(s)
        if flag:
            assert getattr(el, flag), (s, family)
        if family == "chalcogen":
            assert el.is_chalcogen
        if family == "pnictogen":
            assert el.group == 15 and not el.is_metal
        if family in ("nonmetal", "superheavy element"):
            assert not el.is_metal and not el.is_metalloid and not el.is_noble_gas


def test_each_element_has_one_family_and_nonmetals_are_not_metals():
    fams = {s: element_family(s) for s in ALL}
    assert sum(len(family_members(f)) for f in FAMILIES) == len(ALL)
    assert fams["H"] == fams["C"] == "nonmetal"
    assert not is_metal("H") and not is_metal("C")  # the old bug: "nonmetal".endswith("metal")
    assert fams["Og"] == "noble gas" and fams["Ts"] == "superheavy element"
    with pytest.raises(KeyError):
        element_family("Xx")


def test_anion_words_name_their_elements():
    assert ANION_CLASS_ELEMENTS["hydride"] == ("H",)
    assert ANION_CLASS_ELEMENTS["carbide"] == ("C",)
    assert ANION_CLASS_ELEMENTS["phosphate"] == ("P", "O")
    # every anion element but Bi (a metal that forms bismuthides with alkali metals) is a non-metal
    assert [e for e in ANION_NAMES if is_metal(e)] == ["Bi"]


def _cubic(a, species, coords):
    return Structure(Lattice.cubic(a), species, coords)


def test_carbides_and_hydrides_are_named_not_intermetallic():
    from clac_core.text import analyze
    from clac_core.vocab.elements import composition_anions

    assert composition_anions(["Ti", "C"]) == ["C"]
    assert composition_anions(["Li", "H"]) == ["H"]
    rocksalt = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    anion_sites = [[0.5, 0.5, 0.5], [0, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0]]
    tic = analyze(_cubic(4.33, ["Ti"] * 4 + ["C"] * 4, rocksalt + anion_sites))
    lih = analyze(_cubic(4.08, ["Li"] * 4 + ["H"] * 4, rocksalt + anion_sites))
    assert tic.anion_class == "carbide" and tic.anions == ["C"]
    assert lih.anion_class == "hydride" and lih.anions == ["H"]


def test_hydroxide_hydrogen_is_not_a_second_anion():
    from clac_core.vocab.elements import composition_anions

    assert composition_anions(["Ca", "O", "H"]) == ["O"]
    assert composition_anions(["Na", "B", "H"]) == ["H"]  # a borohydride is a hydride


def test_class_intervals_contain_their_edges_as_documented():
    assert C.METALLIC.contains(0.0) and not C.METALLIC.contains(0.01)
    assert C.NARROW_GAP.contains(0.5) and not C.NARROW_GAP.contains(0.0) and not C.NARROW_GAP.contains(1.0)
    assert C.SEMICONDUCTOR.contains(3.9) and not C.SEMICONDUCTOR.contains(4.0)
    assert C.INSULATOR.contains(4.0) and C.INSULATOR.contains(9.0)
    assert C.MAGNETIC.contains(0.05) and C.NON_MAGNETIC.contains(0.049) and not C.NON_MAGNETIC.contains(0.05)
    assert not C.MAGNETIC.contains(math.nan)
    assert C.NON_METALLIC.reader_interval()[0] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("gap", "word"),
    [(0.0, "metallic"), (0.3, "narrow-gap semiconductor"), (1.0, "semiconductor"), (2.99, "semiconductor"),
     (3.0, "wide-gap semiconductor"), (4.0, "wide-gap insulator"), (11.0, "wide-gap insulator")],
)
def test_gap_ladder_gives_one_word_per_gap(gap, word):
    assert C.gap_word(gap) == word


def test_reader_patterns_match_their_own_words():
    for pattern, w in C.COMPILED:
        assert pattern.search(w.name) or w.name in {"no band gap"}, w.name
    assert C.word_for("band_gap", 0.4, (C.NARROW_GAP, C.WIDE_GAP)) is C.NARROW_GAP
    with pytest.raises(ValueError):
        C.word_for("density", 1.0, (C.NARROW_GAP,))


def test_electronegativity_table_is_pymatgens():
    import warnings

    from clac_core.vocab.elements import ELECTRONEGATIVITY

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for el in Element:
            x = el.X
            assert ELECTRONEGATIVITY[el.symbol] == pytest.approx(x if x == x else 0.0, abs=1e-12), el.symbol


def test_eval_rules_judge_class_words_by_the_table():
    from clac_core.evaluation.free_text_rules import QueryRule, load_queries

    narrow = QueryRule.parse({"classes": ["narrow band gap"]})
    assert narrow.matches({"band_gap": 0.5}) and not narrow.matches({"band_gap": 1.2})
    assert not narrow.matches({"band_gap": 0.0}) and not narrow.matches({"band_gap": None})
    magnetic = QueryRule.parse({"magnetic": True})
    assert magnetic.matches({"magnetization": -0.2}) and not magnetic.matches({"magnetization": 0.01})
    with pytest.raises(ValueError, match="unknown class words"):
        QueryRule.parse({"classes": ["shiny"]})
    # every class word a rule names is in the table (load_queries validates them)
    from clac_core.evaluation.free_text_rules import default_queries_path

    for path in (default_queries_path(), default_queries_path().with_name("queries_heldout.yaml")):
        assert load_queries(path)


def test_the_reader_and_the_rules_agree_on_class_words():
    from clac_core.evaluation.free_text_rules import QueryRule
    from clac_core.query.numbers import class_constraints

    for text, name in [("a narrow-gap semiconductor", "narrow band gap"), ("an insulator", "insulator"),
                       ("magnetic", "magnetic"), ("a lightweight solid", "lightweight")]:
        (c,) = class_constraints(text)
        w = C.CLASS_WORDS[name]
        assert c.prop == w.prop and (c.lo, c.hi) == w.reader_interval(), text
        mid = c.target
        assert QueryRule.parse({"classes": [name]}).matches(
            {"band_gap": mid, "magnetization": mid, "density": mid, "formation_energy": mid}
        ), text
