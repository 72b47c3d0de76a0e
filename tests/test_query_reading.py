"""Search that reads what scientists write (issue 19): negated element lists, elastic moduli
and their class words. Each case is an example of materials usage, not an eval query."""

from __future__ import annotations

import math

import numpy as np
import pytest


@pytest.mark.parametrize(
    ("query", "exclude"),
    [
        ("semiconductor without lead or cadmium, gap 1-2 eV", {"Pb", "Cd"}),
        ("semiconductor with no lead and no cadmium", {"Pb", "Cd"}),
        ("neither lead nor cadmium", {"Pb", "Cd"}),
        ("a perovskite free of Pb, Cd and Hg", {"Pb", "Cd", "Hg"}),
        ("layered oxides excluding Co", {"Co"}),
        ("a lithium compound with a transition metal other than Fe", {"Fe"}),
        ("lead- and cadmium-free perovskite", {"Pb", "Cd"}),
        ("Co-free cathode", {"Co"}),
        ("a sulfide without any lead", {"Pb"}),
        ("a nitride, not containing Ga or In", {"Ga", "In"}),
    ],
)
def test_a_negation_governs_the_whole_list_after_it(query: str, exclude: set[str]) -> None:
    from clac_core.query.intent import understand

    it = understand(query)
    assert set(it.exclude) == exclude, it.describe()
    assert not (set(it.include) & exclude), it.describe()
    assert not any(set(g) & exclude for _, g in it.any_of), it.describe()


def test_negated_lists_keep_the_wishes_around_them() -> None:
    from clac_core.query.intent import understand

    it = understand("semiconductor without lead or cadmium, gap 1-2 eV")
    (gap,) = [c for c in it.constraints if c.prop == "band_gap"]
    assert (gap.lo, gap.hi) == (1.0, 2.0)
    it = understand("with Li but no Co or Ni")
    assert it.include == ["Li"] and set(it.exclude) == {"Co", "Ni"}
    it = understand("Mn or Fe oxide without Ni")
    assert ("Mn or Fe", ("Mn", "Fe")) in it.any_of and it.exclude == ["Ni"]
    it = understand("neither magnetic nor metallic")
    assert {c.text for c in it.constraints} == {"non-magnetic", "non-metallic"}


def test_negated_list_rerank_keeps_crystals_without_the_elements() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores

    it = understand("semiconductor with no lead and no cadmium")
    els = [{"Cd", "Te"}, {"Pb", "I"}, {"Zn", "S"}]
    s = rerank_scores(np.zeros(3), it, {"band_gap": np.array([1.5, 1.6, 3.5])}, elements=els)
    assert np.isneginf(s[0]) and np.isneginf(s[1]) and np.isfinite(s[2])


@pytest.mark.parametrize(
    ("query", "prop", "lo", "hi"),
    [
        ("hard material with bulk modulus above 250 GPa", "bulk_modulus", 250.0, math.inf),
        ("shear modulus between 100 and 200 GPa", "shear_modulus", 100.0, 200.0),
        ("bulk modulus of 1.5 Mbar", "bulk_modulus", 140.0, 160.0),  # pint: 1.5 Mbar = 150 GPa
        ("bulk modulus of 2000 kbar or more", "bulk_modulus", 200.0, math.inf),
        ("a 300 GPa bulk modulus", "bulk_modulus", 290.0, 310.0),
        ("Poisson's ratio below 0.2", "poisson_ratio", -math.inf, 0.2),
        ("an incompressible boride", "bulk_modulus", 200.0, math.inf),
        ("a stiff oxide", "bulk_modulus", 150.0, math.inf),
        ("a soft halide", "bulk_modulus", -math.inf, 50.0),
        ("a hard ceramic", "shear_modulus", 100.0, math.inf),
    ],
)
def test_elastic_moduli_are_read(query: str, prop: str, lo: float, hi: float) -> None:
    from clac_core.query.intent import understand

    cs = {c.prop: c for c in understand(query).constraints}
    assert prop in cs, query
    assert cs[prop].lo == pytest.approx(lo) and cs[prop].hi == pytest.approx(hi)


def test_words_that_are_not_elastic_are_not_read_as_moduli() -> None:
    from clac_core.query.moduli import modulus_constraints

    assert modulus_constraints("a hard magnet") == []
    assert modulus_constraints("a soft ferromagnet") == []
    assert modulus_constraints("Young's modulus of 200 GPa") == []  # not in the corpus
    assert modulus_constraints("band gap above 2 eV") == []


def test_moduli_rerank_over_the_index_columns() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores

    it = understand("hard material with bulk modulus above 250 GPa")
    cols = {"bulk_modulus": np.array([300.0, 100.0, np.nan]), "shear_modulus": np.array([200.0, 40.0, np.nan])}
    s = rerank_scores(np.zeros(3), it, cols)
    assert s[0] > s[1] > s[2] or s[0] > s[1] >= s[2]
    assert it.describe() == ["bulk modulus > 250 GPa", "hard (shear modulus ≥ 100 GPa)"]


def test_the_writers_bulk_words_come_from_the_class_table() -> None:
    from clac_core.vocab.classes import BULK_LADDER, MODERATELY_STIFF, SOFT, STIFF, word_for

    for k, word in [(-3.0, SOFT), (49.9, SOFT), (50.0, MODERATELY_STIFF), (149.9, MODERATELY_STIFF), (150.0, STIFF)]:
        assert word_for("bulk_modulus", k, BULK_LADDER) is word
    assert [w.name for w in BULK_LADDER] == ["stiff", "soft", "moderately stiff"]  # the writers' words


