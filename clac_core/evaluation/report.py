"""``clac eval`` reports: write results.json and results.md; read headline numbers back.

Reading (:func:`headline`, :func:`comparison_rows`, :func:`compare_results`; used by the app's
Home page and ``scripts/compare_results.py``) is pure functions over the JSON dict: nothing is
retyped, everything is read from the file. Writing is :func:`write_results`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.evaluation.mcq import mcq_markdown
from clac_core.evaluation.metrics import DIRECTIONS
from clac_core.evaluation.systems import BASELINES

BASELINE_NAMES = BASELINES


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
    for direction in DIRECTIONS:
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
    for direction in DIRECTIONS:
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


# --------------------------------------------------------------------------------------
# writing results.json and results.md


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if np.isnan(x) else f"{x:.{nd}f}"
    return str(x)


def _md_header(results: dict[str, Any]) -> list[str]:
    m = results["meta"]
    return [
        "# CLaC evaluation",
        "",
        f"Checkpoint `{m['checkpoint']}`, data `{m['data']}`, split `{m['split'] or 'all rows'}` "
        f"(grouped by {m.get('split_kind', 'formula')}), "
        f"{m['counts']['crystals']} crystals, {m['counts']['texts']} texts; queries from views "
        f"{', '.join(m['query_views'])}; {m['repeats']} random pools per size, seed {m['seed']}; "
        f"{m['seconds']['total']:.1f} s on {m['device']}.",
    ]


def _systems(results: dict[str, Any]) -> dict[str, Any]:
    return {"model": results["retrieval"], **{b: results["baselines"][b]["retrieval"] for b in BASELINES}}


def _md_retrieval(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Retrieval",
        "",
        "| direction | pool | system | R@1 | R@5 | R@10 | MRR | median rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    systems = _systems(results)
    for d in DIRECTIONS:
        for pool in results["retrieval"][d]:
            for s, r in systems.items():
                x = r[d][pool]
                cells = " | ".join(
                    f"{_fmt(x[k])} ± {_fmt(x[k + '_std'])}" for k in ("R@1", "R@5", "R@10", "MRR")
                )
                lines.append(
                    f"| {d} | {pool} (n={x['pool_size']}) | {s} | {cells} | {_fmt(x['median_rank'], 1)} |"
                )
    lines += ["", "Ratio model / strongest baseline (R@10): "]
    for d in DIRECTIONS:
        for pool, row in results["baselines"]["ratios"][d].items():
            lines.append(f"- {d} {pool}: {_fmt(row['R@10'], 2)} (vs {row['R@10_vs']})")
    lines += [
        "",
        "## Free-text queries (precision@10)",
        "",
        "| system | P@10 | chance | queries used |",
        "|---|---|---|---|",
    ]
    for s, r in systems.items():
        f = r["free_text"]
        lines.append(
            f"| {s} | {_fmt(f['P@10'])} | {_fmt(f['chance'])} | {f['n_queries_used']} / {f['n_queries']} |"
        )
    return lines


def _md_zero_shot(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Zero-shot classification",
        "",
        "| task | n | accuracy | macro-F1 | majority acc | majority F1 | random-init acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, r in results["zero_shot"].items():
        if "skipped" in r:
            lines.append(f"| {task} | – | skipped: {r['skipped']} | | | | |")
            continue
        lines.append(
            f"| {task} | {r['n']} | {_fmt(r['accuracy'])} | {_fmt(r['macro_f1'])} | {_fmt(r['majority']['accuracy'])} | "
            f"{_fmt(r['majority']['macro_f1'])} | {_fmt(r['random_init']['accuracy'])} |"
        )
    return lines


def _md_probes(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Property probes (test MAE)",
        "",
        "| quantity | n train/test | mean | ridge | kNN | random-init ridge | supervised (epochs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for q, r in results["probes"].items():
        if "skipped" in r:
            lines.append(f"| {q} | skipped: {r['skipped']} | | | | | |")
            continue
        mae = r["MAE"]
        sup = (
            f"{_fmt(mae['supervised_cgcnn'])} ({r['supervised_cgcnn']['epochs']})"
            if "supervised_cgcnn" in mae
            else "–"
        )
        lines.append(
            f"| {q} ({r['unit']}) | {r['n_train']}/{r['n_test']} | {_fmt(mae['mean_predictor'])} | {_fmt(mae['ridge'])} | "
            f"{_fmt(mae['knn'])} | {_fmt(mae['random_init_ridge'])} | {sup} |"
        )
    return lines


def _md_leakage(results: dict[str, Any]) -> list[str]:
    lk = results["leakage"]
    lines = [
        "## Leakage",
        "",
        f"- split grouped by {lk.get('split_kind', 'formula')}; evaluated formulas also in the data dir's "
        f"train split: {_fmt(lk['test_formulas_in_train'])}; chemical systems: {_fmt(lk.get('test_chemsys_in_train'))}",
        f"- checkpoint training data: {_fmt(lk['checkpoint_data_dir'])} ({lk.get('checkpoint_split_kind', 'formula')} "
        f"split); formula overlap {_fmt(lk['checkpoint_train_formula_overlap'])}, chemical-system overlap "
        f"{_fmt(lk.get('checkpoint_train_chemsys_overlap'))}, id overlap {_fmt(lk['checkpoint_train_id_overlap'])}",
    ]
    sc = lk.get("second_corpus")
    if sc:
        for d in DIRECTIONS:
            for pool, x in sc["retrieval"][d].items():
                lines.append(
                    f"- second corpus `{sc['data']}` {d} {pool} (n={x['pool_size']}): R@10 {_fmt(x['R@10'])}, "
                    f"MRR {_fmt(x['MRR'])} (random init R@10 {_fmt(sc['random_init_retrieval'][d][pool]['R@10'])})"
                )
    return lines


# results key -> Markdown block; a section without an entry here is in results.json only
MARKDOWN_BLOCKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "retrieval": _md_retrieval,
    "zero_shot": _md_zero_shot,
    "mcq": mcq_markdown,
    "probes": _md_probes,
    "leakage": _md_leakage,
}


def write_markdown(results: dict[str, Any], path: str | Path) -> Path:
    """Human-readable tables of ``results`` (retrieval vs baselines, zero-shot, probes, leakage)."""
    path = Path(path)
    lines = _md_header(results)
    for key, block in MARKDOWN_BLOCKS.items():
        if key in results:
            lines += ["", *block(results)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_results(results: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``out`` (JSON) and the Markdown table beside it (``results.md``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=_json_default), encoding="utf-8")
    md = write_markdown(results, out.with_suffix(".md"))
    return out, md
