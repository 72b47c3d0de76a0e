"""One training step of :class:`~clac_core.training.loop.Trainer`: collate, forward, loss, backward,
optimizer step (a mixin; the loop itself lives in :mod:`~clac_core.training.loop`).

Shape legend: B pairs per batch, W ranks, D embedding dims, K aux properties.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.training import distributed as ddp
from clac_core.training.validate import encode_crystals

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clac_core.data import PairBatch


class TrainStep:
    """Forward/backward of one (micro-)batch and the optimizer step, as methods of the Trainer.

    Uses the Trainer's ``model``, ``loss_fn``, ``dataset``, ``optimizer``, ``scheduler``,
    ``params``, ``cfg`` / ``tc``, ``dist``, ``device``, ``amp``, the intra-term flags and the
    running sums of the epoch.
    """

    def _gather(self, x: torch.Tensor, with_grad: bool) -> torch.Tensor:
        return ddp.gather(x, self.dist, with_grad)

    def _collate_rng(self, epoch: int, b_idx: int) -> np.random.Generator | None:
        """Generator for a batch's second texts / augmentations, a pure function of
        ``(seed, epoch, batch, rank)`` (nothing to save for resume); None when both are off."""
        if not self.dataset.has_views:
            return None
        return np.random.default_rng([self.tc.seed, 2, int(epoch), int(b_idx), self.dist.rank])

    def _encode_texts(self, texts: list[str] | None, features: torch.Tensor | None) -> torch.Tensor:
        if features is not None:
            return self.model.encode_text_features(features, texts=texts)  # (B, D)
        return self.model.encode_text(texts)  # (B, D)

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()

    def _forward_terms(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        """Named loss terms of one batch (``"loss"`` = weighted sum), over the global batch."""
        crystal_emb2 = text_emb2 = aux_pred = None
        with self._autocast():
            if self.cfg.loss.aux_weight > 0:
                crystal_emb, aux_pred = self.model.encode_crystal_aux(batch.graphs)  # (B, D), (B, K)
            else:  # the tower's, or a locked tower's stored embeddings
                crystal_emb = encode_crystals(self.model, batch.graphs)  # (B, D)
            text_emb = self._encode_texts(batch.texts, batch.text_features)  # (B, D)
            if self.intra_text:
                text_emb2 = self._encode_texts(batch.texts2, batch.text_features2)  # (B, D)
            if self.intra_crystal:
                crystal_emb2 = self.model.encode_crystal(batch.graphs2)  # (B, D)
            negation = None
            if self.cfg.loss.negation_weight > 0:  # per rank, like the aux term
                rows = batch.negated_rows  # (M,)
                if rows is None:
                    raise ValueError("loss.negation_weight > 0 but the batch carries no hard negatives")
                neg = (self._encode_texts(batch.negated_texts, batch.negated_features) if len(rows)
                       else text_emb[:0])  # (M, D)
                negation = (crystal_emb[rows].float(), text_emb[rows].float(), neg.float())
        crystal_emb = self._gather(crystal_emb.float(), True)  # (W*B, D)
        text_emb = self._gather(text_emb.float(), True)
        if text_emb2 is not None:
            text_emb2 = self._gather(text_emb2.float(), True)
        if crystal_emb2 is not None:
            crystal_emb2 = self._gather(crystal_emb2.float(), True)
        ids = self._gather(batch.crystal_index, False)
        return self.loss_fn(
            crystal_emb,
            text_emb,
            self.model.logit_scale_value(),
            ids,
            crystal_emb2=crystal_emb2,
            text_emb2=text_emb2,
            aux_pred=None if aux_pred is None else aux_pred.float(),  # per rank: a local regression term
            aux_target=batch.targets,
            negation=negation,
        )

    def _forward_loss(self, batch: PairBatch) -> torch.Tensor:
        return self._forward_terms(batch)["loss"]

    def _backward_batch(self, epoch: int, b_idx: int, positions: np.ndarray, accum: int) -> dict[str, Any]:
        """Forward and backward of one (micro-)batch; adds to the epoch's running sums."""
        batch = self.dataset.collate(positions, rng=self._collate_rng(epoch, b_idx)).to(self.device)
        terms = self._forward_terms(batch)
        loss = terms["loss"]
        (loss / accum).backward()
        self.loss_sum += float(loss.detach())
        self.loss_count += 1
        if len(terms) > 2:  # extra terms on: keep per-term sums ("cross" included)
            for name, val in terms.items():
                if name != "loss":
                    self.term_sums[name] = self.term_sums.get(name, 0.0) + float(val.detach())
        self.epoch_pairs += len(batch) * self.dist.world_size
        return terms

    def _optimizer_step(self) -> None:
        import torch

        ddp.all_reduce_grads(self.params, self.dist)
        if self.tc.grad_clip and self.tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.tc.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
