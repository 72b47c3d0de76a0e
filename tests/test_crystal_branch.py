"""The crystal branch (``model.crystal_branch``): a learned residual on the crystal side of the
joint space over fixed inputs (composition, CHGNet site outputs) or the model's own aux-head
predictions with their number code ("predicted"). It starts at zero, so a warm
start from a model without it begins exactly at that model, and only it trains when
``train.trainable: [crystal_branch]``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def _cfg(branch: list[str]):
    from clac_core.config import ModelConfig

    cfg = ModelConfig()
    cfg.crystal.kind, cfg.crystal.hidden_dim, cfg.crystal.out_dim, cfg.embed_dim = "cgcnn+chgnet", 16, 32, 24
    cfg.proj_hidden = 20
    cfg.crystal.pretrained_sites = True
    cfg.crystal_branch = branch
    return cfg


def _batch(cfg, feats: np.ndarray):
    from pymatgen.core import Lattice, Structure

    from clac_core.graph import collate
    from clac_core.graph.pretrained import structures_to_graphs

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    fe = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return collate(structures_to_graphs([nacl, fe], cfg, features=feats))


def test_a_new_branch_starts_at_zero_and_then_reads_its_inputs(tmp_path: Path) -> None:
    from clac_core.graph import element_features
    from clac_core.graph.pretrained import SITE_DIM
    from clac_core.models import save_checkpoint
    from clac_core.models.clip import CLaCModel
    from clac_core.training.warmstart import warm_start

    torch.manual_seed(0)
    plain = CLaCModel(_cfg([]), load_text_backbone=False).eval()
    assert plain.crystal_branch is None
    save_checkpoint(plain, tmp_path / "plain", step=0)
    torch.manual_seed(1)
    model = CLaCModel(_cfg(["composition", "sites"]), load_text_backbone=False).eval()
    assert model.crystal_branch.net[0].in_features == int(element_features().shape[1]) + SITE_DIM
    warm_start(model, tmp_path / "plain")  # the branch and the site statistics are new: allowed
    feats = np.random.default_rng(0).normal(size=(2, 260)).astype(np.float32)
    batch = _batch(model.cfg, feats)
    with torch.no_grad():
        assert torch.allclose(model.encode_crystal(batch), plain.encode_crystal(batch), atol=1e-6)
        torch.nn.init.normal_(model.crystal_branch.net[2].weight)  # a trained branch moves the embedding
        moved = model.encode_crystal(batch)
        assert not torch.allclose(moved, plain.encode_crystal(batch), atol=1e-3)
        other = feats.copy()
        other[:, 64:] += 1.0  # other site outputs, same tower input: another embedding
        assert not torch.allclose(model.encode_crystal(_batch(model.cfg, other)), moved, atol=1e-3)
        assert torch.allclose(model.crystal(_batch(model.cfg, other)), model.crystal(batch))


def test_branch_inputs_are_checked_with_the_setting_named() -> None:
    from clac_core.models.clip import CLaCModel

    with pytest.raises(ValueError, match="model.crystal_branch"):
        CLaCModel(_cfg(["spin"]), load_text_backbone=False)
    cfg = _cfg(["sites"])
    cfg.crystal.pretrained_sites = False
    with pytest.raises(ValueError, match="model.crystal_branch 'sites'.*pretrained_sites"):
        CLaCModel(cfg, load_text_backbone=False)


def test_a_branch_only_run_changes_nothing_but_the_branch(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """Warm start from a model without a branch, train only the branch: every other stored
    tensor is the start's bit for bit, the branch learned something, and the site statistics
    are the training crystals'."""
    from safetensors.torch import load_file

    from clac_core.cli import main

    common = ("model.crystal.kind=cgcnn+chgnet", "model.crystal.pretrained_sites=true", "train.max_pairs=200")
    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *common, "train.epochs=1")) == 0
    out = tmp_path / "branch"
    sets = (*common, "model.crystal_branch=[composition,sites]", "train.trainable=[crystal_branch]",
            f"train.init_from={start / 'best'}", "train.epochs=1")  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    before = load_file(str(start / "best" / "model.safetensors"))
    after = load_file(str(out / "best" / "model.safetensors"))
    new = {k for k in after if k.startswith(("crystal_branch.", "aux_sites_"))}
    assert set(after) - set(before) == new and new
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert after["crystal_branch.net.2.weight"].abs().sum() > 0
    assert after["aux_sites_std"].min() > 0 and not torch.all(after["aux_sites_mean"] == 0)
    # a head refit over the branch model (on other training pairs) keeps the site statistics the
    # branch was trained with, so the embedding stays the start's: only the head is new
    refit = tmp_path / "refit"
    sets = ("model.crystal.kind=cgcnn+chgnet", "model.crystal.pretrained_sites=true", "train.max_pairs=300",
            "model.crystal_branch=[composition,sites]", "model.aux_properties=[density]", "model.aux_inputs=[sites]",
            "loss.aux_weight=1.0", "train.trainable=[aux_head]", f"train.init_from={out / 'best'}", "train.epochs=2")  # fmt: skip
    assert main(train_kit.args(data_dir, refit, *sets)) == 0
    head = load_file(str(refit / "best" / "model.safetensors"))
    assert {k for k in head if k not in after} == {k for k in head if k.startswith(("aux_head.", "aux_mean", "aux_std"))}
    for k, v in after.items():
        assert torch.equal(v, head[k]), k


