"""The crystals and texts under evaluation: :class:`EvalSet` and its readers.

``--data`` is either a ``clac data build`` folder (one split, with its stored description
pairs) or a source spec (``csv:PATH``, ``cifs:PATH``, ``extxyz:PATH``, ``mpjson:PATH``,
``alexandria:PATH``, ``prototypes``, ``decorated``) described
on the fly. Shape legend: N crystals, T texts.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.data.sampling import EVAL_EXCLUDED_VIEWS as QUERY_EXCLUDED_VIEWS

# (Captions summarize several views; the property-query and search views are many-to-one and
# judged by the inverse_design and free-text sections: one list, clac_core.data.sampling.)


@dataclass
class EvalSet:
    """Crystals under evaluation and their texts.

    Attributes:
        name: data spec or directory.
        split: split evaluated (None = every row).
        ids, formulas, structures, properties: per crystal (N).
        facts: per crystal rule-facts dict (:func:`clac_core.evaluation.free_text_rules.facts_record`).
        texts, views: all T description texts and their views.
        owner: (T,) crystal index of each text.
        query_views: views eligible as retrieval queries.
        train_formulas / train_ids / train_chemsys: the data dir's train split (None for
            csv:/cifs:).
        chemsys: per crystal chemical system ("Fe-O"), N.
        split_kind: "formula" or "chemsys" (which grouping ``split`` selected by).
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
    chemsys: list[str] = field(default_factory=list)
    train_chemsys: set[str] | None = None
    split_kind: str = "formula"
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

    from clac_core.evaluation.free_text_rules import facts_record
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
    path: str | Path,
    split: str = "test",
    *,
    split_kind: str = "formula",
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> EvalSet:
    """Crystals of one split (of ``split_kind``) of a ``clac data build`` directory (with their
    stored pairs)."""
    from clac_core.data.datadir import chemical_systems, load_data_dir

    t0 = time.time()
    data = load_data_dir(path, split=split_kind)
    crystals = data.crystals
    if "chemsys" not in crystals.columns:
        crystals = crystals.assign(chemsys=chemical_systems(crystals["atomic_numbers"]))
    if split not in set(crystals["split"]):
        raise ValueError(f"{path}: no crystals in split {split!r} (splits: {sorted(set(crystals['split']))})")
    train = crystals[crystals["split"] == "train"]
    rows = np.flatnonzero((crystals["split"] == split).to_numpy())
    if limit is not None and len(rows) > limit:
        rng = np.random.default_rng([seed, 5])
        rows = rows[np.sort(rng.choice(len(rows), size=limit, replace=False))]
    sel = crystals.iloc[rows].reset_index(drop=True)
    ids = [str(x) for x in sel["crystal_id"]]
    pos = {c: i for i, c in enumerate(ids)}
    pairs = data.pairs[data.pairs["crystal_id"].astype(str).isin(pos)]
    structures = data.structures(rows)
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
        chemsys=[str(c) for c in sel["chemsys"]],
        train_chemsys={str(c) for c in train["chemsys"]},
        split_kind=split_kind,
        load_seconds=time.time() - t0,
    )


def _spec_records(spec: str, *, seed: int, limit: int | None, text_column: str | None) -> Any:
    """Records of a source spec; with ``text_column``, a CSV read keeping that text column."""
    if text_column:
        kind, _, arg = spec.partition(":")
        if kind != "csv" or not arg:
            raise ValueError(f"--text-column needs a csv:PATH data spec, got {spec!r}")
        from clac_core.corpus.tables import iter_csv

        return iter_csv(Path(arg), text_columns=[text_column], limit=limit)
    from clac_core.corpus.sources import records_from_spec

    return records_from_spec(spec, seed=seed, limit=limit)


