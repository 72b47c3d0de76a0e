"""Training loop: end to end through the CLI, metrics, checkpoints, resume, DDP, reproducibility.

The data dir (``conftest.py``, fixture ``data_dir``) is written in the exact ``clac data build``
layout (docs/ARCHITECTURE.md) from small cubic crystals built in code (rocksalt, CsCl, zincblende, fluorite, perovskite,
bcc/fcc metals) with simple composition / prototype / symmetry texts, so these tests do not
depend on the corpus builder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


# ----------------------------------------------------------------------------------------
# fast unit tests
# ----------------------------------------------------------------------------------------
def test_sampler_crystals_mode_visits_each_crystal_once_and_is_seeded() -> None:
    from clac_core.data import EpochSampler

    ci = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])
    s = EpochSampler(ci, "crystals", seed=3)
    e0, e0b = s.epoch_order(0), s.epoch_order(0)
    assert sorted(ci[e0].tolist()) == [0, 1, 2, 3]
    assert np.array_equal(e0, e0b)
    draws = {tuple(s.epoch_order(e)) for e in range(20)}
    assert len(draws) > 5  # different texts / orders across epochs
    # pairs mode: every pair once
    p = EpochSampler(ci, "pairs", seed=3)
    assert sorted(p.epoch_order(0).tolist()) == list(range(ci.size))


def test_sampler_ddp_shards_cover_the_epoch_with_equal_lengths() -> None:
    from clac_core.data import EpochSampler

    ci = np.arange(11)
    shards = [EpochSampler(ci, "pairs", seed=0, rank=r, world_size=2).shard(4) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6
    assert set(np.concatenate(shards).tolist()) == set(range(11))
    full = EpochSampler(ci, "pairs", seed=0)
    batches = list(full.batches(0, 4))
    assert [b.size for b in batches] == [4, 4, 3]
    assert np.array_equal(list(full.batches(0, 4, start=1))[0], batches[1])


def test_retrieval_metrics_perfect_and_reversed() -> None:
    import torch

    from clac_core.training.validate import retrieval_metrics

    e = torch.nn.functional.normalize(torch.randn(20, 8), dim=-1)
    m = retrieval_metrics(e, e)
    assert m["t2c_r1"] == 1.0 and m["c2t_mrr"] == 1.0
    shuffled = retrieval_metrics(e, e[torch.roll(torch.arange(20), 1)])
    assert shuffled["t2c_r1"] < 0.5


def test_retrieval_metrics_collapsed_model_scores_chance() -> None:
    """A collapsed model (every embedding equal, all scores tied) must not look perfect:
    best/ is chosen by mean_r10, so counting ties in the query's favour would save it."""
    import torch

    from clac_core.training.validate import retrieval_metrics

    p = 50
    same = torch.nn.functional.normalize(torch.ones(p, 8), dim=-1)
    m = retrieval_metrics(same, same)
    assert m["t2c_r1"] == pytest.approx(1 / p)
    assert m["mean_r10"] == pytest.approx(10 / p)
    good = torch.nn.functional.normalize(torch.randn(p, 8), dim=-1)
    assert retrieval_metrics(good, good)["mean_r10"] > m["mean_r10"]


def test_lr_schedule_warmup_then_cosine() -> None:
    from clac_core.training.optim import lr_factor

    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)


