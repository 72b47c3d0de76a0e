"""``clac eval``: retrieval, zero-shot classification, property probes, baselines, leakage.

Usage::

    clac eval --checkpoint CKPT --data DIR|csv:PATH|cifs:PATH [--split test] [--text-column NAME]
              [--pools 100,1000,all] [--repeats 5] [--seed 0] [--limit N] [--second csv:PATH]
              [--out results.json]

Writes ``results.json`` and ``results.md`` (same folder). JSON layout::

    retrieval.{text_to_crystal,crystal_to_text}.pool_{100,1000,all}.{R@1,R@5,R@10,MRR,median_rank}
        (+ "<metric>_std" over --repeats random pools, "pool_size" actually used, "repeats")
    retrieval.free_text.{P@10, chance, n_queries_used, n_queries, per_query}
    zero_shot.TASK.{accuracy, macro_f1, n, classes, majority{accuracy, macro_f1, class},
                    random_init{accuracy, macro_f1}, prompts}
    probes.QUANTITY.{n_train, n_test, unit, MAE{mean_predictor, ridge, knn, random_init_ridge,
                     supervised_cgcnn}, supervised_cgcnn{epochs, steps, seconds, ...}}
    baselines.{random_init,lexical,text_encoder_only}.{retrieval (same layout), description}
    baselines.ratios.DIRECTION.POOL.METRIC  (model / strongest baseline; for median_rank
        strongest-baseline rank / model rank, so > 1 always means the model is better)
        and baselines.ratios.DIRECTION.POOL.METRIC_vs (the strongest baseline's name)
    leakage.{test_formulas_in_train, checkpoint_data_dir, checkpoint_train_formula_overlap,
             checkpoint_train_id_overlap, second_corpus}
    meta.{checkpoint, data, split, counts, seconds, query_views, pools, repeats, seed, notes}

Protocol (also stored in ``meta.notes``):

* Retrieval pool = random crystals of the evaluated split (clipped to the split size); each
  pool crystal gets one query text drawn at random from its non-caption views
  (composition/structure/properties, or the ``--text-column`` text); text->crystal ranks the
  pool's crystals for each text, crystal->text ranks the pool's texts for each crystal.
  Ties count as random order (see :mod:`clac_core.evaluation.metrics`).
* Baselines see the same pools and queries. ``random_init``: same architecture and text
  backbone, crystal encoder and heads at random weights (``torch.manual_seed(seed)``).
  ``lexical``: TF-IDF keyword search where a crystal is represented by its own generated
  descriptions minus the query text. ``text_encoder_only``: the pretrained text encoder
  alone, max cosine between the query and the crystal's other descriptions. Both
  description-reading baselines read texts that state the crystal's facts (formula, space
  group, properties), which the model never sees: they are strong references, not strawmen.
* Probes: frozen crystal embeddings of the evaluated crystals, a train/test split grouped by
  reduced formula (seeded, 25 % test); RidgeCV and kNN (k=5) regression; a mean predictor; a
  supervised crystal encoder of the same architecture + linear head trained from scratch on the
  same training rows for ``--probe-epochs`` epochs (Adam, lr 1e-3, batch 32, MSE on
  standardized targets).

Shape legend: N crystals, T texts, Q queries, D embedding dims, H text backbone width.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.evaluation.metrics import (
    RETRIEVAL_METRICS,
    aggregate,
    classification_metrics,
    l2_normalize,
    majority_baseline,
    nearest_class,
    parse_pools,
    pool_name,
    retrieval_metrics,
    sample_pools,
)

__all__ = [
    "EvalSet",
    "classification_metrics",
    "configure_parser",
    "evaluate",
    "load_eval_set",
    "majority_baseline",
    "retrieval_metrics",
    "run",
    "sample_pools",
    "umap_figure",
    "write_markdown",
]

QUERY_EXCLUDED_VIEWS = ("caption",)  # captions summarize several views; queries use single views
DIRECTIONS = ("text_to_crystal", "crystal_to_text")
BASELINES = ("random_init", "lexical", "text_encoder_only")
CRYSTAL_SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
SMALL_GAP_SPLIT = 1.5  # eV, "small" vs "large" gap among gapped crystals
PROBE_TEST_FRACTION = 0.25
PROBE_MIN_ROWS = 20
PROBE_KNN = 5


# --------------------------------------------------------------------------------------
# the evaluated crystals and texts


@dataclass
class EvalSet:
    """Crystals under evaluation and their texts.

    Attributes:
        name: data spec or directory.
        split: split evaluated (None = every row).
        ids, formulas, structures, properties: per crystal (N).
        facts: per crystal rule-facts dict (:func:`clac_core.evaluation.queries.facts_record`).
        texts, views: all T description texts and their views.
        owner: (T,) crystal index of each text.
        query_views: views eligible as retrieval queries.
        train_formulas / train_ids: the data dir's train split (None for csv:/cifs:).
    """

    name: str
    split: str | None
    ids: list[str]
    formulas: list[str]
    structures: list[Any]
    properties: list[dict[str, float]]
    facts: list[dict[str, Any]]
    texts: list[str]
    views: list[str]
    owner: np.ndarray
    query_views: tuple[str, ...]
    train_formulas: set[str] | None = None
    train_ids: set[str] | None = None
    load_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def query_texts(self) -> list[list[int]]:
        """Per crystal, indices of its texts eligible as queries."""
        out: list[list[int]] = [[] for _ in self.ids]
        for t, (o, v) in enumerate(zip(self.owner, self.views, strict=True)):
            if v in self.query_views:
                out[int(o)].append(t)
        return out


def _analyze_all(structures: Sequence[Any], labels: Sequence[dict[str, str]], properties, progress: bool):
    from tqdm.auto import tqdm

    from clac_core.evaluation.queries import facts_record
    from clac_core.text import analyze

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s, lab, props in tqdm(
            list(zip(structures, labels, properties, strict=True)), desc="crystal facts", disable=not progress
        ):
            out.append(facts_record(analyze(s, labels=lab), props))
    return out


def eval_set_from_dir(
    path: str | Path, split: str = "test", *, limit: int | None = None, seed: int = 0, progress: bool = True
) -> EvalSet:
    """Crystals of one split of a ``clac data build`` directory (with their stored pairs)."""
    import pandas as pd

    from clac_core.corpus.record import structure_from_arrays

    t0 = time.time()
    path = Path(path)
    for name in ("crystals.parquet", "pairs.parquet"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{path / name} not found; --data takes a `clac data build` folder or csv:/cifs:"
            )
    crystals = pd.read_parquet(path / "crystals.parquet")
    crystals = crystals.drop(columns=[c for c in ("cif", "provenance") if c in crystals.columns])
    pairs = pd.read_parquet(path / "pairs.parquet", columns=["crystal_id", "text", "view", "split"])
    if split not in set(crystals["split"]):
        raise ValueError(f"{path}: no crystals in split {split!r} (splits: {sorted(set(crystals['split']))})")
    train = crystals[crystals["split"] == "train"]
    sel = crystals[crystals["split"] == split].reset_index(drop=True)
    if limit is not None and len(sel) > limit:
        rng = np.random.default_rng([seed, 5])
        sel = sel.iloc[np.sort(rng.choice(len(sel), size=limit, replace=False))].reset_index(drop=True)
    ids = [str(x) for x in sel["crystal_id"]]
    pos = {c: i for i, c in enumerate(ids)}
    pairs = pairs[pairs["crystal_id"].astype(str).isin(pos)]
    structures = [
        structure_from_arrays(a, b, c)
        for a, b, c in zip(sel["lattice"], sel["frac_coords"], sel["atomic_numbers"], strict=True)
    ]
    props = [json.loads(p) if isinstance(p, str) else {} for p in sel.get("properties", [None] * len(sel))]
    labels = [json.loads(p) if isinstance(p, str) else {} for p in sel.get("labels", [None] * len(sel))]
    facts = _analyze_all(structures, labels, props, progress)
    return EvalSet(
        name=str(path),
        split=split,
        ids=ids,
        formulas=[str(f) for f in sel["formula"]],
        structures=structures,
        properties=props,
        facts=facts,
        texts=[str(t) for t in pairs["text"]],
        views=[str(v) for v in pairs["view"]],
        owner=np.array([pos[str(c)] for c in pairs["crystal_id"]], dtype=np.int64),
        query_views=tuple(sorted({str(v) for v in pairs["view"]} - set(QUERY_EXCLUDED_VIEWS))),
        train_formulas={str(f) for f in train["formula"]},
        train_ids={str(c) for c in train["crystal_id"]},
        load_seconds=time.time() - t0,
    )


def eval_set_from_spec(
    spec: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    text_column: str | None = None,
    progress: bool = True,
) -> EvalSet:
    """Crystals of a source spec (``csv:PATH``, ``cifs:PATH``...), described on the fly.

    Args:
        spec: source spec (see :func:`clac_core.corpus.sources.records_from_spec`).
        split: keep only crystals whose reduced formula falls in this split
            (:func:`clac_core.corpus.splits.split_of` with ``seed``); None keeps every row.
        limit: at most this many crystals.
        seed: split and phrasing seed.
        text_column: CSV column whose texts are the queries (view "given") instead of the
            generated non-caption views; rows without one are dropped.
        progress: tqdm bars.
    """
    from tqdm.auto import tqdm

    from clac_core.corpus.splits import split_of
    from clac_core.text import analyze, describe

    t0 = time.time()
    if text_column:
        kind, _, arg = spec.partition(":")
        if kind != "csv" or not arg:
            raise ValueError(f"--text-column needs a csv:PATH data spec, got {spec!r}")
        from clac_core.corpus.tables import iter_csv

        records = iter_csv(Path(arg), text_columns=[text_column], limit=None if split else limit)
    else:
        from clac_core.corpus.sources import records_from_spec

        records = records_from_spec(spec, seed=seed, limit=None if split else limit)
    ids, formulas, structures, props, facts_list = [], [], [], [], []
    texts, views, owner = [], [], []
    from clac_core.evaluation.queries import facts_record

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in tqdm(records, desc="describe", disable=not progress):
            if limit is not None and len(ids) >= limit:
                break
            formula = rec.formula
            if split and split_of(formula, seed=seed) != split:
                continue
            given = rec.provenance.get(f"text:{text_column}") if text_column else None
            if text_column and not given:
                continue
            f = analyze(rec.structure, labels=rec.labels)
            i = len(ids)
            for d in describe(rec, seed=seed, facts=f):
                texts.append(d.text)
                views.append(d.view)
                owner.append(i)
            if given:
                texts.append(given)
                views.append("given")
                owner.append(i)
            ids.append(rec.id)
            formulas.append(formula)
            structures.append(rec.structure)
            props.append(dict(rec.properties))
            facts_list.append(facts_record(f, rec.properties))
    if not ids:
        raise ValueError(
            f"no crystals to evaluate from {spec!r} (split={split!r}, text_column={text_column!r})"
        )
    qviews = ("given",) if text_column else tuple(sorted(set(views) - set(QUERY_EXCLUDED_VIEWS) - {"given"}))
    return EvalSet(
        name=spec,
        split=split,
        ids=ids,
        formulas=formulas,
        structures=structures,
        properties=props,
        facts=facts_list,
        texts=texts,
        views=views,
        owner=np.asarray(owner, dtype=np.int64),
        query_views=qviews,
        load_seconds=time.time() - t0,
    )


def is_spec(data: str) -> bool:
    kind = data.partition(":")[0]
    return (":" in data and kind in ("csv", "cifs")) or data in ("prototypes", "decorated")


def load_eval_set(
    data: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    text_column: str | None = None,
    progress: bool = True,
) -> EvalSet:
    """Dispatch ``--data``: a spec (csv:/cifs:/prototypes/decorated) or a data directory."""
    if is_spec(data):
        return eval_set_from_spec(
            data, split=split, limit=limit, seed=seed, text_column=text_column, progress=progress
        )
    if text_column:
        raise ValueError("--text-column only applies to csv:PATH data")
    return eval_set_from_dir(data, split or "test", limit=limit, seed=seed, progress=progress)


# --------------------------------------------------------------------------------------
# embeddings


@dataclass
class Embeddings:
    """Everything scored: model and random-init embeddings, pretrained text features.

    Attributes:
        crystal: (N, D) model crystal embeddings; ``crystal_random`` the random-init ones.
        text: (T, D) model text embeddings; ``text_random`` random-init ones.
        text_base: (T, H) normalized pretrained text-encoder features.
        embed_text: model texts -> (Q, D); ``embed_text_random``, ``embed_text_base`` likewise.
    """

    crystal: np.ndarray
    crystal_random: np.ndarray
    text: np.ndarray
    text_random: np.ndarray
    text_base: np.ndarray
    embed_text: Callable[[Sequence[str]], np.ndarray]
    embed_text_random: Callable[[Sequence[str]], np.ndarray]
    embed_text_base: Callable[[Sequence[str]], np.ndarray]
    seconds: float = 0.0


def build_graphs(structures: Sequence[Any], graph_cfg: Any, progress: bool = True) -> list[Any]:
    from tqdm.auto import tqdm

    from clac_core.graph import structure_to_graph

    return [structure_to_graph(s, graph_cfg) for s in tqdm(structures, desc="graphs", disable=not progress)]


def compute_embeddings(
    model: Any, es: EvalSet, graphs: Sequence[Any], *, seed: int, batch_size: int, progress: bool
) -> tuple[Embeddings, Any]:
    """Embed every crystal and text with the model, a random-init twin and the base text encoder.

    Returns:
        (embeddings, random_model).
    """
    import torch

    from clac_core.embed import embed_graphs
    from clac_core.models import CLaCModel, HFTextEncoder

    t0 = time.time()
    device = next(model.parameters()).device
    model.attach_text_backbone()
    model_text = model.text
    base_text = (
        model_text
        if model.cfg.text.train_mode in ("frozen", "cached")
        else HFTextEncoder(model.cfg.text).to(device)
    )
    torch.manual_seed(seed)
    random_model = CLaCModel(model.cfg, load_text_backbone=False).to(device).eval()

    cache: dict[tuple[int, str], torch.Tensor] = {}  # (encoder id, text) -> (H,): prompts are reused

    # A `clac data build` dir keeps pooled features of the frozen backbone (see
    # clac_core.data.text_feature_cache): reuse them, and cache what is missing for re-runs.
    data_dir = Path(es.name)
    shared_cache = (data_dir / "pairs.parquet").is_file() and model.cfg.text.train_mode in ("frozen", "cached")

    def feats(encoder: Any, texts: Sequence[str]) -> torch.Tensor:
        texts = list(texts)
        if shared_cache and encoder is model_text and texts:
            from clac_core.data import text_feature_cache

            f = text_feature_cache(data_dir, texts, model.cfg.text, batch_size=batch_size, progress=progress)
            return torch.from_numpy(f)
        todo = list(dict.fromkeys(t for t in texts if (id(encoder), t) not in cache))
        if todo:
            f = encoder.embed(todo, batch_size=batch_size, progress=progress and len(todo) > batch_size)
            cache.update({(id(encoder), t): row for t, row in zip(todo, f, strict=True)})
        if not texts:
            return torch.zeros(0, encoder.hidden_size)
        return torch.stack([cache[(id(encoder), t)] for t in texts])

    def proj(m: Any, f: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return m.encode_text_features(f.to(device)).float().cpu().numpy()

    f_model = feats(model_text, es.texts)
    f_base = f_model if base_text is model_text else feats(base_text, es.texts)
    emb = Embeddings(
        crystal=embed_graphs(model, graphs, batch_size, progress, desc="crystals (model)"),
        crystal_random=embed_graphs(random_model, graphs, batch_size, progress, desc="crystals (random init)"),
        text=proj(model, f_model),
        text_random=proj(random_model, f_base),
        text_base=l2_normalize(f_base.numpy()),
        embed_text=lambda t: proj(model, feats(model_text, t)),
        embed_text_random=lambda t: proj(random_model, feats(base_text, t)),
        embed_text_base=lambda t: l2_normalize(feats(base_text, t).numpy()),
    )
    emb.seconds = time.time() - t0
    return emb, random_model


# --------------------------------------------------------------------------------------
# retrieval

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (pool crystals (P,), query texts (P,)) -> (P, P)


def make_scorers(es: EvalSet, emb: Embeddings | None, names: Sequence[str]) -> dict[str, Scorer]:
    """Score functions: text rows x crystal columns for a pool and its query texts."""
    from clac_core.evaluation.lexical import LexicalIndex, bank_max_scores

    scorers: dict[str, Scorer] = {}
    lex: LexicalIndex | None = None
    for name in names:
        if name == "model":
            scorers[name] = lambda pool, qt: emb.text[qt] @ emb.crystal[pool].T
        elif name == "random_init":
            scorers[name] = lambda pool, qt: emb.text_random[qt] @ emb.crystal_random[pool].T
        elif name == "lexical":
            lex = lex or LexicalIndex(es.texts, es.owner, len(es))
            scorers[name] = lambda pool, qt, _lex=lex: _lex.score_texts(qt, pool, exclude_texts=qt)
        elif name == "text_encoder_only":
            scorers[name] = lambda pool, qt: bank_max_scores(
                emb.text_base[qt], emb.text_base, es.owner, pool, exclude_texts=qt
            )
        else:
            raise ValueError(f"unknown system {name!r}")
    return scorers


def retrieval_eval(
    es: EvalSet, scorers: dict[str, Scorer], pools: Sequence[int | None], repeats: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Pooled retrieval for every scorer on identical pools and queries.

    Returns:
        system -> {"text_to_crystal": {pool_name: metrics}, "crystal_to_text": {...}}.
    """
    qtexts = es.query_texts()
    eligible = np.array([i for i, q in enumerate(qtexts) if q], dtype=np.int64)
    if len(eligible) < 2:
        raise ValueError(
            f"need at least 2 crystals with query texts (views {es.query_views}), got {len(eligible)}"
        )
    out: dict[str, dict[str, Any]] = {s: {d: {} for d in DIRECTIONS} for s in scorers}
    for size in pools:
        runs: dict[str, dict[str, list]] = {s: {d: [] for d in DIRECTIONS} for s in scorers}
        for r, sub in enumerate(sample_pools(len(eligible), size, repeats, seed)):
            pool = eligible[sub]
            rng = np.random.default_rng([seed, r, 0 if size is None else size, 3])
            qt = np.array([qtexts[c][int(rng.integers(len(qtexts[c])))] for c in pool], dtype=np.int64)
            for s, fn in scorers.items():
                scores = fn(pool, qt)  # (P texts, P crystals)
                runs[s]["text_to_crystal"].append(retrieval_metrics(scores))
                runs[s]["crystal_to_text"].append(retrieval_metrics(scores.T))
        for s in scorers:
            for d in DIRECTIONS:
                agg = aggregate(runs[s][d])
                agg["pool_size"] = int(runs[s][d][0]["n_candidates"])
                agg["requested_pool_size"] = "all" if size is None else int(size)
                out[s][d][pool_name(size)] = agg
    return out


