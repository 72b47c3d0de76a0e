"""Headline numbers from a ``clac eval`` results.json (used by the app's Home page).

Pure functions over the JSON dict: nothing is retyped, everything is read from the file.
"""

from __future__ import annotations

from typing import Any

BASELINE_NAMES = ("random_init", "lexical", "text_encoder_only")


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def headline(results: dict[str, Any], pool: str = "pool_1000") -> dict[str, float | None]:
    """The quality-bar numbers: R@10 both directions at ``pool``, zero-shot crystal system."""
    return {
        "text_to_crystal_R@10": _get(results, "retrieval", "text_to_crystal", pool, "R@10"),
        "crystal_to_text_R@10": _get(results, "retrieval", "crystal_to_text", pool, "R@10"),
        "zero_shot_crystal_system_accuracy": _get(results, "zero_shot", "crystal_system", "accuracy"),
        "text_to_crystal_R@10_vs_best_baseline": _get(
            results, "baselines", "ratios", "text_to_crystal", pool, "R@10"
        ),
        "pool_size": _get(results, "retrieval", "text_to_crystal", pool, "pool_size"),
    }


def comparison_rows(results: dict[str, Any], pool: str = "pool_1000") -> list[dict[str, Any]]:
    """One row per (direction, metric): the model beside each baseline at ``pool``."""
    rows = []
    for direction in ("text_to_crystal", "crystal_to_text"):
        for metric in ("R@1", "R@5", "R@10", "MRR"):
            row: dict[str, Any] = {
                "direction": direction.replace("_", " "),
                "metric": metric,
                "CLaC": _get(results, "retrieval", direction, pool, metric),
            }
            for name in BASELINE_NAMES:
                row[name] = _get(results, "baselines", name, "retrieval", direction, pool, metric)
            rows.append(row)
    return rows


def key_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Flat ``{"path.to.metric": value}`` of the numbers a model card reports.

    Retrieval R@1/R@10/MRR in both directions at every pool, free-text P@10, zero-shot
    accuracy per task and the probes' ridge/kNN MAE; missing entries are left out.
    """
    out: dict[str, float] = {}
    ret = results.get("retrieval") or {}
    for direction in ("text_to_crystal", "crystal_to_text"):
        for pool, row in sorted((ret.get(direction) or {}).items()):
            for metric in ("R@1", "R@10", "MRR"):
                v = _get(row, metric)
                if isinstance(v, (int, float)):
                    out[f"retrieval.{direction}.{pool}.{metric}"] = float(v)
    v = _get(ret, "free_text", "P@10")
    if isinstance(v, (int, float)):
        out["retrieval.free_text.P@10"] = float(v)
    for task, row in sorted((results.get("zero_shot") or {}).items()):
        v = _get(row, "accuracy")
        if isinstance(v, (int, float)):
            out[f"zero_shot.{task}.accuracy"] = float(v)
    for prop, row in sorted((results.get("probes") or {}).items()):
        for kind in ("ridge", "knn"):
            v = _get(row, "MAE", kind)
            if isinstance(v, (int, float)):
                out[f"probes.{prop}.MAE.{kind}"] = float(v)
    return out


def compare_results(
    reference: dict[str, Any], other: dict[str, Any], *, tol: float = 0.01, rel_tol_mae: float = 0.05
) -> list[dict[str, Any]]:
    """Metric-by-metric comparison of two ``clac eval`` results (e.g. model card vs a re-run).

    Scores in [0, 1] (recalls, MRR, accuracy, P@10) agree when ``|a - b| <= tol``; probe MAEs,
    which carry units, when ``|a - b| <= rel_tol_mae * |a|``. A metric present in only one
    file never agrees.

    Returns:
        One row per metric in either file: ``{"metric", "reference", "other", "diff", "ok"}``.
    """
    a, b = key_metrics(reference), key_metrics(other)
    rows = []
    for k in sorted(set(a) | set(b)):
        ra, rb = a.get(k), b.get(k)
        if ra is None or rb is None:
            rows.append({"metric": k, "reference": ra, "other": rb, "diff": None, "ok": False})
            continue
        limit = rel_tol_mae * abs(ra) if ".MAE." in k else tol
        rows.append({"metric": k, "reference": ra, "other": rb, "diff": rb - ra, "ok": abs(rb - ra) <= limit})
    return rows
