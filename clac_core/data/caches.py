"""Derived caches under ``DIR/cache/``: crystal graphs and pooled text-backbone features.

Shape legend: P texts, H text backbone hidden size, Q quantity features.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clac_core.config import GraphConfig, TextEncoderConfig

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.data.datadir import DataDir
    from clac_core.graph import GraphCache


def _sha(text: str, n: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


# --------------------------------------------------------------------------------------
# graph cache
# --------------------------------------------------------------------------------------
def graph_cache_path(data: DataDir, cfg: GraphConfig) -> Path:
    from clac_core.graph import graph_config_key

    ids_key = _sha("\n".join(data.crystal_ids))
    return data.cache_dir / f"graphs-{graph_config_key(cfg)}-{ids_key}.npz"


def load_graph_cache(
    data: DataDir, cfg: GraphConfig, *, num_workers: int | None = None, progress: bool = True
) -> GraphCache:
    """Graphs of every crystal in ``data`` (row order), built once and cached under DIR/cache/.

    Args:
        data: loaded data dir.
        cfg: graph settings (the cache is keyed by them and by the crystal ids).
        num_workers: processes used to build (default: all cores).
        progress: tqdm bar while building.
    """
    from clac_core.graph import GraphCache

    path = graph_cache_path(data, cfg)
    if path.is_file():
        cache = GraphCache.load(path, cfg)
        if cache.ids is None or cache.ids == data.crystal_ids:
            return cache
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    cache = GraphCache.build(
        data.structures(), cfg, ids=data.crystal_ids, num_workers=workers, progress=progress
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    cache.save(tmp)
    os.replace(tmp, path)
    return cache


# --------------------------------------------------------------------------------------
# cached text features
# --------------------------------------------------------------------------------------
def text_cache_dir(data_dir: str | Path, cfg: TextEncoderConfig) -> Path:
    """``DIR/cache/text-<model>-L<max_length>`` (model name slugged, with a hash if it was a path)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg.name).strip("_")[-40:] or "model"
    if slug != cfg.name:
        slug = f"{slug}-{_sha(cfg.name, 8)}"
    return Path(data_dir) / "cache" / f"text-{slug}-L{int(cfg.max_length)}"


def read_chunks(folder: Path, field: str) -> tuple[dict[str, tuple[int, int]], list[Path]]:
    """Map key -> (chunk number, row) over the complete chunks in ``folder``: each
    ``chunk-NNNNN.json`` lists its rows' keys under ``field`` ("texts", "keys")."""
    where: dict[str, tuple[int, int]] = {}
    files: list[Path] = []
    for meta in sorted(folder.glob("chunk-*.json")):
        npy = meta.with_suffix(".npy")
        if not npy.is_file():
            continue  # the .npy is renamed into place before its .json: incomplete chunk
        keys = json.loads(meta.read_text(encoding="utf-8"))[field]
        k = len(files)
        files.append(npy)
        for row, t in enumerate(keys):
            where.setdefault(t, (k, row))
    return where, files


def next_chunk_id(folder: Path) -> int:
    """The number of the next chunk file in ``folder``."""
    return 1 + max((int(p.stem.split("-")[1]) for p in folder.glob("chunk-*.json")), default=-1)


def write_chunk(folder: Path, chunk_id: int, feats: np.ndarray, meta: dict) -> None:
    """``chunk-NNNNN.npy`` (n, F) float32 then ``chunk-NNNNN.json`` (``meta``: its rows' keys
    and provenance), each by an atomic rename: a chunk whose .json exists is complete."""
    stem = folder / f"chunk-{chunk_id:05d}"
    tmp_npy = folder / f".chunk-{chunk_id:05d}.{os.getpid()}.npy"
    np.save(tmp_npy, np.asarray(feats, dtype=np.float32))
    os.replace(tmp_npy, stem.with_suffix(".npy"))
    tmp_json = folder / f".chunk-{chunk_id:05d}.{os.getpid()}.json"
    tmp_json.write_text(json.dumps(meta))
    os.replace(tmp_json, stem.with_suffix(".json"))


