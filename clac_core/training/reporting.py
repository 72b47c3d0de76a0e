"""What :class:`~clac_core.training.loop.Trainer` reports: progress-bar figures and TensorBoard
scalars per batch, the ``metrics.csv`` row per epoch and ``train_info.json`` (a mixin).
"""

from __future__ import annotations

import time
from typing import Any

from clac_core.training.logger import INTRA_TERMS, hardware, write_train_info


class TrainReport:
    """Reporting methods of the Trainer (they read its counters, model, optimizer and data sizes)."""

    def _log_batch(
        self,
        bar: Any,
        writer: Any,
        terms: dict[str, Any],
        b_idx: int,
        last_batch: bool,
        stepped: bool,
        elapsed: float,
    ) -> None:
        """Progress-bar figures (running means) and TensorBoard scalars of the last step."""
        every = max(1, self.tc.log_every)
        if self.dist.main and (b_idx % every == 0 or last_batch):
            n = max(1, self.loss_count)
            bar.set_postfix(
                loss=f"{self.loss_sum / n:.4f}",
                **{t: f"{v / n:.4f}" for t, v in self.term_sums.items() if t in INTRA_TERMS},
                pairs_s=f"{self.epoch_pairs / max(elapsed, 1e-9):.0f}",
                scale=f"{float(self.model.logit_scale_value().detach()):.1f}",
            )
        if writer is not None and self.step % every == 0 and stepped:
            writer.add_scalar("train/loss", float(terms["loss"].detach()), self.step)
            if len(terms) > 2:
                for name, val in terms.items():
                    if name != "loss":
                        writer.add_scalar(f"train/{name}", float(val.detach()), self.step)
            writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], self.step)

    def _epoch_row(self, metrics: dict[str, float]) -> dict[str, Any]:
        """The ``metrics.csv`` row of the epoch just run."""
        n = max(1, self.loss_count)
        groups = self.optimizer.param_groups
        return {
            "epoch": self.epoch + 1,
            "step": self.step,
            "train_loss": self.loss_sum / n,
            **{f"train_{k}": v / n for k, v in self.term_sums.items()},
            "lr": groups[0]["lr"],
            "text_lr": next((g["lr"] for g in groups if g["name"].startswith("text")), ""),
            "logit_scale": float(self.model.logit_scale_value().detach()),
            "pairs_per_s": self.epoch_pairs / max(self.epoch_seconds, 1e-9),
            "epoch_seconds": self.epoch_seconds,
            "val_pool": len(self.pool_dataset),
            **{f"val_{k}": v for k, v in metrics.items()},
        }

    def write_info(self) -> None:
        """``OUT/train_info.json``: data, sizes, best epoch, hardware, wall time (rank 0)."""
        if not self.dist.main:
            return
        info = {
            "data_dir": str(self.data_dir.resolve()),
            "out_dir": str(self.out.resolve()),
            "train_pairs": len(self.train_pairs),
            "train_crystals": self.sampler.num_crystals,
            "val_pool": len(self.pool_dataset),
            "sampling": self.tc.sampling,
            "epochs": self.tc.epochs,
            "steps": self.step,
            "batches_per_epoch": self.batches_per_epoch,
            "best_epoch": self.best_epoch,
            "best_val_mean_r10": self.best,
            "hardware": hardware(self.device, self.dist.world_size),
            "seconds": time.time() - self.t0,
        }
        write_train_info(self.out / "train_info.json", info)
