"""The 2D map of an index: a UMAP fit cached beside the index, or a PCA fallback.

This module owns the map file: :func:`compute_umap` writes it (``umap_<key>.npz`` with
``crystal_xy`` (S, 2), ``crystal_rows`` (S,), ``desc_xy`` (M, 2), ``method``) and
:func:`load_map` reads it back. The map places at most ``MAP_MAX_POINTS`` crystals: a sample
stratified by crystal system and source (:func:`map_rows`) on a large index, every crystal
on a small one (S = N; files without ``crystal_rows`` place every crystal).
UMAP costs ~25 s of numba compilation in a fresh process, so it is fitted at index build
(``clac index build --umap``, ``scripts/make_assets.py``) and never on page load; the cache
file is keyed by the checkpoint and the corpus, so a rebuilt index never reads a stale map.
Shape legend: N crystals, S crystals on the map, M descriptions, D embedding dims, B points.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.index.store import CorpusIndex

MAP_MAX_POINTS = 50_000


def map_rows(index: CorpusIndex, cap: int = MAP_MAX_POINTS, seed: int = 0) -> np.ndarray:
    """(S,) sorted index rows on the map: all of them up to ``cap``, else a sample stratified by
    (crystal system, source), each stratum in proportion to its size and at least one row."""
    n = len(index)
    if n <= cap:
        return np.arange(n)
    cols = index.prepare_filters()
    strata = cols.crystal_system.codes.astype(np.int64) * (len(cols.source.values) + 1) + cols.source.codes
    rng = np.random.default_rng(seed)
    keep = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        take = max(1, int(round(cap * len(rows) / n)))
        keep.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(keep))


def umap_key(index: CorpusIndex) -> str:
    """Short hash of the index's checkpoint hash and corpus hash."""
    ck = str(index.manifest.get("checkpoint_hash") or "")
    return hashlib.sha256(f"{ck}:{index.corpus_hash}".encode()).hexdigest()[:16]


def umap_cache_path(index: CorpusIndex, index_dir: str | Path) -> Path:
    """Where the cached UMAP coordinates of ``index`` live in ``index_dir``."""
    return Path(index_dir) / f"umap_{umap_key(index)}.npz"


def compute_umap(index: CorpusIndex, index_dir: str | Path, *, seed: int = 0, n_neighbors: int = 15) -> Path:
    """Fit UMAP on the map's crystals (:func:`map_rows`) + description embeddings and cache the
    2D coordinates.

    Returns:
        path of the ``.npz`` with ``crystal_xy`` (S, 2), ``crystal_rows`` (S,) and ``desc_xy`` (M, 2).
    """
    import umap

    rows = map_rows(index, seed=seed)
    x = np.concatenate([np.asarray(index.embeddings[rows], dtype=np.float32), index.desc_embeddings])  # (S+M, D)
    nn = max(2, min(n_neighbors, len(x) - 1))
    reducer = umap.UMAP(n_neighbors=nn, metric="cosine", random_state=seed, n_components=2, init="random")
    xy = reducer.fit_transform(x).astype(np.float32)
    path = umap_cache_path(index, index_dir)
    np.savez(path, crystal_xy=xy[: len(rows)], crystal_rows=rows, desc_xy=xy[len(rows) :], method=np.array("umap"))
    return path


def load_map(index: CorpusIndex, index_dir: str | Path) -> dict[str, Any]:
    """``crystal_xy`` (S, 2), ``crystal_rows`` (S,), ``desc_xy`` (M, 2) and ``method``: the
    cached UMAP beside the index, else a PCA map of :func:`map_rows` (never a UMAP fit on page
    load)."""
    path = umap_cache_path(index, index_dir)
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            rows = z["crystal_rows"] if "crystal_rows" in z.files else np.arange(len(index))
            return {"crystal_xy": z["crystal_xy"], "crystal_rows": rows, "desc_xy": z["desc_xy"], "method": "UMAP"}
    rows = map_rows(index)
    xy = pca_xy(np.concatenate([np.asarray(index.embeddings[rows], dtype=np.float32), index.desc_embeddings]))
    n = len(rows)
    return {
        "crystal_xy": xy[:n],
        "crystal_rows": rows,
        "desc_xy": xy[n:],
        "method": "PCA (no precomputed UMAP for this index)",
    }


def pca_xy(x: np.ndarray) -> np.ndarray:
    """(B, D) -> (B, 2) by PCA (SVD); the fallback map when UMAP was not precomputed."""
    if len(x) < 2:
        return np.zeros((len(x), 2), dtype=np.float32)
    c = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    return (c @ vt[:2].T).astype(np.float32)