def test_the_predicted_code_is_the_code_of_a_text_stating_that_value() -> None:
    """A crystal predicted at 1.5 eV and 5.2 g/cm³ carries the number code the text tower gives
    "band gap of 1.5 eV, density 5.2 g/cm3"; a property the head does not predict is all zero."""
    from clac_core.models.extras import predicted_code
    from clac_core.query.numbers import FEATURE_DIM, GRIDS, quantity_features

    text = quantity_features(["band gap of 1.5 eV, density 5.2 g/cm3"])[0]  # (Q,)
    code = predicted_code(torch.tensor([[5.2, 1.5]], dtype=torch.float64), ["density", "band_gap"])[0].numpy()
    assert code.shape == (FEATURE_DIM,)
    np.testing.assert_allclose(code, text, atol=1e-6)
    offsets = np.cumsum([0] + [1 + g.n for g in GRIDS.values()])
    mag = list(GRIDS).index("total_magnetization")
    assert not code[offsets[mag] : offsets[mag + 1]].any()
    far = predicted_code(torch.tensor([[40.0, -1.0]]), ["density", "band_gap"])[0].numpy()  # off both grids
    dens = list(GRIDS).index("density")
    assert far[offsets[dens + 1] - 1] == pytest.approx(1.0) and far[offsets[0] + 1] == pytest.approx(1.0)


def _predicted_model(noise: float = 0.0):
    from clac_core.models.clip import CLaCModel

    cfg = _cfg(["predicted"])
    cfg.aux_properties = ["band_gap", "density"]
    cfg.predicted_noise = noise
    torch.manual_seed(0)
    return CLaCModel(cfg, load_text_backbone=False)


def test_a_predicted_branch_reads_the_models_own_predictions() -> None:
    from clac_core.models.extras import predicted_input

    model = _predicted_model().eval()
    assert model.crystal_branch.net[0].in_features == 2 + 110
    batch = _batch(model.cfg, np.random.default_rng(0).normal(size=(2, 260)).astype(np.float32))
    with torch.no_grad():
        torch.nn.init.normal_(model.crystal_branch.net[2].weight)
        emb, aux = model.encode_crystal_aux(batch)
        assert torch.equal(model.encode_crystal(batch), emb)  # one path, with or without the head's output
        model.aux_head[-1].bias.add_(3.0)  # other predictions, same tower: another embedding
        moved, aux2 = model.encode_crystal_aux(batch)
        assert not torch.allclose(aux2, aux) and not torch.allclose(moved, emb, atol=1e-3)
    z = torch.zeros(2, 2)
    noisy = _predicted_model(noise=0.5)
    noisy.train()
    assert not torch.equal(predicted_input(noisy, z), predicted_input(noisy, z))  # training: noise
    noisy.eval()
    assert torch.equal(predicted_input(noisy, z), predicted_input(noisy, z))  # inference: none
    assert torch.equal(predicted_input(noisy, z)[:, :2], z)


