"""Inverse design by text, CLaC's protocol (``evaluation/compute_metrics.py
--evaluation-method inverse-design`` in the paper's repository): for a target value v, the
query "material with bandgap around {v} eV" ranks every evaluated crystal; the mean (and std)
of the property over the top k is compared with v. Over a list of targets: MAE and Pearson r
between the targets and the retrieved means.

Beside the paper's template, each property has other phrasings written independently of the
training templates (reported apart), bound queries ("gap above 3 eV": share of the top k that
satisfies the bound) and, for band gap, metal queries (share of zero-gap crystals in the top
k). Every number is computed for the model and for the baselines of
:data:`clac_core.evaluation.systems.SYSTEMS` on the same crystals, plus ``random`` (k random
crystals, mean over ``RANDOM_DRAWS`` draws).

Shape legend: N crystals, Q queries, K top-k cut-offs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.evaluation.context import EvalContext

KS = (10, 50, 100)
RANDOM_DRAWS = 500
SYSTEM_NAMES = ("model", "lexical", "text_encoder_only")  # random_init is reported in retrieval only


@dataclass(frozen=True)
class PropertyTask:
    """Targets and phrasings of one property.

    Attributes:
        name: key in results (and in ``EvalSet.properties`` except "density").
        unit: for reports.
        targets: the values v.
        template: CLaC's query template, ``{v}`` replaced by the target.
        phrasings: other point phrasings, name -> template (written apart from training texts).
        bounds: name -> (query, lo, hi): the share of the top k with a value in [lo, hi].
    """

    name: str
    unit: str
    targets: tuple[float, ...]
    template: str
    phrasings: dict[str, str]
    bounds: dict[str, tuple[str, float, float]]


def _fmt(v: float) -> str:
    return f"{v:g}"


TASKS: tuple[PropertyTask, ...] = (
    PropertyTask(
        "band_gap",
        "eV",
        tuple(np.round(np.arange(0.5, 4.01, 0.5), 2)),
        "material with bandgap around {v} eV",
        {
            "semiconductor_gap": "a semiconductor with a {v} eV gap",
            "eg_approx": "Eg ≈ {v} eV",
            "between": "band gap between {lo} and {hi} eV",
            "electronvolts": "compounds whose electronic gap is close to {v} electronvolts",
            "need": "I need a crystal with an energy gap of roughly {v} eV",
            "question": "which solids have a {v} eV bandgap?",
        },
        {
            "gap above 3 eV": ("gap above 3 eV", 3.0, np.inf),
            "wide-gap insulator": ("wide-gap insulator", 3.0, np.inf),
            "band gap below 1 eV but not a metal": ("band gap below 1 eV but not a metal", 1e-9, 1.0),
            "a metal": ("a metal", 0.0, 0.0),
            "metallic conductor": ("metallic conductor", 0.0, 0.0),
            "compounds without a band gap": ("compounds without a band gap", 0.0, 0.0),
            "a good electrical conductor": ("a good electrical conductor", 0.0, 0.0),
            "zero-gap material": ("zero-gap material", 0.0, 0.0),
        },
    ),
    PropertyTask(
        "formation_energy_per_atom",
        "eV/atom",
        tuple(np.round(np.arange(-2.5, 1.01, 0.5), 2)),
        "material with formation energy around {v} eV per atom",
        {
            "compound_of": "compound with a formation energy of {v} eV/atom",
            "delta_h": "ΔH_f ≈ {v} eV per atom",
            "enthalpy": "formation enthalpy close to {v} eV/atom",
            "between": "formation energy between {lo} and {hi} eV/atom",
            "forms_with": "materials that form with about {v} eV per atom",
        },
        {
            "formation energy below -2 eV/atom": ("formation energy below -2 eV/atom", -np.inf, -2.0),
            "unstable, positive formation energy": ("unstable, positive formation energy", 0.0, np.inf),
        },
    ),
    PropertyTask(
        "density",
        "g/cm³",
        (2.0, 4.0, 6.0, 8.0, 10.0),
        "material with density around {v} g/cm³",
        {
            "solid_with": "a solid with a density of {v} g/cm3",
            "rho": "mass density ≈ {v} g/cm³",
            "grams": "crystal weighing about {v} grams per cubic centimetre",
            "between": "density between {lo} and {hi} g/cm3",
            "rho_symbol": "materials with ρ close to {v} g cm-3",
        },
        {
            "density above 8 g/cm3": ("density above 8 g/cm3", 8.0, np.inf),
            "light material under 3 g/cm3": ("light material under 3 g/cm3", -np.inf, 3.0),
        },
    ),
)
_HALF_WIDTH = {"band_gap": 0.5, "formation_energy_per_atom": 0.25, "density": 1.0}


def query_text(template: str, v: float, prop: str) -> str:
    w = _HALF_WIDTH[prop]
    return template.format(v=_fmt(v), lo=_fmt(round(v - w, 2)), hi=_fmt(round(v + w, 2)))


def property_values(properties: Sequence[dict[str, float]], structures: Sequence[Any], name: str) -> np.ndarray:
    """(N,) values of ``name`` (NaN where unknown); density from the structure; band gap as
    :func:`clac_core.properties.band_gap_of` (like the zero-shot labels)."""
    from clac_core.properties import band_gap_of

    out = np.full(len(properties), np.nan)
    for i, p in enumerate(properties):
        if name == "density":
            out[i] = float(p["density"]) if "density" in p else float(structures[i].density)
        elif name == "band_gap":
            gap = band_gap_of(p)
            out[i] = np.nan if gap is None else gap
        elif name in p:
            out[i] = float(p[name])
    return out


def topk_stats(scores: np.ndarray, values: np.ndarray, ks: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Mean and std of ``values`` over each query's top k: (Q, N) scores -> k -> ((Q,), (Q,)).

    Ties are broken by a fixed random permutation (not by index order)."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(scores.shape[1])
    order = perm[np.argsort(-scores[:, perm], axis=1, kind="stable")]  # (Q, N)
    out = {}
    for k in ks:
        top = values[order[:, : min(k, order.shape[1])]]  # (Q, k)
        out[int(k)] = (top.mean(1), top.std(1))
    return out


def random_topk_mae(values: np.ndarray, targets: np.ndarray, k: int, draws: int, seed: int) -> tuple[float, np.ndarray]:
    """MAE of the mean of k random crystals against each target (mean over ``draws`` draws)."""
    rng = np.random.default_rng([seed, k, 7])
    k = min(k, len(values))
    means = np.array([values[rng.choice(len(values), k, replace=False)].mean() for _ in range(draws)])
    per_target = np.abs(means[None, :] - targets[:, None]).mean(1)  # (Q,)
    return float(per_target.mean()), per_target


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def point_metrics(targets: np.ndarray, stats: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, (mean, std) in stats.items():
        out[f"top{k}"] = {
            "MAE": float(np.abs(mean - targets).mean()),
            "pearson_r": _pearson(targets, mean),
            "retrieved_mean": [float(x) for x in mean],
            "retrieved_std": [float(x) for x in std],
        }
    return out


def bound_share(scores: np.ndarray, values: np.ndarray, lo: float, hi: float, ks: Sequence[int]) -> dict[str, float]:
    ok = (values >= lo) & (values <= hi)
    order = np.argsort(-scores, kind="stable")
    return {f"top{k}": float(ok[order[:k]].mean()) for k in ks}


def run_inverse_design(
    scorers: dict[str, Callable[[list[str]], np.ndarray]],
    properties: Sequence[dict[str, float]],
    structures: Sequence[Any],
    *,
    tasks: Sequence[PropertyTask] = TASKS,
    ks: Sequence[int] = KS,
    seed: int = 0,
    draws: int = RANDOM_DRAWS,
) -> dict[str, Any]:
    """The ``inverse_design`` results.

    Args:
        scorers: system name -> (Q query texts -> (Q, N) scores over every evaluated crystal).
        properties, structures: per crystal (N).

    Returns:
        property -> {"n_crystals", "unit", "targets", "template": {system: metrics},
        "random": {...}, "phrasings": {name: {system: metrics}}, "phrasings_mean": {...},
        "bounds": {name: {system: shares, "random": base rate}}}.
    """
    return {task.name: _task_results(task, scorers, properties, structures, ks, seed, draws) for task in tasks}


def _task_results(
    task: PropertyTask,
    scorers: dict[str, Callable[[list[str]], np.ndarray]],
    properties: Sequence[dict[str, float]],
    structures: Sequence[Any],
    ks: Sequence[int],
    seed: int,
    draws: int,
) -> dict[str, Any]:
    """The results of one property (see :func:`run_inverse_design`), or ``{"skipped": why}``
    when fewer than ``max(ks)`` crystals have a known value."""
    values_all = property_values(properties, structures, task.name)
    known = np.flatnonzero(np.isfinite(values_all))
    if len(known) < max(ks):
        return {"skipped": f"{len(known)} crystals with a known {task.name}"}
    values = values_all[known]
    targets = np.asarray(task.targets, dtype=float)
    queries = {"template": [query_text(task.template, v, task.name) for v in targets]}
    for pname, tmpl in task.phrasings.items():
        queries[pname] = [query_text(tmpl, v, task.name) for v in targets]
    bound_q = [q for q, _, _ in task.bounds.values()]
    flat = [q for qs in queries.values() for q in qs] + bound_q
    res: dict[str, Any] = {
        "n_crystals": int(len(known)),
        "unit": task.unit,
        "targets": [float(v) for v in targets],
        "template_text": task.template,
        "template": {},
        "phrasings": {p: {"example": queries[p][len(targets) // 2]} for p in task.phrasings},
        "bounds": {},
    }
    rand = {}
    for k in ks:
        mae, _ = random_topk_mae(values, targets, k, draws, seed)
        rand[f"top{k}"] = {"MAE": mae}
    res["random"] = rand
    for sname, scorer in scorers.items():
        scores = np.asarray(scorer(flat), dtype=np.float64)[:, known]  # (Q, N_known)
        _score_system(res, sname, scores, queries, targets, task, values, ks)
    for bname, (_, lo, hi) in task.bounds.items():
        res["bounds"][bname]["random"] = float(((values >= lo) & (values <= hi)).mean())
    res["phrasings_mean"] = {
        s: {
            f"top{k}": {
                "MAE": float(np.mean([res["phrasings"][p][s][f"top{k}"]["MAE"] for p in task.phrasings]))
            }
            for k in ks
        }
        for s in scorers
    }
    return res


def _score_system(
    res: dict[str, Any],
    sname: str,
    scores: np.ndarray,
    queries: dict[str, list[str]],
    targets: np.ndarray,
    task: PropertyTask,
    values: np.ndarray,
    ks: Sequence[int],
) -> None:
    """Fill ``res`` with one system's point metrics (template, phrasings) and bound shares
    from its (Q, N_known) ``scores``: the point queries in ``queries`` order, then the bounds."""
    scores = np.where(np.isfinite(scores), scores, -1e30)
    row = 0
    for qname, qs in queries.items():
        stats = topk_stats(scores[row : row + len(qs)], values, ks)
        row += len(qs)
        m = point_metrics(targets, stats)
        if qname == "template":
            res["template"][sname] = m
        else:
            res["phrasings"][qname][sname] = m
    for (bname, (_, lo, hi)), srow in zip(task.bounds.items(), scores[row:], strict=True):
        res["bounds"].setdefault(bname, {})[sname] = bound_share(srow, values, lo, hi, ks)


def inverse_design_section(ctx: EvalContext) -> dict[str, Any]:
    """``clac eval`` section: :func:`run_inverse_design` on every evaluated crystal."""
    from clac_core.evaluation.systems import system

    es, emb = ctx.es, ctx.emb
    scorers = {name: (lambda texts, _n=name: system(_n).free_text(es, emb, list(texts))) for name in SYSTEM_NAMES}
    return run_inverse_design(scorers, es.properties, es.structures, seed=ctx.options.seed)


def announce_inverse_design(ctx: EvalContext) -> str:
    return f"inverse design by text: {len(TASKS)} properties, top-k {KS}, {len(ctx.es)} crystals"


def headline_rows(results: dict[str, Any], k: int = 10) -> list[dict[str, Any]]:
    """One row per property for the app's Home page: template MAE of the model, the
    baselines and random k, the model's Pearson r and its MAE over the other phrasings."""
    rows = []
    for prop, r in (results.get("inverse_design") or {}).items():
        if "template" not in r:
            continue
        key = f"top{k}"
        rand = r["random"][key]["MAE"]
        m = r["template"]["model"][key]
        rows.append(
            {
                "property": f"{prop.replace('_', ' ')} ({r['unit']})",
                "crystals": r["n_crystals"],
                f"CLaC MAE (top {k})": round(m["MAE"], 3),
                "random k": round(rand, 3),
                "CLaC / random": round(m["MAE"] / rand, 2) if rand else None,
                "Pearson r": None if m["pearson_r"] is None else round(m["pearson_r"], 3),
                "lexical": round(r["template"]["lexical"][key]["MAE"], 3),
                "text encoder only": round(r["template"]["text_encoder_only"][key]["MAE"], 3),
                "other phrasings (CLaC)": round(r["phrasings_mean"]["model"][key]["MAE"], 3),
            }
        )
    return rows


