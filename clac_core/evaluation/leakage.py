"""Leakage checks: overlap of the evaluated crystals with training data we can see.

Formula, chemical-system and id overlap with the data dir's own train split and with the
training data named by the checkpoint (its train split of the kind it was trained on); under
the chemsys split both chemical-system overlaps must be 0. Optionally, model retrieval on a
second corpus never trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clac_core.evaluation.context import EvalContext
from clac_core.evaluation.dataset import EvalSet


def leakage_eval(es: EvalSet, checkpoint_meta: dict[str, Any]) -> dict[str, Any]:
    """Formula / chemical-system / id overlap of the evaluated crystals with training data we
    can see (counts of distinct evaluated formulas, systems, ids found in training)."""
    from clac_core.data.datadir import read_crystal_splits

    formulas, systems = set(es.formulas), set(es.chemsys)
    extra = checkpoint_meta.get("extra") or {}
    out: dict[str, Any] = {
        "split_kind": es.split_kind,
        "test_formulas_in_train": None if es.train_formulas is None else len(formulas & es.train_formulas),
        "test_chemsys_in_train": None if es.train_chemsys is None else len(systems & es.train_chemsys),
        "test_ids_in_train": None if es.train_ids is None else len(set(es.ids) & es.train_ids),
        "checkpoint_data_dir": None,
        "checkpoint_split_kind": str(extra.get("split") or "formula"),
        "checkpoint_train_formula_overlap": None,
        "checkpoint_train_chemsys_overlap": None,
        "checkpoint_train_id_overlap": None,
    }
    data_dir = extra.get("data_dir")
    if data_dir:
        out["checkpoint_data_dir"] = str(data_dir)
        if (Path(data_dir) / "crystals.parquet").is_file():
            c = read_crystal_splits(data_dir, out["checkpoint_split_kind"])
            tr = c[c["split"] == "train"]
            out["checkpoint_train_formula_overlap"] = len(formulas & set(tr["formula"].astype(str)))
            out["checkpoint_train_chemsys_overlap"] = len(systems & set(tr["chemsys"].astype(str)))
            out["checkpoint_train_id_overlap"] = len(set(es.ids) & set(tr["crystal_id"].astype(str)))
        else:
            out["checkpoint_data_dir_missing"] = True
    return out


def second_corpus_eval(ctx: EvalContext, check_train_overlap: bool) -> dict[str, Any]:
    """Model and random-init retrieval on ``ctx.options.second`` (a corpus never trained on)."""
    from clac_core.evaluation.dataset import load_eval_set
    from clac_core.evaluation.embeddings import build_graphs, compute_embeddings
    from clac_core.evaluation.retrieval import DIRECTIONS, retrieval_eval
    from clac_core.evaluation.systems import make_scorers

    o = ctx.options
    es2 = load_eval_set(
        o.second,
        limit=o.second_limit if o.second_limit is not None else o.limit,
        seed=o.seed,
        progress=o.progress,
    )
    g2 = build_graphs(es2.structures, ctx.model.cfg, o.progress)
    emb2, _ = compute_embeddings(
        ctx.model, es2, g2, seed=o.seed, batch_size=o.batch_size, progress=o.progress
    )
    r2 = retrieval_eval(es2, make_scorers(es2, emb2, ("model", "random_init")), o.pools, o.repeats, o.seed)
    second_train = None
    if check_train_overlap:
        second_train = leakage_eval(es2, ctx.checkpoint_meta)["checkpoint_train_formula_overlap"]
    return {
        "data": o.second,
        "n_crystals": len(es2),
        "retrieval": {d: r2["model"][d] for d in DIRECTIONS},
        "random_init_retrieval": {d: r2["random_init"][d] for d in DIRECTIONS},
        "checkpoint_train_formula_overlap": second_train,
    }


def leakage_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["leakage"]``."""
    leakage = leakage_eval(ctx.es, ctx.checkpoint_meta)
    leakage["second_corpus"] = None
    if ctx.options.second:
        check = leakage.get("checkpoint_train_formula_overlap") is not None
        leakage["second_corpus"] = second_corpus_eval(ctx, check)
    return leakage


def announce_leakage(ctx: EvalContext) -> str:
    second = ctx.options.second
    return "leakage check" + (f" and second corpus {second}" if second else "")
