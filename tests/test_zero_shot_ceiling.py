"""scripts/zero_shot_ceiling.py: the diagnostic's scores on data whose answers are known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mod():
    spec = importlib.util.spec_from_file_location("zero_shot_ceiling", REPO / "scripts" / "zero_shot_ceiling.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def test_scores_separate_decision_ranking_and_probe(mod) -> None:
    rng = np.random.default_rng(0)
    n = 400
    positive = rng.random(n) < 0.5
    # crystals: a class direction (axis 0) plus noise; the prompts are offset along axis 1, so
    # "cosine to class 0 minus cosine to class 1" ranks perfectly but decides with a shifted cut
    x = np.zeros((n, 4))
    x[:, 0] = np.where(positive, 1.0, -1.0) + 0.1 * rng.normal(size=n)
    x[:, 1] = 1.0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cls = np.array([[0.6, 0.8, 0, 0], [-0.1, -0.99, 0, 0]])
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    r = mod.task_report(x, cls, positive)
    assert r["auc_prompt_score"] == pytest.approx(1.0)
    assert r["oracle_threshold_acc"] == pytest.approx(1.0)
    assert r["zero_shot"] == pytest.approx(positive.mean())  # every score > 0: all called class 0
    assert r["linear_probe_cv5"] > 0.95
    assert r["majority"] == pytest.approx(max(positive.mean(), 1 - positive.mean()))


def test_threshold_oracle_and_aux_gap_report(mod) -> None:
    positive = np.array([True, True, False, False, True])
    score = np.array([0.9, 0.8, 0.1, 0.2, 0.15])
    assert mod.best_threshold_accuracy(positive, score) == pytest.approx(0.8)
    assert mod.auc(positive, score) == pytest.approx(5 / 6)  # 5 of 6 (positive, negative) pairs in order
    gap = np.array([0.0, 0.08, 1.5, 0.25, 3.0])
    metal = np.array([True, True, False, False, False])
    r = mod.aux_gap_report(gap, metal)
    assert r["acc_gap<=0.05"] == pytest.approx(0.8) and r["acc_gap<=0.1"] == pytest.approx(1.0)
    assert r["acc_gap<=0.3"] == pytest.approx(0.8) and r["auc"] == pytest.approx(1.0)
    assert r["oracle_threshold_acc"] == pytest.approx(1.0)


def test_arity_report_reads_the_count_from_probe_and_queries(mod) -> None:
    rng = np.random.default_rng(1)
    n_el = rng.integers(2, 5, size=300)  # 2, 3 or 4 elements
    x = np.zeros((300, 5))
    x[np.arange(300), n_el] = 1.0  # the count has its own axis
    x += 0.05 * rng.normal(size=x.shape)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    good, wrong = np.eye(5)[3], np.eye(5)[0]  # "ternary" on the 3 axis; a query on no count's axis
    r = mod.arity_report(x, n_el, {"ternary compound": (3, good), "stray": (3, wrong)}, k=20)
    assert r["linear_probe_cv5"] > 0.95 and r["majority"] < 0.5
    assert sum(r["share_by_count"].values()) == pytest.approx(1.0, abs=1e-3)  # rounded to 4 places
    assert r["top20_share: ternary compound"] == 1.0
    assert r["top20_share: stray"] < 0.8
