"""`clac eval` pieces on constructed sets, and end to end through cli.main on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.embeddings import Embeddings
from clac_core.evaluation.metrics import DIRECTIONS, l2_normalize
from clac_core.evaluation.retrieval import ratios_to_strongest, retrieval_eval
from clac_core.evaluation.systems import BASELINES, SYSTEMS, make_scorers

TOP_KEYS = {"retrieval", "zero_shot", "probes", "baselines", "leakage", "meta"}  # and any added section
METRICS = ("R@1", "R@5", "R@10", "MRR", "median_rank")


def _constructed_set(n: int = 30) -> tuple[EvalSet, Embeddings]:
    rng = np.random.default_rng(0)
    views = ["composition", "structure", "caption"]
    texts, vs, owner = [], [], []
    for i in range(n):
        for v in views:
            texts.append(f"crystal{i} {v} words{i}")
            vs.append(v)
            owner.append(i)
    owner = np.array(owner)
    crystal = l2_normalize(rng.normal(size=(n, 8)))
    text = l2_normalize(crystal[owner] + 0.01 * rng.normal(size=(len(texts), 8)))  # a near-perfect model
    es = EvalSet(
        name="constructed",
        split=None,
        ids=[f"c{i}" for i in range(n)],
        formulas=[f"F{i}" for i in range(n)],
        structures=[None] * n,
        properties=[{}] * n,
        facts=[{}] * n,
        texts=texts,
        views=vs,
        owner=owner,
        query_views=("composition", "structure"),
    )
    emb = Embeddings(
        crystal=crystal,
        crystal_random=l2_normalize(rng.normal(size=(n, 8))),
        text=text,
        text_random=l2_normalize(rng.normal(size=(len(texts), 8))),
        text_base=l2_normalize(rng.normal(size=(len(texts), 8))),
        embed_text=None,
        embed_text_random=None,
        embed_text_base=None,
    )
    return es, emb


def test_retrieval_eval_layout_pools_and_baselines():
    es, emb = _constructed_set(30)
    assert all(es.views[t] != "caption" for q in es.query_texts() for t in q)
    res = retrieval_eval(
        es, make_scorers(es, emb, ("model", *BASELINES)), [10, 1000, None], repeats=3, seed=0
    )
    for s in ("model", *BASELINES):
        for d in DIRECTIONS:
            assert set(res[s][d]) == {"pool_10", "pool_1000", "pool_all"}
            for m in METRICS:
                assert f"{m}_std" in res[s][d]["pool_10"]
    model = res["model"]
    assert model["text_to_crystal"]["pool_10"]["R@1"] == 1.0
    assert model["crystal_to_text"]["pool_all"]["MRR"] == pytest.approx(1.0)
    assert model["text_to_crystal"]["pool_1000"]["pool_size"] == 30  # clipped to the split
    assert model["text_to_crystal"]["pool_1000"]["requested_pool_size"] == 1000
    # lexical: the shared "crystal{i}"/"words{i}" tokens of a crystal's other views find it
    assert res["lexical"]["text_to_crystal"]["pool_all"]["R@1"] == 1.0
    # random weights are near chance (10/30 for R@10 on the full pool)
    assert res["random_init"]["text_to_crystal"]["pool_all"]["R@10"] < 0.75
    ratios = ratios_to_strongest(model, {b: res[b] for b in BASELINES})
    r = ratios["text_to_crystal"]["pool_all"]
    assert r["R@1_vs"] == "lexical" and r["R@1"] == pytest.approx(1.0)
    assert r["median_rank"] == pytest.approx(1.0)


def test_unknown_system_is_a_clear_error_and_baselines_come_from_the_registry():
    from clac_core.evaluation.report import BASELINE_NAMES

    es, emb = _constructed_set(5)
    with pytest.raises(ValueError, match="unknown system 'bm25'.*lexical"):
        make_scorers(es, emb, ("model", "bm25"))
    assert BASELINES == BASELINE_NAMES == tuple(n for n in SYSTEMS if n != "model")
    assert all(SYSTEMS[b].description for b in BASELINES)


def test_the_app_shows_the_evaluated_zero_shot_prompts():
    """One prompt table: every task the app labels crystals with is scored by clac eval with
    the very same prompts (the app once showed prompts that were never evaluated)."""
    from clac_core.evaluation.prompts import ZERO_SHOT_PROMPTS
    from clac_core.evaluation.zero_shot import zero_shot_labels
    from clac_core.inference import ZERO_SHOT_TASKS
    from clac_core.symmetry import CRYSTAL_SYSTEMS

    es, _ = _constructed_set(3)
    evaluated = set(zero_shot_labels(es))
    assert [t.name for t in ZERO_SHOT_TASKS] == ["crystal system", "metal / non-metal"]
    for task in ZERO_SHOT_TASKS:
        assert task.key in evaluated
        assert task.prompts == ZERO_SHOT_PROMPTS[task.key]
    assert tuple(ZERO_SHOT_PROMPTS["crystal_system"]) == CRYSTAL_SYSTEMS


def test_sections_run_in_order_on_one_context(caplog):
    """The hook for new results.json sections: Section(key, fn(ctx) -> dict, announce)."""
    import logging

    from clac_core.evaluation.context import EvalContext, EvalOptions, Section
    from clac_core.evaluation.pipeline import SECTIONS, run_sections

    keys = [s.key for s in SECTIONS]
    assert keys[:5] == ["retrieval", "zero_shot", "probes", "baselines", "leakage"]
    assert len(set(keys)) == len(keys) and "meta" not in keys
    es, emb = _constructed_set(12)
    ctx = EvalContext(
        checkpoint="ckpt",
        data="constructed",
        options=EvalOptions(pools=(5, None), repeats=2),
        es=es,
        model=None,
        graphs=[],
        emb=emb,
        device="cpu",
        checkpoint_meta={},
    )

    def scores(c: EvalContext) -> dict:
        ret = retrieval_eval(c.es, make_scorers(c.es, c.emb, ("model",)), c.options.pools, 2, 0)
        c.shared["model"] = ret["model"]
        return {"R@1": ret["model"]["text_to_crystal"]["pool_all"]["R@1"]}

    def reads_earlier(c: EvalContext) -> dict:
        return {"twice": 2 * c.results["first"]["R@1"], "pools": sorted(c.shared["model"]["crystal_to_text"])}

    with caplog.at_level(logging.INFO, logger="clac_core"):
        seconds = run_sections(
            ctx,
            [Section("first", scores, lambda c: f"first on {len(c.es)}"), Section("second", reads_earlier)],
        )
    assert list(ctx.results) == ["first", "second"] and set(seconds) == {"first", "second"}
    assert ctx.results["first"]["R@1"] == 1.0  # the constructed model is near perfect
    assert ctx.results["second"] == {"twice": 2.0, "pools": ["pool_5", "pool_all"]}
    assert [r.getMessage() for r in caplog.records] == ["[clac eval] first on 12"]


def test_clac_eval_runs_the_evaluation_cli():
    from clac_core.cli import COMMANDS

    module, _ = COMMANDS["eval"]
    assert module == "clac_core.evaluation.cli"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    import torch

    from clac_core.config import load_config
    from clac_core.models import CLaCModel, save_checkpoint

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml").model
    torch.manual_seed(1)
    model = CLaCModel(cfg, load_text_backbone=False)
    return save_checkpoint(model, tmp_path_factory.mktemp("eval") / "ckpt", step=0, extra={})


def test_cli_errors_are_clear(tiny_checkpoint, tmp_path, capsys):
    from clac_core import cli

    rc = cli.main(
        [
            "eval",
            "--checkpoint",
            str(tiny_checkpoint),
            "--data",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "r.json"),
        ]
    )
    assert rc == 2 and "crystals.parquet" in capsys.readouterr().err
    rc = cli.main(
        ["eval", "--checkpoint", str(tmp_path), "--data", "csv:x.csv", "--out", str(tmp_path / "r.json")]
    )
    assert rc != 0
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_cli_eval_end_to_end_perov(tiny_checkpoint, shared_data, tmp_path, capsys):
    from clac_core import cli

    out = tmp_path / "res" / "results.json"
    rc = cli.main(
        [
            "eval",
            "--checkpoint",
            str(tiny_checkpoint),
            "--data",
            f"csv:{shared_data / 'perov_5' / 'test.csv'}",
            "--limit",
            "40",
            "--pools",
            "10,1000,all",
            "--repeats",
            "2",
            "--probe-epochs",
            "1",
            "--second",
            f"csv:{shared_data / 'carbon_24' / 'test.csv'}",
            "--second-limit",
            "12",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err  # with progress on, every stage without a bar is announced
    for stage in ("retrieval", "zero-shot", "property probes", "leakage check and second corpus"):
        assert f"[clac eval] {stage}" in err, stage
    res = json.loads(out.read_text())
    from clac_core.evaluation.pipeline import SECTIONS

    assert TOP_KEYS <= set(res) == {s.key for s in SECTIONS} | {"meta"}
    assert (out.parent / "results.md").read_text().startswith("# CLaC evaluation")
    r = res["retrieval"]
    assert r["text_to_crystal"]["pool_10"]["pool_size"] == 10
    assert r["crystal_to_text"]["pool_1000"]["pool_size"] == 40
    for m in METRICS:
        assert 0 <= r["text_to_crystal"]["pool_all"][m] <= 40
    for b in BASELINES:
        br = res["baselines"][b]["retrieval"]
        assert set(br) == set(r) and set(br["text_to_crystal"]) == set(r["text_to_crystal"])
    assert "R@10" in res["baselines"]["ratios"]["text_to_crystal"]["pool_1000"]
    assert r["free_text"]["n_queries"] >= 40
    assert res["zero_shot"]["crystal_system"]["n"] == 40
    assert "majority" in res["zero_shot"]["metal_vs_insulator"]
    probe = res["probes"]["heat_of_formation"]
    assert probe["n_train"] + probe["n_test"] == 40
    assert {"mean_predictor", "ridge", "knn", "supervised_cgcnn"} <= set(probe["MAE"])
    assert res["probes"]["heat_of_formation"]["supervised_cgcnn"]["epochs"] == 1
    sc = res["leakage"]["second_corpus"]
    assert sc["n_crystals"] == 12 and sc["retrieval"]["text_to_crystal"]["pool_all"]["pool_size"] == 12
    assert res["meta"]["counts"]["crystals"] == 40
    assert "caption" not in res["meta"]["query_views"]
    fq = res["property_aware"]["formula_queries"]  # a bare formula as the query
    assert 0 < fq["n_queries"] <= 40 and fq["lexical"]["top1"] == 1.0  # the formula is in its texts
    assert {"model_only", "known_dft_lookup"} <= set(fq)
    assert fq["known_dft_lookup"]["top1"] == 1.0  # the formula read from the query comes first


@pytest.mark.slow
def test_cli_eval_data_dir_leakage_and_text_column(shared_data, tmp_path):
    """A built data dir: test split, zero formula leakage (also against the checkpoint's data dir);
    then a CSV with a human text column as the queries."""
    import torch

    from clac_core import cli
    from clac_core.config import load_config
    from clac_core.models import CLaCModel, save_checkpoint

    data = tmp_path / "data"
    assert (
        cli.main(
            [
                "data",
                "build",
                "--source",
                f"csv:{shared_data / 'perov_5' / 'test.csv'}",
                "--limit",
                "120",
                "--out",
                str(data),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml").model
    torch.manual_seed(0)
    ckpt = save_checkpoint(
        CLaCModel(cfg, load_text_backbone=False), tmp_path / "ckpt", step=0, extra={"data_dir": str(data)}
    )
    out = tmp_path / "r1.json"
    assert (
        cli.main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--data",
                str(data),
                "--split",
                "test",
                "--pools",
                "all",
                "--repeats",
                "1",
                "--probe-epochs",
                "0",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    n_test = int((pd.read_parquet(data / "crystals.parquet", columns=["split"])["split"] == "test").sum())
    assert res["meta"]["counts"]["crystals"] == n_test > 1
    assert res["leakage"]["test_formulas_in_train"] == 0
    assert res["leakage"]["checkpoint_train_formula_overlap"] == 0
    assert res["leakage"]["checkpoint_data_dir"] == str(data)

    rows = pd.read_csv(shared_data / "perov_5" / "test.csv", nrows=15)
    from pymatgen.core import Composition

    rows["desc"] = [f"a perovskite made of {Composition(f).reduced_formula}" for f in rows["formula"]]
    csv = tmp_path / "with_text.csv"
    rows.to_csv(csv, index=False)
    out2 = tmp_path / "r2.json"
    assert (
        cli.main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--data",
                f"csv:{csv}",
                "--text-column",
                "desc",
                "--pools",
                "all",
                "--repeats",
                "1",
                "--probe-epochs",
                "0",
                "--out",
                str(out2),
                "--no-progress",
            ]
        )
        == 0
    )
    res2 = json.loads(out2.read_text())
    assert res2["meta"]["query_views"] == ["given"]
    assert res2["meta"]["counts"]["texts_by_view"]["given"] == 15
    # the given text names the formula, which the generated descriptions also state: keyword search finds it
    assert res2["baselines"]["lexical"]["retrieval"]["text_to_crystal"]["pool_all"]["R@1"] > 0.5
