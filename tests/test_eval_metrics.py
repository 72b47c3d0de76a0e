"""Pure evaluation pieces: retrieval metrics, pools, classification, lexical, queries, ratios."""

from __future__ import annotations

import numpy as np
import pytest

from clac_core.evaluation.free_text_rules import (
    QueryRule,
    facts_record,
    load_queries,
    precision_at_k,
    relevance_matrix,
)
from clac_core.evaluation.lexical import LexicalIndex, bank_max_scores
from clac_core.evaluation.metrics import (
    aggregate,
    classification_metrics,
    expected_ranks,
    l2_normalize,
    majority_baseline,
    nearest_class,
    parse_pools,
    retrieval_metrics,
    sample_pools,
)


# ----------------------------------------------------------------------------- retrieval
def test_identity_embeddings_are_perfect():
    emb = l2_normalize(np.random.default_rng(0).normal(size=(50, 16)))
    m = retrieval_metrics(emb @ emb.T)
    assert m["R@1"] == 1.0 and m["R@5"] == 1.0 and m["R@10"] == 1.0
    assert m["MRR"] == pytest.approx(1.0)
    assert m["median_rank"] == 1.0
    assert m["n_queries"] == 50 and m["n_candidates"] == 50


def test_fixed_permutation_gives_known_ranks():
    # Query q sees candidates in the order perm; the correct one (q) sits at position pos[q].
    n = 12
    rng = np.random.default_rng(3)
    ranks = rng.permutation(n) + 1  # 1-based rank of the correct candidate per query
    scores = np.zeros((n, n))
    for q in range(n):
        others = [c for c in range(n) if c != q]
        order = others[: ranks[q] - 1] + [q] + others[ranks[q] - 1 :]
        scores[q, order] = np.arange(n, 0, -1)  # strictly decreasing along the order
    np.testing.assert_allclose(expected_ranks(scores), ranks)
    m = retrieval_metrics(scores)
    assert m["R@1"] == pytest.approx(np.mean(ranks <= 1))
    assert m["R@5"] == pytest.approx(np.mean(ranks <= 5))
    assert m["R@10"] == pytest.approx(np.mean(ranks <= 10))
    assert m["MRR"] == pytest.approx(np.mean(1.0 / ranks))
    assert m["median_rank"] == pytest.approx(np.median(ranks))
    # an explicit target column: shifting candidates and targets together changes nothing
    shift = np.roll(scores, 1, axis=1)
    assert retrieval_metrics(shift, target=(np.arange(n) + 1) % n)["MRR"] == pytest.approx(m["MRR"])


def test_random_embeddings_give_chance_recall():
    rng = np.random.default_rng(0)
    pool, reps = 200, 10
    r10 = [
        retrieval_metrics(
            l2_normalize(rng.normal(size=(pool, 32))) @ l2_normalize(rng.normal(size=(pool, 32))).T
        )["R@10"]
        for _ in range(reps)
    ]
    expected = 10 / pool
    sd = np.sqrt(expected * (1 - expected) / (pool * reps))
    assert abs(np.mean(r10) - expected) < 4 * sd


def test_ties_count_as_random_order():
    c = 20
    m = retrieval_metrics(np.zeros((c, c)))
    assert m["R@1"] == pytest.approx(1 / c)
    assert m["R@10"] == pytest.approx(10 / c)
    assert m["median_rank"] == pytest.approx((c + 1) / 2)
    assert m["MRR"] == pytest.approx(np.mean(1.0 / np.arange(1, c + 1)))
    # one tie partner: the correct item is rank 1 or 2 with equal chance
    s = np.eye(3)
    s[0, 1] = 1.0
    g = retrieval_metrics(s[:1], target=np.array([0]))
    assert g["R@1"] == pytest.approx(0.5) and g["MRR"] == pytest.approx(0.75)


def test_pool_sampling_and_clipping():
    pools = sample_pools(50, 100, 3, seed=0)
    assert len(pools) == 3 and all(len(p) == 50 for p in pools)  # clipped to the set
    small = sample_pools(50, 10, 4, seed=1)
    assert all(len(p) == 10 and len(set(p.tolist())) == 10 and p.max() < 50 for p in small)
    assert len({tuple(p) for p in small}) > 1  # repeats differ
    again = sample_pools(50, 10, 4, seed=1)
    assert all((a == b).all() for a, b in zip(small, again, strict=True))  # deterministic
    assert len(sample_pools(7, None, 2, seed=0)[0]) == 7
    assert parse_pools("100, 1000,all") == [100, 1000, None]
    with pytest.raises(ValueError):
        parse_pools("1")


