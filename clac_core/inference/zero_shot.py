"""Zero-shot labels of a crystal from clac eval's own prompts (one prompt table,
:mod:`clac_core.evaluation.prompts`).

Shape legend: C classes, D embedding dims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from clac_core.evaluation.prompts import ZeroShotTask, zero_shot_tasks

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# The tasks shown are clac eval's own (one prompt table, clac_core.evaluation.prompts).
ZERO_SHOT_TASKS: tuple[ZeroShotTask, ...] = zero_shot_tasks("crystal_system", "metal_vs_insulator")


def prompt_embeddings(
    task: ZeroShotTask, embed_texts: Callable[[Sequence[str]], np.ndarray]
) -> tuple[list[str], np.ndarray]:
    """The task's classes and (C, D) class embeddings: the normalized mean of each class's
    prompt embeddings."""
    classes = list(task.prompts)
    texts = [p for c in classes for p in task.prompts[c]]
    emb = embed_texts(texts)  # (sum prompts, D)
    out, i = [], 0
    for c in classes:
        n = len(task.prompts[c])
        m = emb[i : i + n].mean(0)
        out.append(m / max(np.linalg.norm(m), 1e-12))
        i += n
    return classes, np.stack(out)  # (C, D)


def zero_shot_frames(
    x: np.ndarray,
    scale: float,
    task_embeddings: Callable[[ZeroShotTask], tuple[list[str], np.ndarray]],
) -> dict[str, pd.DataFrame]:
    """Task name -> DataFrame(label, score) for a (D,) crystal embedding ``x``: softmax of
    ``scale`` times the cosine to each class, sorted, scores sum to 1."""
    import pandas as pd

    out = {}
    for task in ZERO_SHOT_TASKS:
        classes, emb = task_embeddings(task)
        logits = scale * (emb @ x)  # (C,)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        out[task.name] = (
            pd.DataFrame({"label": classes, "score": p.astype(float)})
            .sort_values("score", ascending=False)
            .reset_index(drop=True)
        )
    return out