def free_text_eval(
    es: EvalSet, emb: Embeddings, names: Sequence[str], queries_path: str | Path | None = None, k: int = 10
) -> dict[str, dict[str, Any]]:
    """Precision@k of the hand-written queries over all evaluated crystals, per system."""
    from clac_core.evaluation.lexical import LexicalIndex, bank_max_scores
    from clac_core.evaluation.queries import load_queries, precision_at_k, relevance_matrix

    queries = load_queries(queries_path)
    texts = [q.text for q in queries]
    rel = relevance_matrix(queries, es.facts)  # (Q, N)
    allc = np.arange(len(es))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == "model":
            scores = emb.embed_text(texts) @ emb.crystal.T
        elif name == "random_init":
            scores = emb.embed_text_random(texts) @ emb.crystal_random.T
        elif name == "lexical":
            scores = LexicalIndex(es.texts, es.owner, len(es)).score_free_text(texts)
        elif name == "text_encoder_only":
            scores = bank_max_scores(emb.embed_text_base(texts), emb.text_base, es.owner, allc)
        else:
            raise ValueError(f"unknown system {name!r}")
        res = precision_at_k(scores, rel, k=k)
        res["n_queries"] = len(queries)
        per = res.pop("per_query")
        if name == "model":
            res["per_query"] = [
                {"text": q.text, "n_relevant": int(r.sum()), f"P@{k}": p}
                for q, r, p in zip(queries, rel, per, strict=True)
            ]
        out[name] = res
    return out


