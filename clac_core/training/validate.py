"""Validation during training: retrieval on a fixed pool, one text per crystal.

The metrics are :func:`clac_core.evaluation.metrics.retrieval_metrics`, the project's one
tie-aware function: a collapsed model (all scores equal) scores chance, never 1.0, so it
cannot be saved as the best checkpoint. Shape legend: P pool size, D embedding dims.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch


def retrieval_metrics(text_emb: torch.Tensor, crystal_emb: torch.Tensor) -> dict[str, float]:
    """R@1/5/10 and MRR for text->crystal and crystal->text; row i of both is one pair.

    Args:
        text_emb: (P, D) normalized.
        crystal_emb: (P, D) normalized.

    Returns:
        {"t2c_r1", ..., "c2t_mrr", "mean_r10"}.
    """
    from clac_core.evaluation.metrics import retrieval_metrics as pooled_metrics

    sim = (text_emb.float() @ crystal_emb.float().t()).cpu().numpy()  # (P, P)
    out: dict[str, float] = {}
    for name, s in (("t2c", sim), ("c2t", sim.T)):
        m = pooled_metrics(s, ks=(1, 5, 10))
        for k in (1, 5, 10):
            out[f"{name}_r{k}"] = m[f"R@{k}"]
        out[f"{name}_mrr"] = m["MRR"]
    out["mean_r10"] = 0.5 * (out["t2c_r10"] + out["c2t_r10"])
    return out


def encode_crystals(model: Any, graphs: Any) -> torch.Tensor:
    """(B, D) crystal embeddings of a batch: the crystal tower's, or with a locked tower
    (``train.locked_crystal``) the stored (B, D) embeddings the batch carries."""
    import torch

    if isinstance(graphs, torch.Tensor):
        return graphs
    return model.encode_crystal(graphs)


def validate(
    model: Any, pool_dataset: Any, device: Any, *, batch_size: int, autocast: Any = None
) -> dict[str, float]:
    """Retrieval metrics of ``model`` on ``pool_dataset`` ({} for a pool under 2 pairs), plus
    ``aux_mae`` (the aux head's mean absolute error in standardized units over the known
    targets) when the model has an aux head and the pool carries targets.

    The model is left in train mode.
    """
    import torch

    n = len(pool_dataset)
    if n < 2:
        return {}
    model.eval()
    bs = max(2, batch_size)
    cr, tx, err = [], [], []
    with torch.no_grad(), autocast or contextlib.nullcontext():
        for lo in range(0, n, bs):
            b = pool_dataset.collate(np.arange(lo, min(lo + bs, n))).to(device)
            if _has_aux(model, b):
                emb, aux = model.encode_crystal_aux(b.graphs)  # (b, D), (b, K)
                known = torch.isfinite(b.targets)
                err.append((aux.float()[known] - b.targets.float()[known]).abs())
            else:
                emb = encode_crystals(model, b.graphs)
            cr.append(emb.float())  # (b, D)
            if b.text_features is not None:
                tx.append(model.encode_text_features(b.text_features, texts=b.texts).float())
            else:
                tx.append(model.encode_text(b.texts).float())
    model.train()
    out = retrieval_metrics(torch.cat(tx), torch.cat(cr))
    if err and sum(e.numel() for e in err):
        out["aux_mae"] = float(torch.cat(err).mean())
    return out


def _has_aux(model: Any, batch: Any) -> bool:
    """Whether a validation batch can score the aux head (a head, targets, crystal graphs)."""
    import torch

    return (
        getattr(model, "aux_head", None) is not None
        and batch.targets is not None
        and not isinstance(batch.graphs, torch.Tensor)
    )