def test_aggregate_mean_and_std():
    runs = [{"R@10": 0.2, "MRR": 0.1}, {"R@10": 0.4, "MRR": 0.3}]
    a = aggregate(runs, keys=("R@10", "MRR"))
    assert a["R@10"] == pytest.approx(0.3) and a["R@10_std"] == pytest.approx(0.1) and a["repeats"] == 2


# ----------------------------------------------------------------------------- classification
def test_classification_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    y_true = ["cubic", "cubic", "hexagonal", "tetragonal", "cubic", "hexagonal", "monoclinic"]
    y_pred = ["cubic", "hexagonal", "hexagonal", "cubic", "cubic", "tetragonal", "cubic"]
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["n"] == 7


def test_majority_baseline():
    y = ["metal", "insulator", "insulator", "insulator"]
    m = majority_baseline(y)
    assert m["class"] == "insulator"
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["macro_f1"] == pytest.approx((0 + 2 * 3 / (2 * 3 + 1)) / 2)  # F1(metal)=0, F1(insulator)=6/7


def test_nearest_class_picks_closest_prompt():
    classes = np.eye(3)
    items = l2_normalize(np.array([[0.9, 0.1, 0], [0, 0.2, 1.0], [0.1, 1, 0.3]]))
    assert nearest_class(items, classes).tolist() == [0, 2, 1]


# ----------------------------------------------------------------------------- lexical
def test_lexical_ranks_exact_keyword_match_first():
    texts = [
        "a cubic perovskite titanate with octahedral Ti",  # crystal 0
        "SrTiO3 composition",  # crystal 0
        "a layered sulfide with a small gap",  # crystal 1
        "MoS2 composition",  # crystal 1
        "a hexagonal intermetallic alloy",  # crystal 2
        "MgZn2 composition",  # crystal 2
    ]
    owner = [0, 0, 1, 1, 2, 2]
    lex = LexicalIndex(texts, owner, 3)
    s = lex.score_free_text(["sulfide layers"])
    assert int(np.argmax(s[0])) == 1
    s = lex.score_free_text(["MgZn2"])
    assert int(np.argmax(s[0])) == 2 and s[0, 0] == 0.0


def test_lexical_excludes_the_query_text_from_its_own_bank():
    texts = ["unique zebra words", "plain text", "other plain text", "more text"]
    owner = [0, 0, 1, 1]
    lex = LexicalIndex(texts, owner, 2)
    with_self = lex.score_texts(np.array([0]), np.array([0, 1]))
    without = lex.score_texts(np.array([0]), np.array([0, 1]), exclude_texts=np.array([0, 2]))
    assert with_self[0, 0] > 0.5  # identical text in the bank: trivial match
    assert without[0, 0] == 0.0  # nothing left in common once the query is removed


def test_bank_max_scores_matches_brute_force():
    rng = np.random.default_rng(2)
    bank = l2_normalize(rng.normal(size=(9, 8)))
    owner = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3])
    q = l2_normalize(rng.normal(size=(4, 8)))
    crystals = np.array([3, 1, 0])
    excl = np.array([6, 2, 0])
    got = bank_max_scores(q, bank, owner, crystals, exclude_texts=excl, query_chunk=3)
    for i in range(4):
        for j, c in enumerate(crystals):
            rows = [t for t in range(9) if owner[t] == c and t not in excl]
            assert got[i, j] == pytest.approx(max(q[i] @ bank[t] for t in rows), abs=1e-6)


# ----------------------------------------------------------------------------- free-text queries
def _facts(i: int, gap: float | None, system: str) -> dict:
    return {
        "elements": ["Zn", "S"] if i % 2 else ["Na", "Cl"],
        "anions": ["S"] if i % 2 else ["Cl"],
        "anion_class": "sulfide" if i % 2 else "chloride",
        "families": ["transition metal", "chalcogen"] if i % 2 else ["alkali metal", "halogen"],
        "crystal_system": system,
        "spacegroup_number": 216 if i % 2 else 225,
        "nsites": 2,
        "n_elements": 2,
        "density": 4.0,
        "dimensionality": 3,
        "polyhedra": ["tetrahedral"] if i % 2 else ["octahedral"],
        "cns": [4] if i % 2 else [6],
        "site_polyhedra": {"Zn": ["tetrahedral"]} if i % 2 else {"Na": ["octahedral"]},
        "labels": {},
        "band_gap": gap,
        "formation_energy": -1.0,
        "magnetization": 0.0,
    }


