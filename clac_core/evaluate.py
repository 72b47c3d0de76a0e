"""``clac eval`` entry point, kept for ``clac_core.evaluate`` imports.

The evaluation lives in :mod:`clac_core.evaluation` (one module per job; results layout and
protocol in its docstring); this module re-exports its public names and the CLI.
"""

from __future__ import annotations

from clac_core.evaluation.cli import configure_parser, run
from clac_core.evaluation.context import EvalContext, EvalOptions, Section
from clac_core.evaluation.dataset import EvalSet, eval_set_from_dir, eval_set_from_spec, load_eval_set
from clac_core.evaluation.embeddings import Embeddings, build_graphs, compute_embeddings
from clac_core.evaluation.leakage import leakage_eval
from clac_core.evaluation.metrics import (
    DIRECTIONS,
    classification_metrics,
    majority_baseline,
    retrieval_metrics,
    sample_pools,
)
from clac_core.evaluation.pipeline import SECTIONS, evaluate
from clac_core.evaluation.probes import grouped_split, probe_eval, train_supervised
from clac_core.evaluation.prompts import ZERO_SHOT_PROMPTS, ZERO_SHOT_TASKS
from clac_core.evaluation.report import write_markdown, write_results
from clac_core.evaluation.retrieval import free_text_eval, ratios_to_strongest, retrieval_eval
from clac_core.evaluation.systems import BASELINES, SYSTEMS, make_scorers
from clac_core.evaluation.zero_shot import zero_shot_eval, zero_shot_labels

__all__ = [
    "BASELINES",
    "DIRECTIONS",
    "SECTIONS",
    "SYSTEMS",
    "ZERO_SHOT_PROMPTS",
    "ZERO_SHOT_TASKS",
    "Embeddings",
    "EvalContext",
    "EvalOptions",
    "EvalSet",
    "Section",
    "build_graphs",
    "classification_metrics",
    "compute_embeddings",
    "configure_parser",
    "eval_set_from_dir",
    "eval_set_from_spec",
    "evaluate",
    "free_text_eval",
    "grouped_split",
    "leakage_eval",
    "load_eval_set",
    "majority_baseline",
    "make_scorers",
    "probe_eval",
    "ratios_to_strongest",
    "retrieval_eval",
    "retrieval_metrics",
    "run",
    "sample_pools",
    "train_supervised",
    "write_markdown",
    "write_results",
    "zero_shot_eval",
    "zero_shot_labels",
]
