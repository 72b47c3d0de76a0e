"""The search store: crystal embeddings + metadata + a description bank (numpy/pandas only).

An index directory holds (no pickle anywhere)::

    manifest.json               checkpoint id/hash, corpus sources, counts, created, version
    embeddings.npy              (N, D) float16 crystal embeddings, L2-normalized
    metadata.parquet            one row per crystal (see ``METADATA_COLUMNS`` + property columns)
    descriptions.parquet        description bank: text, view, crystal_id (deduplicated texts)
    description_embeddings.npy  (M, D) float16 text embeddings, L2-normalized
    umap_<key>.npz              optional cached 2D coordinates (see clac_core.index.projection)
    ann_<hash>.faiss / .json    the approximate search index of a large index (see engine.py)

Search runs on faiss (:mod:`clac_core.index.engine`): exact ``IndexFlatIP`` up to
``EngineConfig.exact_max_rows`` crystals, an approximate IVF index above, with the hard filters
(elements, crystal system, band gap, number of sites, source, property ranges) as a candidate
mask inside the search. A small index holds float32 embeddings in memory; a large one keeps the
float16 file memory-mapped and reads its structure columns on demand
(:mod:`clac_core.index.columns`).
Shape legend: N crystals, M descriptions, D embedding dims, B queries, C candidates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.index.ann_build import open_engine
from clac_core.index.columns import (
    STRUCTURE_COLUMNS,
    LazyStructureColumns,
    metadata_rows,
    read_metadata,
    write_metadata,
)
from clac_core.index.engine import CHUNK_ROWS, EngineConfig, VectorEngine, exact_scores
from clac_core.index.filters import CorpusIndexError, FilterColumns, SearchFilters, atomic_number

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

INDEX_VERSION = 1
METADATA_COLUMNS: tuple[str, ...] = (
    "crystal_id",
    "formula",
    "source",
    "hypothetical",
    "spacegroup_symbol",
    "spacegroup_number",
    "crystal_system",
    "nsites",
    "elements",  # space-separated element symbols, sorted, e.g. "O Sr Ti"
    "lattice",  # 9 floats, row-major Å
    "frac_coords",  # 3N floats
    "atomic_numbers",  # N ints
)


@dataclass
class CorpusIndex:
    """Crystal embeddings + metadata + a description bank.

    Attributes:
        embeddings: (N, D) float32, L2-normalized crystal embeddings.
        metadata: N rows, columns ``METADATA_COLUMNS`` plus one float column per known property.
        desc_embeddings: (M, D) float32, L2-normalized description embeddings.
        descriptions: M rows with ``text``, ``view``, ``crystal_id``.
        manifest: provenance (checkpoint hash, sources, counts, created, version).
        engine_config: exact/approximate threshold and search settings.

    An index over ``engine_config.exact_max_rows`` crystals given float16 embeddings (as
    :meth:`load` does) keeps them float16 (taken as normalized, as :meth:`save` wrote them).
    """

    embeddings: np.ndarray
    metadata: pd.DataFrame
    desc_embeddings: np.ndarray
    descriptions: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    engine_config: EngineConfig = field(default_factory=EngineConfig)
    _filter_cols: FilterColumns | None = field(default=None, repr=False)
    _property_arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _engine: VectorEngine | None = field(default=None, repr=False)
    _folder: Path | None = field(default=None, repr=False)  # where the approximate index is kept
    _lazy: LazyStructureColumns | None = field(default=None, repr=False)
    _corpus_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        large = len(self.embeddings) > self.engine_config.exact_max_rows
        if not (large and self.embeddings.dtype == np.float16):
            self.embeddings = _normalize(np.asarray(self.embeddings, dtype=np.float32))
        self.desc_embeddings = _normalize(np.asarray(self.desc_embeddings, dtype=np.float32))
        if len(self.metadata) != len(self.embeddings):
            raise CorpusIndexError(
                f"index metadata has {len(self.metadata)} rows but embeddings {len(self.embeddings)}"
            )
        if len(self.descriptions) != len(self.desc_embeddings):
            raise CorpusIndexError(
                f"description bank has {len(self.descriptions)} texts but "
                f"{len(self.desc_embeddings)} embeddings"
            )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.metadata)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def corpus_hash(self) -> str:
        """Short hash of the crystal ids and the embedding bytes (keys caches such as UMAP and
        the approximate index); computed once, in chunks (a large index reads its manifest's)."""
        if self._corpus_hash is None:
            h = hashlib.sha256()
            h.update("\n".join(self.metadata["crystal_id"].astype(str)).encode())
            for s in range(0, len(self.embeddings), CHUNK_ROWS):
                h.update(np.ascontiguousarray(self.embeddings[s : s + CHUNK_ROWS], dtype=np.float16).tobytes())
            h.update(str(len(self.descriptions)).encode())
            self._corpus_hash = h.hexdigest()[:16]
        return self._corpus_hash

    @property
    def engine(self) -> VectorEngine:
        """The faiss search engine (exact, or the stored approximate index; built once)."""
        if self._engine is None:
            m = len(self.desc_embeddings)  # text embeddings: the queries recall is measured on
            pick = np.linspace(0, m - 1, min(m, self.engine_config.recall_queries)).astype(int)
            queries = self.desc_embeddings[pick] if m >= 50 else None
            self._engine = open_engine(self.embeddings, self.engine_config, corpus_hash=self.corpus_hash,
                                       folder=self._folder, queries=queries)
        return self._engine

    def prepare_filters(self) -> FilterColumns:
        """The metadata columns the filters read, as numpy arrays (built once; cheap per query).

        Called by :meth:`load` so that the first search does not pay for it; any other index
        builds them on its first filtered search.
        """
        if self._filter_cols is None:
            self._filter_cols = FilterColumns.from_metadata(self.metadata)
        return self._filter_cols

    # ------------------------------------------------------------------ search
    def filter_mask(self, filters: SearchFilters | None) -> np.ndarray:
        """(N,) bool rows passing ``filters``."""
        if filters is None or filters.is_empty():
            return np.ones(len(self), dtype=bool)
        cols = self.prepare_filters()
        keep = np.ones(len(self), dtype=bool)
        for s in filters.must_contain:
            keep &= cols.elements[atomic_number(s)]  # contiguous (N,) row of the (119, N) table
        for s in filters.must_not_contain:
            keep &= ~cols.elements[atomic_number(s)]
        if filters.crystal_systems:
            keep &= cols.crystal_system.isin({str(s).lower() for s in filters.crystal_systems})
        lo, hi = filters.band_gap
        if lo is not None or hi is not None:
            if cols.band_gap is None:
                keep[:] = False
            else:
                keep &= ~np.isnan(cols.band_gap)  # unknown gaps are dropped when filtering by gap
                if lo is not None:
                    keep &= cols.band_gap >= lo
                if hi is not None:
                    keep &= cols.band_gap <= hi
        lo, hi = filters.nsites
        if lo is not None:
            keep &= cols.nsites >= lo
        if hi is not None:
            keep &= cols.nsites <= hi
        if filters.sources:
            keep &= cols.source.isin({str(s) for s in filters.sources})
        if not filters.include_hypothetical:
            keep &= ~cols.hypothetical
        for col, (lo, hi) in filters.property_ranges.items():
            if lo is None and hi is None:
                continue
            vals = self.property_array(col)
            keep &= ~np.isnan(vals)  # unknown values are dropped when filtering by a property
            if lo is not None:
                keep &= vals >= lo
            if hi is not None:
                keep &= vals <= hi
        return keep

    def property_array(self, column: str) -> np.ndarray:
        """(N,) float64 values of a metadata column, NaN where unknown (all NaN without the
        column); built once per column, like :class:`FilterColumns`."""
        if column not in self._property_arrays:
            import pandas as pd

            if column in self.metadata.columns:
                vals = pd.to_numeric(self.metadata[column], errors="coerce").to_numpy(dtype=np.float64)
            else:
                vals = np.full(len(self), np.nan)
            self._property_arrays[column] = vals
        return self._property_arrays[column]

    def search(
        self,
        query_emb: np.ndarray,
        k: int = 20,
        filters: SearchFilters | None = None,
        rescore: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Rank crystals by cosine similarity to one query embedding.

        Args:
            query_emb: (D,) or (1, D) query embedding (normalized here).
            k: number of hits.
            filters: hard filters applied before ranking.
            rescore: ``(rows (n,), cosine (n,)) -> (n,)`` fused scores to rank by instead
                (e.g. property-aware search; -inf drops a row). The result then also has a
                ``score`` column; ``similarity`` stays the model's cosine.

        Returns:
            DataFrame of at most k rows sorted by ``similarity`` (or ``score``), descending,
            with ``rank``, ``similarity``, ``row`` (position in the index) and the metadata columns.
        """
        q = _normalize(np.asarray(query_emb, dtype=np.float32).reshape(1, -1))[0]  # (D,)
        if q.shape[0] != self.dim:
            raise CorpusIndexError(f"query has {q.shape[0]} dims, index has {self.dim}")
        mask = None if filters is None or filters.is_empty() else self.filter_mask(filters)  # (N,)
        if rescore is None:
            return self._frame(*self.engine.search(q, k, mask))
        if self.engine.approximate:  # re-rank the best candidates, never every row
            rows, scores = self.engine.search(q, max(k, self.engine_config.rerank_pool), mask)  # (C,)
            order = np.argsort(rows)
            rows, scores = rows[order], scores[order]
        else:  # exact: every row passing the filters is re-ranked, as before the engine
            rows = np.arange(len(self)) if mask is None else np.flatnonzero(mask)
            scores = exact_scores(self.embeddings, q, None if mask is None else rows)
        fused = np.asarray(rescore(rows, scores), dtype=np.float64)
        keep = np.isfinite(fused)
        rows, cos, fused = rows[keep], scores[keep], fused[keep]
        out = self._top_rows(rows, fused, k)
        pos = np.searchsorted(rows, out["row"].to_numpy())
        out["similarity"] = cos[pos].astype(np.float32)
        out.insert(2, "score", fused[pos].astype(np.float32))
        return out

    def _top_rows(self, rows: np.ndarray, scores: np.ndarray, k: int) -> pd.DataFrame:
        from clac_core.index.engine import top_k

        order = top_k(scores, k)
        return self._frame(rows[order], scores[order])

    def _frame(self, sel: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        """Result table of rows ``sel`` (best first) with their ``scores``."""
        # a large index leaves out the structure columns (reading them for 10 scattered rows took
        # ~80 ms at 10^5 rows); :meth:`structure` reads one crystal's on demand
        out = self.metadata.iloc[sel].reset_index(drop=True).copy()
        out.insert(0, "similarity", np.asarray(scores, dtype=np.float32))
        out.insert(0, "rank", np.arange(1, len(sel) + 1))
        out.insert(2, "row", np.asarray(sel, dtype=np.int64))
        return out

    def nearest_descriptions(self, query_emb: np.ndarray, k: int = 5) -> pd.DataFrame:
        """Top-k texts of the description bank for one (D,) embedding: text, view, similarity."""
        import pandas as pd

        q = _normalize(np.asarray(query_emb, dtype=np.float32).reshape(1, -1))[0]
        if len(self.descriptions) == 0:
            return pd.DataFrame(columns=["rank", "similarity", "text", "view", "crystal_id"])
        scores = self.desc_embeddings @ q  # (M,)
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
        out = self.descriptions.iloc[order].reset_index(drop=True).copy()
        out.insert(0, "similarity", scores[order].astype(np.float32))
        out.insert(0, "rank", np.arange(1, k + 1))
        return out

    def structure(self, row: int) -> Structure:
        """Exact pymatgen Structure of index row ``row`` (from the stored arrays)."""
        from clac_core.record import structure_from_arrays

        if self._lazy is None:
            r = self.metadata.iloc[int(row)]
            return structure_from_arrays(*(r[c] for c in STRUCTURE_COLUMNS))
        got = self._lazy.rows(np.array([row]))
        return structure_from_arrays(*(got[c][0] for c in STRUCTURE_COLUMNS))

    def property_columns(self) -> list[str]:
        from clac_core.properties import QUANTITIES

        return [c for c in self.metadata.columns if c in QUANTITIES]

    # ------------------------------------------------------------------ disk
    def save(self, out_dir: str | Path) -> Path:
        """Write the index to ``out_dir`` (created; each file under a temporary name, then
        swapped in); a large index also stores its approximate search index there."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _save_float16(self.embeddings, out / "embeddings.npy")
        _save_float16(self.desc_embeddings, out / "description_embeddings.npy")
        md = self.metadata
        if self._lazy is not None:  # the structure columns were left on disk: take them along
            md = read_metadata(self._lazy.path, lazy=False)
            for c in self.metadata.columns:
                md[c] = self.metadata[c].to_numpy()
        write_metadata(md, out / "metadata.parquet.tmp")
        (out / "metadata.parquet.tmp").replace(out / "metadata.parquet")
        self.descriptions.to_parquet(out / "descriptions.parquet", index=False)
        manifest = dict(self.manifest)
        manifest.setdefault("version", INDEX_VERSION)
        manifest["counts"] = {
            "crystals": len(self),
            "descriptions": len(self.descriptions),
            "by_source": {str(k): int(v) for k, v in self.metadata["source"].value_counts().items()},
        }
        manifest["dim"] = self.dim
        manifest["corpus_hash"] = self.corpus_hash
        self.manifest = manifest
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if len(self) > self.engine_config.exact_max_rows:
            from clac_core.index.engine import save_ann

            if self._engine is not None and self._engine.info is not None:
                save_ann(out, self._engine.ann, self._engine.info)
            self._folder = out
            _ = self.engine  # built and stored beside the index when it was not yet
        return out

    @classmethod
    def load(cls, index_dir: str | Path, *, config: EngineConfig | None = None) -> CorpusIndex:
        """Read an index written by :meth:`save` and open its search engine.

        An index over ``config.exact_max_rows`` crystals opens lazily: embeddings memory-mapped
        (float16), metadata without the structure columns (read per row on demand), the stored
        approximate index (built and stored on first open when missing).
        """
        import pandas as pd

        d = Path(index_dir)
        needed = ["manifest.json", "embeddings.npy", "metadata.parquet"]
        missing = [n for n in needed if not (d / n).exists()]
        if missing:
            raise CorpusIndexError(f"{d} is not a CLaC index (missing {', '.join(missing)})")
        cfg = config or EngineConfig()
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        lazy = metadata_rows(d / "metadata.parquet") > cfg.exact_max_rows
        emb = np.load(d / "embeddings.npy", allow_pickle=False, mmap_mode="r" if lazy else None)
        meta = read_metadata(d / "metadata.parquet", lazy=lazy)
        if (d / "descriptions.parquet").exists():
            desc = pd.read_parquet(d / "descriptions.parquet")
            demb = np.load(d / "description_embeddings.npy", allow_pickle=False)
        else:
            desc = pd.DataFrame({"text": [], "view": [], "crystal_id": []})
            demb = np.zeros((0, emb.shape[1]), dtype=np.float32)
        idx = cls(embeddings=emb, metadata=meta, desc_embeddings=demb, descriptions=desc, manifest=manifest,
                  engine_config=cfg)
        idx._folder = d
        if lazy:
            idx._lazy = LazyStructureColumns(d / "metadata.parquet")
            idx._corpus_hash = manifest.get("corpus_hash")  # written by save(); hashing 10^6 rows takes seconds
        idx.prepare_filters()
        _ = idx.engine
        return idx


# ---------------------------------------------------------------------- helpers


def _normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalization of a (B, D) array (zero rows stay zero)."""
    if x.ndim != 2 or x.shape[0] == 0:
        return x.astype(np.float32, copy=False)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32, copy=False)


def _save_float16(x: np.ndarray, path: Path) -> None:
    """Write (B, D) rows as a float16 ``.npy`` in chunks, under a temporary name then swapped in
    (``x`` may be a memory map of ``path`` itself)."""
    tmp = path.with_name(path.name + ".tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=tuple(x.shape))
    for s in range(0, len(x), CHUNK_ROWS):
        out[s : s + CHUNK_ROWS] = x[s : s + CHUNK_ROWS]
    out.flush()
    del out
    tmp.replace(path)
