"""``evaluate()``: load the data and the model once, then run each section of ``results.json``.

Sections (:class:`~clac_core.evaluation.context.Section`) run in :data:`SECTIONS` order on one
shared :class:`~clac_core.evaluation.context.EvalContext`; each returns the dict stored under
its key. To add one, write ``my_section(ctx) -> dict`` in its own module and append
``Section("my_key", my_section, announce)`` to :data:`SECTIONS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clac_core.evaluation.context import EvalContext, EvalOptions, Section
from clac_core.evaluation.formula_free import announce_formula_free, formula_free_section
from clac_core.evaluation.inverse_design import announce_inverse_design, inverse_design_section
from clac_core.evaluation.leakage import announce_leakage, leakage_section
from clac_core.evaluation.mcq import announce_mcq, mcq_section
from clac_core.evaluation.probes import PROBE_KNN, PROBE_TEST_FRACTION, announce_probes, probes_section
from clac_core.evaluation.prompts import SMALL_GAP_SPLIT
from clac_core.evaluation.property_aware import announce_property_aware, property_aware_section
from clac_core.evaluation.retrieval import announce_retrieval, baselines_section, retrieval_section
from clac_core.evaluation.zero_shot import zero_shot_section

log = logging.getLogger(__name__)

SECTIONS: list[Section] = [
    Section("retrieval", retrieval_section, announce_retrieval),
    Section("zero_shot", zero_shot_section, lambda ctx: "zero-shot classification"),
    Section("probes", probes_section, announce_probes),
    Section("baselines", baselines_section),  # reads the retrieval section's scores of every system
    Section("leakage", leakage_section, announce_leakage),
    Section("mcq", mcq_section, announce_mcq),
    Section("inverse_design", inverse_design_section, announce_inverse_design),
    Section("formula_free", formula_free_section, announce_formula_free),
    Section("property_aware", property_aware_section, announce_property_aware),
]

NOTES = {
    "ties": "ties broken uniformly at random, in expectation",
    "pools": "random crystals of the split, one random non-caption query text per crystal; "
    "pool_all repeats differ only in the query texts drawn",
    "ratios": "model / strongest baseline (median_rank: strongest baseline / model); > 1 = model better",
    "probes": f"grouped-by-formula split, {int(PROBE_TEST_FRACTION * 100)}% test; RidgeCV, "
    f"kNN k={PROBE_KNN}; supervised_cgcnn = same encoder + linear head from scratch",
    "zero_shot": "nearest class prompt embedding (mean of a few templates); band gap = band_gap or "
    f"min(direct_gap, indirect_gap); gap_size split at {SMALL_GAP_SPLIT} eV among gapped crystals",
    "free_text": "P@10 over all evaluated crystals, mean over queries with >= 10 relevant crystals",
}


def torch_device(spec: str) -> Any:
    """``"auto"`` -> cuda when available, else cpu; anything else as torch spells it."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def load_context(checkpoint: str | Path, data: str, options: EvalOptions) -> EvalContext:
    """Read the evaluated set and the checkpoint, build graphs and every system's embeddings."""
    from clac_core.evaluation.dataset import load_eval_set
    from clac_core.evaluation.embeddings import build_graphs, compute_embeddings
    from clac_core.models import CLaCModel, read_checkpoint_meta

    o = options
    dev = torch_device(o.device)
    meta = read_checkpoint_meta(checkpoint)  # fail fast on a wrong path, before reading data
    es = load_eval_set(
        data,
        split=o.split,
        split_kind=resolve_split_kind(o.split_kind, meta),
        limit=o.limit,
        seed=o.seed,
        text_column=o.text_column,
        progress=o.progress,
    )
    model = CLaCModel.from_checkpoint(checkpoint, device=dev)
    data_cache = Path(data) / "cache" if (Path(data) / "crystals.parquet").is_file() else None
    graphs = build_graphs(es.structures, model.cfg, o.progress, cache_root=data_cache)
    emb, _ = compute_embeddings(model, es, graphs, seed=o.seed, batch_size=o.batch_size, progress=o.progress)
    return EvalContext(
        checkpoint=checkpoint,
        data=data,
        options=o,
        es=es,
        model=model,
        graphs=graphs,
        emb=emb,
        device=dev,
        checkpoint_meta=model.checkpoint_meta,
    )


def resolve_split_kind(kind: str | None, checkpoint_meta: dict[str, Any]) -> str:
    """``kind`` when given, else the split the checkpoint was trained on (``extra.split``,
    written by ``clac train``), else "formula" (checkpoints from before the option)."""
    from clac_core.corpus.splits import check_split_kind

    if kind is None:
        kind = str((checkpoint_meta.get("extra") or {}).get("split") or "formula")
    return check_split_kind(kind)


def run_sections(ctx: EvalContext, sections: Sequence[Section]) -> dict[str, float]:
    """Fill ``ctx.results`` section by section; returns each section's seconds."""
    seconds: dict[str, float] = {}
    announced: float | None = None
    for section in sections:
        if section.announce is not None and ctx.options.progress:
            done = "" if announced is None else f" (previous stage {time.time() - announced:.0f} s)"
            log.info("[clac eval] %s%s", section.announce(ctx), done)
            announced = time.time()
        t = time.time()
        ctx.results[section.key] = section.run(ctx)
        seconds[section.key] = time.time() - t
    return seconds


def evaluate(
    checkpoint: str | Path, data: str, *, sections: Sequence[Section] | None = None, **options: Any
) -> dict[str, Any]:
    """Run every evaluation section and return the results dict (layout in :mod:`clac_core.evaluation`).

    Args:
        checkpoint: CLaC checkpoint directory.
        data: ``clac data build`` directory or a ``csv:``/``cifs:`` spec.
        sections: the sections to run, in order (default :data:`SECTIONS`).
        **options: fields of :class:`~clac_core.evaluation.context.EvalOptions`.
    """
    t_start = time.time()
    ctx = load_context(checkpoint, data, EvalOptions(**options))
    seconds = {"load_data": ctx.es.load_seconds, "embed": ctx.emb.seconds}
    seconds.update(run_sections(ctx, SECTIONS if sections is None else sections))
    seconds["total"] = time.time() - t_start
    return {**ctx.results, "meta": run_meta(ctx, seconds)}


def run_meta(ctx: EvalContext, seconds: dict[str, float]) -> dict[str, Any]:
    """``results.json["meta"]``: what was evaluated, how, and how long it took."""
    es, o = ctx.es, ctx.options
    views_count: dict[str, int] = {}
    for v in es.views:
        views_count[v] = views_count.get(v, 0) + 1
    return {
        "checkpoint": str(ctx.checkpoint),
        "checkpoint_step": ctx.checkpoint_meta.get("step"),
        "data": str(ctx.data),
        "split": es.split,
        "split_kind": es.split_kind,
        "text_column": o.text_column,
        "counts": {
            "crystals": len(es),
            "crystals_with_queries": int(sum(1 for q in es.query_texts() if q)),
            "texts": len(es.texts),
            "texts_by_view": views_count,
        },
        "query_views": list(es.query_views),
        "pools": ["all" if p is None else int(p) for p in o.pools],
        "repeats": o.repeats,
        "seed": o.seed,
        "limit": o.limit,
        "probe_epochs": o.probe_epochs,
        "device": str(ctx.device),
        "seconds": seconds,
        "notes": dict(NOTES),
    }
