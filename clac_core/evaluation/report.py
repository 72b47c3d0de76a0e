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
