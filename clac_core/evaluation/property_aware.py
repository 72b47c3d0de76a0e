"""Property-aware search against model-only search, and the aux head's test error.

* ``aux_head``: MAE of the model's property predictions (the values the app shows as
  "predicted" where a crystal has no DFT value) on the evaluated crystals, beside the MAE of
  predicting the evaluated crystals' own mean (a floor any useful predictor must beat).
* ``free_text``: P@10 of the hand-written queries (a development set: the parser grew while
  they were scored) for four systems. The model's own numbers: ``model_only`` (cosine in the
  joint space) and ``model_predicted_values`` (the query's constraints re-rank over the aux
  head's predictions only: what the app does on uploads and crystals without DFT data).
  Baseline: ``lexical`` TF-IDF. And ``known_dft_lookup``: the re-rank over the evaluated
  crystals' own DFT values, formulas and compositions, judged on those same values, so it is
  a lookup by construction and says nothing about the model (what the app does on Materials
  Project crystals).
* ``free_text_dev2``: the same on ``queries_heldout.yaml``, the second development set.
* ``formula_queries``: a bare reduced formula as the query, rank of the first crystal with
  that formula (top-1, top-10, median rank) for each system (``known_dft_lookup`` reads the
  formula and matches it: a lookup).
* ``inverse_design``: band-gap MAE of the top-k mean for CLaC's template, same three systems.

Shape legend: N crystals, Q queries, K aux properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.properties import PREDICTED_PREFIX

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.evaluation.context import EvalContext


def aux_predictions(model: Any, graphs: list[Any], batch_size: int = 256) -> dict[str, np.ndarray]:
    """``predicted_<prop>`` -> (N,) aux-head predictions in physical units ({} without a head)."""
    from clac_core.embed import predict_graphs

    pred = predict_graphs(model, graphs, batch_size)
    names = list(getattr(model.cfg, "aux_properties", []) or [])
    return {f"{PREDICTED_PREFIX}{n}": pred[:, k] for k, n in enumerate(names)} if pred.shape[1] else {}


def dft_columns(
    properties: list[dict[str, float]], structures: list[Any], extra: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Property -> (N,) known values (NaN where unknown); density from the structure. The four
    searched properties, and ``extra`` ones (e.g. the moduli an aux head also predicts)."""
    from clac_core.evaluation.inverse_design import property_values

    names = ("band_gap", "formation_energy_per_atom", "total_magnetization", "density")
    return {n: property_values(properties, structures, n) for n in (*names, *[e for e in extra if e not in names])}


def aux_head_errors(pred: dict[str, np.ndarray], dft: dict[str, np.ndarray]) -> dict[str, Any]:
    """Property -> {n, MAE, MAE_mean_predictor} of the aux head's predictions where DFT is known."""
    out: dict[str, Any] = {}
    for col, p in pred.items():
        prop = col.removeprefix(PREDICTED_PREFIX)
        y = np.abs(dft[prop]) if prop == "total_magnetization" else dft[prop]
        yp = (
            np.abs(p) if prop == "total_magnetization" else (np.clip(p, 0, None) if prop == "band_gap" else p)
        )
        ok = np.isfinite(y)
        if ok.sum() < 2:
            continue
        out[prop] = {
            "n": int(ok.sum()),
            "MAE": float(np.abs(yp[ok] - y[ok]).mean()),
            "MAE_mean_predictor": float(np.abs(y[ok] - y[ok].mean()).mean()),
        }
    return out


def _free_text(ctx: EvalContext, scores_for: Any, variants: dict[str, Any], path: Any) -> dict[str, Any]:
    """P@10 of every variant and of lexical search on one query file."""
    from clac_core.evaluation.free_text_rules import load_queries, precision_at_k, relevance_matrix
    from clac_core.evaluation.systems import system

    queries = load_queries(path)
    rel = relevance_matrix(queries, ctx.es.facts)
    texts = [q.text for q in queries]
    ft: dict[str, Any] = {}
    for name, cols in variants.items():
        ft[name] = precision_at_k(scores_for(texts, cols), rel, k=10)
    ft["lexical"] = precision_at_k(system("lexical").free_text(ctx.es, ctx.emb, texts), rel, k=10)
    for res in ft.values():
        res.pop("per_query", None)
    return ft


