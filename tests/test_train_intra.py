"""Intra-modal loss terms in training: second text views, augmented crystals, logging, resume.

Uses the training fixture data dir of ``conftest.py`` (three texts per crystal: composition,
prototype, caption) and its ``train_kit`` helpers, so both training files train on the same crystals.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

# 128 training pairs = 4 batches of 32 per epoch; checkpoints every 2 steps (mid-epoch too)
INTRA = (
    "loss.intra_text_weight=0.5",
    "loss.intra_crystal_weight=0.5",
    "train.epochs=2",
    "train.max_pairs=128",
    "train.max_eval=40",
    "train.save_every_steps=2",
)


@pytest.fixture(scope="module")
def train_set(data_dir: Path, train_kit):
    """(DataDir, graph cache, training pairs) of the fixture, with the tiny graph settings."""
    from clac_core.config import load_config
    from clac_core.data import load_data_dir, load_graph_cache, select_pairs

    data = load_data_dir(data_dir)
    graphs = load_graph_cache(data, load_config(train_kit.tiny).model.graph, num_workers=1, progress=False)
    return data, graphs, select_pairs(data.pairs, "train")


@pytest.fixture(scope="module")
def intra_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, train_kit) -> Path:
    from clac_core.cli import main

    out = tmp_path_factory.mktemp("intra_run") / "run"
    assert main(train_kit.args(data_dir, out, *INTRA)) == 0
    return out


def test_second_text_view_is_another_text_of_the_same_crystal(train_set) -> None:
    from clac_core.data import PairDataset

    _, graphs, pairs = train_set
    ci = pairs["crystal_index"].to_numpy()
    texts = list(pairs["text"])
    ds = PairDataset(graphs, ci, texts, second_text=True)
    pos = np.arange(0, len(pairs), 3)[:40]
    b = ds.collate(pos, rng=np.random.default_rng(0))
    assert b.texts2 is not None and len(b.texts2) == len(pos)
    for p, t2 in zip(pos, b.texts2, strict=True):
        assert t2 != texts[p]  # every fixture crystal has 3 distinct texts
        assert t2 in set(pairs["text"][ci == ci[p]])
    again = ds.collate(pos, rng=np.random.default_rng(0))
    assert again.texts2 == b.texts2  # a pure function of the generator
    draws = {tuple(ds.second_view_positions(pos, np.random.default_rng(s))) for s in range(5)}
    assert len(draws) > 1  # both other texts get drawn
    # cached features follow the drawn pairs; a crystal with a single pair reuses its text
    feats = np.arange(len(pairs), dtype=np.float32)[:, None].repeat(2, 1)
    ds = PairDataset(graphs, ci, texts, feats, second_text=True)
    b = ds.collate(pos, rng=np.random.default_rng(0))
    pos2 = b.text_features2[:, 0].numpy().astype(np.int64)
    assert b.texts2 == [texts[int(i)] for i in pos2]  # the texts travel with their features
    assert np.array_equal(ci[pos2], ci[pos]) and np.all(pos2 != pos)
    single = PairDataset(graphs, np.array([0, 1, 1]), ["a", "b", "c"], second_text=True)
    assert single.collate([0, 1], rng=np.random.default_rng(1)).texts2 == ["a", "c"]
    # the default path draws nothing and needs no generator
    plain = PairDataset(graphs, ci, texts).collate(pos)
    assert plain.texts2 is None and plain.text_features2 is None and plain.graphs2 is None


def test_augmented_graph_batch_matches_the_crystals_and_embeds(train_set, train_kit) -> None:
    import torch

    from clac_core.config import load_config
    from clac_core.data import PairDataset
    from clac_core.models.clip import CLaCModel

    data, graphs, pairs = train_set
    ds = PairDataset(
        graphs, pairs["crystal_index"].to_numpy(), list(pairs["text"]), structures=data.structures
    )
    pos = np.arange(12)
    b = ds.collate(pos, rng=np.random.default_rng(0))
    assert b.graphs2 is not None and b.graphs2.num_graphs == b.graphs.num_graphs == len(pos)
    # supercells double some crystals; noise changes the distances of the others
    assert b.graphs2.num_nodes >= b.graphs.num_nodes
    assert not torch.equal(b.graphs2.edge_dist, b.graphs.edge_dist)
    cfg = load_config(train_kit.tiny)
    torch.manual_seed(0)
    model = CLaCModel(cfg.model, load_text_backbone=False).eval()
    with torch.no_grad():
        e1, e2 = model.encode_crystal(b.graphs), model.encode_crystal(b.graphs2)  # (B, D)
    assert e1.shape == e2.shape == (len(pos), cfg.model.embed_dim) and torch.isfinite(e2).all()


def test_tiny_run_with_intra_terms_logs_them(intra_run: Path, train_kit) -> None:
    from clac_core.training.logger import METRICS_COLUMNS, TERM_COLUMNS

    rows = train_kit.metrics(intra_run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert set(TERM_COLUMNS) | set(METRICS_COLUMNS) == set(rows[0].keys())
    for r in rows:
        assert r["train_aux"] == r["train_negation"] == ""  # off in this run: empty cells
        for col in ("train_loss", "train_cross", "train_intra_text", "train_intra_crystal"):
            v = float(r[col])
            assert math.isfinite(v) and v > 0, (col, v)
        expected = (
            float(r["train_cross"])
            + 0.5 * float(r["train_intra_text"])
            + 0.5 * float(r["train_intra_crystal"])
        )
        assert float(r["train_loss"]) == pytest.approx(expected, rel=1e-5)
    assert (intra_run / "best" / "model.safetensors").is_file()


def test_resume_mid_epoch_with_intra_terms_matches_uninterrupted_run(
    intra_run: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, train_kit
) -> None:
    """Crash (in-process) right after the mid-epoch checkpoint at step 2, then ``--resume``."""
    from clac_core.cli import main
    from clac_core.training.loop import Trainer

    real_step = Trainer._optimizer_step

    def crashing_step(self: Trainer) -> None:
        if self.step == 2:
            raise RuntimeError("simulated crash")
        real_step(self)

    out = tmp_path / "crashed"
    monkeypatch.setattr(Trainer, "_optimizer_step", crashing_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(train_kit.args(data_dir, out, *INTRA))
    monkeypatch.setattr(Trainer, "_optimizer_step", real_step)
    assert not (out / "metrics.csv").is_file() or not train_kit.metrics(out)  # died inside epoch 1
    assert main(["train", "--resume", str(out)]) == 0
    train_kit.assert_same_run(intra_run, out)


def test_frozen_text_mode_tokenizes_the_second_view(data_dir: Path, tmp_path: Path, train_kit) -> None:
    from clac_core.cli import main

    out = tmp_path / "frozen"
    sets = (
        "loss.intra_text_weight=1.0",
        "model.text.train_mode=frozen",
        "train.epochs=1",
        "train.max_pairs=64",
        "train.max_eval=16",
    )
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    (row,) = train_kit.metrics(out)
    assert float(row["train_intra_text"]) > 0 and row["train_intra_crystal"] == ""


def test_intra_preset_is_tiny_with_both_terms_on(train_kit) -> None:
    from clac_core.config import load_config, to_dict

    intra, tiny = (
        to_dict(load_config(train_kit.tiny.with_name("intra.yaml"))),
        to_dict(load_config(train_kit.tiny)),
    )
    assert intra["loss"]["intra_text_weight"] > 0 and intra["loss"]["intra_crystal_weight"] > 0
    assert {k: v for k, v in intra.items() if k != "loss"} == {k: v for k, v in tiny.items() if k != "loss"}