def ratios_to_strongest(model: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Model / strongest baseline per direction, pool and metric (median rank inverted)."""
    out: dict[str, Any] = {}
    for d in DIRECTIONS:
        out[d] = {}
        for pool, metrics in model[d].items():
            row: dict[str, Any] = {}
            for m in RETRIEVAL_METRICS:
                vals = {b: r[d][pool][m] for b, r in baselines.items()}
                if m == "median_rank":
                    best = min(vals, key=vals.get)
                    ratio = vals[best] / metrics[m] if metrics[m] > 0 else float("nan")
                else:
                    best = max(vals, key=vals.get)
                    ratio = metrics[m] / vals[best] if vals[best] > 0 else float("inf")
                row[m] = float(ratio)
                row[f"{m}_vs"] = best
            out[d][pool] = row
    return out


# --------------------------------------------------------------------------------------
# zero-shot classification

ZERO_SHOT_PROMPTS: dict[str, dict[str, tuple[str, ...]]] = {
    "crystal_system": {
        s: (
            f"a crystal in the {s} crystal system",
            f"a {s} crystal structure",
            f"a material with a {s} lattice",
        )
        for s in CRYSTAL_SYSTEMS
    },
    "metal_vs_insulator": {
        "metal": ("a metal", "a metallic compound with no band gap", "a metallic conductor"),
        "insulator": (
            "an insulator with a band gap",
            "a semiconductor with a band gap",
            "a non-metallic compound",
        ),
    },
    "gap_size": {
        "small_gap": ("a semiconductor with a small band gap", "a narrow gap semiconductor"),
        "large_gap": ("an insulator with a wide band gap", "a wide band gap material"),
    },
}


def zero_shot_labels(es: EvalSet) -> dict[str, list[Any]]:
    """Task -> per-crystal label (None = unknown, excluded from that task)."""
    gaps = [f.get("band_gap") for f in es.facts]
    labels: dict[str, list[Any]] = {
        "crystal_system": [f.get("crystal_system") for f in es.facts],
        "metal_vs_insulator": [None if g is None else ("metal" if g <= 0.0 else "insulator") for g in gaps],
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
    keep = {p for p, c in counts.items() if c >= 3}
    if len(keep) >= 2:
        labels["prototype"] = [p if p in keep else None for p in protos]
    return labels


def zero_shot_eval(es: EvalSet, emb: Embeddings) -> dict[str, Any]:
    """Prompt-based classification with the model and the random-init twin."""
    out: dict[str, Any] = {}
    for task, y in zero_shot_labels(es).items():
        idx = np.array([i for i, v in enumerate(y) if v is not None], dtype=np.int64)
        if task == "prototype":
            classes = sorted({y[i] for i in idx})
            prompts = {c: (f"a crystal with the {c} structure", f"a {c}-type compound") for c in classes}
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
            flat = [p for c in classes for p in prompts[c]]
            pe = embed(flat)  # (sum prompts, D)
            cls_emb, j = [], 0
            for c in classes:
                n = len(prompts[c])
                cls_emb.append(l2_normalize(pe[j : j + n]).mean(0))
                j += n
            pred = [classes[k] for k in nearest_class(crystal[idx], l2_normalize(np.stack(cls_emb)))]
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


# --------------------------------------------------------------------------------------
# probes


def _grouped_split(formulas: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import GroupShuffleSplit

    if len(set(formulas)) < 2:
        # One composition only (e.g. carbon_24: every row is "C"): a formula-grouped split is
        # impossible, so rows are split at random; polymorphs of one formula, not new chemistry.
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(formulas))
        n_test = max(1, int(round(PROBE_TEST_FRACTION * len(formulas))))
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    gss = GroupShuffleSplit(n_splits=1, test_size=PROBE_TEST_FRACTION, random_state=seed)
    tr, te = next(gss.split(np.zeros(len(formulas)), groups=list(formulas)))
    return np.sort(tr), np.sort(te)


def train_supervised(
    model_cfg: Any,
    graphs: Sequence[Any],
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    *,
    epochs: int,
    seed: int,
    device: Any = "cpu",
    lr: float = 1e-3,
    batch_size: int = 32,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the model's crystal-encoder architecture + a linear head from scratch.

    Args:
        model_cfg: :class:`~clac_core.config.ModelConfig` (its crystal and graph parts).
        graphs: all N graphs; y: (N,) targets.
        train_idx / test_idx: row indices.
        epochs: fixed budget in passes over the training rows.

    Returns:
        (predictions for test_idx (n_test,), budget info).
    """
    import torch
    from torch import nn

    from clac_core.graph import collate
    from clac_core.models import build_crystal_encoder

    t0 = time.time()
    torch.manual_seed(seed)
    enc = build_crystal_encoder(model_cfg.crystal, model_cfg.graph)
    net = nn.Sequential(enc, nn.Linear(model_cfg.crystal.out_dim, 1)).to(device)
    mu, sd = float(y[train_idx].mean()), float(y[train_idx].std() or 1.0)
    target = torch.tensor((y - mu) / sd, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 17])
    steps = 0
    for _ in range(epochs):
        net.train()
        order = rng.permutation(train_idx)
        for i in range(0, len(order), batch_size):
            b = order[i : i + batch_size]
            if len(b) < 2:  # batch norm needs two samples
                continue
            pred = net(collate([graphs[j] for j in b]).to(device)).squeeze(-1)
            loss = torch.nn.functional.mse_loss(pred, target[b].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(test_idx), 256):
            b = test_idx[i : i + 256]
            preds.append(net(collate([graphs[j] for j in b]).to(device)).squeeze(-1).float().cpu().numpy())
    p = np.concatenate(preds) * sd + mu if preds else np.zeros(0)
    info = {
        "epochs": epochs,
        "steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "optimizer": "Adam",
        "loss": "MSE on standardized target",
        "seconds": time.time() - t0,
    }
    return p, info


