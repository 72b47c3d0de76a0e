"""CHGNet as a crystal tower: frozen features cached once per crystal, travelling with the
graphs through training, eval, ``embed`` and new structures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def _nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _si():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])


def test_chgnet_features_are_64d_deterministic_and_cached_once(tmp_path: Path) -> None:
    from clac_core.data.crystal_features import cached_pretrained_features, feature_cache_dir
    from clac_core.graph.pretrained import chgnet_features, structure_key

    s = [_nacl(), _si()]
    f = chgnet_features(s)
    assert f.shape == (2, 64) and f.dtype == np.float32 and np.isfinite(f).all()
    assert not np.allclose(f[0], f[1])
    np.testing.assert_allclose(chgnet_features(s[:1]), f[:1], atol=1e-5)
    assert structure_key(_nacl()) == structure_key(s[0]) != structure_key(s[1])
    calls: list[int] = []

    def compute(part):
        calls.append(len(part))
        return chgnet_features(part)

    a = cached_pretrained_features(tmp_path, [s[0], s[1], s[0]], "chgnet", compute=compute, progress=False)
    b = cached_pretrained_features(tmp_path, [s[1], s[0]], "chgnet", compute=compute, progress=False)
    assert calls == [2]  # two distinct structures, computed once
    np.testing.assert_allclose(a[[1, 0]], b)
    np.testing.assert_allclose(a[0], f[0], atol=1e-5)
    files = sorted(p.suffix for p in feature_cache_dir(tmp_path, "chgnet").iterdir())
    assert files == [".json", ".npy"]


def test_encoders_read_the_features_and_explain_when_they_are_missing() -> None:
    import torch

    from clac_core.config import ModelConfig
    from clac_core.graph.cache import collate
    from clac_core.graph.featurize import structure_to_graph
    from clac_core.graph.pretrained import structures_to_graphs
    from clac_core.models.clip import CLaCModel

    for kind in ("chgnet", "cgcnn+chgnet"):
        cfg = ModelConfig()
        cfg.crystal.kind, cfg.crystal.hidden_dim, cfg.crystal.out_dim, cfg.embed_dim = kind, 16, 32, 24
        cfg.graph.symmetry = kind == "chgnet"
        torch.manual_seed(0)
        model = CLaCModel(cfg, load_text_backbone=False).eval()
        graphs = structures_to_graphs([_nacl(), _si()], cfg)
        batch = collate(graphs)
        assert batch.pretrained.shape == (2, 64)
        emb = model.encode_crystal(batch)
        assert emb.shape == (2, 24) and torch.allclose(emb.norm(dim=-1), torch.ones(2))
        with pytest.raises(ValueError, match="pretrained crystal features"):
            model.encode_crystal(collate([structure_to_graph(_nacl(), cfg.graph)]))


@pytest.mark.parametrize("kind", ["chgnet", "cgcnn+chgnet"])
def test_tiny_config_trains_and_embeds_with_chgnet(
    kind: str, data_dir: Path, tmp_path: Path, train_kit
) -> None:
    from clac_core.cli import main
    from clac_core.embed import embed_structures
    from clac_core.models.clip import CLaCModel

    out = tmp_path / "run"
    sets = (f"model.crystal.kind={kind}", "train.epochs=1", "train.max_pairs=200", "train.split=chemsys")
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    ckpt = out / "best"
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["extra"]["split"] == "chemsys"
    model = CLaCModel.from_checkpoint(ckpt, load_text_backbone=False)
    assert model.cfg.crystal.kind == kind
    emb = embed_structures(model, [_nacl(), _si()], progress=False)  # features computed on the fly
    assert emb.shape == (2, model.cfg.embed_dim) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    cif = tmp_path / "nacl.cif"
    _nacl().to(filename=str(cif))
    assert (
        main(
            [
                "embed",
                "--checkpoint",
                str(ckpt),
                "--structures",
                str(cif),
                "--out",
                str(tmp_path / "e.npy"),
                "--quiet",
            ]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), emb[:1], atol=1e-5)
    # eval: graphs of the test split with the data dir's cached features, chemsys split from the checkpoint
    from clac_core.evaluation.context import Section
    from clac_core.evaluation.leakage import leakage_section
    from clac_core.evaluation.mcq import mcq_section
    from clac_core.evaluation.pipeline import evaluate

    sections = [Section("leakage", leakage_section), Section("mcq", mcq_section)]
    res = evaluate(ckpt, str(data_dir), sections=sections, progress=False)
    assert res["meta"]["split_kind"] == "chemsys" and res["leakage"]["test_chemsys_in_train"] == 0
    assert res["leakage"]["checkpoint_train_chemsys_overlap"] == 0
    assert 0.0 <= res["mcq"]["structure"]["accuracy"] <= 1.0
