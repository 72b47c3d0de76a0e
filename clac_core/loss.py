"""Contrastive losses for CLaC, model-free and testable on raw tensors.

Shape legend: B pairs in the batch, D embedding dims.

Conventions:
* Embeddings are expected L2-normalized (the model does it), so logits are
  ``logit_scale * cosine``.
* ``logit_scale`` is the *multiplier* of the cosine similarities, i.e. already
  exponentiated (and clamped): pass ``model.logit_scale_value()`` (= ``exp(min(s, log 100))``),
  as in open_clip's ``ClipLoss``.
* Shared crystals are masked out: when two rows of the batch show the same crystal
  (equal ``crystal_ids``, e.g. two texts of one crystal), each row keeps its own pair as
  the positive and the *other* rows of the same crystal are removed from its softmax
  (false-negative elimination), so they are neither negatives nor extra positives. We chose
  masking over uniform multi-positive targets because with duplicated crystal embeddings
  uniform targets give exactly the same loss and gradients as treating them as negatives
  (the loss floor stays at log(#duplicates)); masking lets such rows reach zero loss. With
  unique ids it is exactly CLIP's loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from clac_core.config import LossConfig


def shared_crystal_mask(crystal_ids: torch.Tensor) -> torch.Tensor:
    """(B,) ids -> (B, B) bool, True where rows i != j show the same crystal (masked out)."""
    ids = crystal_ids.reshape(-1)
    same = ids.unsqueeze(0) == ids.unsqueeze(1)
    return same & ~torch.eye(ids.numel(), dtype=torch.bool, device=ids.device)


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
        crystal_ids: (B,) long; other rows with the same id are masked out of each row's softmax.
        label_smoothing: mass spread uniformly over the unmasked columns.

    Returns:
        scalar: ``(CE(a->b) + CE(b->a)) / 2``.
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"embeddings must both be (B, D); got {tuple(a.shape)} and {tuple(b.shape)}")
    if crystal_ids.numel() != a.shape[0]:
        raise ValueError(f"{crystal_ids.numel()} crystal ids for a batch of {a.shape[0]}")
    logits = logit_scale * (a @ b.t())  # (B, B)
    n = logits.shape[0]
    masked = shared_crystal_mask(crystal_ids.to(logits.device))  # (B, B), symmetric
    # a large finite negative (not -inf) keeps 0 * log_softmax finite under label smoothing
    logits = logits.masked_fill(masked, torch.finfo(logits.dtype).min)
    targets = torch.eye(n, dtype=logits.dtype, device=logits.device)
    if label_smoothing > 0:
        valid = (~masked).to(logits.dtype)
        targets = (1 - label_smoothing) * targets + label_smoothing * valid / valid.sum(-1, keepdim=True)
    return 0.5 * (soft_cross_entropy(logits, targets) + soft_cross_entropy(logits.t(), targets))


def negation_loss(
    crystal_emb: torch.Tensor, text_emb: torch.Tensor, negated_emb: torch.Tensor, logit_scale: torch.Tensor | float
) -> torch.Tensor:
    """Two-way choice between a true statement and its hard negative, per crystal.

    ``mean_i -log softmax([s * c_i·t_i, s * c_i·n_i])[0]`` = ``mean softplus(s * (c·n - c·t))``:
    the crystal must prefer its statement to the same statement with one fact made false
    (NegCLIP-style hard negatives; the in-batch InfoNCE rarely contains such a near miss).

    Args:
        crystal_emb: (M, D) normalized crystal embeddings.
        text_emb: (M, D) normalized embeddings of their (true) statements texts.
        negated_emb: (M, D) normalized embeddings of the negated texts.
        logit_scale: scalar multiplier (already exponentiated).

    Returns:
        scalar; 0 (with a gradient path) when M = 0.
    """
    if not (crystal_emb.shape == text_emb.shape == negated_emb.shape) or crystal_emb.dim() != 2:
        raise ValueError(f"negation_loss needs three (M, D) tensors; got {tuple(crystal_emb.shape)}, "
                         f"{tuple(text_emb.shape)}, {tuple(negated_emb.shape)}")
    if crystal_emb.shape[0] == 0:
        return (crystal_emb.sum() + text_emb.sum() + negated_emb.sum()) * 0.0
    pos = (crystal_emb * text_emb).sum(-1)  # (M,)
    neg = (crystal_emb * negated_emb).sum(-1)  # (M,)
    return F.softplus(logit_scale * (neg - pos)).mean()


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
        aux_pred: torch.Tensor | None = None,
        aux_target: torch.Tensor | None = None,
        negation: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
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
            aux_pred: (B, K) standardized property predictions of the crystal tower
                (needed if ``aux_weight > 0``).
            aux_target: (B, K) standardized targets, NaN where unknown.
            negation: (crystal, statement, negated statement) (M, D) embeddings of the M rows
                with a hard negative (needed if ``negation_weight > 0``; M may be 0).

        Returns:
            {"loss", "cross"} plus "intra_text" / "intra_crystal" / "aux" / "negation" when their
            weight is > 0; unweighted scalar terms, "loss" the weighted sum.
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
            out["intra_crystal"] = multi_positive_info_nce(
                crystal_emb, crystal_emb2, logit_scale, crystal_ids, ls
            )
            total = total + cfg.intra_crystal_weight * out["intra_crystal"]
        if cfg.aux_weight > 0:
            if aux_pred is None or aux_target is None:
                raise ValueError("aux_weight > 0 needs aux_pred and aux_target (model.aux_properties)")
            out["aux"] = aux_error(aux_pred, aux_target, cfg.aux_loss)
            total = total + cfg.aux_weight * out["aux"]
        if cfg.negation_weight > 0:
            out["negation"] = self._negation(negation, logit_scale)
            total = total + cfg.negation_weight * out["negation"]
        out["loss"] = total
        return out

    @staticmethod
    def _negation(
        negation: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None, logit_scale: torch.Tensor | float
    ) -> torch.Tensor:
        if negation is None:
            raise ValueError("negation_weight > 0 needs negation (statements and their hard negatives)")
        return negation_loss(*negation, logit_scale)


def aux_error(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """The aux term (``LossConfig.aux_loss``): :func:`masked_l1` for "l1", else :func:`masked_mse`."""
    return (masked_l1 if kind == "l1" else masked_mse)(pred, target)


def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the known entries of ``target`` (NaN = unknown): (B, K) -> ().

    Zero (with a gradient path) when nothing is known, like :func:`masked_mse`.
    """
    known = torch.isfinite(target)
    if not bool(known.any()):
        return (pred * 0.0).sum()
    return (pred.float()[known] - target.float()[known]).abs().mean()


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the known entries of ``target`` (NaN = unknown): (B, K) -> ().

    Zero (with a gradient path) when nothing is known, so a batch without labels is harmless.
    """
    known = torch.isfinite(target)
    if not bool(known.any()):
        return (pred * 0.0).sum()
    diff = pred.float()[known] - target.float()[known]
    return (diff * diff).mean()
