"""Contrastive losses for CLaC, model-free and testable on raw tensors.

Shape legend: B pairs in the batch, D embedding dims.

Conventions:
* Embeddings are expected L2-normalized (the model does it), so logits are
  ``logit_scale * cosine``.
* ``logit_scale`` is the *multiplier* of the cosine similarities, i.e. already
  exponentiated (and clamped): pass ``model.logit_scale_value()`` (= ``exp(min(s, log 100))``),
  as in open_clip's ``ClipLoss``.
* Multi-positive targets: rows whose ``crystal_ids`` are equal are positives of each other
  (e.g. two texts of one crystal in the same batch). The target distribution of each row
  is uniform over all its positives, so such pairs are never pushed apart as negatives
  (the "supervised contrastive"/soft-target form; with unique ids it is exactly CLIP's loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from clac_core.config import LossConfig


def positive_mask(crystal_ids: torch.Tensor) -> torch.Tensor:
    """(B,) ids -> (B, B) float mask, 1 where two rows show the same crystal."""
    ids = crystal_ids.reshape(-1)
    return (ids.unsqueeze(0) == ids.unsqueeze(1)).float()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_j targets_ij * log_softmax(logits)_ij``; (B, B), (B, B) -> ()."""
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def multi_positive_info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor | float,
    crystal_ids: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Symmetric InfoNCE between two embedding sets with multi-positive targets.

    Args:
        a: (B, D) embeddings (normalized).
        b: (B, D) embeddings (normalized); row i of ``a`` pairs with row i of ``b``.
        logit_scale: scalar multiplier (already exponentiated).
        crystal_ids: (B,) long; equal ids are positives of each other.
        label_smoothing: mass spread uniformly over all B columns.

    Returns:
        scalar: ``(CE(a->b) + CE(b->a)) / 2``.
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"embeddings must both be (B, D); got {tuple(a.shape)} and {tuple(b.shape)}")
    if crystal_ids.numel() != a.shape[0]:
        raise ValueError(f"{crystal_ids.numel()} crystal ids for a batch of {a.shape[0]}")
    logits = logit_scale * (a @ b.t())  # (B, B)
    pos = positive_mask(crystal_ids.to(a.device))  # (B, B), symmetric
    targets = pos / pos.sum(-1, keepdim=True)
    if label_smoothing > 0:
        targets = (1 - label_smoothing) * targets + label_smoothing / targets.shape[-1]
    targets = targets.to(logits.dtype)
    return 0.5 * (soft_cross_entropy(logits, targets) + soft_cross_entropy(logits.t(), targets))


class ClacLoss(nn.Module):
    """Weighted sum of the cross-modal and (optional) intra-modal InfoNCE terms.

    ``loss = cross_weight * cross + intra_text_weight * intra_text
    + intra_crystal_weight * intra_crystal`` where

    * ``cross``: crystal <-> text,
    * ``intra_text``: text view 1 <-> text view 2 of the same crystal (``text_emb2``),
    * ``intra_crystal``: crystal <-> an augmented copy (``crystal_emb2``; see
      :func:`clac_core.graph.augment_structure`),

    all symmetric multi-positive InfoNCE at the same ``logit_scale`` (paper: intra-modal
    alignment, Park et al. 2025).
    """

    def __init__(self, cfg: LossConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or LossConfig()

    def forward(
        self,
        crystal_emb: torch.Tensor,
        text_emb: torch.Tensor,
        logit_scale: torch.Tensor | float,
        crystal_ids: torch.Tensor,
        crystal_emb2: torch.Tensor | None = None,
        text_emb2: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Compute the loss terms.

        Args:
            crystal_emb: (B, D) normalized crystal embeddings.
            text_emb: (B, D) normalized text embeddings (row i describes crystal i).
            logit_scale: scalar tensor, the cosine multiplier (already exponentiated).
            crystal_ids: (B,) long id of the crystal of each row.
            crystal_emb2: (B, D) embeddings of augmented crystals (needed if
                ``intra_crystal_weight > 0``).
            text_emb2: (B, D) embeddings of a second text view (needed if
                ``intra_text_weight > 0``).

        Returns:
            {"loss", "cross"} plus "intra_text" / "intra_crystal" when their weight is > 0;
            each a scalar tensor (unweighted terms; "loss" is the weighted sum).
        """
        cfg = self.cfg
        ls = cfg.label_smoothing
        out: dict[str, torch.Tensor] = {}
        out["cross"] = multi_positive_info_nce(crystal_emb, text_emb, logit_scale, crystal_ids, ls)
        total = cfg.cross_weight * out["cross"]
        if cfg.intra_text_weight > 0:
            if text_emb2 is None:
                raise ValueError("intra_text_weight > 0 needs text_emb2 (a second text view per crystal)")
            out["intra_text"] = multi_positive_info_nce(text_emb, text_emb2, logit_scale, crystal_ids, ls)
            total = total + cfg.intra_text_weight * out["intra_text"]
        if cfg.intra_crystal_weight > 0:
            if crystal_emb2 is None:
                raise ValueError("intra_crystal_weight > 0 needs crystal_emb2 (augmented crystals)")
            out["intra_crystal"] = multi_positive_info_nce(crystal_emb, crystal_emb2, logit_scale, crystal_ids, ls)
            total = total + cfg.intra_crystal_weight * out["intra_crystal"]
        out["loss"] = total
        return out
