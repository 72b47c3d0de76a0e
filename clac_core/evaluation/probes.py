"""Property probes on frozen crystal embeddings, against a mean predictor and a supervised encoder.

Train/test split grouped by reduced formula (seeded, 25 % test); RidgeCV and kNN (k=5)
regression on the model's and the random-init twin's embeddings; a supervised crystal encoder
of the same architecture + linear head trained from scratch on the same training rows.
Shape legend: N crystals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from clac_core.evaluation.context import EvalContext
from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.embeddings import Embeddings

PROBE_TEST_FRACTION = 0.25
PROBE_MIN_ROWS = 20
PROBE_KNN = 5


def grouped_split(formulas: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import GroupShuffleSplit

    if len(set(formulas)) < 2:
        # One composition only (e.g. carbon_24: every row is "C"): a formula-grouped split is
        # impossible, so rows are split at random; polymorphs of one formula, not new chemistry.
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(formulas))
        n_test = max(1, int(round(PROBE_TEST_FRACTION * len(formulas))))
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    gss = GroupShuffleSplit(n_splits=1, test_size=PROBE_TEST_FRACTION, random_state=seed)
    tr, te = next(gss.split(np.zeros(len(formulas)), groups=list(formulas)))
    return np.sort(tr), np.sort(te)


def train_supervised(
    model_cfg: Any,
    graphs: Sequence[Any],
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    *,
    epochs: int,
    seed: int,
    device: Any = "cpu",
    lr: float = 1e-3,
    batch_size: int = 32,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the model's crystal-encoder architecture + a linear head from scratch.

    Args:
        model_cfg: :class:`~clac_core.config.ModelConfig` (its crystal and graph parts).
        graphs: all N graphs; y: (N,) targets.
        train_idx / test_idx: row indices.
        epochs: fixed budget in passes over the training rows.

    Returns:
        (predictions for test_idx (n_test,), budget info).
    """
    import torch
    from torch import nn

    from clac_core.models import build_crystal_encoder

    t0 = time.time()
    torch.manual_seed(seed)
    enc = build_crystal_encoder(model_cfg.crystal, model_cfg.graph)
    net = nn.Sequential(enc, nn.Linear(model_cfg.crystal.out_dim, 1)).to(device)
    mu, sd = float(y[train_idx].mean()), float(y[train_idx].std() or 1.0)
    target = torch.tensor((y - mu) / sd, dtype=torch.float32)
    steps = _fit(
        net, graphs, target, train_idx, epochs=epochs, seed=seed, device=device, lr=lr, batch_size=batch_size
    )
    p = _predict(net, graphs, test_idx, device) * sd + mu
    info = {
        "epochs": epochs,
        "steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "optimizer": "Adam",
        "loss": "MSE on standardized target",
        "seconds": time.time() - t0,
    }
    return p, info


def _fit(
    net: Any,
    graphs: Sequence[Any],
    target: Any,
    train_idx: np.ndarray,
    *,
    epochs: int,
    seed: int,
    device: Any,
    lr: float,
    batch_size: int,
) -> int:
    """Adam on MSE for ``epochs`` shuffled passes over ``train_idx``; returns the step count."""
    import torch

    from clac_core.graph import collate

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 17])
    steps = 0
    for _ in range(epochs):
        net.train()
        order = rng.permutation(train_idx)
        for i in range(0, len(order), batch_size):
            b = order[i : i + batch_size]
            if len(b) < 2:  # batch norm needs two samples
                continue
            pred = net(collate([graphs[j] for j in b]).to(device)).squeeze(-1)
            loss = torch.nn.functional.mse_loss(pred, target[b].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    return steps


def _predict(net: Any, graphs: Sequence[Any], rows: np.ndarray, device: Any) -> np.ndarray:
    """(len(rows),) predictions of ``net`` in eval mode."""
    import torch

    from clac_core.graph import collate

    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(rows), 256):
            b = rows[i : i + 256]
            preds.append(net(collate([graphs[j] for j in b]).to(device)).squeeze(-1).float().cpu().numpy())
    return np.concatenate(preds) if preds else np.zeros(0)


def probe_eval(
    es: EvalSet,
    emb: Embeddings,
    graphs: Sequence[Any],
    model_cfg: Any,
    *,
    seed: int,
    epochs: int,
    device: Any = "cpu",
    min_rows: int = PROBE_MIN_ROWS,
) -> dict[str, Any]:
    """Ridge/kNN probes on frozen embeddings vs mean predictor and a supervised encoder."""
    from sklearn.linear_model import RidgeCV
    from sklearn.neighbors import KNeighborsRegressor

    from clac_core.properties import QUANTITIES

    names = sorted({k for p in es.properties for k in p if k in QUANTITIES})
    out: dict[str, Any] = {}
    for q in names:
        rows = np.array(
            [i for i, p in enumerate(es.properties) if q in p and np.isfinite(p[q])], dtype=np.int64
        )
        y_all = np.full(len(es), np.nan)
        y_all[rows] = [es.properties[i][q] for i in rows]
        if len(rows) < min_rows or np.nanstd(y_all[rows]) == 0:
            out[q] = {"skipped": f"{len(rows)} known values (need >= {min_rows}, not constant)"}
            continue
        tr_local, te_local = grouped_split([es.formulas[i] for i in rows], seed)
        tr, te = rows[tr_local], rows[te_local]
        if len(tr) < 2 or len(te) < 1:
            out[q] = {"skipped": "grouped split left an empty side"}
            continue
        y_tr, y_te = y_all[tr], y_all[te]
        mae: dict[str, float] = {"mean_predictor": float(np.abs(y_te - y_tr.mean()).mean())}
        alphas = np.logspace(-3, 3, 13)
        for tag, x in (("", emb.crystal), ("random_init_", emb.crystal_random)):
            ridge = RidgeCV(alphas=alphas).fit(x[tr], y_tr)
            mae[f"{tag}ridge"] = float(np.abs(ridge.predict(x[te]) - y_te).mean())
            knn = KNeighborsRegressor(n_neighbors=min(PROBE_KNN, len(tr))).fit(x[tr], y_tr)
            mae[f"{tag}knn"] = float(np.abs(knn.predict(x[te]) - y_te).mean())
        res: dict[str, Any] = {"n_train": int(len(tr)), "n_test": int(len(te)), "unit": QUANTITIES[q].unit}
        if epochs > 0:
            pred, info = train_supervised(
                model_cfg, graphs, y_all, tr, te, epochs=epochs, seed=seed, device=device
            )
            mae["supervised_cgcnn"] = float(np.abs(pred - y_te).mean())
            info["encoder"] = model_cfg.crystal.kind
            res["supervised_cgcnn"] = info
        res["MAE"] = mae
        out[q] = res
    return out


def probes_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["probes"]``."""
    o = ctx.options
    return probe_eval(
        ctx.es, ctx.emb, ctx.graphs, ctx.model.cfg, seed=o.seed, epochs=o.probe_epochs, device=ctx.device
    )


def announce_probes(ctx: EvalContext) -> str:
    return f"property probes (ridge, kNN, supervised encoder {ctx.options.probe_epochs} epochs per property)"