def text_feature_cache(
    data_dir: str | Path,
    texts: Sequence[str],
    cfg: TextEncoderConfig,
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    chunk_size: int = 2048,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """Pooled text-backbone features of ``texts``, computed once per unique text and cached.

    Unique texts missing from the cache are sorted by length (less padding), embedded in
    chunks of ``chunk_size`` and each chunk is written as ``chunk-NNNNN.npy`` (float32
    (n, H)) + ``chunk-NNNNN.json`` (its texts) with atomic renames: killing the process
    loses at most the chunk in progress, and the next call resumes.

    Args:
        data_dir: the data directory (features go to its ``cache/``).
        texts: P texts (duplicates allowed).
        cfg: text encoder settings; the cache is keyed by ``name`` and ``max_length``.
        embed: function list[str] -> (n, H) float32; default builds a frozen
            :class:`clac_core.models.text.HFTextEncoder` and uses its ``embed``.
        chunk_size: texts per cache file.
        batch_size: texts per backbone forward.
        progress: tqdm bar over texts.

    Returns:
        (P, H) float32 array, row i = features of ``texts[i]``; (P, H + Q) when
        ``cfg.quantities`` (quantity features appended after reading, never cached).
    """
    folder = text_cache_dir(data_dir, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    texts = [str(t) for t in texts]
    where, files = read_chunks(folder, "texts")
    missing = sorted({t for t in texts if t not in where}, key=lambda t: (len(t), t))
    if missing:
        if embed is None:
            embed = _default_embed(cfg, batch_size)
        _embed_missing(folder, missing, cfg, embed, chunk_size=chunk_size, progress=progress)
        where, files = read_chunks(folder, "texts")
    out = _cached_rows(texts, where, files)  # (P, H)
    if texts and cfg.quantities:  # cheap (regex), so never cached: parser changes need no re-embedding
        out = _append_quantity_features(out, texts)
    return out


def _embed_missing(
    folder: Path,
    missing: list[str],
    cfg: TextEncoderConfig,
    embed: Callable[[list[str]], np.ndarray],
    *,
    chunk_size: int,
    progress: bool,
) -> None:
    """Embed ``missing`` texts in chunks of ``chunk_size``, each written as the next chunk files."""
    from tqdm.auto import tqdm

    next_id = next_chunk_id(folder)
    with tqdm(total=len(missing), desc="text features", unit="text", disable=not progress) as bar:
        for start in range(0, len(missing), chunk_size):
            part = missing[start : start + chunk_size]
            feats = np.asarray(embed(part), dtype=np.float32)
            if feats.shape[0] != len(part):
                raise RuntimeError(f"text embed returned {feats.shape[0]} rows for {len(part)} texts")
            write_chunk(folder, next_id, feats, {"texts": part, "model": cfg.name, "max_length": cfg.max_length})
            next_id += 1
            bar.update(len(part))


def _cached_rows(texts: list[str], where: dict[str, tuple[int, int]], files: list[Path]) -> np.ndarray:
    """(P, H) float32, row i = the cached features of ``texts[i]`` ((0, H) for no texts)."""
    arrays = [np.load(f, mmap_mode="r", allow_pickle=False) for f in files]
    if not texts:
        return np.zeros((0, arrays[0].shape[1] if arrays else 0), np.float32)
    dim = arrays[0].shape[1]
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        k, row = where[t]
        out[i] = arrays[k][row]
    return out


def _append_quantity_features(pooled: np.ndarray, texts: list[str]) -> np.ndarray:
    """(P, H) -> (P, H + Q), quantity features computed once per unique text."""
    from clac_core.query.numbers import quantity_features

    uniq = list(dict.fromkeys(texts))
    q = quantity_features(uniq)
    row = {t: i for i, t in enumerate(uniq)}
    return np.concatenate([pooled, q[[row[t] for t in texts]]], axis=1)


def _default_embed(cfg: TextEncoderConfig, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    import dataclasses

    from clac_core.models.text import HFTextEncoder

    enc = HFTextEncoder(dataclasses.replace(cfg, train_mode="frozen", quantities=False))
    return lambda texts: enc.embed(texts, batch_size=batch_size).numpy()