def test_application_words_name_known_families_as_well_as_a_gap_range() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores

    it = understand("transparent conducting oxide")
    assert [a.name for a in it.applications] == ["transparent conducting oxide"]
    assert any("PBE" in d and "In2O3" in d for d in it.describe())  # the rule that applied, in words
    formulas = np.array(["In2O3", "MgO", "Fe2O3", "CaF2"], dtype=object)
    cols = {"band_gap": np.array([0.93, 4.5, 2.0, 7.0]), "formula": formulas}
    els = [{"In", "O"}, {"Mg", "O"}, {"Fe", "O"}, {"Ca", "F"}]
    s = rerank_scores(np.zeros(4), it, cols, elements=els)
    assert s[0] > s[1] > s[2] and s[1] > s[3]  # PBE's 0.93 eV In2O3 is a known TCO host: first
    pv = understand("photovoltaic absorber")
    assert not pv.constraints and pv.applications[0].name == "photovoltaic absorber"
    cathode = understand("Li-ion cathode material containing cobalt")
    assert cathode.applications[0].name == "battery cathode" and set(cathode.include) == {"Co", "Li"}
    s = rerank_scores(np.zeros(3), cathode, {"formula": np.array(["LiCoO2", "CoO", "LiCoSn"], dtype=object)},
                      elements=[{"Li", "Co", "O"}, {"Co", "O"}, {"Li", "Co", "Sn"}])
    assert s[0] > s[1] and s[0] > s[2]


@pytest.mark.parametrize(
    ("query", "family", "label"),
    [
        ("rare-earth-free permanent magnet", "RARE_EARTHS", "no rare-earth element"),
        ("a magnet free of rare earths", "RARE_EARTHS", "no rare-earth element"),
        ("magnetic intermetallic without rare earth elements", "RARE_EARTHS", "no rare-earth element"),
        ("halogen-free flame retardant", "halogen", "no halogen"),
        ("an oxide ion conductor with no alkali metals", "alkali metal", "no alkali metal"),
        ("noble-metal-free catalyst", "NOBLE_METALS", "no noble metal"),
        ("a nitride without transition metals", "transition metal", "no transition metal"),
        ("lanthanide free phosphor host", "lanthanide", "no lanthanide"),
    ],
)
def test_a_negated_family_word_excludes_every_member(query: str, family: str, label: str) -> None:
    from clac_core.query.intent import understand
    from clac_core.vocab import elements

    members = set(getattr(elements, family)) if family.isupper() else set(elements.family_members(family))
    members = {e for e in members if elements.ATOMIC_NUMBER[e] <= 103}  # no superheavy in a corpus
    it = understand(query)
    assert members <= set(it.exclude), it.describe()
    assert not it.any_of and not (set(it.include) & members), it.describe()  # not read as "contains"
    assert label in it.describe() and not any(d.startswith("contains a") for d in it.describe())
    assert not any(d == f"no {e}" for e in members for d in it.describe())  # named once, as a family


def test_negated_families_mix_with_elements_and_other_wishes() -> None:
    from clac_core.query.intent import understand
    from clac_core.vocab.elements import family_members

    it = understand("no lead or alkali metals, band gap 1-2 eV")
    assert set(it.exclude) == {"Pb", *family_members("alkali metal")}
    assert [c.prop for c in it.constraints] == ["band_gap"]
    it = understand("no alkali or alkaline earth metals")
    assert set(it.exclude) == set(family_members("alkali metal")) | set(family_members("alkaline-earth metal"))
    it = understand("a rare earth magnet without cobalt")  # the family affirmed, an element negated
    assert it.exclude == ["Co"] and it.any_of and it.any_of[0][0] == "a rare-earth element"
    it = understand("lithium transition metal oxide")  # no negation: still a wish to contain one
    assert it.any_of[0][0] == "a transition metal" and not it.exclude


def test_negated_family_rerank_drops_every_member() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores

    it = understand("rare-earth-free magnet")
    els = [{"Nd", "Fe", "B"}, {"Sm", "Co"}, {"Y", "Co"}, {"Mn", "Bi"}]
    s = rerank_scores(np.zeros(4), it, {"total_magnetization": np.array([30.0, 8.0, 5.0, 4.0])}, elements=els)
    assert np.isneginf(s[:3]).all() and np.isfinite(s[3])


@pytest.mark.parametrize(
    ("query", "first", "admitted"),
    [
        # LiCoO2 is the known cathode; LiCoPO4 and LiCoS2 are Li + Co + an anion, as the rule asks
        ("Li-ion cathode material containing cobalt", "LiCoO2", ["LiCoPO4", "LiCoS2"]),
        ("lithium ion cathodes", "LiFePO4", ["LiCoPO4"]),
        # Bi2Te3 and Sb2Te3 are known thermoelectrics; GeSb2Te4 a narrow-gap telluride the rule admits
        ("thermoelectric telluride", "Bi2Te3", ["GeSb2Te4"]),
    ],
)
def test_known_members_of_an_application_rank_before_crystals_the_rule_admits(
    query: str, first: str, admitted: list[str]
) -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores
    from clac_core.query.words import formula_elements

    it = understand(query)
    formulas = [*admitted, first, "CoO"]
    els = [set(formula_elements(f)) for f in formulas]
    cols = {"formula": np.array(formulas, dtype=object), "band_gap": np.array([0.5] * len(admitted) + [0.4, 0.4])}
    s = rerank_scores(np.array([0.3] * len(admitted) + [0.0, 0.3]), it, cols, elements=els)
    assert np.argmax(s) == len(admitted), dict(zip(formulas, s, strict=True))  # despite a lower cosine
    assert all(np.isfinite(s[:-1]))  # the rule's candidates stay in the results