def plot_inverse_design(results: dict[str, Any], path: str | Path, k: int = 10) -> Path | None:
    """Target vs retrieved top-k mean (model, baselines, random) with y = x, one panel per
    property; written to ``path`` (PNG). None if the section is absent."""
    inv = results.get("inverse_design")
    if not inv:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if t.name in inv and "template" in inv[t.name]]
    if not tasks:  # every property skipped (too few crystals with known values)
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        r = inv[task.name]
        t = np.asarray(r["targets"])
        for sname, style in (("model", "o-"), ("lexical", "s--"), ("text_encoder_only", "^:")):
            if sname in r["template"]:
                m = r["template"][sname][f"top{k}"]
                ax.errorbar(t, m["retrieved_mean"], yerr=m["retrieved_std"], fmt=style, capsize=2,
                            label=f"{sname} (MAE {m['MAE']:.2f})", alpha=0.85)
        lo, hi = float(min(t.min(), 0)), float(t.max())
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="y = x")
        ax.set_title(f"{task.name.replace('_', ' ')} (top {k}; random MAE {r['random'][f'top{k}']['MAE']:.2f})",
                     fontsize=9)
        ax.set_xlabel(f"target ({task.unit})")
        ax.set_ylabel(f"mean of top {k} ({task.unit})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
