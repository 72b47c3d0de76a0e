"""Searchable embedding index of a crystal corpus, for the app and ``clac index build``.

- :mod:`~clac_core.index.store`: ``CorpusIndex`` (save, load, search).
- :mod:`~clac_core.index.engine`: the faiss search engine (exact / approximate, filters inside).
- :mod:`~clac_core.index.ann_build`: build the approximate index and measure its recall.
- :mod:`~clac_core.index.columns`: the metadata file, its structure columns read on demand.
- :mod:`~clac_core.index.filters`: ``SearchFilters`` and the precomputed ``FilterColumns``.
- :mod:`~clac_core.index.build`: metadata rows, embeddings and manifest of a new index.
- :mod:`~clac_core.index.projection`: the 2D map (cached UMAP, PCA fallback).
- :mod:`~clac_core.index.cli`: ``clac index build`` / ``merge`` / ``refresh-text``.
- :mod:`~clac_core.index.refresh`: ``refresh_text_side``, an index moved to a text-side run of its checkpoint.

Their public names are importable from ``clac_core.index`` directly.
"""

from __future__ import annotations

from clac_core.index.ann_build import build_hnsw, build_ivf, exact_topk_batch, open_engine, recall_at_k
from clac_core.index.build import (
    PREDICTED_PREFIX,
    build,
    build_from_args,
    metadata_row,
    predicted_properties,
    records_from_data_dir,
    records_from_specs,
)
from clac_core.index.columns import STRUCTURE_COLUMNS, LazyStructureColumns
from clac_core.index.engine import AnnInfo, EngineConfig, VectorEngine
from clac_core.index.filters import (
    Categories,
    CorpusIndexError,
    FilterColumns,
    SearchFilters,
    atomic_number,
)
from clac_core.index.projection import compute_umap, pca_xy, umap_cache_path, umap_key
from clac_core.index.store import INDEX_VERSION, METADATA_COLUMNS, CorpusIndex

__all__ = [
    "INDEX_VERSION",
    "METADATA_COLUMNS",
    "PREDICTED_PREFIX",
    "STRUCTURE_COLUMNS",
    "AnnInfo",
    "Categories",
    "CorpusIndex",
    "CorpusIndexError",
    "EngineConfig",
    "FilterColumns",
    "LazyStructureColumns",
    "SearchFilters",
    "VectorEngine",
    "atomic_number",
    "build",
    "build_from_args",
    "build_hnsw",
    "build_ivf",
    "compute_umap",
    "exact_topk_batch",
    "open_engine",
    "recall_at_k",
    "metadata_row",
    "pca_xy",
    "predicted_properties",
    "records_from_data_dir",
    "records_from_specs",
    "umap_cache_path",
    "umap_key",
]