def probe_eval(
    es: EvalSet,
    emb: Embeddings,
    graphs: Sequence[Any],
    model_cfg: Any,
    *,
    seed: int,
    epochs: int,
    device: Any = "cpu",
    min_rows: int = PROBE_MIN_ROWS,
) -> dict[str, Any]:
    """Ridge/kNN probes on frozen embeddings vs mean predictor and a supervised encoder."""
    from sklearn.linear_model import RidgeCV
    from sklearn.neighbors import KNeighborsRegressor

    from clac_core.properties import QUANTITIES

    names = sorted({k for p in es.properties for k in p if k in QUANTITIES})
    out: dict[str, Any] = {}
    for q in names:
        rows = np.array(
            [i for i, p in enumerate(es.properties) if q in p and np.isfinite(p[q])], dtype=np.int64
        )
        y_all = np.full(len(es), np.nan)
        y_all[rows] = [es.properties[i][q] for i in rows]
        if len(rows) < min_rows or np.nanstd(y_all[rows]) == 0:
            out[q] = {"skipped": f"{len(rows)} known values (need >= {min_rows}, not constant)"}
            continue
        tr_local, te_local = _grouped_split([es.formulas[i] for i in rows], seed)
        tr, te = rows[tr_local], rows[te_local]
        if len(tr) < 2 or len(te) < 1:
            out[q] = {"skipped": "grouped split left an empty side"}
            continue
        y_tr, y_te = y_all[tr], y_all[te]
        mae: dict[str, float] = {"mean_predictor": float(np.abs(y_te - y_tr.mean()).mean())}
        alphas = np.logspace(-3, 3, 13)
        for tag, x in (("", emb.crystal), ("random_init_", emb.crystal_random)):
            ridge = RidgeCV(alphas=alphas).fit(x[tr], y_tr)
            mae[f"{tag}ridge"] = float(np.abs(ridge.predict(x[te]) - y_te).mean())
            knn = KNeighborsRegressor(n_neighbors=min(PROBE_KNN, len(tr))).fit(x[tr], y_tr)
            mae[f"{tag}knn"] = float(np.abs(knn.predict(x[te]) - y_te).mean())
        res: dict[str, Any] = {"n_train": int(len(tr)), "n_test": int(len(te)), "unit": QUANTITIES[q].unit}
        if epochs > 0:
            pred, info = train_supervised(
                model_cfg, graphs, y_all, tr, te, epochs=epochs, seed=seed, device=device
            )
            mae["supervised_cgcnn"] = float(np.abs(pred - y_te).mean())
            info["encoder"] = model_cfg.crystal.kind
            res["supervised_cgcnn"] = info
        res["MAE"] = mae
        out[q] = res
    return out


