"""Refit the aux property head of a trained model over its frozen crystal tower.

A run whose ``train.trainable`` is ``[aux_head]`` can change nothing but the head, so the
tower's pooled features h (C, H) cannot change either: they are computed once per crystal
(one tower pass, a few minutes on 2 cores) and the head is fitted on them like a probe, each
epoch a pass over a (C_train, H) matrix instead of over the graphs. The outputs are those of
any run: ``OUT/config.yaml``, ``metrics.csv`` (one row per epoch: train_aux, val_aux_mae),
``train_info.json``, ``best/`` (lowest validation aux error, ``train.select_by``) and
``last/``. Every stored tensor outside ``aux_head.`` is the ``train.init_from`` tensor
bit for bit, so the joint space (retrieval, zero-shot, MCQ) is the start's.

The fit is deterministic (seeded; the features are computed once) and takes minutes, so ``--resume``
simply runs it again from the start.

Shape legend: C crystals, H tower width (``crystal.out_dim``), K aux properties.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.config import ExperimentConfig, save_config

log = logging.getLogger(__name__)


# what a head refit may replace when its shape differs from the start's: the head, the aux
# statistics (one per property) that it recomputes from the training crystals anyway, and the site
# statistics (one per site feature), computed from those crystals where the start stores none
# (a crystal branch reads them too, so a refit must not move them under it)
HEAD_PARTS = ("aux_head.", "aux_mean", "aux_std", "aux_sites_")


def head_only(cfg: ExperimentConfig) -> bool:
    """Whether a run trains the aux head alone (``train.trainable: [aux_head]``)."""
    return [str(p).rstrip(".") for p in cfg.train.trainable] == ["aux_head"]


def check_head_run(cfg: ExperimentConfig, world_size: int) -> None:
    """Refuse, in plain words, a head refit that could not do what it says.

    Raises:
        ValueError: no init_from, no aux properties or aux term, or several processes.
    """
    if not cfg.train.init_from:
        raise ValueError("train.trainable [aux_head] refits the head of a trained model: set train.init_from")
    if not cfg.model.aux_properties or cfg.loss.aux_weight <= 0:
        raise ValueError("train.trainable [aux_head] needs model.aux_properties and loss.aux_weight > 0")
    if world_size > 1:
        raise ValueError("a head refit runs in one process (it takes minutes); start it without torchrun")


def tower_features(model: Any, graphs: Any, rows: np.ndarray, batch_size: int = 512) -> Any:
    """(len(rows), H) input of the aux head for the crystals ``rows``, eval mode: the pooled
    crystal-tower features, with the fixed ``model.aux_inputs`` beside them when the config names any."""
    import torch
    from tqdm.auto import tqdm

    model.eval()
    out = []
    with torch.no_grad():
        for lo in tqdm(range(0, len(rows), batch_size), desc="tower features", unit="batch", leave=False):
            batch = graphs.batch(rows[lo : lo + batch_size].tolist())
            out.append(model.aux_input(model.crystal(batch), batch).float())
    if out:
        return torch.cat(out)
    from clac_core.models.clip import aux_input_width

    return torch.zeros(0, aux_input_width(model.cfg))


def _val_mae(head: Any, h: Any, y: Any) -> float:
    """Mean absolute error (standardized units) over the known entries of ``y`` (Cv, K)."""
    import torch

    from clac_core.loss import masked_l1

    head.eval()
    with torch.no_grad():
        err = float(masked_l1(head(h), y))
    head.train()
    return err


def _fit_error(head: Any, h: Any, y: Any, kind: str) -> Any:
    """The refit's loss: the aux error of the head, or with an ensemble
    (:class:`~clac_core.models.clip.AuxEnsemble`) the mean of its members' own errors, so that
    each member is fitted on its own and their mean is an ensemble, not one wider head."""
    from clac_core.loss import aux_error

    if hasattr(head, "member_outputs"):
        outs = head.member_outputs(h)  # (M, B, K)
        return sum(aux_error(o, y, kind) for o in outs) / len(outs)
    return aux_error(head(h), y, kind)


def fit_head_epochs(cfg: ExperimentConfig, head: Any, train: tuple[Any, Any], val: tuple[Any, Any]) -> tuple[Any, list[dict]]:
    """Fit ``head`` on (features (Ct, H), standardized targets (Ct, K)); returns (the best
    head by validation aux error, the metrics rows). AdamW, linear warmup then cosine decay."""
    import torch

    from clac_core.training.optim import lr_factor

    tc = cfg.train
    torch.manual_seed(tc.seed)
    h_tr, y_tr = train
    steps_per_epoch = max(1, -(-len(h_tr) // tc.batch_size))
    total = steps_per_epoch * tc.epochs
    opt = torch.optim.AdamW(head.parameters(), lr=tc.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, tc.warmup_steps, total))
    rows: list[dict] = []
    best, best_head, step = float("inf"), copy.deepcopy(head), 0
    for epoch in range(tc.epochs):
        t0, loss_sum = time.time(), 0.0
        perm = torch.from_numpy(np.random.default_rng(tc.seed + epoch).permutation(len(h_tr)))
        for lo in range(0, len(h_tr), tc.batch_size):
            b = perm[lo : lo + tc.batch_size]
            loss = _fit_error(head, h_tr[b], y_tr[b], cfg.loss.aux_loss)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), tc.grad_clip)
            opt.step()
            sched.step()
            loss_sum, step = loss_sum + float(loss.detach()), step + 1
        err = _val_mae(head, *val)
        rows.append({
            "epoch": epoch + 1, "step": step, "train_loss": loss_sum / steps_per_epoch,
            "train_aux": loss_sum / steps_per_epoch, "lr": opt.param_groups[0]["lr"],
            "epoch_seconds": time.time() - t0, "val_pool": len(val[0]), "val_aux_mae": err,
        })  # fmt: skip
        if err < best:
            best, best_head = err, copy.deepcopy(head)
        log.info("head epoch %d: train %s %.4f, val aux MAE %.4f", epoch + 1, cfg.loss.aux_loss, rows[-1]["train_aux"], err)
    return best_head, rows


def fit_head(cfg: ExperimentConfig, data_dir: str | Path, out_dir: str | Path) -> Path:
    """Refit the aux head of ``train.init_from`` (see the module docstring); returns OUT/best."""
    import torch

    from clac_core.data import load_data_dir, select_pairs
    from clac_core.models import CLaCModel
    from clac_core.training.distributed import dist_from_env, resolve_device
    from clac_core.training.inputs import aux_targets, graph_inputs, set_site_stats
    from clac_core.training.logger import MetricsLog, hardware, metrics_columns, write_train_info
    from clac_core.training.state import save_model_only
    from clac_core.training.warmstart import warm_start

    t0, tc, dist = time.time(), cfg.train, dist_from_env()
    check_head_run(cfg, dist.world_size)
    torch.manual_seed(tc.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    data = load_data_dir(Path(data_dir), split=tc.split)
    train_pairs = select_pairs(data.pairs, "train", max_pairs=tc.max_pairs, seed=tc.seed, exclude_views=tc.exclude_views)
    names = list(cfg.model.aux_properties)
    targets, (mean, std) = aux_targets(data, train_pairs, names)  # (C, K) standardized
    device = resolve_device(tc.device)
    graphs = graph_inputs(cfg, data, dist)
    split = data.crystals["split"].to_numpy()
    known = np.isfinite(targets).any(axis=1)
    rows_tr = np.unique(train_pairs["crystal_index"].to_numpy())
    rows_tr = rows_tr[known[rows_tr]]
    rows_va = np.flatnonzero((split == "val") & known)
    if len(rows_tr) < 2 or len(rows_va) < 1:
        raise ValueError(f"{data_dir}: a head refit needs labelled train and val crystals ({len(rows_tr)} / {len(rows_va)})")
    model = CLaCModel(cfg.model, load_text_backbone=False)
    set_site_stats(model, graphs, rows_tr)  # as in the full loop: the start's stored ones win (see HEAD_PARTS)
    loaded = warm_start(model, tc.init_from, refit=HEAD_PARTS)  # a head of another shape starts fresh
    log.info("head refit from %s (%s head)", tc.init_from, "its" if loaded else "a fresh")
    model.aux_mean.copy_(torch.as_tensor(mean))
    model.aux_std.copy_(torch.as_tensor(std))
    h = tower_features(model, graphs, np.concatenate([rows_tr, rows_va]), tc.eval_batch_size)  # (Ct + Cv, H)
    y = torch.from_numpy(targets)
    train = (h[: len(rows_tr)].to(device), y[rows_tr].to(device))
    val = (h[len(rows_tr) :].to(device), y[rows_va].to(device))
    model.to(device)
    best_head, rows = fit_head_epochs(cfg, model.aux_head, train, val)
    log_ = MetricsLog(out / "metrics.csv", metrics_columns(with_terms=True))
    log_.write(rows, mode="w")
    best_epoch = 1 + int(np.argmin([r["val_aux_mae"] for r in rows]))
    extra = {"epoch": len(rows), "data_dir": str(data_dir), "split": tc.split, "head_refit_from": str(tc.init_from)}
    model.cpu()
    save_model_only(out / "last", model, step=rows[-1]["step"], extra={**extra, "metrics": rows[-1]})
    model.aux_head.load_state_dict(best_head.state_dict())
    save_model_only(out / "best", model, step=rows[best_epoch - 1]["step"], extra={**extra, "epoch": best_epoch, "metrics": rows[best_epoch - 1]})
    write_train_info(out / "train_info.json", {
        "data_dir": str(Path(data_dir).resolve()), "out_dir": str(out.resolve()), "train_pairs": len(train_pairs),
        "train_crystals": len(rows_tr), "val_pool": len(rows_va), "sampling": "crystals (head refit)",
        "epochs": tc.epochs, "steps": rows[-1]["step"], "best_epoch": best_epoch,
        "best_val_aux_mae": rows[best_epoch - 1]["val_aux_mae"], "hardware": hardware(device, 1),
        "seconds": time.time() - t0,
    })  # fmt: skip
    return out / "best"