def test_data_dir_graph_and_text_caches(data_dir: Path) -> None:
    from clac_core.config import GraphConfig, TextEncoderConfig
    from clac_core.data import load_data_dir, load_graph_cache, text_cache_dir, text_feature_cache

    data = load_data_dir(data_dir)
    assert len(data.pairs) == 3 * len(data.crystals)
    graphs = load_graph_cache(data, GraphConfig(), num_workers=1, progress=False)
    assert len(graphs) == len(data.crystals)
    assert list(data_dir.joinpath("cache").glob("graphs-*.npz"))
    g = graphs[0]
    assert g.num_nodes == len(data.crystals["atomic_numbers"][0])

    calls: list[int] = []

    def fake_embed(texts: list[str]) -> np.ndarray:  # deterministic stand-in: length features
        calls.append(len(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    cfg = TextEncoderConfig(name="fake-model", max_length=16)
    texts = ["abc", "a", "abc", "xyz", "banana"]
    f = text_feature_cache(data_dir, texts, cfg, embed=fake_embed, chunk_size=2, progress=False)
    assert f.shape == (5, 2) and f[0, 0] == 3 and f[4, 1] == 3
    assert sum(calls) == 4  # unique texts only, in chunks of 2
    assert np.array_equal(f[0], f[2])
    # resumable: a killed build keeps finished chunks; only new texts are embedded later
    chunks = sorted(text_cache_dir(data_dir, cfg).glob("chunk-*.npy"))
    assert len(chunks) == 2
    chunks[-1].unlink()  # simulate an interrupted last chunk
    calls.clear()
    f2 = text_feature_cache(
        data_dir, texts + ["new text"], cfg, embed=fake_embed, chunk_size=2, progress=False
    )
    assert sum(calls) == 2 + 1  # the lost chunk's two texts + the new one
    assert np.array_equal(f2[:5], f)


# ----------------------------------------------------------------------------------------
# end to end
# ----------------------------------------------------------------------------------------
ALLOWED_SUFFIXES = {".json", ".safetensors", ".yaml", ".csv"}
# fast runs: 300 training pairs (the text-feature cache then holds ~400 texts), 3 epochs
FAST = ("train.epochs=3", "train.max_pairs=300")


@pytest.fixture(scope="module")
def tiny_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, train_kit) -> Path:
    from clac_core.cli import main

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    assert main(train_kit.args(data_dir, out, *FAST)) == 0
    return out


def test_tiny_trains_end_to_end_via_cli(tiny_run: Path, train_kit) -> None:
    from clac_core.training.logger import METRICS_COLUMNS

    rows = train_kit.metrics(tiny_run)
    assert list(rows[0].keys()) == list(METRICS_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    pool = int(rows[-1]["val_pool"])
    assert pool >= 40
    chance_r10 = 10 / pool
    best_r10 = max(float(r["val_t2c_r10"]) for r in rows)
    assert best_r10 > max(0.6, 4 * chance_r10), (best_r10, chance_r10)
    for sub in ("best", "last"):
        files = [p for p in (tiny_run / sub).rglob("*") if p.is_file()]
        assert files and {p.suffix for p in files} <= ALLOWED_SUFFIXES, files
    assert (tiny_run / "last" / "train_state.safetensors").is_file()
    info = json.loads((tiny_run / "train_info.json").read_text())
    assert info["train_pairs"] == 300 and info["seconds"] > 0 and "hardware" in info
    assert (tiny_run / "config.yaml").is_file()


def test_best_checkpoint_loads_and_retrieves(tiny_run: Path, data_dir: Path, train_kit) -> None:
    import torch

    from clac_core.config import load_config
    from clac_core.data import load_data_dir, load_graph_cache
    from clac_core.models.clip import CLaCModel

    model = CLaCModel.from_checkpoint(tiny_run / "best", load_text_backbone=True)
    meta = model.checkpoint_meta
    assert meta["extra"]["metrics"]["t2c_r10"] > 0.5
    data = load_data_dir(data_dir)
    graphs = load_graph_cache(data, load_config(train_kit.tiny).model.graph, progress=False)
    ids = data.crystals.index[data.crystals["crystal_id"].isin(["rs:NaCl", "bcc:Fe", "pv:SrTi"])].tolist()
    texts = [
        f"{data.crystals['formula'][i]} in the {json.loads(data.crystals['labels'][i])['prototype']} structure type."
        for i in ids
    ]
    with torch.no_grad():
        c = model.encode_crystal(graphs.batch(ids))
        t = model.encode_text(texts)
    sim = t @ c.t()
    assert torch.equal(sim.argmax(1), torch.arange(len(ids)))  # each text finds its crystal


def test_warm_start_continues_a_cached_run_with_top_layer_fine_tuning(
    tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """train.init_from: a cached run's weights start a top_k run (issue 18's text tower that learns)."""
    from clac_core.cli import main
    from clac_core.models.checkpoint import CheckpointError, read_checkpoint_meta

    best = tiny_run / "best"
    out = tmp_path / "warm"
    sets = ("train.epochs=1", "train.max_pairs=300", f"train.init_from={best}",
            "model.text.train_mode=top_k", "model.text.top_k_layers=1")  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    first_warm = float(train_kit.metrics(out)[0]["train_loss"])
    first_cold = float(train_kit.metrics(tiny_run)[0]["train_loss"])
    assert first_warm < first_cold  # it starts from the trained weights, not from scratch
    meta = read_checkpoint_meta(out / "best")
    assert meta["stored_text_prefixes"] and all(".layer.5." in p for p in meta["stored_text_prefixes"])
    # weights that do not fit the model are refused with the checkpoint named
    bad = tmp_path / "bad"
    with pytest.raises(CheckpointError, match="shape"):
        main(train_kit.args(data_dir, bad, "train.epochs=1", "train.max_pairs=100", f"train.init_from={best}",
                            "model.crystal.hidden_dim=32"))  # fmt: skip


def test_warm_start_adds_a_token_branch_that_trains_on_cached_features(
    tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """A cached run continued with ``text.branch_width``: the branch starts at zero output, learns
    within the cached (fast) path, and the checkpoint reloads with it."""
    from clac_core.cli import main
    from clac_core.models import CLaCModel

    out = tmp_path / "branch"
    sets = ("train.epochs=1", "train.max_pairs=300", f"train.init_from={tiny_run / 'best'}",
            "model.text.branch_width=32", "model.text.branch_layers=1")  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    model = CLaCModel.from_checkpoint(out / "last", load_text_backbone=False)
    assert model.token_branch is not None
    assert float(model.token_branch.out.weight.abs().sum()) > 0  # it moved away from its zero start
    first_warm = float(train_kit.metrics(out)[0]["train_loss"])
    assert first_warm < float(train_kit.metrics(tiny_run)[0]["train_loss"])  # warm, not from scratch


@pytest.mark.slow
def test_same_seed_gives_same_metrics(tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit) -> None:
    from clac_core.cli import main

    out = tmp_path / "again"
    assert main(train_kit.args(data_dir, out, *FAST)) == 0
    train_kit.assert_same_run(tiny_run, out, atol=1e-6)
    # a different seed changes the result (the comparison can fail)
    out2 = tmp_path / "other_seed"
    assert main(train_kit.args(data_dir, out2, *FAST, "train.epochs=1", "train.seed=1")) == 0
    assert train_kit.metrics(out2)[0]["train_loss"] != train_kit.metrics(tiny_run)[0]["train_loss"]


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(data_dir: Path, tmp_path: Path, train_kit) -> None:
    sets = (*FAST, "train.epochs=4", "train.save_every_steps=4")  # 10 batches/epoch: saves mid-epoch
    # all three runs in fresh processes, so none inherits torch state left by earlier tests
    ref = tmp_path / "ref"
    run = dict(env=train_kit.env(), cwd=train_kit.repo, capture_output=True, text=True, timeout=600)
    res = subprocess.run(train_kit.cli_cmd() + train_kit.args(data_dir, ref, *sets), **run)
    assert res.returncode == 0, res.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        train_kit.cli_cmd() + train_kit.args(data_dir, out, *sets),
        env=train_kit.env(),
        cwd=train_kit.repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = out / "last" / "train_state.json"
    deadline = time.time() + 240
    while not state.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = json.loads(state.read_text())
    total_steps = json.loads((ref / "train_info.json").read_text())["steps"]
    assert saved["step"] < total_steps  # really interrupted
    # resume with `--resume DIR` (config and data dir are taken from the run)
    res = subprocess.run(train_kit.cli_cmd() + ["train", "--resume", str(out)], **run)
    assert res.returncode == 0, res.stderr[-2000:]
    train_kit.assert_same_run(ref, out)
    assert [int(r["epoch"]) for r in train_kit.metrics(out)] == [1, 2, 3, 4]


@pytest.mark.slow
def test_ddp_two_cpu_processes_with_gloo(data_dir: Path, tmp_path: Path, train_kit) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "clac_core.cli",
    ] + train_kit.args(data_dir, out, *FAST, "train.epochs=1", "train.device=cpu")
    res = subprocess.run(
        cmd, env=train_kit.env(), cwd=train_kit.repo, capture_output=True, text=True, timeout=170
    )
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((out / "train_info.json").read_text())
    assert info["hardware"]["world_size"] == 2
    assert (out / "last" / "model.safetensors").is_file() and (out / "best" / "model.safetensors").is_file()
    rows = train_kit.metrics(out)
    assert len(rows) == 1 and float(rows[0]["val_t2c_r10"]) > 10 / int(rows[0]["val_pool"])


@pytest.mark.slow
def test_tiny_trains_on_clac_data_build_prototypes(tmp_path: Path, train_kit) -> None:
    """The real pipeline: `clac data build --source prototypes` then `clac train` (tiny)."""
    from clac_core.cli import main

    data = tmp_path / "proto"
    assert main(["data", "build", "--source", "prototypes", "--out", str(data), "--workers", "1"]) == 0
    out = tmp_path / "run"
    # 6 epochs: each crystal now has six views (two of them density-only property queries for
    # prototypes, which carry no DFT data), so a crystal sees each view about once
    assert main(train_kit.args(data, out, "train.epochs=6", "train.sampling=crystals")) == 0
    rows = train_kit.metrics(out)
    pool = int(rows[-1]["val_pool"])
    assert pool >= 10
    best = max(float(r["val_t2c_r10"]) for r in rows)
    assert best > 10 / pool + 0.2, (best, pool)  # text -> crystal well above chance
    assert {p.suffix for p in (out / "best").rglob("*") if p.is_file()} <= ALLOWED_SUFFIXES


def test_statements_hard_negatives_train_in_the_cached_path(
    tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """loss.negation_weight > 0: the statements texts of the training pairs get their hard
    negatives (features cached like every text), and the run logs the negation term."""
    import shutil

    import pandas as pd

    from clac_core.cli import main

    data = tmp_path / "data"
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("cache"))
    pairs = pd.read_parquet(data / "pairs.parquet")
    train = pairs[pairs["split"] == "train"].drop_duplicates("crystal_id")
    said = train.assign(view="statements", text=["It is not magnetic. It is a metal."] * len(train))
    pd.concat([pairs, said], ignore_index=True).to_parquet(data / "pairs.parquet")
    out = tmp_path / "neg"
    sets = ("train.epochs=1", f"train.init_from={tiny_run / 'best'}", "loss.negation_weight=1.0")
    assert main(train_kit.args(data, out, *sets)) == 0
    row = train_kit.metrics(out)[0]
    assert "train_negation" in row and 0.0 < float(row["train_negation"]) < 10.0
    off = tmp_path / "off"
    assert main(train_kit.args(data, off, "train.epochs=1", f"train.init_from={tiny_run / 'best'}")) == 0
    assert "train_negation" not in train_kit.metrics(off)[0]


# ----------------------------------------------------------------------------------------
# locked crystal tower (LiT): train.locked_crystal
# ----------------------------------------------------------------------------------------
def _locked_index(folder: Path, data_dir: Path, checkpoint: Path, *, leave_out: int = 0, dim: int = 128) -> Path:
    """A corpus-index folder as ``clac index build`` writes it (manifest with the checkpoint
    hash, metadata with crystal ids, float16 embeddings) over ``data_dir``'s crystals but the
    last ``leave_out``; the embeddings are random unit vectors (a stand-in locked tower)."""
    import pandas as pd

    from clac_core.models.fingerprint import checkpoint_hash

    ids = pd.read_parquet(data_dir / "crystals.parquet", columns=["crystal_id"])["crystal_id"]
    ids = ids.iloc[: len(ids) - leave_out]
    emb = np.random.default_rng(0).normal(size=(len(ids), dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"checkpoint_hash": checkpoint_hash(checkpoint)}))
    pd.DataFrame({"crystal_id": ids}).to_parquet(folder / "metadata.parquet")
    np.save(folder / "embeddings.npy", emb.astype(np.float16))
    return folder


def test_locked_crystal_tower_trains_the_text_side_only(
    tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """train.locked_crystal: the index's stored embeddings stand in for the crystal tower; the
    crystal side of the saved model is bit-identical to the start, the text side moved, and the
    crystals the index lacks are left out of training and validation."""
    from safetensors.numpy import load_file

    from clac_core.cli import main
    from clac_core.data import load_data_dir
    from clac_core.data.locked import locked_crystals

    best = tiny_run / "best"
    idx = _locked_index(tmp_path / "index", data_dir, best, leave_out=3)
    locked = locked_crystals(load_data_dir(data_dir), idx, checkpoint=best)
    assert int((~locked.present).sum()) == 3 and bool(locked.present[:-3].all())
    with pytest.raises(KeyError, match="no stored embedding"):
        locked.batch([len(locked) - 1])
    out = tmp_path / "lit"
    sets = ("train.epochs=2", "train.max_pairs=300", f"train.init_from={best}", f"train.locked_crystal={idx}")
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    start, end = (load_file(str(d / "model.safetensors")) for d in (best, out / "last"))
    crystal_side = [k for k in start if not k.startswith(("text_proj.", "token_branch.", "text.", "logit_scale"))]
    assert crystal_side and all(np.array_equal(start[k], end[k]) for k in crystal_side)
    assert any(not np.array_equal(start[k], end[k]) for k in start if k.startswith("text_proj."))
    rows = train_kit.metrics(out)
    assert len(rows) == 2 and 0.0 <= float(rows[-1]["val_mean_r10"]) <= 1.0


def test_locked_crystal_tower_refuses_what_would_need_the_tower(
    tiny_run: Path, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """An index of another checkpoint, no init_from, an aux loss: each refused in plain words."""
    from clac_core.cli import main

    best = tiny_run / "best"
    other = _locked_index(tmp_path / "other", data_dir, tiny_run / "last" / "model.safetensors")
    mine = _locked_index(tmp_path / "mine", data_dir, best)
    base = ("train.epochs=1", "train.max_pairs=100")
    cases = [
        ((f"train.init_from={best}", f"train.locked_crystal={other}"), "another\\s+crystal tower"),
        ((f"train.locked_crystal={mine}",), "needs train.init_from"),
        ((f"train.init_from={best}", f"train.locked_crystal={mine}", "loss.aux_weight=1.0",
          "model.aux_properties=[band_gap]"), "aux_weight to 0"),  # fmt: skip
        ((f"train.init_from={best}", f"train.locked_crystal={tmp_path}"), "not a corpus index"),
    ]
    for k, (sets, msg) in enumerate(cases):
        with pytest.raises(ValueError, match=msg):
            main(train_kit.args(data_dir, tmp_path / f"run{k}", *base, *sets))


def test_wise_ft_interpolates_the_text_side_only(tiny_run: Path, tmp_path: Path) -> None:
    """interpolate_text_side: alpha 0 / 1 give the start's / the tuned text side, 0.5 the
    midpoint; the crystal side is the shared one; differing crystal sides are refused."""
    import shutil

    from safetensors.torch import load_file, save_file

    from clac_core.models.checkpoint import CheckpointError
    from clac_core.models.wise import interpolate_text_side

    start = tiny_run / "best"

    def moved(name: str, prefix: str) -> Path:
        out = shutil.copytree(start, tmp_path / name)
        state = load_file(str(out / "model.safetensors"))
        state = {k: (v + 1.0 if k.startswith(prefix) and v.is_floating_point() else v) for k, v in state.items()}
        save_file(state, str(out / "model.safetensors"))
        return out

    tuned = moved("tuned", "text_proj.")
    s, t = load_file(str(start / "model.safetensors")), load_file(str(tuned / "model.safetensors"))
    for alpha in (0.0, 0.5, 1.0):
        w = load_file(str(interpolate_text_side(start, tuned, alpha, tmp_path / f"w{alpha}") / "model.safetensors"))
        for k in w:
            want = (1 - alpha) * s[k].double() + alpha * t[k].double() if k.startswith("text_proj.") else s[k]
            assert torch_allclose(w[k], want), (alpha, k)
    with pytest.raises(CheckpointError, match="different crystal sides"):
        interpolate_text_side(start, moved("other", "crystal_proj."), 0.5, tmp_path / "bad")
    with pytest.raises(CheckpointError, match="alpha"):
        interpolate_text_side(start, tuned, 1.5, tmp_path / "bad2")


def torch_allclose(a, b) -> bool:
    return bool(np.allclose(a.double().numpy(), b.double().numpy(), atol=1e-6))
