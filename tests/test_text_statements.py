"""The ``statements`` view: every sentence is a true class fact, affirmed or negated."""

from __future__ import annotations

import re

import pytest

from clac_core.record import CrystalRecord
from clac_core.text.describe import describe
from clac_core.text.statement_views import PREDICATES, SUBJECTS


def _structures():
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    fe = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    mgo = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    # a peroxide: Ba with an O2 dimer (O-O 1.49 Å), pymatgen's oxide_type calls it "peroxide"
    bao2 = Structure(Lattice.tetragonal(3.8, 6.8), ["Ba", "O", "O"], [[0, 0, 0], [0.5, 0.5, 0.39], [0.5, 0.5, 0.61]])
    return [
        ("NaCl", nacl, {"band_gap": 5.0, "formation_energy_per_atom": -2.0, "total_magnetization": 0.0}),
        ("Fe", fe, {"band_gap": 0.0, "formation_energy_per_atom": 0.0, "total_magnetization": 4.4}),
        ("MgO", mgo, {"band_gap": 1.5, "formation_energy_per_atom": 0.2, "total_magnetization": 0.01}),
        ("BaO2", bao2, {"band_gap": 2.0, "formation_energy_per_atom": -2.2, "total_magnetization": 0.0}),
    ]


# what each (fact, truth) means for the crystal's known values (the class table's intervals)
def _holds(fact: str, truth: bool, props: dict, elements: set[str], oxide: str | None) -> bool:
    gap, mag, fe = props.get("band_gap"), props.get("total_magnetization"), props.get("formation_energy_per_atom")
    value = {
        "metal": gap == 0.0,
        "semiconductor": gap is not None and 0.0 < gap < 4.0,
        "magnetic": mag is not None and abs(mag) >= 0.05,
        "stable": fe is not None and fe < 0.0,
        "oxide": "O" in elements and oxide == "oxide",
        "peroxide": oxide == "peroxide",
        "superoxide": oxide == "superoxide",
        "ozonide": oxide == "ozonide",
        "hydroxide": oxide == "hydroxide",
    }[fact]
    return value == truth


def _read_back(sentence: str) -> tuple[str, bool] | None:
    """(fact, truth) of one statement sentence, or None for the element sentence."""
    body = sentence.rstrip(".")
    for subj in (*SUBJECTS, "The material"):
        if body.startswith(subj + " "):
            body = body[len(subj) + 1 :]
            break
    hits = [key for key, preds in PREDICATES.items() if body in preds]
    assert len(hits) <= 1, (sentence, hits)
    return hits[0] if hits else None


@pytest.mark.parametrize("seed", range(12))
def test_every_statement_is_true(seed: int) -> None:
    from clac_core.text.chemistry import oxide_type_of

    for name, s, props in _structures():
        rec = CrystalRecord(id=f"t:{name}", structure=s, source="csv", properties=props)
        (text,) = [d.text for d in describe(rec, seed=seed) if d.view == "statements"]
        assert name not in text  # formula-free
        elements = {e.symbol for e in s.composition.elements}
        oxide = oxide_type_of(s)
        for sentence in re.split(r"(?<=\.) ", text):
            got = _read_back(sentence)
            if got is None:
                assert re.search(r"(contains|composed of|made of) ", sentence), sentence
                continue
            assert _holds(*got, props, elements, oxide), (name, sentence)
            if name == "Fe":
                assert got[0] != "stable"  # an element's formation energy is 0 by definition
                assert not sentence.startswith("This compound")


def test_negations_and_oxide_types_are_written() -> None:
    texts = []
    for name, s, props in _structures():
        rec = CrystalRecord(id=f"t:{name}", structure=s, source="csv", properties=props)
        texts += [(name, d.text) for seed in range(30) for d in describe(rec, seed=seed) if d.view == "statements"]
    joined = " ".join(t for _, t in texts)
    for phrase in ("is not a metal", "is not magnetic", "is a metal", "is magnetic"):
        assert phrase in joined, phrase
    assert any("peroxide" in t for n, t in texts if n == "BaO2")
    assert not any("peroxide" in t for n, t in texts if n != "BaO2")
    assert any("is unstable" in t or "positive formation energy" in t for n, t in texts if n == "MgO")


def test_statements_stay_out_of_retrieval_pools() -> None:
    from clac_core.data.sampling import EVAL_EXCLUDED_VIEWS

    assert "statements" in EVAL_EXCLUDED_VIEWS


def test_training_can_leave_a_view_out() -> None:
    """train.exclude_views: stage 1 of the default trains without the statements view."""
    import pandas as pd

    from clac_core.config import apply_overrides, load_config
    from clac_core.data.sampling import select_pairs

    pairs = pd.DataFrame({"split": ["train"] * 4 + ["val"], "view": ["caption", "statements", "query", "statements", "caption"],
                          "text": list("abcde"), "crystal_index": [0, 0, 1, 1, 2]})  # fmt: skip
    kept = select_pairs(pairs, "train", exclude_views=["statements"])
    assert kept["text"].tolist() == ["a", "c"]
    assert len(select_pairs(pairs, "train")) == 4
    cfg = apply_overrides(load_config("configs/tiny.yaml"), ["train.exclude_views=[statements]"])
    assert cfg.train.exclude_views == ["statements"]


@pytest.mark.parametrize("seed", range(12))
def test_a_negated_statement_makes_exactly_one_fact_false(seed: int) -> None:
    """The hard negative of a statements text (loss.negation_weight) differs from it in one
    sentence, and that sentence is false of the crystal while the rest stay true."""
    from clac_core.text.chemistry import oxide_type_of
    from clac_core.text.statement_views import negated_statement

    flipped_facts = set()
    for name, s, props in _structures():
        rec = CrystalRecord(id=f"t:{name}", structure=s, source="csv", properties=props)
        (text,) = [d.text for d in describe(rec, seed=seed) if d.view == "statements"]
        neg = negated_statement(text)
        if all(_read_back(x) is None for x in re.split(r"(?<=\.) ", text)):
            assert neg is None  # only element names: nothing to negate
            continue
        assert neg is not None and neg != text and negated_statement(text) == neg  # reproducible
        elements = {e.symbol for e in s.composition.elements}
        oxide = oxide_type_of(s)
        old, new = re.split(r"(?<=\.) ", text), re.split(r"(?<=\.) ", neg)
        assert len(old) == len(new)
        changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert len(changed) == 1, (text, neg)
        got = _read_back(changed[0][1])
        assert got is not None and not _holds(*got, props, elements, oxide), (name, text, neg)
        flipped_facts.add(got[0])
    assert flipped_facts  # some statement was negated for these crystals


def test_negated_statement_of_plain_texts_is_none() -> None:
    from clac_core.text.statement_views import negated_statement

    assert negated_statement("It contains gallium.") is None
    assert negated_statement("NaCl crystallizes in the cubic Fm-3m space group.") is None
    assert negated_statement("It is not magnetic.") in {"It is magnetic.", "It has a net magnetic moment.",
                                                        "It is spin-polarized."}
