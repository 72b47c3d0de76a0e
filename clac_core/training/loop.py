"""The training loop: :class:`Trainer` (data, model, one step, one epoch, validation) and ``fit``.

Shape legend: B pairs per batch, W ranks, D embedding dims, K aux properties, P pool size.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clac_core.config import ExperimentConfig, save_config
from clac_core.training import distributed as ddp
from clac_core.training.distributed import DistInfo, resolve_device
from clac_core.training.freeze import freeze_crystal_side, frozen_norm_layers, train_only
from clac_core.training.inputs import load_inputs, set_site_stats
from clac_core.training.logger import (  # noqa: F401 - INTRA_TERMS, hardware, write_train_info: kept importable here
    INTRA_TERMS,
    MetricsLog,
    hardware,
    log_epoch,
    metrics_columns,
    open_tensorboard,
    write_train_info,
)
from clac_core.training.optim import build_optimizer
from clac_core.training.reporting import TrainReport
from clac_core.training.state import (
    STATE_JSON,
    find_resume_dir,
    load_training_state,
    restore_optimization,
    save_model_only,
    save_training_state,
    seed_everything,
    set_rng_state,
)
from clac_core.training.step import TrainStep
from clac_core.training.validate import validate
from clac_core.training.warmstart import warm_start

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.data import PairDataset

log = logging.getLogger(__name__)

# loop position and running sums of the current epoch, saved with every checkpoint
INT_COUNTERS = ("step", "epoch", "batch_in_epoch", "loss_count", "epoch_pairs", "best_epoch")
FLOAT_COUNTERS = ("loss_sum", "epoch_seconds", "best")


class Trainer(TrainStep, TrainReport):
    """Holds model, optimizer, data and bookkeeping for one run (see :func:`fit`).

    One step (:class:`~clac_core.training.step.TrainStep`) and the reports
    (:class:`~clac_core.training.reporting.TrainReport`) are mixed in from their own modules.
    """

    def __init__(
        self, cfg: ExperimentConfig, data_dir: str | Path, out_dir: str | Path, dist: DistInfo
    ) -> None:
        import torch

        self.cfg = cfg
        self.tc = cfg.train
        self.data_dir = Path(data_dir)
        self.out = Path(out_dir)
        self.dist = dist
        self.device = resolve_device(self.tc.device, dist.local_rank)
        if self.device.type == "cpu" and self.tc.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.amp = bool(self.tc.amp and self.device.type == "cuda")
        self.cached = cfg.model.text.train_mode == "cached"
        self.intra_text = cfg.loss.intra_text_weight > 0
        self.intra_crystal = cfg.loss.intra_crystal_weight > 0
        self.metrics_log = MetricsLog(self.out / "metrics.csv", self.metrics_columns)
        self.t0 = time.time()

    @property
    def metrics_columns(self) -> tuple[str, ...]:
        """Columns of ``metrics.csv`` (the named loss terms too when a term besides the cross one is on)."""
        lc = self.cfg.loss
        return metrics_columns(self.intra_text or self.intra_crystal or lc.aux_weight > 0 or lc.negation_weight > 0)

    # -- setup ---------------------------------------------------------------------------
    def _barrier(self) -> None:
        ddp.barrier(self.dist)

    def setup(self) -> None:
        """Read the data (:mod:`~clac_core.training.inputs`) and build model and optimizer."""
        tc = self.tc
        seed_everything(tc.seed)
        inputs = load_inputs(self.cfg, self.data_dir, self.dist, cached=self.cached)
        self.data, self.train_pairs, self.pool = inputs.data, inputs.train_pairs, inputs.pool
        self.dataset: PairDataset = inputs.dataset
        self.pool_dataset: PairDataset = inputs.pool_dataset
        self.sampler = inputs.sampler
        self.aux_stats = inputs.aux_stats
        self.batches_per_epoch = self.sampler.num_batches(tc.batch_size)
        if self.batches_per_epoch == 0:
            raise ValueError("no training batch: fewer than 2 training pairs per rank")
        self.steps_per_epoch = -(-self.batches_per_epoch // max(1, tc.grad_accum))
        self.total_steps = self.steps_per_epoch * tc.epochs
        self._build_model()

    def _build_model(self) -> None:
        import torch

        from clac_core.loss import ClacLoss
        from clac_core.models.clip import CLaCModel

        tc = self.tc
        torch.manual_seed(tc.seed)  # identical initial weights on every rank
        self.model = CLaCModel(self.cfg.model, load_text_backbone=not self.cached).to(self.device)
        if getattr(self, "aux_stats", None) is not None:
            self.model.aux_mean.copy_(torch.from_numpy(self.aux_stats[0]))
            self.model.aux_std.copy_(torch.from_numpy(self.aux_stats[1]))
        set_site_stats(self.model, self.dataset.graphs, self.train_pairs["crystal_index"].unique())
        if tc.init_from:
            warm_start(self.model, tc.init_from)
        if tc.locked_crystal:
            freeze_crystal_side(self.model)
        if tc.select_by == "aux_mae" and not self.cfg.model.aux_properties:
            raise ValueError("train.select_by aux_mae needs an aux head: set model.aux_properties")
        if tc.trainable:
            train_only(self.model, tc.trainable)
        self.frozen_norms = frozen_norm_layers(self.model)  # kept in eval mode while training
        torch.manual_seed(tc.seed + 1000 * self.dist.rank)  # per-rank dropout streams
        self.loss_fn = ClacLoss(self.cfg.loss)
        self.optimizer, self.scheduler, self.params = build_optimizer(self.model, tc, self.total_steps)
        self.step = 0
        self.epoch = 0  # next epoch to run
        self.batch_in_epoch = 0  # next batch of self.epoch (resume inside an epoch)
        self.loss_sum = 0.0  # running sums of the current epoch (restored on resume)
        self.loss_count = 0
        self.term_sums: dict[str, float] = {}  # named loss terms, summed like loss_sum
        self.epoch_pairs = 0
        self.epoch_seconds = 0.0
        self.best = -1.0
        self.best_epoch = -1

    # -- checkpoints ---------------------------------------------------------------------
    def _save_state(self, folder: Path, metrics: dict[str, float] | None) -> None:
        """Write ``folder`` = model checkpoint + training state (see :mod:`~clac_core.training.state`)."""
        extra = {
            "epoch": self.epoch,
            "metrics": metrics or {},
            "data_dir": str(self.data_dir),
            "split": self.tc.split,
            "train_pairs": len(self.train_pairs),
            "train_crystals": self.sampler.num_crystals,
        }
        counters = {k: getattr(self, k) for k in (*INT_COUNTERS, *FLOAT_COUNTERS, "term_sums")}
        save_training_state(
            folder,
            self.model,
            step=self.step,
            extra=extra,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            counters={**counters, "world_size": self.dist.world_size},
        )

    def resume_from(self, folder: Path) -> None:
        """Restore model, optimizer, scheduler, RNG and loop position from ``folder``."""
        import torch

        state, tensors = load_training_state(folder, self.model)
        if int(state.get("world_size", 1)) != self.dist.world_size:
            log.warning(
                "note: resuming a run saved with world_size=%s on world_size=%s; "
                "the data order restarts at the saved epoch",
                state.get("world_size"),
                self.dist.world_size,
            )
            state["batch_in_epoch"] = 0
        restore_optimization(state, tensors, self.optimizer, self.scheduler)
        for key in INT_COUNTERS:
            setattr(self, key, int(state[key]))
        for key in FLOAT_COUNTERS:
            setattr(self, key, float(state[key]))
        self.term_sums = {k: float(v) for k, v in state.get("term_sums", {}).items()}
        set_rng_state(state["rng"], tensors)
        if self.dist.enabled:
            # per-rank dropout streams: rank 0's state was saved; derive the others from it
            torch.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) + self.dist.rank)

    def resume_if_saved(self) -> None:
        """Resume from ``OUT/last`` when it holds a saved state; otherwise say so and start fresh."""
        last = find_resume_dir(self.out)
        if last is not None:
            self.resume_from(last)
            if self.dist.main:
                log.info("resuming %s at epoch %d, step %d", self.out, self.epoch + 1, self.step)
        elif self.dist.main:
            log.info("nothing to resume in %s (no last/%s); starting fresh", self.out, STATE_JSON)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Retrieval metrics on the validation pool (one text per crystal); {} if no pool."""
        metrics = validate(
            self.model,
            self.pool_dataset,
            self.device,
            batch_size=self.tc.eval_batch_size,
            autocast=self._autocast(),
        )
        self._train_mode()
        return metrics

    def _train_mode(self) -> None:
        """Train mode, except for frozen norm layers: a frozen BatchNorm in train mode would
        normalize by batch statistics and move its running statistics, i.e. change the model."""
        self.model.train()
        for m in self.frozen_norms:
            m.eval()

    # -- the loop ------------------------------------------------------------------------
    def train(self) -> Path:
        """Run the remaining epochs; returns ``OUT/best`` (``OUT/last`` when none was saved)."""
        writer = None
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.out / "config.yaml")
            self.metrics_log.truncate(self.epoch)
            writer = open_tensorboard(self.out)
        self._train_mode()
        try:
            while self.epoch < self.tc.epochs:
                self._run_epoch(writer)
                self._end_epoch(writer)
        finally:
            if writer is not None:
                writer.close()
        self._barrier()
        best = self.out / "best"
        return best if best.is_dir() else self.out / "last"

    def _run_epoch(self, writer: Any) -> None:
        """The batches of ``self.epoch`` from ``self.batch_in_epoch`` on (a resumed epoch continues)."""
        from tqdm.auto import tqdm

        tc, epoch, accum = self.tc, self.epoch, max(1, self.tc.grad_accum)
        bar = tqdm(
            total=self.batches_per_epoch,
            initial=self.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{tc.epochs}",
            unit="batch",
            disable=not self.dist.main,
            dynamic_ncols=True,
        )
        t_start, seconds_before, micro = time.time(), self.epoch_seconds, 0
        batches = self.sampler.batches(epoch, tc.batch_size, start=self.batch_in_epoch)
        for b_idx, positions in enumerate(batches, start=self.batch_in_epoch):
            terms = self._backward_batch(epoch, b_idx, positions, accum)
            micro += 1
            last_batch = b_idx + 1 == self.batches_per_epoch
            if micro == accum or last_batch:
                self._optimizer_step()
                micro = 0
                self.batch_in_epoch = b_idx + 1
                if (
                    tc.save_every_steps
                    and self.step % tc.save_every_steps == 0
                    and not last_batch
                    and self.dist.main
                ):
                    self.epoch_seconds = seconds_before + time.time() - t_start
                    self._save_state(self.out / "last", None)
            elapsed = seconds_before + time.time() - t_start
            bar.update(1)
            self._log_batch(bar, writer, terms, b_idx, last_batch, micro == 0, elapsed)
        bar.close()
        self.epoch_seconds = seconds_before + time.time() - t_start

    def _end_epoch(self, writer: Any) -> None:
        """Validate, log the row, save ``best/`` (by val mean R@10) and ``last/``."""
        metrics = self.evaluate() if self.dist.main else {}
        row = self._epoch_row(metrics)
        self.epoch += 1
        self.batch_in_epoch = 0
        self.loss_sum, self.loss_count, self.epoch_pairs, self.epoch_seconds = 0.0, 0, 0, 0.0
        self.term_sums = {}
        if self.dist.main:
            self.metrics_log.write([row])
            if writer is not None:
                for k, v in row.items():
                    if k.startswith("val_") and isinstance(v, float):
                        writer.add_scalar(f"val/{k[4:]}", v, self.step)
            score = selection_score(self.tc.select_by, metrics, row)
            if score > self.best:
                self.best, self.best_epoch = score, self.epoch
                extra = {
                    "epoch": self.epoch,
                    "metrics": {**metrics, "epoch": self.epoch},
                    "data_dir": str(self.data_dir),
                    "split": self.tc.split,
                }
                save_model_only(self.out / "best", self.model, step=self.step, extra=extra)
            self._save_state(self.out / "last", metrics)
            log_epoch(row, metrics, len(self.pool_dataset))
        self._barrier()


