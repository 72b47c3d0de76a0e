"""``clac train`` entry point, kept for ``clac_core.train`` imports.

The training code lives in :mod:`clac_core.training` (loop, optimizer, checkpoint state,
distributed set-up, logging, CLI; overview in its docstring); this module re-exports its
public names.
"""

from __future__ import annotations

from clac_core.training.cli import configure_parser, run
from clac_core.training.distributed import DistInfo, dist_from_env, resolve_device
from clac_core.training.logger import INTRA_TERMS, METRIC_KEYS, METRICS_COLUMNS, TERM_COLUMNS
from clac_core.training.loop import Trainer, fit
from clac_core.training.optim import lr_factor
from clac_core.training.state import STATE_JSON, STATE_TENSORS
from clac_core.training.validate import retrieval_metrics

__all__ = [
    "INTRA_TERMS",
    "METRICS_COLUMNS",
    "METRIC_KEYS",
    "STATE_JSON",
    "STATE_TENSORS",
    "TERM_COLUMNS",
    "DistInfo",
    "Trainer",
    "configure_parser",
    "dist_from_env",
    "fit",
    "lr_factor",
    "resolve_device",
    "retrieval_metrics",
    "run",
]