def test_predicted_is_a_branch_input_only_and_needs_a_head() -> None:
    from clac_core.models.clip import CLaCModel

    with pytest.raises(ValueError, match="model.crystal_branch 'predicted' needs an aux head"):
        CLaCModel(_cfg(["predicted"]), load_text_backbone=False)
    cfg = _cfg([])
    cfg.aux_properties, cfg.aux_inputs = ["band_gap"], ["predicted"]
    with pytest.raises(ValueError, match="model.aux_inputs"):
        CLaCModel(cfg, load_text_backbone=False)


def test_a_predicted_branch_run_trains_only_the_branch_over_a_head(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """Stage 8's recipe in small: a run with an aux head, then a branch over its predictions
    trained alone. Only the branch is new and learned; the head and everything else are the
    start's, so the predictions the branch reads are the start's."""
    from safetensors.torch import load_file

    from clac_core.cli import main

    head = ("model.aux_properties=[band_gap,density]", "loss.aux_weight=1.0", "train.max_pairs=200")
    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *head, "train.epochs=1")) == 0
    out = tmp_path / "predicted"
    sets = (*head, "model.crystal_branch=[predicted]", "model.predicted_noise=0.14", "loss.aux_weight=0.0",
            "train.trainable=[crystal_branch]", f"train.init_from={start / 'best'}", "train.epochs=1")  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    before = load_file(str(start / "best" / "model.safetensors"))
    after = load_file(str(out / "best" / "model.safetensors"))
    assert {k for k in after if k not in before} == {k for k in after if k.startswith("crystal_branch.")}
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert after["crystal_branch.net.2.weight"].abs().sum() > 0


def test_a_branch_ensemble_is_the_mean_of_its_members(tmp_path: Path) -> None:
    """Two branch runs of one start merge into one model whose embedding (before normalization)
    is the start's projection plus the mean of the two branches' outputs; runs that differ
    outside the branch are refused."""
    from clac_core.models import save_checkpoint
    from clac_core.models.checkpoint import CheckpointError
    from clac_core.models.clip import CLaCModel
    from clac_core.models.ensemble import merge_branches

    torch.manual_seed(0)
    base = CLaCModel(_cfg(["composition", "sites"]), load_text_backbone=False).eval()
    members = []
    for seed in (1, 2):
        m = CLaCModel(_cfg(["composition", "sites"]), load_text_backbone=False).eval()
        m.load_state_dict(base.state_dict())
        torch.manual_seed(seed)
        for p in m.crystal_branch.parameters():
            torch.nn.init.normal_(p)
        save_checkpoint(m, tmp_path / f"m{seed}", step=0)
        members.append(m)
    merged_path = merge_branches([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")
    merged = CLaCModel.from_checkpoint(merged_path, load_text_backbone=False).eval()
    assert merged.cfg.branch_hidden == 2 * 20 and merged.crystal_branch.net[0].out_features == 40
    batch = _batch(base.cfg, np.random.default_rng(0).normal(size=(2, 260)).astype(np.float32))
    with torch.no_grad():
        h = base.crystal(batch)
        want = (members[0].crystal_embedding(h, batch) + members[1].crystal_embedding(h, batch)) / 2
        assert torch.allclose(merged.crystal_embedding(merged.crystal(batch), batch), want, atol=1e-5)
        assert not torch.allclose(members[0].crystal_embedding(h, batch), want, atol=1e-3)
    with torch.no_grad():
        members[1].crystal_proj[0].weight.add_(1.0)  # another start: refused
    save_checkpoint(members[1], tmp_path / "other", step=0)
    with pytest.raises(CheckpointError, match="differs from .* outside the crystal branch"):
        merge_branches([tmp_path / "m1", tmp_path / "other"], tmp_path / "bad")
    with pytest.raises(CheckpointError, match="at least two"):
        merge_branches([tmp_path / "m1"], tmp_path / "bad")
