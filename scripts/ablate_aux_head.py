"""Ablation of the stage-4 aux-head refit: error kind x head shape over one frozen tower.

    python scripts/ablate_aux_head.py --config configs/default_stage4.yaml --data data/full3 \
        --init runs/default_stage3/best --out runs/aux_head_ablation.jsonl

The tower is frozen in every variant, so its pooled features are computed once for the train,
val and test crystals of the chemical-system split; each variant fits a head on them with
:func:`clac_core.training.head.fit_head_epochs` (the function ``clac train`` uses), picks its
epoch by the validation error, and is scored in physical units on val and test (one JSON line
per variant, plus the start's own head). The test split of this ablation is a development set.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

L1_WIDE3 = ["loss.aux_loss=l1", "model.aux_hidden=512", "model.aux_layers=3"]
BOTH = "model.aux_inputs=[composition,pretrained]"
ALL3 = "model.aux_inputs=[composition,pretrained,sites]"
W256X3 = ["loss.aux_loss=l1", "model.aux_hidden=256", "model.aux_layers=3"]
VARIANTS = {  # name -> config overrides on top of --config
    "mse_same_head": ["loss.aux_loss=mse", "model.aux_hidden=0", "model.aux_layers=2"],
    "l1_same_head": ["loss.aux_loss=l1", "model.aux_hidden=0", "model.aux_layers=2"],
    "mse_wide3": ["loss.aux_loss=mse", "model.aux_hidden=512", "model.aux_layers=3"],
    "l1_wide3": L1_WIDE3,
    # stage 4 revised: the same head reading fixed functions of the crystal beside the tower (model.aux_inputs)
    "l1_wide3_comp": [*L1_WIDE3, "model.aux_inputs=[composition]"],
    "l1_wide3_pre": [*L1_WIDE3, "model.aux_inputs=[pretrained]"],
    "l1_wide3_comp_pre": [*L1_WIDE3, BOTH],
    # the same with a longer fit (the 60-epoch fits chose epochs 55-58) and a wider head
    "l1_wide3_comp_pre_e150": [*L1_WIDE3, BOTH, "train.epochs=150"],
    "l1_w1024x3_comp_pre_e150": ["loss.aux_loss=l1", "model.aux_hidden=1024", "model.aux_layers=3", BOTH, "train.epochs=150"],
    # a deep ensemble of such heads, each fitted on its own error, their mean the prediction;
    # the narrower members keep the shipped assets within their 60 MB (a 512-wide member is 2 MB)
    "l1_wide3_comp_pre_x5": [*L1_WIDE3, BOTH, "model.aux_members=5"],
    "l1_w256x3_comp_pre_x4": [*W256X3, BOTH, "model.aux_members=4"],
    "l1_w256x3_comp_pre_x5": [*W256X3, BOTH, "model.aux_members=5"],
    # stage 4 sites: the shipped head also reading CHGNet's site-level outputs (needs
    # --set model.crystal.pretrained_sites=true, i.e. the "chgnet_sites" feature cache)
    "l1_w256x3_comp_pre_sites_x4": [*W256X3, ALL3, "model.aux_members=4"],
    "l1_w256x3_comp_pre_sites": [*W256X3, ALL3],
    "l1_w256x3_comp_pre": [*W256X3, BOTH],
}
ALL_INPUTS = ["composition", "pretrained", "sites"]  # computed once; a variant reads its own columns


def physical_mae(model, head, h, y, names) -> dict[str, float]:
    """Property -> MAE in physical units of ``head`` on features ``h`` against targets ``y``."""
    import torch

    from clac_core.data.targets import inverse_aux_transform

    if isinstance(head, torch.nn.Module):
        head.eval()
    with torch.no_grad():
        z = head(h).numpy()
    mean, std = model.aux_mean.numpy(), model.aux_std.numpy()
    p = inverse_aux_transform(z * std + mean, names)
    t = inverse_aux_transform(y * std + mean, names)
    err = np.abs(p - t)  # (C, K), NaN where the target is unknown; None where none is known
    return {n: round(float(np.nanmean(err[:, k])), 4) if np.isfinite(err[:, k]).any() else None for k, n in enumerate(names)}


def columns(h_all, full_cfg, inputs: list[str]):
    """The aux-head input of a variant reading ``inputs``, cut from features computed with every
    input the tower gives (``full_cfg.aux_inputs``, in that order): the tower's columns, then
    each named input's."""
    import torch

    from clac_core.models.clip import aux_input_width

    widths, lo = {}, full_cfg.crystal.out_dim
    for name in full_cfg.aux_inputs:
        one = copy.deepcopy(full_cfg)
        one.aux_inputs = [name]
        w = aux_input_width(one) - full_cfg.crystal.out_dim
        widths[name], lo = (lo, lo + w), lo + w
    missing = sorted(set(inputs) - set(widths))
    if missing:
        raise ValueError(f"this tower gives no aux input {missing}")
    parts = [h_all[:, : full_cfg.crystal.out_dim]] + [h_all[:, slice(*widths[n])] for n in inputs]
    return torch.cat(parts, dim=-1)


