"""The app's query path: small batches on one thread, query-text embeddings, and the
property-aware re-rank of a text search.

Shape legend: B queries, D embedding dims, N crystals.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.embed import embed_texts
from clac_core.properties import HULL_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.index import CorpusIndex

SMALL_BATCH = 8
# index columns the property-aware re-rank reads (DFT values; predicted_* are read as well)
_PROPERTY_COLUMNS = (
    "band_gap", "direct_gap", "indirect_gap", "formation_energy_per_atom", "total_magnetization", "density",
    "bulk_modulus", "shear_modulus", "poisson_ratio", HULL_COLUMN,
)


@contextmanager
def small_batch_threads(n: int) -> Iterator[None]:
    """Run a small batch (n <= SMALL_BATCH) on one intra-op thread.

    Why: a single query is latency-bound; on a shared 2-core machine under load (load average
    ~10) one MiniLM query took 27-41 ms with 1 torch thread but 760-1260 ms with 2 threads
    (thread spin/contention). Large batches keep the default thread count.
    """
    import torch

    if n > SMALL_BATCH:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def encode_query_texts(model: Any, texts: Sequence[str]) -> np.ndarray:
    """(B, D) normalized text embeddings with the small-batch threading policy."""
    texts = list(texts)
    with small_batch_threads(len(texts)):
        return embed_texts(model, texts, 128, len(texts) >= 256, desc="descriptions")


_COLUMNS: dict[int, tuple[weakref.ref, Any]] = {}  # id(index) -> (ref to it, its columns)
_COLUMNS_LOCK = threading.Lock()


def property_columns(index: CorpusIndex) -> tuple[dict[str, np.ndarray], list[frozenset[str]], np.ndarray]:
    """Property arrays (DFT and ``predicted_*``) (N,), element sets and crystal systems (N,) of
    an index, computed once per loaded index (~0.8 s for 36k rows on 2 cores, mostly the
    composition facts; the app computes them on its preload thread, so the first property-aware
    search does not pay for them) and forgotten with it. Element sets are frozensets: hashable,
    so composition facts are cached per formula."""
    key = id(index)
    with _COLUMNS_LOCK:
        hit = _COLUMNS.get(key)
        if hit is not None and hit[0]() is index:
            return hit[1]
    cols = _property_columns(index)
    with _COLUMNS_LOCK:
        _COLUMNS[key] = (weakref.ref(index, lambda _ref, key=key: _COLUMNS.pop(key, None)), cols)
    return cols


def _property_columns(index: CorpusIndex) -> tuple[dict[str, np.ndarray], list[frozenset[str]], np.ndarray]:
    md = index.metadata
    cols = {
        c: index.property_array(c)
        for c in md.columns
        if c in _PROPERTY_COLUMNS or c.startswith("predicted_")
    }
    elements = [frozenset(str(e).split()) for e in md.get("elements", [""] * len(md))]
    systems = np.asarray(md.get("crystal_system", [""] * len(md))).astype(str)
    from clac_core.query.rerank import composition_columns

    cols.update(composition_columns(elements))  # once per index, not per query
    if "formula" in md:
        cols["formula"] = np.asarray(md["formula"].astype(str), dtype=object)
    if "dimensionality" in md:  # structure words (indexes built before them lack the columns)
        cols["dimensionality"] = index.property_array("dimensionality")
    from clac_core.query.structure import structure_type_column

    if (types := structure_type_column(md)) is not None:  # absent in indexes built before it
        cols["structure_type"] = types
    if "cation_polyhedra" in md:
        from clac_core.query.structure import polyhedra_sets

        sets = np.empty(len(md), dtype=object)
        sets[:] = polyhedra_sets(md["cation_polyhedra"])
        cols["cation_polyhedra"] = sets
    return cols, elements, systems


def property_rescorer(
    intent: Any, cols: dict[str, np.ndarray], elements: list[frozenset[str]], systems: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``rescore(rows, scores)`` for :meth:`CorpusIndex.search`: fused score of the rows'
    match to ``intent`` (a :class:`clac_core.query.intent.QueryIntent`) and their cosine."""
    from clac_core.query.rerank import rerank_scores

    def rescore(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        sub = {c: v[rows] for c, v in cols.items()}
        return rerank_scores(
            scores, intent, sub, elements=[elements[i] for i in rows], crystal_systems=systems[rows]
        )

    return rescore
