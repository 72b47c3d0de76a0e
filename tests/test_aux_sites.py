"""CHGNet's site-level outputs as an aux-head input (``crystal.pretrained_sites``,
``model.aux_inputs: [sites]``): cached beside the 64-d crystal feature, read by the head
standardized with statistics of the training crystals, never by the tower."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch


def _structures():
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    fe = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return nacl, fe


def _model(inputs: list[str], *, sites: bool = True):
    from clac_core.config import ModelConfig
    from clac_core.models.clip import CLaCModel

    cfg = ModelConfig()
    cfg.crystal.kind, cfg.crystal.hidden_dim, cfg.crystal.out_dim, cfg.embed_dim = "cgcnn+chgnet", 16, 32, 24
    cfg.crystal.pretrained_sites = sites
    cfg.aux_properties, cfg.aux_inputs = ["band_gap", "total_magnetization"], inputs
    torch.manual_seed(0)
    return CLaCModel(cfg, load_text_backbone=False).eval()


def test_site_row_pools_atom_features_and_summarizes_energy_and_moments() -> None:
    from clac_core.graph.pretrained import SITE_DIM, site_row

    atoms = np.arange(3 * 64, dtype=np.float64).reshape(3, 64)
    row = site_row({"atom_fea": atoms, "e": np.array([-4.5]), "m": np.array([2.0, -1.0, 0.0])})
    assert row.shape == (SITE_DIM,) and row.dtype == np.float32
    np.testing.assert_allclose(row[:64], atoms[2])  # max over sites
    np.testing.assert_allclose(row[64:128], atoms[0])  # min
    np.testing.assert_allclose(row[128:192], atoms.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(row[192:], [-4.5, 1.0, 2.0, 3.0])  # energy; |m| mean, max, sum


def test_chgnet_sites_features_start_with_the_crystal_feature_and_cache_apart(tmp_path: Path) -> None:
    from clac_core.data.crystal_features import cached_pretrained_features, feature_cache_dir
    from clac_core.graph.pretrained import FEATURE_DIMS, chgnet_features, feature_kind, feature_version

    s = list(_structures())
    plain = chgnet_features(s)
    rich = chgnet_features(s, kind="chgnet_sites")
    assert rich.shape == (2, FEATURE_DIMS["chgnet_sites"]) == (2, 260) and np.isfinite(rich).all()
    np.testing.assert_allclose(rich[:, :64], plain, atol=1e-5)  # what the tower reads is unchanged
    assert (rich[:, 64:128] >= rich[:, 128:192] - 1e-6).all()  # max >= min
    energy, mean_m, max_m, sum_m = rich[:, -4:].T
    assert (energy < 0).all() and (max_m >= mean_m).all()
    assert max_m[1] > 1.0 > max_m[0]  # bcc Fe is magnetic, NaCl is not (CHGNet's learned moments)
    np.testing.assert_allclose(sum_m, mean_m * np.array([len(x) for x in s]), rtol=1e-5)
    assert feature_version("chgnet_sites") != feature_version("chgnet")
    cached = cached_pretrained_features(tmp_path, s, "chgnet_sites", progress=False)
    np.testing.assert_allclose(cached, rich, atol=1e-5)
    assert feature_cache_dir(tmp_path, "chgnet_sites").name.endswith("-sites")
    from clac_core.config import CrystalEncoderConfig

    cfg = CrystalEncoderConfig(kind="cgcnn+chgnet", pretrained_sites=True)
    assert feature_kind(cfg) == "chgnet_sites"
    assert feature_kind(CrystalEncoderConfig(kind="cgcnn", pretrained_sites=True)) is None


def test_sites_input_is_standardized_by_training_statistics_and_the_tower_ignores_it() -> None:
    from types import SimpleNamespace

    from clac_core.graph import collate
    from clac_core.graph.pretrained import SITE_DIM, structures_to_graphs
    from clac_core.training.inputs import set_site_stats

    model = _model(["pretrained", "sites"])
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(50, 260)).astype(np.float32)
    train[:, -1] = 7.0  # a constant column: std 1, not a division by zero
    set_site_stats(model, SimpleNamespace(pretrained=train), np.arange(10, 50))
    mean, std = train[10:, 64:].mean(0), train[10:, 64:].std(0)
    std[-1] = 1.0
    np.testing.assert_allclose(model.aux_sites_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(model.aux_sites_std.numpy(), std, rtol=1e-5)
    feats = rng.normal(size=(2, 260)).astype(np.float32)
    batch = collate(structures_to_graphs(list(_structures()), model.cfg, features=feats))
    with torch.no_grad():
        h = model.crystal(batch)
        x = model.aux_input(h, batch)
    assert x.shape == (2, 32 + 64 + SITE_DIM) and model.aux_head[0].in_features == x.shape[1]
    want = (torch.from_numpy(feats[:, 64:]) - torch.from_numpy(mean)) / torch.from_numpy(std)
    assert torch.allclose(x[:, 96:], want, atol=1e-4)
    narrow = collate(structures_to_graphs(list(_structures()), model.cfg, features=feats[:, :64]))
    with torch.no_grad():
        assert torch.allclose(model.crystal(narrow), h)  # the tower reads the first 64 columns only
        with pytest.raises(ValueError, match="columns 64-260"):
            model.aux_input(model.crystal(narrow), narrow)
    plain = _model(["pretrained"])
    set_site_stats(plain, SimpleNamespace(pretrained=None), np.arange(3))  # no "sites" input: nothing to set
    assert not hasattr(plain, "aux_sites_mean")


def test_sites_input_needs_the_site_features() -> None:
    with pytest.raises(ValueError, match="pretrained_sites"):
        _model(["sites"], sites=False)


def test_a_model_with_the_sites_input_trains_saves_and_predicts_for_new_structures(
    data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """A full run sets the site statistics from its training crystals, stores them with the
    head, and a loaded model computes the site features of new structures itself."""
    from clac_core.cli import main
    from clac_core.data import load_data_dir, select_pairs
    from clac_core.data.crystal_features import data_dir_features
    from clac_core.graph import collate
    from clac_core.graph.pretrained import structures_to_graphs
    from clac_core.models import CLaCModel

    out = tmp_path / "run"
    sets = (
        "model.crystal.kind=cgcnn+chgnet", "model.crystal.pretrained_sites=true", "model.aux_inputs=[pretrained,sites]",
        "model.aux_properties=[density]", "loss.aux_weight=1.0", "train.epochs=1", "train.max_pairs=200",
    )  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    model = CLaCModel.from_checkpoint(out / "best", load_text_backbone=False)
    assert model.cfg.crystal.pretrained_sites and model.cfg.aux_inputs == ["pretrained", "sites"]
    data = load_data_dir(data_dir)
    feats = data_dir_features(data, "chgnet_sites", progress=False)
    train_rows = select_pairs(data.pairs, "train", max_pairs=200, seed=0)["crystal_index"].unique()  # the run's own
    np.testing.assert_allclose(model.aux_sites_mean.numpy(), feats[train_rows, 64:].mean(0), rtol=1e-4, atol=1e-5)
    pred = model.predict_properties(collate(structures_to_graphs(list(_structures()), model.cfg)))
    assert pred.shape == (2, 1) and torch.isfinite(pred).all()
    meta = json.loads((out / "best" / "config.json").read_text())
    assert meta["step"] >= 1
