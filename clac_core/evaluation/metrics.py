"""Pure metric functions: retrieval ranks, pooled retrieval metrics, classification metrics.

Shape legend: Q queries, C candidates, N items, D embedding dims, K classes.

Ties are broken uniformly at random *in expectation*: a query whose correct candidate ties
with ``t`` others and is beaten by ``g`` has rank ``1 + g + U`` with ``U`` uniform on
``0..t``; R@k, MRR and the rank are that expectation. A degenerate scorer (all scores equal)
therefore gets chance-level numbers instead of a perfect score, which matters for sparse
baselines such as TF-IDF where many scores are exactly 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RETRIEVAL_KS = (1, 5, 10)
RETRIEVAL_METRICS = ("R@1", "R@5", "R@10", "MRR", "median_rank")
DIRECTIONS = ("text_to_crystal", "crystal_to_text")  # retrieval directions, in results order


def tie_counts(scores: np.ndarray, target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How many candidates beat / tie the correct one, per query.

    Args:
        scores: (Q, C) similarity, higher is better.
        target: (Q,) column of the correct candidate; default ``arange(Q)`` (pairs on the diagonal).

    Returns:
        ``(greater, ties)``, both (Q,) int: candidates scoring strictly higher than the
        correct one, and other candidates scoring exactly the same.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (Q, C), got shape {scores.shape}")
    q = scores.shape[0]
    target = np.arange(q) if target is None else np.asarray(target, dtype=np.int64)
    if target.shape != (q,):
        raise ValueError(f"target must be ({q},), got {target.shape}")
    if q and (target.min() < 0 or target.max() >= scores.shape[1]):
        raise ValueError("target index out of range")
    correct = scores[np.arange(q), target][:, None]  # (Q, 1)
    greater = (scores > correct).sum(1)
    ties = (scores == correct).sum(1) - 1
    return greater.astype(np.int64), ties.astype(np.int64)


def expected_ranks(scores: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
    """Expected 1-based rank of the correct candidate per query (random tie-breaking), (Q,)."""
    g, t = tie_counts(scores, target)
    return 1.0 + g + t / 2.0


def retrieval_metrics(
    scores: np.ndarray, target: np.ndarray | None = None, ks: Sequence[int] = RETRIEVAL_KS
) -> dict[str, float]:
    """R@k, MRR and median rank of one query set against one candidate set.

    Args:
        scores: (Q, C) similarity, higher is better.
        target: (Q,) correct candidate per query (default: the diagonal).
        ks: cut-offs for recall.

    Returns:
        {"R@1", "R@5", "R@10", "MRR", "median_rank", "n_queries", "n_candidates"}.
    """
    from scipy.special import digamma

    g, t = tie_counts(scores, target)
    out: dict[str, float] = {}
    for k in ks:
        out[f"R@{k}"] = float(np.clip((k - g) / (t + 1.0), 0.0, 1.0).mean())
    # E[1/(1+g+U)] = (H(g+t+1) - H(g)) / (t+1), harmonic numbers via digamma.
    mrr = (digamma(g + t + 2.0) - digamma(g + 1.0)) / (t + 1.0)
    out["MRR"] = float(mrr.mean())
    out["median_rank"] = float(np.median(1.0 + g + t / 2.0))
    out["n_queries"] = int(scores.shape[0])
    out["n_candidates"] = int(np.asarray(scores).shape[1])
    return out


def sample_pools(n_items: int, pool_size: int | None, repeats: int, seed: int) -> list[np.ndarray]:
    """Random pools of item indices (sorted), clipped to ``n_items``.

    Args:
        n_items: number of items to draw from.
        pool_size: pool size; ``None`` or ``>= n_items`` gives the full set.
        repeats: number of pools.
        seed: RNG seed (pools are a pure function of the arguments).

    Returns:
        ``repeats`` arrays of ``min(pool_size, n_items)`` distinct indices.
    """
    if n_items <= 0:
        raise ValueError("cannot draw a pool from zero items")
    size = n_items if pool_size is None else min(int(pool_size), n_items)
    rng = np.random.default_rng([seed, size, 7])
    if size == n_items:
        return [np.arange(n_items) for _ in range(repeats)]
    return [np.sort(rng.choice(n_items, size=size, replace=False)) for _ in range(repeats)]


def aggregate(runs: Sequence[dict[str, float]], keys: Sequence[str] = RETRIEVAL_METRICS) -> dict[str, float]:
    """Mean and population std over repeated pools: ``{"R@10": mean, "R@10_std": std, ...}``."""
    out: dict[str, float] = {}
    for k in keys:
        vals = np.array([r[k] for r in runs], dtype=np.float64)
        out[k] = float(vals.mean())
        out[f"{k}_std"] = float(vals.std())
    out["repeats"] = len(runs)
    return out


def parse_pools(text: str) -> list[int | None]:
    """``"100,1000,all"`` -> ``[100, 1000, None]``."""
    out: list[int | None] = []
    for part in str(text).split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "all":
            out.append(None)
        else:
            n = int(part)
            if n < 2:
                raise ValueError(f"pool size must be >= 2, got {n}")
            out.append(n)
    if not out:
        raise ValueError(f"no pool sizes in {text!r}")
    return out


def pool_name(size: int | None) -> str:
    return "pool_all" if size is None else f"pool_{size}"


# --------------------------------------------------------------------------------------
# classification


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any] | None = None
) -> dict[str, float]:
    """Accuracy and macro-F1.

    Args:
        y_true: true classes.
        y_pred: predicted classes.
        labels: classes averaged over by macro-F1 (default: union of true and predicted,
            as scikit-learn does).

    Returns:
        {"accuracy", "macro_f1", "n"}.
    """
    yt = np.asarray(list(y_true), dtype=object)
    yp = np.asarray(list(y_pred), dtype=object)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred differ in length: {len(yt)} vs {len(yp)}")
    if len(yt) == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "n": 0}
    classes = list(labels) if labels is not None else sorted(set(yt.tolist()) | set(yp.tolist()), key=str)
    f1s = []
    for c in classes:
        tp = float(np.sum((yt == c) & (yp == c)))
        fp = float(np.sum((yt != c) & (yp == c)))
        fn = float(np.sum((yt == c) & (yp != c)))
        denom = 2 * tp + fp + fn
        f1s.append(0.0 if denom == 0 else 2 * tp / denom)
    return {"accuracy": float(np.mean(yt == yp)), "macro_f1": float(np.mean(f1s)), "n": int(len(yt))}


def majority_baseline(y_true: Sequence[Any], labels: Sequence[Any] | None = None) -> dict[str, Any]:
    """Metrics of always predicting the most frequent class (ties: first in sorted order)."""
    yt = list(y_true)
    if not yt:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "n": 0, "class": None}
    values, counts = np.unique(np.asarray(yt, dtype=object).astype(str), return_counts=True)
    best_str = values[int(np.argmax(counts))]
    best = next(v for v in yt if str(v) == best_str)
    out: dict[str, Any] = classification_metrics(yt, [best] * len(yt), labels)
    out["class"] = best
    return out


def nearest_class(emb: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
    """Index of the most similar class embedding per item: (N, D), (K, D) -> (N,)."""
    return np.argmax(np.asarray(emb) @ np.asarray(class_emb).T, axis=1)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)
