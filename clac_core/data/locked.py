"""A locked crystal tower: stored crystal embeddings stand in for the crystal tower while only
the text side trains (LiT, "locked-image tuning", Zhai et al., CVPR 2022, with crystals as the
locked side).

A corpus index built with a checkpoint stores that checkpoint's crystal embeddings by crystal
id (``embeddings.npy`` + ``metadata.parquet``, :class:`clac_core.index.CorpusIndex`).
:class:`LockedCrystals` serves them per data-dir crystal row, as the graph cache serves graphs,
so a text-side run needs neither graphs nor pretrained crystal features.

Shape legend: C data-dir crystals, N index crystals, B batch, D embedding dims.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clac_core.data.datadir import DataDir

log = logging.getLogger(__name__)


class LockedCrystals:
    """(C, D) stored crystal embeddings of a data dir's crystals; ``present`` marks the rows found.

    Args:
        embeddings: (C, D) float32 L2-normalized rows (zeros where not present).
        present: (C,) bool, the crystals the index holds.
    """

    def __init__(self, embeddings: np.ndarray, present: np.ndarray) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != present.shape[0]:
            raise ValueError(f"embeddings {embeddings.shape} and present {present.shape} disagree")
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.present = np.asarray(present, dtype=bool)

    def __len__(self) -> int:
        return int(self.present.size)

    def batch(self, rows: Sequence[int]) -> torch.Tensor:
        """(B,) crystal rows -> (B, D) float32 embeddings.

        Raises:
            KeyError: a row the index does not hold.
        """
        import torch

        idx = np.asarray(rows, dtype=np.int64)
        missing = idx[~self.present[idx]]
        if missing.size:
            raise KeyError(f"crystal rows {missing[:5].tolist()} have no stored embedding")
        return torch.from_numpy(self.embeddings[idx])


def locked_crystals(data: DataDir, index_dir: str | Path, *, checkpoint: str | Path) -> LockedCrystals:
    """The stored crystal embeddings of ``index_dir`` for ``data``'s crystals, by crystal id.

    Args:
        data: the training data dir.
        index_dir: a corpus index folder (``manifest.json``, ``metadata.parquet``, ``embeddings.npy``).
        checkpoint: the checkpoint the run starts from (``train.init_from``); the index must
            have been built with it, else its embeddings belong to another crystal tower.

    Raises:
        ValueError: the index is missing files, was built with another checkpoint, or holds
            none of the data dir's crystals.
    """
    import pandas as pd

    from clac_core.models.fingerprint import checkpoint_hash

    folder = Path(index_dir)
    files = [folder / n for n in ("manifest.json", "metadata.parquet", "embeddings.npy")]
    lost = [f.name for f in files if not f.is_file()]
    if lost:
        raise ValueError(f"train.locked_crystal: {folder} is not a corpus index (missing {', '.join(lost)})")
    manifest = json.loads(files[0].read_text())
    want, have = checkpoint_hash(checkpoint), manifest.get("checkpoint_hash")
    if have != want:
        raise ValueError(
            f"train.locked_crystal: the index {folder} was built with checkpoint hash {have}, but "
            f"train.init_from {checkpoint} has hash {want}; its crystal embeddings belong to another "
            "crystal tower. Rebuild the index with that checkpoint (clac index build)."
        )
    ids = pd.read_parquet(files[1], columns=["crystal_id"])["crystal_id"].astype(str).to_numpy()
    stored = np.load(files[2], mmap_mode="r")  # (N, D) float16 or float32
    if stored.shape[0] != ids.size:
        raise ValueError(f"train.locked_crystal: {folder} has {stored.shape[0]} embeddings for {ids.size} rows")
    where = {cid: i for i, cid in enumerate(ids)}
    rows = np.array([where.get(cid, -1) for cid in data.crystal_ids], dtype=np.int64)  # (C,)
    present = rows >= 0
    if not present.any():
        raise ValueError(f"train.locked_crystal: {folder} holds none of the {rows.size} crystals of {data.path}")
    emb = np.zeros((rows.size, stored.shape[1]), np.float32)
    emb[present] = np.asarray(stored[rows[present]], dtype=np.float32)
    emb[present] /= np.maximum(np.linalg.norm(emb[present], axis=1, keepdims=True), 1e-12)
    log.info("locked crystal tower: %d of %d crystals have stored embeddings", int(present.sum()), rows.size)
    return LockedCrystals(emb, present)