# --------------------------------------------------------------------------------------
# leakage


def leakage_eval(es: EvalSet, checkpoint_meta: dict[str, Any]) -> dict[str, Any]:
    """Formula/id overlap of the evaluated crystals with training data we can see."""
    import pandas as pd

    formulas = set(es.formulas)
    out: dict[str, Any] = {
        "test_formulas_in_train": None if es.train_formulas is None else len(formulas & es.train_formulas),
        "test_ids_in_train": None if es.train_ids is None else len(set(es.ids) & es.train_ids),
        "checkpoint_data_dir": None,
        "checkpoint_train_formula_overlap": None,
        "checkpoint_train_id_overlap": None,
    }
    data_dir = (checkpoint_meta.get("extra") or {}).get("data_dir")
    if data_dir:
        out["checkpoint_data_dir"] = str(data_dir)
        cpath = Path(data_dir) / "crystals.parquet"
        if cpath.is_file():
            c = pd.read_parquet(cpath, columns=["crystal_id", "formula", "split"])
            tr = c[c["split"] == "train"]
            out["checkpoint_train_formula_overlap"] = len(formulas & set(tr["formula"].astype(str)))
            out["checkpoint_train_id_overlap"] = len(set(es.ids) & set(tr["crystal_id"].astype(str)))
        else:
            out["checkpoint_data_dir_missing"] = True
    return out


