"""Refitting the aux property head of a trained model: ``loss.aux_loss``, ``train.trainable``,
``train.select_by`` and the frozen norm layers that must not move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

AUX = ("model.aux_properties=[density]", "loss.aux_weight=1.0")  # the fixture states no DFT values
FAST = ("train.epochs=2", "train.max_pairs=300", "train.max_eval=64")


def test_masked_l1_is_the_mean_absolute_error_of_the_known_entries() -> None:
    from clac_core.loss import masked_l1, masked_mse

    pred = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan")], [5.0, 1.0]])
    assert masked_l1(pred, target).item() == pytest.approx((1 + 2 + 2) / 3)
    assert masked_mse(pred, target).item() == pytest.approx((1 + 4 + 4) / 3)
    masked_l1(pred, target).backward()
    assert pred.grad[0, 1] == 0.0 and pred.grad[0, 0] > 0  # the unknown entry gets no gradient
    nothing = torch.full((2, 2), float("nan"))
    assert masked_l1(pred, nothing).item() == 0.0


def test_loss_reads_the_aux_error_kind() -> None:
    from clac_core.config import LossConfig
    from clac_core.loss import ClacLoss

    emb = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    ids = torch.arange(4)
    pred = torch.zeros(4, 1)
    target = torch.tensor([[2.0], [-2.0], [2.0], [float("nan")]])
    mse = ClacLoss(LossConfig(cross_weight=0.0, aux_weight=1.0))(emb, emb, 10.0, ids, aux_pred=pred, aux_target=target)
    l1 = ClacLoss(LossConfig(cross_weight=0.0, aux_weight=1.0, aux_loss="l1"))(
        emb, emb, 10.0, ids, aux_pred=pred, aux_target=target
    )
    assert float(mse["aux"]) == pytest.approx(4.0) and float(l1["aux"]) == pytest.approx(2.0)


def test_train_only_freezes_the_rest_and_refuses_a_prefix_that_names_nothing() -> None:
    from clac_core.training.freeze import frozen_norm_layers, train_only

    model = torch.nn.ModuleDict(
        {"body": torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3)), "aux_head": torch.nn.Linear(3, 1)}
    )
    assert frozen_norm_layers(model) == []  # everything trains: no norm layer is held
    assert train_only(model, ["aux_head"]) == 2
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["aux_head.weight", "aux_head.bias"]
    assert frozen_norm_layers(model) == [model["body"][1]]
    with pytest.raises(ValueError, match="names no trainable parameter.*aux_head"):
        train_only(model, ["aux_hed"])


def test_head_only_refit_moves_the_head_and_nothing_else(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """A run from a trained model with train.trainable [aux_head]: every other stored tensor,
    the crystal tower's batch-norm running statistics included, is bit-identical to the start;
    the head moved; validation logs the aux error and picks best/ by it."""
    from safetensors.numpy import load_file

    from clac_core.cli import main

    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *AUX, *FAST)) == 0
    out = tmp_path / "head"
    sets = (
        *AUX, *FAST, "train.epochs=3", f"train.init_from={start / 'best'}", "train.trainable=[aux_head]",
        "train.select_by=aux_mae", "loss.aux_loss=l1", "loss.cross_weight=0.0", "train.lr=0.01",
    )  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    before, after = (load_file(str(d / "model.safetensors")) for d in (start / "best", out / "last"))
    assert before.keys() == after.keys()
    rest = [k for k in before if not k.startswith("aux_head.")]
    assert any("running_mean" in k for k in rest)  # the tower has batch norm: the test can fail
    assert all(np.array_equal(before[k], after[k]) for k in rest), [
        k for k in rest if not np.array_equal(before[k], after[k])
    ]
    assert any(not np.array_equal(before[k], after[k]) for k in before if k.startswith("aux_head."))
    rows = train_kit.metrics(out)
    maes = [float(r["val_aux_mae"]) for r in rows]
    assert len(maes) == 3 and all(np.isfinite(maes))
    assert len({r["val_mean_r10"] for r in rows}) == 1  # embeddings unchanged: same retrieval
    import json

    best_epoch = json.loads((out / "best" / "config.json").read_text())["extra"]["epoch"]
    assert best_epoch == 1 + int(np.argmin(maes))


def test_select_by_aux_mae_without_a_head_is_refused(data_dir: Path, tmp_path: Path, train_kit) -> None:
    from clac_core.cli import main

    with pytest.raises(ValueError, match="select_by aux_mae needs an aux head"):
        main(train_kit.args(data_dir, tmp_path / "run", *FAST, "train.epochs=1", "train.select_by=aux_mae"))


def test_trainable_subset_through_the_trainer_holds_the_frozen_tower(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """train.trainable other than the head alone runs the full loop: the frozen crystal tower,
    batch-norm running statistics included, comes out bit-identical; the named part moved."""
    from safetensors.numpy import load_file

    from clac_core.cli import main

    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *FAST)) == 0
    out = tmp_path / "proj"
    sets = (*FAST, "train.epochs=1", f"train.init_from={start / 'best'}", "train.trainable=[crystal_proj]")
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    before, after = (load_file(str(d / "model.safetensors")) for d in (start / "best", out / "last"))
    tower = [k for k in before if k.startswith("crystal.")]
    assert any("running_mean" in k for k in tower)
    assert all(np.array_equal(before[k], after[k]) for k in tower)
    assert all(np.array_equal(before[k], after[k]) for k in before if k.startswith("text_proj."))
    assert any(not np.array_equal(before[k], after[k]) for k in before if k.startswith("crystal_proj."))


def test_head_refit_of_another_shape_starts_fresh_and_loads_back(data_dir: Path, tmp_path: Path, train_kit) -> None:
    """model.aux_hidden / aux_layers: a deeper, wider head than the start's is fitted from a
    fresh initialization; the saved model loads with that head and the start's tower."""
    from safetensors.numpy import load_file

    from clac_core.cli import main
    from clac_core.models import CLaCModel

    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *AUX, *FAST)) == 0
    out = tmp_path / "deep"
    sets = (
        *AUX, *FAST, f"train.init_from={start / 'best'}", "train.trainable=[aux_head]", "train.select_by=aux_mae",
        "model.aux_hidden=48", "model.aux_layers=3",
    )  # fmt: skip
    assert main(train_kit.args(data_dir, out, *sets)) == 0
    model = CLaCModel.from_checkpoint(out / "best")
    linears = [m for m in model.aux_head if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [48, 48, 1]
    before, after = (load_file(str(d / "model.safetensors")) for d in (start / "best", out / "best"))
    assert all(np.array_equal(before[k], after[k]) for k in before if not k.startswith("aux_head."))
    with pytest.raises(ValueError, match="at least 2"):
        main(train_kit.args(data_dir, tmp_path / "bad", *sets[:-1], "model.aux_layers=1"))


def test_aux_head_ablation_script_writes_one_line_per_variant(data_dir: Path, tmp_path: Path, train_kit, caplog) -> None:
    import importlib.util
    import json

    from clac_core.cli import main

    start = tmp_path / "start"
    assert main(train_kit.args(data_dir, start, *AUX, *FAST)) == 0
    spec = importlib.util.spec_from_file_location("ablate_aux_head", train_kit.repo / "scripts" / "ablate_aux_head.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "abl.jsonl"
    sets = [x for s in (*AUX, "train.epochs=2", "train.batch_size=8") for x in ("--set", s)]
    args = ["--config", str(train_kit.tiny), "--data", str(data_dir), "--init", str(start / "best"), "--out", str(out)]
    assert mod.main([*args, *sets, "--variants", "l1_same_head", "mse_wide3", "l1_wide3", "l1_wide3_comp"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["variant"] for x in lines] == ["mean_predictor", "start", "l1_same_head", "mse_wide3", "l1_wide3", "l1_wide3_comp"]
    lines = lines[1:]
    assert lines[3]["val"] != lines[4]["val"]  # the composition input: another input, another fit
    with pytest.raises(ValueError, match="gives no aux input"):  # the tiny tower is CGCNN alone
        mod.main([*args, *sets, "--variants", "l1_wide3_pre"])
    # other properties than the start's: its head is not scored, the fits start fresh
    more = [*sets, "--set", "model.aux_properties=[density,band_gap]"]
    assert mod.main([*args, *more, "--variants", "l1_same_head"]) == 0
    other = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["variant"] for x in other] == ["mean_predictor", "l1_same_head"]
    assert set(other[1]["val"]) == {"density", "band_gap"}
    assert other[1]["val"]["band_gap"] is None  # the fixture states no gap: no error to report
    assert "aux property band_gap: no training crystal states it" in caplog.text
    for x in lines:
        assert set(x["val"]) == {"density"} and x["val"]["density"] >= 0.0
    assert lines[1]["best_epoch"] in (1, 2)
    # a start whose own head reads the composition too is scored on its own input columns
    comp = tmp_path / "start_comp"
    assert main(train_kit.args(data_dir, comp, *AUX, *FAST, "model.aux_inputs=[composition]")) == 0
    args[args.index("--init") + 1] = str(comp / "best")
    assert mod.main([*args, *sets, "--variants", "l1_same_head"]) == 0
    scored = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["variant"] for x in scored] == ["mean_predictor", "start", "l1_same_head"]
    assert scored[1]["val"]["density"] >= 0.0 and scored[1]["val"] != scored[0]["val"]
