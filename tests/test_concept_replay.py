"""Concept replay (``train.concept_replay``): the concept table over the word tables, the
concept-balanced weights, the sampler's extra pairs, and a training run that uses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_every_word_table_phrase_is_its_own_concept() -> None:
    from clac_core.vocab.concepts import CONCEPTS, concepts_in
    from clac_core.vocab.structure_types import STRUCTURE_TYPE_NAMES

    names = [n for n, _ in CONCEPTS]
    assert len(names) == len(set(names))
    assert {f"structure type: {t}" for t in STRUCTURE_TYPE_NAMES} <= set(names)
    vdw = concepts_in("a van der Waals layered selenide")
    assert "anion class: selenide" in vdw
    # the same fact, two wordings: two concepts (each wording is learnt on its own)
    assert len([c for c in vdw if c.startswith("dimensionality 2")]) == 2
    assert concepts_in("vanadium compounds") == []  # an element name is not a concept
    assert concepts_in("find me a quaternary carbonate") == ["anion class: carbonate", "arity: 4"]
    assert "arity: 3" in concepts_in("a three-element compound")
    assert "crystal system: cubic" in concepts_in("cubic perovskite")
    assert "structure type: perovskite" in concepts_in("cubic perovskite")
    assert concepts_in("antiperovskite") == []  # the structure-type table's own exclusion holds


def test_concept_weights_balance_concepts_not_texts() -> None:
    from clac_core.data import concept_weights

    texts = ["an oxide"] * 30 + ["a van der Waals crystal"] * 3 + ["no concept here"] * 5 + ["a carbonate"]
    w, counts = concept_weights(texts, min_count=2)
    assert w.shape == (len(texts),) and np.isclose(w.sum(), 1.0)
    assert counts == {"dimensionality 2: \\bvan\\s+der\\s+waals\\b|\\bvdw\\b": 3, "anion class: oxide": 30}
    assert np.isclose(w[:30].sum(), 0.5) and np.isclose(w[30:33].sum(), 0.5)  # each concept half
    assert np.allclose(w[30:33], w[30])  # uniform within a concept
    assert (w[33:] == 0).all()  # no concept, or one below min_count (the single carbonate)
    zero, none = concept_weights(["plain words"], min_count=1)
    assert none == {} and (zero == 0).all()


def test_sampler_replays_extra_pairs_by_weight_and_is_seeded() -> None:
    from clac_core.data import EpochSampler

    ci = np.array([0, 0, 1, 1, 2, 3, 3, 4])
    w = np.zeros(ci.size)
    w[[2, 4]] = 0.5  # only two pairs can be replayed
    plain = EpochSampler(ci, "crystals", seed=1)
    none = EpochSampler(ci, "crystals", seed=1, replay_weights=w, replay=0)
    assert np.array_equal(plain.epoch_order(3), none.epoch_order(3))  # replay 0 changes nothing
    s = EpochSampler(ci, "crystals", seed=1, replay_weights=w, replay=6)
    order = s.epoch_order(3)
    assert order.size == 5 + 6 and len(s) == 11 and s.num_batches(4) == 3
    counts = np.bincount(order, minlength=ci.size)
    assert counts[[2, 4]].sum() >= 6  # the six extra draws are all weighted pairs
    assert sorted(set(ci[order].tolist())) == [0, 1, 2, 3, 4]  # every crystal still visited
    assert np.array_equal(order, s.epoch_order(3)) and not np.array_equal(order, s.epoch_order(4))


def test_sampler_refuses_replay_without_weights() -> None:
    import pytest

    from clac_core.data import EpochSampler

    with pytest.raises(ValueError, match="one weight per training pair"):
        EpochSampler(np.arange(4), "pairs", replay=2)


def test_a_run_with_concept_replay_takes_more_steps_per_epoch(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """train.concept_replay: the epoch grows by that fraction of replayed pairs (the tiny data
    dir's texts name crystal systems and structure types)."""
    from clac_core.cli import main

    base, more = tmp_path / "base", tmp_path / "replay"
    assert main(train_kit.args(data_dir, base, "train.epochs=1")) == 0
    assert main(train_kit.args(data_dir, more, "train.epochs=1", "train.concept_replay=1.0")) == 0
    steps = [int(train_kit.metrics(out)[-1]["step"]) for out in (base, more)]
    assert steps[1] > steps[0], steps
