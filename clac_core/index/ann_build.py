"""Build the approximate index (HNSW or IVF over float16 codes) and measure its recall against exact search.

Shape legend: N crystals, D embedding dims, B queries, K hits.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.index.engine import (
    CHUNK_ROWS,
    AnnInfo,
    EngineConfig,
    VectorEngine,
    as_float32,
    load_ann,
    save_ann,
)

log = logging.getLogger(__name__)
NPROBES = (4, 8, 16, 32, 64, 128, 256, 512)  # tried in turn; the chosen one is doubled


def default_nlist(n: int) -> int:
    """About 2 sqrt(N) lists (2,000 at 10^6): k-means on a sample stays cheap on 2 cores."""
    return int(np.clip(2 * np.sqrt(n), 16, 8192))


def exact_topk_batch(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(B, K) rows of the exact top-k inner products of (B, D) queries over (N, D) vectors,
    read in chunks (a float16 memory map is never converted whole)."""
    q = as_float32(queries)
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for s in range(0, len(vectors), CHUNK_ROWS):
        block = as_float32(vectors[s : s + CHUNK_ROWS])
        sc = q @ block.T  # (B, chunk)
        ids = np.broadcast_to(np.arange(s, s + len(block)), sc.shape)
        cat_s, cat_i = np.concatenate([best_s, sc], 1), np.concatenate([best_i, ids], 1)
        keep = np.argsort(-cat_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cat_s, keep, 1), np.take_along_axis(cat_i, keep, 1)
    return best_i


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / |truth| for (B, K) row arrays (-1 = no hit)."""
    hits = [len(set(f[f >= 0].tolist()) & set(t.tolist())) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) if hits else 1.0


def held_out_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """(n, D) queries near the data: random rows plus noise of norm about 0.5, renormalized (used
    when no text embeddings are given to measure recall with)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(vectors), size=min(n, len(vectors)), replace=False))
    sigma = 0.5 / np.sqrt(vectors.shape[1])
    q = as_float32(vectors[rows]) + rng.normal(0, sigma, (len(rows), vectors.shape[1])).astype(np.float32)
    return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)


def train_ivf(vectors: np.ndarray, nlist: int, seed: int = 0) -> Any:
    """An untrained -> trained ``IndexIVFScalarQuantizer`` (fp16 codes, inner product); k-means
    on a sample of at most 40 points per list."""
    import faiss

    d = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.spherical = True  # normalized vectors: spherical k-means
    rng = np.random.default_rng(seed)
    n_train = min(len(vectors), 40 * nlist)
    rows = np.sort(rng.choice(len(vectors), size=n_train, replace=False))
    ivf.train(as_float32(vectors[rows]))
    return ivf  # faiss's Python wrapper keeps ``quantizer`` referenced by ``ivf``