def selection_score(select_by: str, metrics: dict[str, float], row: dict[str, Any]) -> float:
    """Higher is better: val mean R@10, or minus the val aux error (``train.select_by``); minus
    the training loss when there is no validation pool."""
    if not metrics:
        return float(-row["train_loss"])
    if select_by == "aux_mae":
        if "aux_mae" not in metrics:
            raise ValueError("train.select_by aux_mae needs an aux head and validation targets")
        return -float(metrics["aux_mae"])
    return float(metrics.get("mean_r10", -1.0))


def fit(cfg: ExperimentConfig, data_dir: str | Path, out_dir: str | Path, *, resume: bool = False) -> Path:
    """Train a CLaC model contrastively on a ``clac data build`` directory.

    Under ``torchrun`` (env ``WORLD_SIZE`` > 1) the process group is set up here
    (nccl on CUDA, gloo on CPU) and torn down at the end.

    Args:
        cfg: experiment config (model, loss, train).
        data_dir: directory with crystals.parquet and pairs.parquet.
        out_dir: run directory (config.yaml, metrics.csv, train_info.json, best/, last/).
        resume: continue from ``out_dir/last`` if it exists (else start fresh).

    Returns:
        the best checkpoint directory (``out_dir/best``; ``out_dir/last`` if none).
    """
    from clac_core.training.head import fit_head, head_only

    if head_only(cfg):  # the tower is frozen: its features are computed once, the head fitted on them
        return fit_head(cfg, data_dir, out_dir)
    dist = ddp.dist_from_env()
    with ddp.process_group(dist, cfg.train.device):
        trainer = Trainer(cfg, data_dir, out_dir, dist)
        trainer.setup()
        if resume:
            trainer.resume_if_saved()
        result = trainer.train()
        trainer.write_info()
        return result