def _formula_queries(
    ctx: EvalContext, scores_for: Any, variants: dict[str, Any], n_queries: int = 300
) -> dict[str, Any]:
    """A bare reduced formula as the query ("ZnO"): rank of the first crystal with that formula,
    for ``n_queries`` formulas of the evaluated crystals drawn with the run's seed."""
    from clac_core.evaluation.systems import system

    formulas = np.asarray([f["formula"] for f in ctx.es.facts], dtype=object)
    uniq = sorted(set(formulas))
    rng = np.random.default_rng(ctx.options.seed)
    pick = [uniq[i] for i in rng.choice(len(uniq), min(n_queries, len(uniq)), replace=False)]
    scored = {name: scores_for(pick, cols) for name, cols in variants.items()}
    scored["lexical"] = system("lexical").free_text(ctx.es, ctx.emb, pick)
    out: dict[str, Any] = {"n_queries": len(pick)}
    for name, s in scored.items():
        ranks = np.array(
            [
                1 + np.flatnonzero(formulas[np.argsort(-s[i], kind="stable")] == f)[0]
                for i, f in enumerate(pick)
            ]
        )
        out[name] = {
            "top1": float((ranks == 1).mean()),
            "top10": float((ranks <= 10).mean()),
            "median_rank": float(np.median(ranks)),
        }
    return out


def _inverse_design(
    scores_for: Any, variants: dict[str, Any], dft: dict[str, np.ndarray]
) -> dict[str, Any] | None:
    """Band-gap inverse design (CLaC's template) for every variant; None with too few known gaps."""
    from clac_core.evaluation.inverse_design import KS, TASKS, point_metrics, query_text, topk_stats

    task = next(t for t in TASKS if t.name == "band_gap")
    vals = dft["band_gap"]
    known = np.flatnonzero(np.isfinite(vals))
    if len(known) < max(KS):
        return None
    targets = np.asarray(task.targets, dtype=float)
    qs = [query_text(task.template, v, task.name) for v in targets]
    inv: dict[str, Any] = {"template": task.template, "targets": [float(v) for v in targets]}
    for name, cols in variants.items():
        s = scores_for(qs, cols)[:, known]
        s = np.where(np.isfinite(s), s, -1e30)
        m = point_metrics(targets, topk_stats(s, vals[known], KS))
        inv[name] = {k: {"MAE": v["MAE"], "pearson_r": v["pearson_r"]} for k, v in m.items()}
    return inv


def property_aware_section(ctx: EvalContext) -> dict[str, Any]:
    from clac_core.evaluation.free_text_rules import default_queries_path, load_queries
    from clac_core.evaluation.systems import system
    from clac_core.query import composition_columns, rerank_scores, understand

    es, emb = ctx.es, ctx.emb
    n = len(es)
    dft = dft_columns(es.properties, es.structures)
    pred = aux_predictions(ctx.model, ctx.graphs, ctx.options.batch_size)
    predicted = [c.removeprefix(PREDICTED_PREFIX) for c in pred]
    known = dft_columns(es.properties, es.structures, predicted) if pred else dft  # every predicted property
    out: dict[str, Any] = {"aux_head": aux_head_errors(pred, known)} if pred else {}
    elements = [frozenset(f["elements"]) for f in es.facts]
    systems = np.asarray([f["crystal_system"] for f in es.facts])
    # per-crystal columns the re-rank reads, computed once rather than once per query
    formula = {
        "formula": np.asarray([f["formula"] for f in es.facts], dtype=object),
        **composition_columns(elements),
    }
    variants: dict[str, dict[str, np.ndarray] | None] = {
        "model_only": None,
        "known_dft_lookup": {**dft, **formula},
    }
    if pred:
        variants["model_predicted_values"] = {**{k: np.full(n, np.nan) for k in dft}, **pred, **formula}

    def scores_for(texts: list[str], columns: dict[str, np.ndarray] | None) -> np.ndarray:
        base = system("model").free_text(es, emb, texts)  # (Q, N)
        if columns is None:
            return base
        return np.stack(
            [
                rerank_scores(base[i], understand(t), columns, elements=elements, crystal_systems=systems)
                for i, t in enumerate(texts)
            ]
        )

    out["free_text"] = _free_text(ctx, scores_for, variants, ctx.options.queries_path)
    out["formula_queries"] = _formula_queries(ctx, scores_for, variants)
    if ctx.options.queries_path is None:  # the packaged second set, written before the parser grew
        heldout = default_queries_path().with_name("queries_heldout.yaml")
        out["free_text_dev2"] = _free_text(ctx, scores_for, variants, heldout)
    texts = [q.text for q in load_queries(ctx.options.queries_path)]
    out["understood"] = {t: understand(t).describe() for t in texts}
    inv = _inverse_design(scores_for, variants, dft)
    if inv is not None:
        out["inverse_design_band_gap"] = inv
    return out


def announce_property_aware(ctx: EvalContext) -> str:
    return "property-aware search vs model-only (free-text P@10, band-gap inverse design), aux-head error"