# --------------------------------------------------------------------------------------
# the whole evaluation


def _device(spec: str) -> Any:
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def evaluate(
    checkpoint: str | Path,
    data: str,
    *,
    split: str | None = None,
    text_column: str | None = None,
    pools: Sequence[int | None] = (100, 1000, None),
    repeats: int = 5,
    seed: int = 0,
    limit: int | None = None,
    second: str | None = None,
    second_limit: int | None = None,
    probe_epochs: int = 5,
    device: str = "cpu",
    batch_size: int = 128,
    queries_path: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every evaluation and return the results dict (layout in the module docstring).

    Args:
        checkpoint: CLaC checkpoint directory.
        data: ``clac data build`` directory or a ``csv:``/``cifs:`` spec.
        split: split to evaluate (data dir default "test"; specs default: every row).
        text_column: CSV column with the query/caption texts (csv: only).
        pools: pool sizes (None = the whole split).
        repeats: random pools per size.
        seed: pools, query choice, random-init weights, probe split.
        limit: at most this many crystals.
        second: a second corpus spec for ``leakage.second_corpus`` (model retrieval only).
        second_limit: crystals of the second corpus (default ``limit``).
        probe_epochs: budget of the supervised baseline (0 skips it).
        device: "cpu", "cuda", "auto".
        batch_size: crystals/texts per forward.
        queries_path: free-text queries YAML (default: the packaged one).
        progress: tqdm bars.
    """
    from clac_core.models import CLaCModel

    t_start = time.time()
    dev = _device(device)
    from clac_core.models import read_checkpoint_meta

    read_checkpoint_meta(checkpoint)  # fail fast on a wrong path, before reading data
    es = load_eval_set(data, split=split, limit=limit, seed=seed, text_column=text_column, progress=progress)
    model = CLaCModel.from_checkpoint(checkpoint, device=dev)
    meta_ckpt = getattr(model, "checkpoint_meta", {}) or {}
    graphs = build_graphs(es.structures, model.cfg.graph, progress)
    emb, _ = compute_embeddings(model, es, graphs, seed=seed, batch_size=batch_size, progress=progress)
    seconds: dict[str, float] = {"load_data": es.load_seconds, "embed": emb.seconds}

    def stage(name: str, started: float | None = None) -> None:
        """One line per stage on stderr (the stages without a tqdm bar take minutes)."""
        if progress:
            done = "" if started is None else f" (previous stage {time.time() - started:.0f} s)"
            print(f"[clac eval] {name}{done}", file=sys.stderr, flush=True)

    t = time.time()
    stage(
        f"retrieval: {len(pools)} pool sizes x {repeats} repeats, model + {len(BASELINES)} baselines, "
        "then free-text queries"
    )
    systems = ("model", *BASELINES)
    ret = retrieval_eval(es, make_scorers(es, emb, systems), pools, repeats, seed)
    free = free_text_eval(es, emb, systems, queries_path)
    for s in systems:
        ret[s]["free_text"] = free[s]
    seconds["retrieval"] = time.time() - t

    stage("zero-shot classification", t)
    t = time.time()
    zero = zero_shot_eval(es, emb)
    seconds["zero_shot"] = time.time() - t
    stage(f"property probes (ridge, kNN, supervised encoder {probe_epochs} epochs per property)", t)
    t = time.time()
    probes = probe_eval(es, emb, graphs, model.cfg, seed=seed, epochs=probe_epochs, device=dev)
    seconds["probes"] = time.time() - t

    stage("leakage check" + (f" and second corpus {second}" if second else ""), t)
    t = time.time()
    leakage = leakage_eval(es, meta_ckpt)
    leakage["second_corpus"] = None
    if second:
        es2 = load_eval_set(
            second, limit=second_limit if second_limit is not None else limit, seed=seed, progress=progress
        )
        g2 = build_graphs(es2.structures, model.cfg.graph, progress)
        emb2, _ = compute_embeddings(model, es2, g2, seed=seed, batch_size=batch_size, progress=progress)
        r2 = retrieval_eval(es2, make_scorers(es2, emb2, ("model", "random_init")), pools, repeats, seed)
        second_train = None
        if leakage.get("checkpoint_train_formula_overlap") is not None:
            second_train = leakage_eval(es2, meta_ckpt)["checkpoint_train_formula_overlap"]
        leakage["second_corpus"] = {
            "data": second,
            "n_crystals": len(es2),
            "retrieval": {d: r2["model"][d] for d in DIRECTIONS},
            "random_init_retrieval": {d: r2["random_init"][d] for d in DIRECTIONS},
            "checkpoint_train_formula_overlap": second_train,
        }
    seconds["leakage"] = time.time() - t

    descriptions = {
        "random_init": "same architecture and text backbone, crystal encoder + heads at random weights (torch seed = --seed)",
        "lexical": "TF-IDF (sublinear tf, IDF over crystals) keyword search over each crystal's own generated "
        "descriptions; the query text is removed from its own crystal's bank",
        "text_encoder_only": "pretrained text encoder alone: max cosine between the query and each crystal's other "
        "descriptions (query text removed from its own crystal's bank); no crystal encoder",
    }
    baselines: dict[str, Any] = {b: {"retrieval": ret[b], "description": descriptions[b]} for b in BASELINES}
    baselines["ratios"] = ratios_to_strongest(ret["model"], {b: ret[b] for b in BASELINES})
    qt = es.query_texts()
    views_count: dict[str, int] = {}
    for v in es.views:
        views_count[v] = views_count.get(v, 0) + 1
    seconds["total"] = time.time() - t_start
    return {
        "retrieval": ret["model"],
        "zero_shot": zero,
        "probes": probes,
        "baselines": baselines,
        "leakage": leakage,
        "meta": {
            "checkpoint": str(checkpoint),
            "checkpoint_step": meta_ckpt.get("step"),
            "data": str(data),
            "split": es.split,
            "text_column": text_column,
            "counts": {
                "crystals": len(es),
                "crystals_with_queries": int(sum(1 for q in qt if q)),
                "texts": len(es.texts),
                "texts_by_view": views_count,
            },
            "query_views": list(es.query_views),
            "pools": ["all" if p is None else int(p) for p in pools],
            "repeats": repeats,
            "seed": seed,
            "limit": limit,
            "probe_epochs": probe_epochs,
            "device": str(dev),
            "seconds": seconds,
            "notes": {
                "ties": "ties broken uniformly at random, in expectation",
                "pools": "random crystals of the split, one random non-caption query text per crystal; "
                "pool_all repeats differ only in the query texts drawn",
                "ratios": "model / strongest baseline (median_rank: strongest baseline / model); > 1 = model better",
                "probes": f"grouped-by-formula split, {int(PROBE_TEST_FRACTION * 100)}% test; RidgeCV, "
                f"kNN k={PROBE_KNN}; supervised_cgcnn = same encoder + linear head from scratch",
                "zero_shot": "nearest class prompt embedding (mean of a few templates); band gap = band_gap or "
                f"min(direct_gap, indirect_gap); gap_size split at {SMALL_GAP_SPLIT} eV among gapped crystals",
                "free_text": "P@10 over all evaluated crystals, mean over queries with >= 10 relevant crystals",
            },
        },
    }


# --------------------------------------------------------------------------------------
# reports


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "nan" if np.isnan(x) else f"{x:.{nd}f}"
    return str(x)


def write_markdown(results: dict[str, Any], path: str | Path) -> Path:
    """Human-readable tables of ``results`` (retrieval vs baselines, zero-shot, probes, leakage)."""
    path = Path(path)
    m = results["meta"]
    lines = [
        "# CLaC evaluation",
        "",
        f"Checkpoint `{m['checkpoint']}`, data `{m['data']}`, split `{m['split'] or 'all rows'}`, "
        f"{m['counts']['crystals']} crystals, {m['counts']['texts']} texts; queries from views "
        f"{', '.join(m['query_views'])}; {m['repeats']} random pools per size, seed {m['seed']}; "
        f"{m['seconds']['total']:.1f} s on {m['device']}.",
        "",
        "## Retrieval",
        "",
        "| direction | pool | system | R@1 | R@5 | R@10 | MRR | median rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    systems = {"model": results["retrieval"], **{b: results["baselines"][b]["retrieval"] for b in BASELINES}}
    for d in DIRECTIONS:
        for pool in results["retrieval"][d]:
            for s, r in systems.items():
                x = r[d][pool]
                lines.append(
                    f"| {d} | {pool} (n={x['pool_size']}) | {s} | "
                    + " | ".join(
                        f"{_fmt(x[k])} ± {_fmt(x[k + '_std'])}" for k in ("R@1", "R@5", "R@10", "MRR")
                    )
                    + f" | {_fmt(x['median_rank'], 1)} |"
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
    lines += [
        "",
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
    lines += [
        "",
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
    lk = results["leakage"]
    lines += [
        "",
        "## Leakage",
        "",
        f"- evaluated formulas also in the data dir's train split: {_fmt(lk['test_formulas_in_train'])}",
        f"- checkpoint training data: {_fmt(lk['checkpoint_data_dir'])}; formula overlap "
        f"{_fmt(lk['checkpoint_train_formula_overlap'])}, id overlap {_fmt(lk['checkpoint_train_id_overlap'])}",
    ]
    sc = lk.get("second_corpus")
    if sc:
        for d in DIRECTIONS:
            for pool, x in sc["retrieval"][d].items():
                lines.append(
                    f"- second corpus `{sc['data']}` {d} {pool} (n={x['pool_size']}): R@10 {_fmt(x['R@10'])}, "
                    f"MRR {_fmt(x['MRR'])} (random init R@10 {_fmt(sc['random_init_retrieval'][d][pool]['R@10'])})"
                )
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


def umap_figure(
    crystal_emb: np.ndarray,
    text_emb: np.ndarray,
    out_path: str | Path,
    *,
    crystal_labels: Sequence[str] | None = None,
    text_labels: Sequence[str] | None = None,
    n_neighbors: int = 15,
    seed: int = 0,
) -> Path:
    """UMAP of the joint space (crystal and text points) as plotly HTML (or PNG with kaleido).

    Args:
        crystal_emb: (N, D); text_emb: (T, D).
        out_path: ``.html`` or ``.png``.
        crystal_labels / text_labels: hover labels.
    """
    import plotly.graph_objects as go
    import umap

    x = np.concatenate([crystal_emb, text_emb]).astype(np.float32)
    xy = umap.UMAP(
        n_neighbors=min(n_neighbors, max(2, len(x) - 1)), random_state=seed, metric="cosine"
    ).fit_transform(x)
    n = len(crystal_emb)
    fig = go.Figure()
    fig.add_scatter(
        x=xy[:n, 0], y=xy[:n, 1], mode="markers", name="crystals", text=list(crystal_labels or [])
    )
    fig.add_scatter(x=xy[n:, 0], y=xy[n:, 1], mode="markers", name="texts", text=list(text_labels or []))
    fig.update_layout(title="CLaC joint embedding space (UMAP)")
    out_path = Path(out_path)
    if out_path.suffix == ".png":
        fig.write_image(str(out_path))  # needs kaleido
    else:
        fig.write_html(str(out_path), include_plotlyjs=True)
    return out_path


# --------------------------------------------------------------------------------------
# CLI


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="CLaC checkpoint directory")
    p.add_argument("--data", required=True, help="`clac data build` folder, or csv:PATH / cifs:PATH")
    p.add_argument(
        "--split",
        default=None,
        help="split to evaluate (data dir default: test; csv:/cifs: default: all rows)",
    )
    p.add_argument("--text-column", default=None, help="csv: column whose texts are the queries/captions")
    p.add_argument("--pools", default="100,1000,all", help="retrieval pool sizes, e.g. 100,1000,all")
    p.add_argument("--repeats", type=int, default=5, help="random pools per size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate at most this many crystals")
    p.add_argument(
        "--second", default=None, help="second corpus spec (never trained on) for leakage.second_corpus"
    )
    p.add_argument(
        "--second-limit", type=int, default=None, help="crystals of the second corpus (default: --limit)"
    )
    p.add_argument("--probe-epochs", type=int, default=5, help="epochs of the supervised baseline (0 = skip)")
    p.add_argument("--queries", default=None, help="free-text queries YAML (default: packaged)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--out", default="results.json", help="results JSON (Markdown written beside it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        pools = parse_pools(args.pools)
        if args.repeats < 1:
            raise ValueError("--repeats must be >= 1")
        results = evaluate(
            args.checkpoint,
            args.data,
            split=args.split,
            text_column=args.text_column,
            pools=pools,
            repeats=args.repeats,
            seed=args.seed,
            limit=args.limit,
            second=args.second,
            second_limit=args.second_limit,
            probe_epochs=args.probe_epochs,
            device=args.device,
            batch_size=args.batch_size,
            queries_path=args.queries,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"clac eval: error: {exc}", file=sys.stderr)
        return 2
    out, md = write_results(results, args.out)
    r = results["retrieval"]
    for d in DIRECTIONS:
        for pool, x in r[d].items():
            print(
                f"{d:16s} {pool:9s} (n={x['pool_size']}) R@1 {x['R@1']:.3f} R@10 {x['R@10']:.3f} MRR {x['MRR']:.3f}"
            )
    print(f"wrote {out} and {md}")
    return 0
