"""Searchable embedding index of a crystal corpus, for the app and ``clac index build``.

- :mod:`~clac_core.index.store`: ``CorpusIndex`` (save, load, search; numpy/pandas only).
- :mod:`~clac_core.index.filters`: ``SearchFilters`` and the precomputed ``FilterColumns``.
- :mod:`~clac_core.index.build`: metadata rows, embeddings and manifest of a new index.
- :mod:`~clac_core.index.projection`: the 2D map (cached UMAP, PCA fallback).
- :mod:`~clac_core.index.cli`: ``clac index build``.

Their public names are importable from ``clac_core.index`` directly.
"""

from __future__ import annotations

from clac_core.index.build import (
    PREDICTED_PREFIX,
    build,
    build_from_args,
    checkpoint_hash,
    metadata_row,
    predicted_properties,
    records_from_data_dir,
    records_from_specs,
)
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
    "Categories",
    "CorpusIndex",
    "CorpusIndexError",
    "FilterColumns",
    "SearchFilters",
    "atomic_number",
    "build",
    "build_from_args",
    "checkpoint_hash",
    "compute_umap",
    "metadata_row",
    "pca_xy",
    "predicted_properties",
    "records_from_data_dir",
    "records_from_specs",
    "umap_cache_path",
    "umap_key",
]