def build_ivf(vectors: np.ndarray, config: EngineConfig, *, corpus_hash: str,
              queries: np.ndarray | None = None) -> tuple[Any, AnnInfo]:
    """Train, fill and tune an IVF index over (N, D) normalized ``vectors``.

    ``nprobe`` is twice the smallest in ``NPROBES`` whose recall@10 against exact search on
    ``queries`` (default: :func:`held_out_queries`) reaches ``config.min_recall``; the stored
    recall is measured at the chosen ``nprobe``.
    """
    import faiss

    t0 = time.perf_counter()
    nlist = config.nlist or default_nlist(len(vectors))
    ivf = train_ivf(vectors, nlist)
    for s in range(0, len(vectors), CHUNK_ROWS):
        ivf.add(as_float32(vectors[s : s + CHUNK_ROWS]))
    build_s = time.perf_counter() - t0
    q = held_out_queries(vectors, config.recall_queries) if queries is None else as_float32(queries)
    truth = exact_topk_batch(vectors, q, 10)
    nprobe, recall = nlist, 0.0
    for p in (p for p in NPROBES if p <= nlist):
        _, found = ivf.search(q, 10, params=faiss.SearchParametersIVF(nprobe=p))
        nprobe, recall = p, recall_at_k(found, truth)
        if recall >= config.min_recall:
            break
    if nprobe < nlist:  # a margin: real queries lie further from the data than held-out ones
        nprobe = min(nlist, 2 * nprobe)
        _, found = ivf.search(q, 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
        recall = recall_at_k(found, truth)
    if recall < config.min_recall:
        log.warning("approximate index reaches recall@10 %.3f only (nprobe %d)", recall, nprobe)
    ivf.nprobe = nprobe
    info = AnnInfo(kind="ivf_sq_fp16", nlist=nlist, nprobe=nprobe, recall_at_10=round(recall, 4),
                   recall_queries=len(q), build_s=round(build_s, 2), corpus_hash=corpus_hash)
    log.info("approximate index: %s", info)
    return ivf, info


EF_SEARCH = (32, 64, 128, 256, 512, 1024)  # HNSW widths tried in turn; the chosen one is doubled


def build_hnsw(vectors: np.ndarray, config: EngineConfig, *, corpus_hash: str,
               queries: np.ndarray | None = None) -> tuple[Any, AnnInfo]:
    """An HNSW graph over float16 codes of (N, D) normalized ``vectors``; ``efSearch`` is twice
    the smallest in ``EF_SEARCH`` whose recall@10 on ``queries`` reaches ``config.min_recall``."""
    import faiss

    t0 = time.perf_counter()
    d = vectors.shape[1]
    h = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 64
    h.train(as_float32(vectors[: min(len(vectors), 10_000)]))  # fp16 codes: nothing learnt
    for s in range(0, len(vectors), CHUNK_ROWS):
        h.add(as_float32(vectors[s : s + CHUNK_ROWS]))
    build_s = time.perf_counter() - t0
    q = held_out_queries(vectors, config.recall_queries) if queries is None else as_float32(queries)
    truth = exact_topk_batch(vectors, q, 10)

    def recall(ef: int) -> float:
        return recall_at_k(h.search(q, 10, params=faiss.SearchParametersHNSW(efSearch=ef))[1], truth)

    ef = next((e for e in EF_SEARCH if recall(e) >= config.min_recall), EF_SEARCH[-1])
    ef = 2 * ef  # a margin: real queries may lie further from the data than the measured ones
    r = recall(ef)
    if r < config.min_recall:
        log.warning("approximate index reaches recall@10 %.3f only (efSearch %d)", r, ef)
    h.hnsw.efSearch = ef
    info = AnnInfo(kind="hnsw_sq_fp16", nlist=config.hnsw_m, nprobe=ef, recall_at_10=round(r, 4),
                   recall_queries=len(q), build_s=round(build_s, 2), corpus_hash=corpus_hash)
    log.info("approximate index: %s", info)
    return h, info


def open_engine(vectors: np.ndarray, config: EngineConfig, *, corpus_hash: str, folder: Path | None,
                queries: np.ndarray | None = None) -> VectorEngine:
    """The engine for (N, D) ``vectors``: exact below ``config.exact_max_rows``, else the stored
    approximate index for ``corpus_hash`` in ``folder`` (built, and stored there, when missing;
    ``queries`` (B, D) measure its recall, e.g. text embeddings)."""
    if len(vectors) <= config.exact_max_rows:
        return VectorEngine.exact(vectors, config)
    if folder is not None:
        found = load_ann(folder, corpus_hash)
        if found is not None:
            return VectorEngine(vectors, config=config, ann=found[0], info=found[1])
    build_ann = build_hnsw if config.ann_kind == "hnsw" else build_ivf
    ann, info = build_ann(vectors, config, corpus_hash=corpus_hash, queries=queries)
    if folder is not None:
        save_ann(folder, ann, info)
    return VectorEngine(vectors, config=config, ann=ann, info=info)