def eval_set_from_spec(
    spec: str,
    *,
    split: str | None = None,
    split_kind: str = "formula",
    limit: int | None = None,
    seed: int = 0,
    text_column: str | None = None,
    progress: bool = True,
) -> EvalSet:
    """Crystals of a source spec (``csv:PATH``, ``cifs:PATH``...), described on the fly.

    Args:
        spec: source spec (see :func:`clac_core.corpus.sources.records_from_spec`).
        split: keep only crystals whose reduced formula (``split_kind="formula"``) or chemical
            system ("chemsys") falls in this split (:mod:`clac_core.corpus.splits`, ``seed``);
            None keeps every row.
        split_kind: "formula" or "chemsys".
        limit: at most this many crystals.
        seed: split and phrasing seed.
        text_column: CSV column whose texts are the queries (view "given") instead of the
            generated non-caption views; rows without one are dropped.
        progress: tqdm bars.
    """
    t0 = time.time()
    records = _spec_records(spec, seed=seed, limit=None if split else limit, text_column=text_column)
    c = _describe_records(
        records,
        split=split,
        split_kind=split_kind,
        limit=limit,
        seed=seed,
        text_column=text_column,
        progress=progress,
    )
    if not c["ids"]:
        raise ValueError(
            f"no crystals to evaluate from {spec!r} (split={split!r}, text_column={text_column!r})"
        )
    views = c["views"]
    qviews = ("given",) if text_column else tuple(sorted(set(views) - set(QUERY_EXCLUDED_VIEWS) - {"given"}))
    return EvalSet(
        name=spec,
        split=split,
        ids=c["ids"],
        formulas=c["formulas"],
        structures=c["structures"],
        properties=c["properties"],
        facts=c["facts"],
        texts=c["texts"],
        views=views,
        owner=np.asarray(c["owner"], dtype=np.int64),
        query_views=qviews,
        chemsys=c["chemsys"],
        split_kind=split_kind,
        load_seconds=time.time() - t0,
    )


def _describe_records(
    records: Any,
    *,
    split: str | None,
    split_kind: str = "formula",
    limit: int | None,
    seed: int,
    text_column: str | None,
    progress: bool,
) -> dict[str, list[Any]]:
    """Analyze and describe the kept records: per crystal (ids, formulas, structures,
    properties, facts) and per text (texts, views, owner = the crystal's position)."""
    from tqdm.auto import tqdm

    from clac_core.corpus.splits import check_split_kind, chemsys_split_of, split_of
    from clac_core.evaluation.free_text_rules import facts_record
    from clac_core.text import analyze, describe

    check_split_kind(split_kind)
    keys = ("ids", "formulas", "chemsys", "structures", "properties", "facts", "texts", "views", "owner")
    c: dict[str, list[Any]] = {k: [] for k in keys}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in tqdm(records, desc="describe", disable=not progress):
            if limit is not None and len(c["ids"]) >= limit:
                break
            system = rec.structure.composition.chemical_system
            if split and split_kind == "chemsys" and chemsys_split_of(system, seed=seed) != split:
                continue
            if split and split_kind == "formula" and split_of(rec.formula, seed=seed) != split:
                continue
            given = rec.provenance.get(f"text:{text_column}") if text_column else None
            if text_column and not given:
                continue
            f = analyze(rec.structure, labels=rec.labels)
            i = len(c["ids"])
            texts = [(d.text, d.view) for d in describe(rec, seed=seed, facts=f)]
            for text, view in texts + ([(given, "given")] if given else []):
                c["texts"].append(text)
                c["views"].append(view)
                c["owner"].append(i)
            c["ids"].append(rec.id)
            c["formulas"].append(rec.formula)
            c["chemsys"].append(system)
            c["structures"].append(rec.structure)
            c["properties"].append(dict(rec.properties))
            c["facts"].append(facts_record(f, rec.properties))
    return c


def is_spec(data: str) -> bool:
    """Whether ``--data`` is a source spec (``csv:PATH``, ``alexandria:PATH``, ``prototypes``...)
    rather than a data directory."""
    from clac_core.corpus.sources import PATH_KINDS

    kind = data.partition(":")[0]
    return (":" in data and kind in PATH_KINDS) or data in ("prototypes", "decorated")


def load_eval_set(
    data: str,
    *,
    split: str | None = None,
    split_kind: str = "formula",
    limit: int | None = None,
    seed: int = 0,
    text_column: str | None = None,
    progress: bool = True,
) -> EvalSet:
    """Dispatch ``--data``: a spec (csv:/cifs:/extxyz:/mpjson:/alexandria:/prototypes/decorated)
    or a data directory."""
    if is_spec(data):
        return eval_set_from_spec(
            data,
            split=split,
            split_kind=split_kind,
            limit=limit,
            seed=seed,
            text_column=text_column,
            progress=progress,
        )
    if text_column:
        raise ValueError("--text-column only applies to csv:PATH data")
    return eval_set_from_dir(
        data, split or "test", split_kind=split_kind, limit=limit, seed=seed, progress=progress
    )
