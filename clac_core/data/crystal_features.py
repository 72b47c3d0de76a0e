"""Cache of frozen pretrained crystal features (CHGNet), computed once per crystal.

``DIR/cache/crystal-<model>/chunk-NNNNN.{npy,json}``: (n, F) float32 features and the
structure keys of their rows (:func:`clac_core.graph.pretrained.structure_key`, a hash of
lattice, coordinates and species), written chunk by chunk with atomic renames like the text
features: an interrupted run resumes, and a structure is featurized once whichever split,
run or command (train, eval, index) asks for it. No pickle: ``np.load(allow_pickle=False)``.

Shape legend: N structures, C crystals of a data dir, F feature width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.data.caches import next_chunk_id, read_chunks, write_chunk
from clac_core.graph.pretrained import feature_version, pretrained_features, structure_key

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.data.datadir import DataDir


def feature_cache_dir(cache_root: str | Path, kind: str) -> Path:
    """``<cache_root>/crystal-<model>`` (e.g. ``DIR/cache/crystal-chgnet-0.3.0``)."""
    return Path(cache_root) / f"crystal-{feature_version(kind)}"


def cached_pretrained_features(
    cache_root: str | Path,
    structures: Sequence[Any],
    kind: str,
    *,
    chunk_size: int = 2048,
    progress: bool = True,
    compute: Callable[[list[Any]], np.ndarray] | None = None,
) -> np.ndarray:
    """(N, F) pretrained features of ``structures``, computed once per distinct structure.

    Args:
        cache_root: folder holding the per-model cache folder (a data dir's ``cache/``).
        structures: N pymatgen Structures (duplicates allowed).
        kind: pretrained feature kind ("chgnet").
        chunk_size: structures per cache file.
        progress: tqdm bar while computing.
        compute: list of structures -> (n, F); default :func:`pretrained_features`.
    """
    folder = feature_cache_dir(cache_root, kind)
    folder.mkdir(parents=True, exist_ok=True)
    keys = [structure_key(s) for s in structures]
    where, files = read_chunks(folder, "keys")
    todo = {k: s for k, s in zip(keys, structures, strict=True) if k not in where}
    if todo:
        compute = compute or (lambda part: pretrained_features(kind, part, progress=progress))
        next_id = next_chunk_id(folder)
        items = list(todo.items())
        for start in range(0, len(items), chunk_size):
            part = items[start : start + chunk_size]
            feats = np.asarray(compute([s for _, s in part]), dtype=np.float32)
            write_chunk(folder, next_id, feats, {"keys": [k for k, _ in part]})
            next_id += 1
        where, files = read_chunks(folder, "keys")
    arrays = [np.load(f, mmap_mode="r", allow_pickle=False) for f in files]
    if not keys:
        return np.zeros((0, arrays[0].shape[1] if arrays else 0), np.float32)
    return np.stack([arrays[where[k][0]][where[k][1]] for k in keys]).astype(np.float32)


def data_dir_features(data: DataDir, kind: str, *, progress: bool = True) -> np.ndarray:
    """(C, F) pretrained features of every crystal of a loaded data dir (row order), cached
    under its ``cache/``."""
    return cached_pretrained_features(data.cache_dir, data.structures(), kind, progress=progress)
