"""What a training run records: ``metrics.csv`` (one row per epoch), TensorBoard scalars when
installed, a one-line epoch summary through :mod:`logging`, and ``train_info.json``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

METRIC_KEYS = ("t2c_r1", "t2c_r5", "t2c_r10", "t2c_mrr", "c2t_r1", "c2t_r5", "c2t_r10", "c2t_mrr", "mean_r10")
METRICS_COLUMNS = (
    "epoch",
    "step",
    "train_loss",
    "lr",
    "text_lr",
    "logit_scale",
    "pairs_per_s",
    "epoch_seconds",
    "val_pool",
    *(f"val_{k}" for k in METRIC_KEYS),
    "val_aux_mae",  # the aux head's standardized error on the pool (empty without a head)
)
# per-epoch means of the named loss terms, inserted after train_loss when an intra term is on
INTRA_TERMS = ("intra_text", "intra_crystal")
TERM_COLUMNS = ("train_cross", *(f"train_{t}" for t in (*INTRA_TERMS, "aux", "negation")))


def metrics_columns(with_terms: bool) -> tuple[str, ...]:
    """``METRICS_COLUMNS``, plus ``TERM_COLUMNS`` after train_loss when a term besides the
    cross-modal one is on (intra, aux, negation; the terms that are off stay empty)."""
    if not with_terms:
        return METRICS_COLUMNS
    at = METRICS_COLUMNS.index("train_loss") + 1
    return (*METRICS_COLUMNS[:at], *TERM_COLUMNS, *METRICS_COLUMNS[at:])


class MetricsLog:
    """``OUT/metrics.csv``, one row per epoch, a fixed set of columns (missing cells empty)."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        self.columns = columns

    def truncate(self, last_epoch: int) -> None:
        """Drop rows of epochs after ``last_epoch`` (written before a crash, redone on resume)."""
        if not self.path.is_file():
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= last_epoch]
        self.write(rows, mode="w")

    def write(self, rows: list[dict[str, Any]], mode: str = "a") -> None:
        new = mode == "w" or not self.path.is_file()
        with open(self.path, mode if not new else "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.columns))
            if new:
                w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in self.columns})


def open_tensorboard(out: Path) -> Any:
    """A ``SummaryWriter`` on ``out/tb``, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(out / "tb"))
    except Exception:  # tensorboard missing (ImportError) or broken: metrics.csv only
        return None


def log_epoch(row: dict[str, Any], metrics: dict[str, float], pool: int) -> None:
    """One INFO line per epoch: loss, throughput, validation R@10."""
    val = (
        f", val t2c R@10 {metrics['t2c_r10']:.3f} c2t R@10 {metrics['c2t_r10']:.3f} (pool {pool})"
        if metrics
        else ""
    )
    log.info("epoch %d: loss %.4f, %.0f pairs/s%s", row["epoch"], row["train_loss"], row["pairs_per_s"], val)


def hardware(device: torch.device, world: int) -> dict[str, Any]:
    """Where the run ran (device, world size, CPU/torch/Python versions, GPU name)."""
    import torch

    info: dict[str, Any] = {
        "device": str(device),
        "world_size": world,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_train_info(path: Path, info: dict[str, Any]) -> None:
    """Write ``train_info.json``; a resumed run adds up the wall time of its earlier parts."""
    if path.is_file():
        try:
            prev = json.loads(path.read_text())
            info["seconds_previous_parts"] = prev["seconds"] + prev.get("seconds_previous_parts", 0.0)
        except (ValueError, KeyError):
            pass
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
