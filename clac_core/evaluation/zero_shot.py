"""Zero-shot classification: each crystal gets the class whose prompt embedding is nearest.

Prompts come from :mod:`clac_core.evaluation.prompts` (the table the app shows too); labels
from the crystals' facts. The model and its random-init twin are scored on the same crystals,
beside a majority-class baseline. Shape legend: N crystals, C classes, D embedding dims.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from clac_core.evaluation.context import EvalContext
from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.embeddings import Embeddings
from clac_core.evaluation.metrics import (
    classification_metrics,
    l2_normalize,
    majority_baseline,
    nearest_class,
)
from clac_core.evaluation.prompts import SMALL_GAP_SPLIT, ZERO_SHOT_PROMPTS, prototype_prompts

PROTOTYPE_MIN_CRYSTALS = 3  # a prototype class needs this many evaluated crystals


def zero_shot_labels(es: EvalSet) -> dict[str, list[Any]]:
    """Task -> per-crystal label (None = unknown, excluded from that task)."""
    gaps = [f.get("band_gap") for f in es.facts]
    labels: dict[str, list[Any]] = {
        "crystal_system": [f.get("crystal_system") for f in es.facts],
        "metal_vs_insulator": [None if g is None else ("metal" if g <= 0.0 else "non-metal") for g in gaps],
        "gap_size": [
            None if g is None or g <= 0.0 else ("small_gap" if g < SMALL_GAP_SPLIT else "large_gap")
            for g in gaps
        ],
    }
    protos = [(f.get("labels") or {}).get("prototype") for f in es.facts]
    counts: dict[str, int] = {}
    for p in protos:
        if p:
            counts[p] = counts.get(p, 0) + 1
    keep = {p for p, c in counts.items() if c >= PROTOTYPE_MIN_CRYSTALS}
    if len(keep) >= 2:
        labels["prototype"] = [p if p in keep else None for p in protos]
    return labels


def class_embeddings(
    embed: Callable[[Sequence[str]], np.ndarray], prompts: dict[str, tuple[str, ...]]
) -> np.ndarray:
    """(C, D) normalized mean of each class's normalized prompt embeddings, in ``prompts`` order."""
    flat = [p for templates in prompts.values() for p in templates]
    pe = embed(flat)  # (sum prompts, D)
    cls_emb, j = [], 0
    for templates in prompts.values():
        n = len(templates)
        cls_emb.append(l2_normalize(pe[j : j + n]).mean(0))
        j += n
    return l2_normalize(np.stack(cls_emb))


def zero_shot_eval(es: EvalSet, emb: Embeddings) -> dict[str, Any]:
    """Prompt-based classification with the model and the random-init twin."""
    out: dict[str, Any] = {}
    for task, y in zero_shot_labels(es).items():
        idx = np.array([i for i, v in enumerate(y) if v is not None], dtype=np.int64)
        if task == "prototype":
            prompts = prototype_prompts(sorted({y[i] for i in idx}))
        else:
            prompts = ZERO_SHOT_PROMPTS[task]
        classes = list(prompts)
        present = sorted({y[i] for i in idx})
        if len(idx) < 2 or len(present) < 2:
            out[task] = {
                "skipped": f"needs >= 2 labelled crystals in >= 2 classes (have {len(idx)} in {present})"
            }
            continue
        y_true = [y[i] for i in idx]
        res: dict[str, Any] = {}
        for name, crystal, embed in (
            ("model", emb.crystal, emb.embed_text),
            ("random_init", emb.crystal_random, emb.embed_text_random),
        ):
            pred = [classes[k] for k in nearest_class(crystal[idx], class_embeddings(embed, prompts))]
            m = classification_metrics(y_true, pred)
            if name == "model":
                res.update(m)
            else:
                res[name] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
        res["majority"] = majority_baseline(y_true)
        res["classes"] = {c: int(sum(v == c for v in y_true)) for c in classes}
        res["prompts"] = {c: list(prompts[c]) for c in classes}
        out[task] = res
    return out


def zero_shot_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["zero_shot"]``."""
    return zero_shot_eval(ctx.es, ctx.emb)