def test_rules_and_precision_at_10():
    facts = [_facts(i, None if i % 5 == 0 else float(i % 7), "cubic") for i in range(40)]
    rule = QueryRule.parse({"anion_class": "sulfide", "band_gap": [1.0, 4.0]})
    rel = relevance_matrix([type("Q", (), {"rule": rule})()], facts)[0]
    expected = [i % 2 == 1 and i % 5 != 0 and 1.0 <= i % 7 <= 4.0 for i in range(40)]
    assert rel.tolist() == expected  # unknown gaps (i % 5 == 0) are never relevant
    assert rel.sum() >= 10
    perfect = precision_at_k(rel[None].astype(float), rel[None])
    worst = precision_at_k(-rel[None].astype(float), rel[None])
    assert perfect["P@10"] == 1.0 and worst["P@10"] == 0.0
    assert perfect["chance"] == pytest.approx(rel.mean()) and perfect["n_queries_used"] == 1
    few = precision_at_k(np.zeros((1, 40)), np.arange(40)[None] < 3)  # only 3 relevant: not counted
    assert few["n_queries_used"] == 0 and np.isnan(few["P@10"])


def test_rule_keys():
    f = _facts(1, 2.0, "cubic")
    assert QueryRule.parse({"elements_all": ["Zn", "S"], "cn_any": [4]}).matches(f)
    assert not QueryRule.parse({"elements_none": ["Zn"]}).matches(f)
    assert QueryRule.parse({"cation_polyhedra": {"Zn": "tetrahedral"}}).matches(f)
    assert not QueryRule.parse({"cation_polyhedra": {"Zn": "octahedral"}}).matches(f)
    assert QueryRule.parse({"magnetic": False}).matches(f)
    assert not QueryRule.parse({"magnetic": True}).matches(f)
    assert QueryRule.parse({"crystal_system": ["cubic", "hexagonal"], "spacegroup_number": [216]}).matches(f)
    assert QueryRule.parse({"anion_class_contains": "sulf"}).matches(f)
    for bad in ({"colour": "red"}, {"band_gap": [3, 1]}, {"band_gap": 2}, {"magnetic": "yes"}, {}):
        with pytest.raises(ValueError):
            QueryRule.parse(bad)


def test_packaged_queries_parse():
    queries = load_queries()
    assert len(queries) >= 40
    assert len({q.text for q in queries}) == len(queries)
    assert all(q.rule.conditions for q in queries)


def test_facts_record_from_real_structure():
    from pymatgen.core import Lattice, Structure

    from clac_core.text import analyze

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    f = facts_record(analyze(nacl), {"band_gap": 5.0, "formation_energy_per_atom": -2.1})
    assert f["crystal_system"] == "cubic" and f["anion_class"] == "chloride"
    assert "octahedral" in f["polyhedra"] and f["band_gap"] == 5.0 and f["formation_energy"] == -2.1
    queries = {q.text: q for q in load_queries()}
    assert queries["cubic rock salt type halide"].rule.matches(f)
    assert queries["alkali halide salt"].rule.matches(f)
    assert not queries["magnetic iron oxide"].rule.matches(f)
    gaps = facts_record(analyze(nacl), {"direct_gap": 2.0, "indirect_gap": 1.5})
    assert gaps["band_gap"] == 1.5  # perov_5 style: the smaller of the two gaps


def test_probe_split_with_a_single_formula_falls_back_to_rows():
    from clac_core.evaluation.probes import grouped_split

    tr, te = grouped_split(["C"] * 40, seed=0)
    assert len(te) == 10 and len(tr) == 30
    assert not set(tr) & set(te)
    tr2, te2 = grouped_split(["A", "A", "B", "B", "C", "C", "D", "D"], seed=0)
    groups = {0: "A", 1: "A", 2: "B", 3: "B", 4: "C", 5: "C", 6: "D", 7: "D"}
    assert not {groups[i] for i in tr2} & {groups[i] for i in te2}