def main(argv: list[str] | None = None) -> int:
    import torch

    from clac_core.config import apply_overrides, load_config
    from clac_core.data import load_data_dir, select_pairs
    from clac_core.models import CLaCModel
    from clac_core.training.distributed import dist_from_env
    from clac_core.training.head import HEAD_PARTS, fit_head_epochs, tower_features
    from clac_core.training.inputs import aux_targets, graph_inputs, set_site_stats
    from clac_core.training.warmstart import warm_start

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=REPO / "configs" / "default_stage4.yaml")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--init", type=Path, required=True, help="the checkpoint whose tower is frozen")
    p.add_argument("--out", type=Path, required=True, help="JSON lines written here")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more config overrides")
    a = p.parse_args(argv)
    base = load_config(a.config, [f"train.init_from={a.init}", *a.set])
    data = load_data_dir(a.data, split=base.train.split)
    train_pairs = select_pairs(data.pairs, "train", max_pairs=0, seed=base.train.seed)
    names = list(base.model.aux_properties)
    targets, (mean, std) = aux_targets(data, train_pairs, names)
    from clac_core.graph.pretrained import feature_kind

    full = copy.deepcopy(base.model)  # every input this tower can give ("pretrained" needs CHGNet features)
    kind = feature_kind(full.crystal)
    gives = {"composition": True, "pretrained": kind is not None, "sites": kind == "chgnet_sites"}
    full.aux_inputs = [n for n in ALL_INPUTS if gives[n]]
    model = CLaCModel(full, load_text_backbone=False)
    warm_start(model, a.init, refit=HEAD_PARTS)
    model.aux_mean.copy_(torch.as_tensor(mean))
    model.aux_std.copy_(torch.as_tensor(std))
    split = data.crystals["split"].to_numpy()
    known = np.isfinite(targets).any(axis=1)
    rows = {s: np.flatnonzero((split == s) & known) for s in ("train", "val", "test")}
    rows["train"] = np.intersect1d(rows["train"], train_pairs["crystal_index"].to_numpy())
    graphs = graph_inputs(base, data, dist_from_env())
    set_site_stats(model, graphs, rows["train"])
    h_all = {s: tower_features(model, graphs, r) for s, r in rows.items()}  # [tower, composition, pretrained, sites]
    y = {s: torch.from_numpy(targets[r]) for s, r in rows.items()}
    start = CLaCModel.from_checkpoint(a.init)  # the start's own head, scored on the same features
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w") as fh:
        zero = lambda x: torch.zeros(len(x), len(names))  # noqa: E731 - the training mean, standardized
        heads = {"mean_predictor": (zero, h_all)}
        if list(start.cfg.aux_properties) == names:  # the start's own head, on its own inputs, where it predicts these properties
            heads["start"] = (start.aux_head, {s: columns(x, full, list(start.cfg.aux_inputs)) for s, x in h_all.items()})
        for label, (head, feats) in heads.items():
            line = {"variant": label, **{s: physical_mae(model, head, feats[s], y[s].numpy(), names) for s in ("val", "test")}}
            fh.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)
        for name in a.variants:
            cfg = apply_overrides(copy.deepcopy(base), VARIANTS[name])
            x = {s: columns(h_all[s], full, cfg.model.aux_inputs) for s in h_all}
            fresh = CLaCModel(cfg.model, load_text_backbone=False)
            warm_start(fresh, a.init, refit=HEAD_PARTS)  # the start's head too where the shape is the same
            best, epochs = fit_head_epochs(cfg, fresh.aux_head, (x["train"], y["train"]), (x["val"], y["val"]))
            line = {
                "variant": name,
                "overrides": VARIANTS[name],
                "best_epoch": 1 + int(np.argmin([r["val_aux_mae"] for r in epochs])),
                **{s: physical_mae(model, best, x[s], y[s].numpy(), names) for s in ("val", "test")},
            }
            fh.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
