"""CLaC's multiple-choice questions: statements from facts, shuffled choices, honest ties, and
the ``mcq`` section through ``evaluate()`` on a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.embeddings import Embeddings
from clac_core.evaluation.mcq import (
    TASKS,
    build_questions,
    composition_statement,
    mcq_eval,
    mcq_markdown,
    stability_label,
)


def _rocksalt(a: str, b: str, lat: float):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lat), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _set() -> EvalSet:
    """Six rock-salt crystals (MgO and CaO are oxides) with gaps and formation energies."""
    items = [("Na", "Cl", 5.6, 5.0, -2.1), ("Mg", "O", 4.2, 4.5, -3.0), ("Ca", "O", 4.8, 3.6, -3.2),
             ("Pb", "Te", 6.5, 0.3, -0.4), ("Ti", "C", 4.3, 0.0, -0.9), ("Sc", "N", 4.5, 0.0, 0.2)]  # fmt: skip
    structures = [_rocksalt(a, b, lat) for a, b, lat, _, _ in items]
    facts = [
        {"crystal_system": "cubic", "elements": sorted([a, b]), "band_gap": g} for a, b, _, g, _ in items
    ]
    props = [{"band_gap": g, "formation_energy_per_atom": e} for *_, g, e in items]
    props[0]["energy_above_hull"] = 0.05  # hull wins over the formation energy sign
    return EvalSet(
        name="rocksalts",
        split=None,
        ids=[f"c{i}" for i in range(len(items))],
        formulas=[s.composition.reduced_formula for s in structures],
        structures=structures,
        properties=props,
        facts=facts,
        texts=[],
        views=[],
        owner=np.zeros(0, dtype=np.int64),
        query_views=(),
    )


def _oracle(es: EvalSet) -> Embeddings:
    """Crystal i = sum of one-hots of its true statements; a statement = its one-hot: a perfect
    model. The random-init twin embeds every statement alike: every question is a full tie."""
    questions = {t: build_questions(es, t, seed=0) for t in TASKS}
    vocab = sorted({c for qs in questions.values() for q in qs for c in q.choices})
    row = {s: k for k, s in enumerate(vocab)}
    crystal = np.zeros((len(es), len(vocab)))
    for qs in questions.values():
        for q in qs:
            crystal[q.crystal, row[q.choices[q.answer]]] = 1.0
    return Embeddings(
        crystal=crystal,
        crystal_random=np.ones((len(es), len(vocab))),
        text=np.zeros((0, 1)),
        text_random=np.zeros((0, 1)),
        text_base=np.zeros((0, 1)),
        embed_text=lambda ts: np.eye(len(vocab))[[row[t] for t in ts]],
        embed_text_random=lambda ts: np.ones((len(ts), len(vocab))),
        embed_text_base=lambda ts: np.ones((len(ts), len(vocab))),
    )


def test_questions_are_built_from_facts_shuffled_and_seeded() -> None:
    es = _set()
    structure = build_questions(es, "structure", seed=0)
    assert len(structure) == 6 and all(len(q.choices) == 7 for q in structure)
    assert all(q.choices[q.answer] == "This material is cubic." for q in structure)
    comp = build_questions(es, "composition", seed=0)
    assert all(len(q.choices) == 10 == len(set(q.choices)) for q in comp)
    assert comp[1].choices[comp[1].answer] == composition_statement(["O", "Mg"])
    assert composition_statement(["O", "Mg"]) == "This material is composed of magnesium and oxygen."
    oxide = {q.crystal: q.label for q in build_questions(es, "oxide", seed=0)}
    assert oxide[1] == oxide[2] == "oxide" and oxide[0] == "None"
    metal = {q.crystal: q.label for q in build_questions(es, "metal", seed=0)}
    assert metal == {0: "False", 1: "False", 2: "False", 3: "False", 4: "True", 5: "True"}
    semi = {q.crystal: q.label for q in build_questions(es, "semiconductor", seed=0)}
    assert semi[3] == "True" and semi[0] == "False" and semi[4] == "False"
    assert stability_label(es.properties[0]) == (False, "energy_above_hull")
    assert stability_label(es.properties[5]) == (False, "formation_energy_sign")
    assert stability_label({}) == (None, None)
    # the answer is not always first, and the shuffle is a function of the seed
    answers = [q.answer for t in TASKS for q in build_questions(es, t, seed=0)]
    assert len(set(answers)) > 2
    again = [q.choices for t in TASKS for q in build_questions(es, t, seed=0)]
    assert again == [q.choices for t in TASKS for q in build_questions(es, t, seed=0)]
    assert again != [q.choices for t in TASKS for q in build_questions(es, t, seed=1)]


def test_a_perfect_model_scores_1_and_ties_score_chance() -> None:
    es = _set()
    res = mcq_eval(es, _oracle(es), seed=0)
    for task in TASKS:
        r = res[task]
        assert r["accuracy"] == pytest.approx(1.0), task
        # all-tied random twin: 1/t credit per question, exactly the 1/N baseline
        assert r["random_init"]["accuracy"] == pytest.approx(r["random_baseline"]), task
    assert res["structure"]["random_baseline"] == pytest.approx(1 / 7)
    assert res["composition"]["random_baseline"] == pytest.approx(1 / 10)
    assert res["oxide"]["random_baseline"] == pytest.approx(1 / 6)
    assert res["metal"]["majority"]["accuracy"] == pytest.approx(4 / 6)
    assert res["stable"]["stable_rule"] == {"energy_above_hull": 1, "formation_energy_sign": 5}
    assert res["structure"]["anchors"] == {"clac_cgcnn_scibert": 0.261, "gpt4_formula_only": 0.12}
    md = "\n".join(mcq_markdown({"mcq": res}))
    assert "| structure | 6 | 7 | 1.000 | 0.143 | 0.143 |" in md and "0.981" in md


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    import torch

    from clac_core.config import load_config
    from clac_core.models import CLaCModel, save_checkpoint

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml").model
    torch.manual_seed(1)
    model = CLaCModel(cfg, load_text_backbone=False)
    return save_checkpoint(model, tmp_path_factory.mktemp("mcq") / "ckpt", step=0, extra={})


def test_mcq_section_runs_in_evaluate_on_a_tiny_model(
    tiny_checkpoint: Path, data_dir: Path, tmp_path: Path
) -> None:
    from clac_core.evaluation.context import Section
    from clac_core.evaluation.mcq import mcq_section
    from clac_core.evaluation.pipeline import SECTIONS, evaluate
    from clac_core.evaluation.report import write_results

    assert "mcq" in [s.key for s in SECTIONS]
    results = evaluate(
        tiny_checkpoint, str(data_dir), sections=[Section("mcq", mcq_section)], progress=False, seed=3
    )
    r = results["mcq"]
    assert r["structure"]["n"] == results["meta"]["counts"]["crystals"]
    assert 0.0 <= r["structure"]["accuracy"] <= 1.0 and r["structure"]["n_choices"] == [7]
    assert r["composition"]["n_choices"] == [10]
    assert "skipped" in r["metal"]  # the fixture crystals carry no band gaps
    again = evaluate(
        tiny_checkpoint, str(data_dir), sections=[Section("mcq", mcq_section)], progress=False, seed=3
    )
    assert again["mcq"]["composition"]["accuracy"] == r["composition"]["accuracy"]  # seeded
    _, md = write_results(results, tmp_path / "results.json")
    assert "Multiple-choice questions (CLaC protocol)" in md.read_text()
