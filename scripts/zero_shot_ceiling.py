"""Where a binary zero-shot task's error comes from: the prompts' decision, their ranking, the
embedding's linear separability, and the aux head's predicted property.

For each binary task of ``clac eval``'s zero-shot table (metal vs non-metal, gap size) on an
evaluated split it prints JSON with:

- ``zero_shot``: the card's accuracy (nearest class embedding, prompts averaged);
- ``auc_prompt_score`` and ``oracle_threshold_acc``: the ROC AUC of the score "cosine to the
  first class minus cosine to the second", and its accuracy at the best threshold *chosen on the
  evaluated labels* (an oracle: how much a prompt change that only shifts the decision could add);
- ``linear_probe_cv5``: logistic regression on the crystal embeddings, 5-fold cross-validated;
- for metal vs non-metal, with an aux head that predicts band gaps: ``aux_gap`` (accuracy of
  "predicted gap <= t" for a few t, the accuracy at the best t (an oracle), and the AUC).

It also measures whether the crystal embedding carries the number of elements, which the
arity words ("binary", "ternary", "four-element") ask for (``arity``): a 5-fold logistic-regression
probe of the element count (1-5) beside the majority rate, and for "<word> compound" of each
word of ``vocab.elements.ARITY_ADJECTIVES`` the share of its top 50 crystals with that count,
beside that count's share of all crystals.

A diagnostic, not a model-selection tool: its oracles read the labels they score.

    python scripts/zero_shot_ceiling.py --checkpoint assets/model --data data/full3
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

AUX_THRESHOLDS = (0.05, 0.1, 0.2, 0.3)  # eV, "predicted gap <= t" means metal


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for the boolean labels ``positive`` (scikit-learn's)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, score))


def best_threshold_accuracy(positive: np.ndarray, score: np.ndarray) -> float:
    """Accuracy of "score > t" at the best t over every cut between sorted scores (an oracle)."""
    s = np.sort(np.unique(score))
    cuts = np.concatenate([[s[0] - 1.0], (s[:-1] + s[1:]) / 2, [s[-1] + 1.0]])
    return float(max(((score > t) == positive).mean() for t in cuts))


def prompt_scores(crystal: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
    """(N,) cosine to class 0 minus cosine to class 1, crystal (N, D) and class_emb (2, D) normalized."""
    return crystal @ class_emb[0] - crystal @ class_emb[1]


def task_report(crystal: np.ndarray, class_emb: np.ndarray, positive: np.ndarray) -> dict[str, float]:
    """The numbers of one binary task (``positive`` = the first class)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    s = prompt_scores(crystal, class_emb)
    return {
        "n": int(len(positive)),
        "majority": float(max(positive.mean(), 1 - positive.mean())),
        "zero_shot": float(((s > 0) == positive).mean()),
        "auc_prompt_score": auc(positive, s),
        "oracle_threshold_acc": best_threshold_accuracy(positive, s),
        "linear_probe_cv5": float(cross_val_score(LogisticRegression(max_iter=2000), crystal, positive, cv=5).mean()),
    }


def aux_gap_report(gap: np.ndarray, metal: np.ndarray) -> dict[str, float]:
    """Metal vs non-metal from predicted gaps (N,): accuracy of "gap <= t" per t, at the best t
    (an oracle) and the AUC."""
    out = {f"acc_gap<={t}": float(((gap <= t) == metal).mean()) for t in AUX_THRESHOLDS}
    out["auc"] = auc(metal, -gap)
    out["oracle_threshold_acc"] = best_threshold_accuracy(metal, -gap)
    return out


def arity_report(crystal: np.ndarray, n_elements: np.ndarray, queries: dict[str, tuple[int, np.ndarray]], k: int = 50) -> dict:
    """Element count (N,) of crystals (N, D) against a probe and the queries {text: (count, (D,) embedding)}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    counts, freq = np.unique(n_elements, return_counts=True)
    out: dict = {
        "n": int(len(n_elements)),
        "share_by_count": {int(c): round(float(f / len(n_elements)), 4) for c, f in zip(counts, freq, strict=True)},
        "majority": float(freq.max() / len(n_elements)),
        "linear_probe_cv5": float(cross_val_score(LogisticRegression(max_iter=3000), crystal, n_elements, cv=5).mean()),
    }
    for text, (count, emb) in queries.items():
        top = np.argsort(-(crystal @ emb), kind="stable")[:k]
        out[f"top{k}_share: {text}"] = float((n_elements[top] == count).mean())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="a clac data build directory")
    p.add_argument("--split", default="test")
    p.add_argument("--split-kind", default="chemsys")
    a = p.parse_args(argv)

    from clac_core.embed import predict_graphs
    from clac_core.evaluation.context import EvalOptions
    from clac_core.evaluation.pipeline import load_context
    from clac_core.evaluation.prompts import ZERO_SHOT_PROMPTS
    from clac_core.evaluation.zero_shot import class_embeddings, zero_shot_labels

    ctx = load_context(a.checkpoint, a.data, EvalOptions(split=a.split, split_kind=a.split_kind, progress=False))
    labels = zero_shot_labels(ctx.es)
    out: dict[str, dict[str, float]] = {}
    for task in ("metal_vs_insulator", "gap_size"):
        idx = np.array([i for i, v in enumerate(labels[task]) if v is not None], dtype=np.int64)
        first = next(iter(ZERO_SHOT_PROMPTS[task]))
        positive = np.array([labels[task][i] == first for i in idx])
        out[task] = task_report(ctx.emb.crystal[idx], class_embeddings(ctx.emb.embed_text, ZERO_SHOT_PROMPTS[task]), positive)
        if task == "metal_vs_insulator" and "band_gap" in ctx.model.cfg.aux_properties:
            gap = predict_graphs(ctx.model, ctx.graphs)[:, ctx.model.cfg.aux_properties.index("band_gap")]
            out[task]["aux_gap"] = aux_gap_report(gap[idx], positive)
    from clac_core.vocab.elements import ARITY_ADJECTIVES

    n_el = np.array([len(f["elements"]) for f in ctx.es.facts])
    keep = (n_el >= 1) & (n_el <= 5)
    texts = {f"{w} compound": n for n, words in ARITY_ADJECTIVES.items() for w in words}
    emb = ctx.emb.embed_text(list(texts))
    queries = {t: (n, emb[j]) for j, (t, n) in enumerate(texts.items())}
    out["arity"] = arity_report(ctx.emb.crystal[keep], n_el[keep], queries)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
