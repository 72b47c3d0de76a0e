"""Pooled retrieval (text -> crystal, crystal -> text) and free-text search, for every system.

Every system sees identical pools and query texts (see :mod:`clac_core.evaluation.systems`);
ties count as random order (:mod:`clac_core.evaluation.metrics`). Shape legend: N crystals,
P pool crystals, Q queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.evaluation.context import EvalContext
from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.embeddings import Embeddings
from clac_core.evaluation.metrics import (
    DIRECTIONS,
    RETRIEVAL_METRICS,
    aggregate,
    pool_name,
    retrieval_metrics,
    sample_pools,
)
from clac_core.evaluation.systems import BASELINES, SYSTEMS, Scorer, make_scorers, system


def retrieval_eval(
    es: EvalSet, scorers: dict[str, Scorer], pools: Sequence[int | None], repeats: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Pooled retrieval for every scorer on identical pools and queries.

    Returns:
        system -> {"text_to_crystal": {pool_name: metrics}, "crystal_to_text": {...}}.
    """
    qtexts = es.query_texts()
    eligible = np.array([i for i, q in enumerate(qtexts) if q], dtype=np.int64)
    if len(eligible) < 2:
        raise ValueError(
            f"need at least 2 crystals with query texts (views {es.query_views}), got {len(eligible)}"
        )
    out: dict[str, dict[str, Any]] = {s: {d: {} for d in DIRECTIONS} for s in scorers}
    for size in pools:
        runs: dict[str, dict[str, list]] = {s: {d: [] for d in DIRECTIONS} for s in scorers}
        for r, sub in enumerate(sample_pools(len(eligible), size, repeats, seed)):
            pool = eligible[sub]
            rng = np.random.default_rng([seed, r, 0 if size is None else size, 3])
            qt = np.array([qtexts[c][int(rng.integers(len(qtexts[c])))] for c in pool], dtype=np.int64)
            for s, fn in scorers.items():
                scores = fn(pool, qt)  # (P texts, P crystals)
                runs[s]["text_to_crystal"].append(retrieval_metrics(scores))
                runs[s]["crystal_to_text"].append(retrieval_metrics(scores.T))
        for s in scorers:
            for d in DIRECTIONS:
                agg = aggregate(runs[s][d])
                agg["pool_size"] = int(runs[s][d][0]["n_candidates"])
                agg["requested_pool_size"] = "all" if size is None else int(size)
                out[s][d][pool_name(size)] = agg
    return out


def free_text_eval(
    es: EvalSet, emb: Embeddings, names: Sequence[str], queries_path: str | Path | None = None, k: int = 10
) -> dict[str, dict[str, Any]]:
    """Precision@k of the hand-written queries over all evaluated crystals, per system."""
    from clac_core.evaluation.free_text_rules import load_queries, precision_at_k, relevance_matrix

    queries = load_queries(queries_path)
    texts = [q.text for q in queries]
    rel = relevance_matrix(queries, es.facts)  # (Q, N)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        scores = system(name).free_text(es, emb, texts)  # (Q, N)
        res = precision_at_k(scores, rel, k=k)
        res["n_queries"] = len(queries)
        per = res.pop("per_query")
        if name == "model":
            res["per_query"] = [
                {"text": q.text, "n_relevant": int(r.sum()), f"P@{k}": p}
                for q, r, p in zip(queries, rel, per, strict=True)
            ]
        out[name] = res
    return out


def ratios_to_strongest(model: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Model / strongest baseline per direction, pool and metric (median rank inverted)."""
    out: dict[str, Any] = {}
    for d in DIRECTIONS:
        out[d] = {}
        for pool, metrics in model[d].items():
            row: dict[str, Any] = {}
            for m in RETRIEVAL_METRICS:
                vals = {b: r[d][pool][m] for b, r in baselines.items()}
                if m == "median_rank":
                    best = min(vals, key=vals.get)
                    ratio = vals[best] / metrics[m] if metrics[m] > 0 else float("nan")
                else:
                    best = max(vals, key=vals.get)
                    ratio = metrics[m] / vals[best] if vals[best] > 0 else float("inf")
                row[m] = float(ratio)
                row[f"{m}_vs"] = best
            out[d][pool] = row
    return out


def retrieval_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["retrieval"]``: the model's pooled and free-text retrieval.

    Every system is scored here on the same pools; their results wait in
    ``ctx.shared["retrieval_by_system"]`` for :func:`baselines_section`.
    """
    o = ctx.options
    names = tuple(SYSTEMS)
    ret = retrieval_eval(ctx.es, make_scorers(ctx.es, ctx.emb, names), o.pools, o.repeats, o.seed)
    free = free_text_eval(ctx.es, ctx.emb, names, o.queries_path)
    for s in names:
        ret[s]["free_text"] = free[s]
    ctx.shared["retrieval_by_system"] = ret
    return ret["model"]


def announce_retrieval(ctx: EvalContext) -> str:
    o = ctx.options
    return (
        f"retrieval: {len(o.pools)} pool sizes x {o.repeats} repeats, model + {len(BASELINES)} baselines, "
        "then free-text queries"
    )


def baselines_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["baselines"]``: each baseline's retrieval and description, and the ratios."""
    ret = ctx.shared["retrieval_by_system"]
    out: dict[str, Any] = {b: {"retrieval": ret[b], "description": SYSTEMS[b].description} for b in BASELINES}
    out["ratios"] = ratios_to_strongest(ret["model"], {b: ret[b] for b in BASELINES})
    return out
