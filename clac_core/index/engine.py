"""Vector search on faiss: exact inner product for small indexes, an approximate index above.

- Below ``EngineConfig.exact_max_rows`` crystals: ``IndexFlatIP`` (exact; the shipped ~36k
  default index stays exact, so its rankings are the brute-force ones).
- Above: an HNSW graph over float16 codes (``IndexHNSWSQ``, ``QT_fp16``; or an IVF index,
  ``ann_kind="ivf"``), its search width (``efSearch``, ``nprobe``) chosen from the recall@10
  against exact search on held-out queries (the index's text embeddings), measured when built
  and stored with it. Built once per set of embeddings:
  ``ann_<hash>.faiss`` + ``ann_<hash>.json`` beside the index, keyed by the corpus hash.
- Filters go into the search: a candidate mask (from :class:`~clac_core.index.filters.FilterColumns`)
  becomes a faiss ``IDSelectorBitmap`` (``SearchParameters(sel=...)``); a mask that keeps few
  rows is searched exactly over those rows; a search that finds fewer than k hits among
  candidates falls back to exact search over the candidates, so a filter never returns fewer
  than k when k rows pass it.
- With faiss-gpu (``faiss.get_num_gpus() > 0``; the faiss-cpu wheel has none) and
  ``EngineConfig.use_gpu``, unfiltered searches of the exact and IVF indexes run on every GPU
  (``index_cpu_to_all_gpus``). Filtered searches stay on the CPU copy, because GPU indexes
  ignore an ``IDSelector`` (faiss issues 3114, 3924), and HNSW has no GPU form in faiss.

Why HNSW by default: text queries lie away from the crystal embeddings (the modality gap), and
an IVF index then needs a large share of its lists scanned (at 10^5 rows, 256 of 632 lists for
recall@10 0.999: 57 ms per query, slower than exact), while HNSW reached 0.967 at efSearch 256
in 0.5 ms (benchmarks/bench_index.py, 2 loaded cores). A filter that excludes most rows is
searched exactly over the rows it keeps, so the HNSW walk never starves.
Shape legend: N crystals, D embedding dims, B queries, C candidates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)
CHUNK_ROWS = 65_536  # float16 -> float32 conversion chunk when adding or scoring many rows


@dataclass(frozen=True)
class EngineConfig:
    """How an index is searched.

    Attributes:
        exact_max_rows: at most this many crystals: exact ``IndexFlatIP``; above: approximate.
        subset_exact_max: a filter keeping at most this many rows is searched exactly over them.
        rerank_pool: candidates the property-aware re-rank sees on an approximate index.
        ann_kind: the approximate index: ``hnsw`` (graph over float16 codes) or ``ivf``.
        hnsw_m: HNSW links per node.
        nlist: IVF lists (0 = about 2 sqrt(N)).
        min_recall: recall@10 against exact the approximate index must reach (picks nprobe).
        recall_queries: held-out queries used to measure it.
        use_gpu: with faiss-gpu and a GPU, run unfiltered exact / IVF searches there.
    """

    exact_max_rows: int = 200_000
    subset_exact_max: int = 50_000
    rerank_pool: int = 2_000
    ann_kind: Literal["hnsw", "ivf"] = "hnsw"
    hnsw_m: int = 32
    nlist: int = 0
    min_recall: float = 0.95
    recall_queries: int = 200
    use_gpu: bool = True


def gpu_count() -> int:
    """GPUs faiss can use: 0 with the faiss-cpu wheel (whose ``get_num_gpus`` returns 0)."""
    import faiss

    try:
        return int(faiss.get_num_gpus())
    except (AttributeError, RuntimeError):
        return 0


@contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """Run faiss on ``n`` OpenMP threads (1 for a single query: on 2 loaded cores spinning
    worker threads cost more than they give, as for BLAS in ``store._dot``)."""
    import faiss

    prev = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, n))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(prev)


def as_float32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def exact_scores(vectors: np.ndarray, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(C,) inner products of ``q`` (D,) with ``vectors[rows]`` (all rows when None), read in
    chunks so a float16 memory map is never converted whole.

    Why einsum and not ``x @ q``: the product is memory-bound, and OpenBLAS's gemv wakes its
    thread pool, whose threads keep spinning after the call. On 2 loaded cores (a training run
    alongside) that took 8 ms instead of 2.3 ms at 50k x 256, and the spinning threads then
    slowed the next query's text encoding in torch from ~13 to ~30 ms
    (benchmarks/bench_search.py; OPENBLAS_NUM_THREADS=1 gave the same gain).
    """
    idx = np.arange(len(vectors)) if rows is None else rows
    out = np.empty(len(idx), dtype=np.float32)
    for s in range(0, len(idx), CHUNK_ROWS):
        part = idx[s : s + CHUNK_ROWS]
        block = vectors[s : s + len(part)] if rows is None else vectors[part]
        out[s : s + len(part)] = np.einsum("nd,d->n", as_float32(block), q)
    return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first (stable among ties)."""
    k = min(int(k), len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


@dataclass
class AnnInfo:
    """What was measured when the approximate index was built (``ann_<hash>.json``)."""

    kind: str  # "hnsw_sq_fp16" or "ivf_sq_fp16"
    nlist: int  # IVF lists, or HNSW links per node
    nprobe: int  # IVF lists scanned, or HNSW efSearch
    recall_at_10: float
    recall_queries: int
    build_s: float
    corpus_hash: str


class VectorEngine:
    """Top-k inner-product search over (N, D) normalized vectors, optionally among candidates.

    ``vectors`` may be a float16 memory map (large indexes) or float32 (small ones); exact
    search over a subset reads only those rows.
    """

    def __init__(self, vectors: np.ndarray, *, config: EngineConfig, ann: Any = None,
                 info: AnnInfo | None = None) -> None:
        self.vectors = vectors  # (N, D)
        self.config = config
        self.ann = ann  # faiss index (flat, HNSW or IVF) on the CPU
        self.info = info
        self.gpu_ann: Any = None  # its copy on the GPUs (unfiltered searches), when any
        self.gpus = 0
        if config.use_gpu and (info is None or info.kind.startswith("ivf")):
            self._to_gpus()

    def _to_gpus(self) -> None:
        """Copy the index to every GPU faiss sees (none on faiss-cpu: nothing happens)."""
        import faiss

        n = gpu_count()
        if n <= 0 or self.ann is None:
            return
        try:
            gpu = faiss.index_cpu_to_all_gpus(self.ann)
            if self.info is not None:  # IVF: the search width measured at build
                faiss.GpuParameterSpace().set_index_parameter(gpu, "nprobe", self.info.nprobe)
        except (RuntimeError, AttributeError) as exc:  # out of GPU memory, a kind without a GPU form
            log.warning("faiss index stays on the CPU: %s", exc)
            return
        self.gpu_ann, self.gpus = gpu, n

    @property
    def approximate(self) -> bool:
        return self.info is not None

    @classmethod
    def exact(cls, vectors: np.ndarray, config: EngineConfig) -> VectorEngine:
        """An ``IndexFlatIP`` over float32 ``vectors`` (N, D)."""
        import faiss

        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(as_float32(vectors))
        return cls(vectors, config=config, ann=flat)

    def search(self, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows (k',), scores (k',)) best first, k' = min(k, rows passing ``mask``).

        Args:
            q: (D,) float32 normalized query.
            k: hits wanted.
            mask: (N,) bool candidate rows, None = all.
        """
        import faiss

        n = len(self.vectors)
        n_cand = n if mask is None else int(mask.sum())
        k = min(int(k), n_cand)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if mask is not None and (n_cand <= self.config.subset_exact_max or n_cand <= 4 * k):
            return self._exact_subset(q, k, np.flatnonzero(mask))
        params = None
        keep: list[Any] = []  # the bitmap must outlive the search call
        if mask is not None and n_cand < n:
            bits = np.packbits(mask, bitorder="little")
            keep.append(bits)
            sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            keep.append(sel)
            params = self._params(sel, n / max(n_cand, 1))
        elif self.approximate:
            params = self._params(None, 1.0)
        if self.gpu_ann is not None and not keep:  # unfiltered: on the GPUs (no selector there)
            dist, ids = self.gpu_ann.search(q.reshape(1, -1).astype(np.float32), k)
        else:
            with faiss_threads(1):
                dist, ids = self.ann.search(q.reshape(1, -1).astype(np.float32), k, params=params)
        found = ids[0] >= 0
        if found.sum() < k and mask is not None:  # too few candidates met on the lists scanned
            return self._exact_subset(q, k, np.flatnonzero(mask))
        return ids[0][found].astype(np.int64), dist[0][found].astype(np.float32)

    def _params(self, sel: Any, selectivity: float) -> Any:
        """faiss search parameters: the selector, and a search width (IVF ``nprobe``, HNSW
        ``efSearch``) widened by the share of rows a filter leaves (so about as many candidates
        are met as unfiltered)."""
        import faiss

        if not self.approximate:
            return faiss.SearchParameters(sel=sel)
        assert self.info is not None
        width = int(np.ceil(self.info.nprobe * min(selectivity, 8.0)))
        kw: dict[str, Any] = {} if sel is None else {"sel": sel}
        if self.info.kind.startswith("hnsw"):
            return faiss.SearchParametersHNSW(efSearch=min(width, 8192), **kw)
        return faiss.SearchParametersIVF(nprobe=min(self.info.nlist, width), **kw)

    def _exact_subset(self, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = exact_scores(self.vectors, q, rows)
        order = top_k(scores, k)
        return rows[order], scores[order]


def ann_paths(folder: Path, corpus_hash: str) -> tuple[Path, Path]:
    """(index file, info file) of the approximate index for ``corpus_hash`` in ``folder``."""
    return folder / f"ann_{corpus_hash}.faiss", folder / f"ann_{corpus_hash}.json"


def save_ann(folder: Path, ann: Any, info: AnnInfo) -> None:
    """Write the approximate index and its info beside the index (temporary name, then
    swapped in, so a killed write never leaves a half file under the real name); drop the
    files of other hashes."""
    import faiss

    path, meta = ann_paths(Path(folder), info.corpus_hash)
    try:
        tmp = path.with_suffix(".faiss.tmp")
        faiss.write_index(ann, str(tmp))
        tmp.replace(path)
        meta.write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
    except OSError as exc:  # a read-only index folder: search still works from memory
        log.warning("could not store the approximate index in %s: %s", folder, exc)
        return
    for old in Path(folder).glob("ann_*"):
        if old.name not in (path.name, meta.name):
            old.unlink(missing_ok=True)


def load_ann(folder: Path, corpus_hash: str) -> tuple[Any, AnnInfo] | None:
    """The stored approximate index for ``corpus_hash``, or None."""
    import faiss

    path, meta = ann_paths(Path(folder), corpus_hash)
    if not (path.exists() and meta.exists()):
        return None
    info = AnnInfo(**json.loads(meta.read_text(encoding="utf-8")))
    return faiss.read_index(str(path)), info
