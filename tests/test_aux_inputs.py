"""``model.aux_inputs``: what the aux property head reads beside the tower's pooled features
(the composition histogram of the element table, the standardized frozen CHGNet feature)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

AUX = ("model.aux_properties=[density]", "loss.aux_weight=1.0")
FAST = ("train.epochs=2", "train.max_pairs=300", "train.max_eval=64")


def _structures():
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    gaas = Structure.from_spacegroup("F-43m", Lattice.cubic(5.65), ["Ga", "As"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    return nacl, gaas


def _model(kind: str, inputs: list[str]):
    from clac_core.config import ModelConfig
    from clac_core.models.clip import CLaCModel

    cfg = ModelConfig()
    cfg.crystal.kind, cfg.crystal.hidden_dim, cfg.crystal.out_dim, cfg.embed_dim = kind, 16, 32, 24
    cfg.aux_properties, cfg.aux_inputs = ["band_gap", "density"], inputs
    torch.manual_seed(0)
    return CLaCModel(cfg, load_text_backbone=False).eval()


def test_composition_input_is_the_atom_fraction_histogram_of_the_element_table() -> None:
    """The extra columns of a crystal are the mean element-table row over its atoms: the same
    for a supercell, each one-hot block summing to 1 where every atom has that property."""
    from clac_core.graph import collate, element_features, structure_to_graph

    model = _model("cgcnn", ["composition"])
    nacl, gaas = _structures()
    big = nacl.copy()
    big.make_supercell([2, 1, 1])
    batch = collate([structure_to_graph(s, model.cfg.graph) for s in (nacl, gaas, big)])
    with torch.no_grad():
        h = model.crystal(batch)
        x = model.aux_input(h, batch)
    table = element_features()
    assert x.shape == (3, 32 + table.shape[1]) and model.aux_head[0].in_features == x.shape[1]
    assert torch.equal(x[:, :32], h)  # the tower's features come first, unchanged
    comp = x[:, 32:]
    assert torch.allclose(comp[0], (table[11] + table[17]) / 2)  # Na, Cl
    assert torch.allclose(comp[0], comp[2])  # a supercell has the same composition
    assert not torch.allclose(comp[0], comp[1])
    period = slice(18, 25)  # ELEMENT_FEATURE_BLOCKS: group (18), then period (7)
    assert torch.allclose(comp[:, period].sum(dim=1), torch.ones(3))
    preds = model.predict_properties(batch)
    assert preds.shape == (3, 2) and torch.isfinite(preds).all()


def test_pretrained_input_is_standardized_by_the_towers_own_batch_norm() -> None:
    from clac_core.graph import collate
    from clac_core.graph.pretrained import structures_to_graphs

    model = _model("cgcnn+chgnet", ["pretrained", "composition"])
    norm = model.crystal.features.net[0]
    with torch.no_grad():  # statistics a trained tower would have
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.uniform_(0.5, 1.5)
    feats = np.random.default_rng(0).normal(size=(2, 64)).astype(np.float32)
    graphs = structures_to_graphs(list(_structures()), model.cfg, features=feats)
    batch = collate(graphs)
    for mode in (True, False):  # the same in train mode: running statistics, never the batch's
        model.train(mode)
        with torch.no_grad():
            h = model.crystal(batch)  # in train mode this moves the running statistics
            want = (torch.from_numpy(feats) - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
            want = want * norm.weight + norm.bias
            x = model.aux_input(h, batch)
        assert x.shape[1] == 32 + 64 + element_width()
        assert torch.allclose(x[:, 32:96], want, atol=1e-5)  # in the order the config names them


def element_width() -> int:
    from clac_core.graph import element_features

    return int(element_features().shape[1])


def test_unknown_repeated_or_impossible_aux_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="aux_inputs"):
        _model("cgcnn", ["formula"])
    with pytest.raises(ValueError, match="at most once"):
        _model("cgcnn", ["composition", "composition"])
    with pytest.raises(ValueError, match="needs a tower that reads pretrained features"):
        _model("cgcnn", ["pretrained"])


def test_aux_ensemble_predicts_the_mean_of_its_members_and_fits_each_on_its_own_error() -> None:
    from clac_core.config import ModelConfig
    from clac_core.models.clip import AuxEnsemble, CLaCModel
    from clac_core.training.head import _fit_error

    cfg = ModelConfig()
    cfg.crystal.kind, cfg.crystal.hidden_dim, cfg.crystal.out_dim, cfg.embed_dim = "cgcnn", 16, 32, 24
    cfg.aux_properties, cfg.aux_members = ["band_gap", "density"], 3
    torch.manual_seed(0)
    head = CLaCModel(cfg, load_text_backbone=False).aux_head
    assert isinstance(head, AuxEnsemble) and len(head.members) == 3
    x, y = torch.randn(5, 32), torch.randn(5, 2)
    outs = head.member_outputs(x)
    assert outs.shape == (3, 5, 2) and not torch.allclose(outs[0], outs[1])  # initialised apart
    assert torch.allclose(head(x), outs.mean(dim=0))
    loss = _fit_error(head, x, y, "l1")
    assert torch.allclose(loss, torch.stack([(o - y).abs().mean() for o in outs]).mean())
    at_mean = outs.mean(dim=0).detach()  # the mean hits these targets, no member does
    with torch.no_grad():
        assert float((head(x) - at_mean).abs().mean()) < 1e-6 < float(_fit_error(head, x, at_mean, "l1"))
    loss.backward()
    assert all(m[0].weight.grad is not None and m[0].weight.grad.abs().sum() > 0 for m in head.members)
    cfg.aux_members = 0
    with pytest.raises(ValueError, match="aux_members"):
        CLaCModel(cfg, load_text_backbone=False)


def test_head_refit_with_composition_input_loads_back_and_keeps_the_tower(
    data_dir: Path, tmp_path: Path, train_kit
) -> None:
    """A head refit that adds the composition input (an ensemble of two heads) starts a fresh
    head (its input is wider), saves a model that loads with it and predicts, and leaves every
    other tensor as it was."""
    from safetensors.numpy import load_file

    from clac_core.cli import main
    from clac_core.graph import collate, structure_to_graph
    from clac_core.models import CLaCModel

    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *AUX, *FAST)) == 0
    out = tmp_path / "comp"
    sets = (
        *AUX, *FAST, f"train.init_from={start / 'best'}", "train.trainable=[aux_head]", "train.select_by=aux_mae",
        "model.aux_inputs=[composition]", "loss.aux_loss=l1", "model.aux_members=2",
        "model.aux_properties=[density,bulk_modulus]",  # one more property: new aux statistics too
    )  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    model = CLaCModel.from_checkpoint(out / "best")
    assert model.cfg.aux_inputs == ["composition"] and len(model.aux_head.members) == 2
    assert model.aux_head.members[1][0].in_features == model.cfg.crystal.out_dim + element_width()
    before, after = (load_file(str(d / "model.safetensors")) for d in (start / "best", out / "best"))
    assert "aux_elements" not in after  # the packaged table, not a stored tensor
    assert {k.split(".")[2] for k in after if k.startswith("aux_head.")} == {"0", "1"}
    assert before["aux_mean"].shape == (1,) and after["aux_mean"].shape == after["aux_std"].shape == (2,)
    assert all(np.array_equal(before[k], after[k]) for k in before if not k.startswith(("aux_head.", "aux_mean", "aux_std")))
    batch = collate([structure_to_graph(s, model.cfg.graph) for s in _structures()])
    pred = model.predict_properties(batch)
    assert pred.shape == (2, 2) and torch.isfinite(pred).all()


def test_elastic_moduli_are_regressed_as_log1p_like_matbench_log_kvrh() -> None:
    from clac_core.data import inverse_aux_transform

    moduli = np.array([[4.0, 100.0, 401.0]]).T  # GPa, the range of mp_37k's bulk moduli
    for name in ("bulk_modulus", "shear_modulus"):
        back = inverse_aux_transform(np.log1p(moduli), [name])
        assert np.allclose(back, moduli)
    assert np.allclose(inverse_aux_transform(np.log1p(moduli), ["density"]), np.log1p(moduli))  # untouched
