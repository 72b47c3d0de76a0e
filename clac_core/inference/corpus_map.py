"""The 2D map of an index as the app shows it: one row per crystal and per description, and
new embeddings placed on it. The map itself (the UMAP cached at index build, PCA without one)
is written and read by :mod:`clac_core.index.projection`.

Shape legend: N crystals, S crystals on the map (a stratified sample of a large index), M descriptions,
D embedding dims, B new points.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from clac_core.index import CorpusIndex


def corpus_map_points(index: CorpusIndex, index_dir: str | Path) -> pd.DataFrame:
    """:func:`map_points` of the map stored with the index in ``index_dir`` (PCA without one);
    needs no model, so the app builds it in the background."""
    from clac_core.index.projection import load_map

    return map_points(index, load_map(index, Path(index_dir)))


def map_points(index: CorpusIndex, m: dict[str, Any]) -> pd.DataFrame:
    """One row per crystal and per description of ``index`` placed by the map ``m`` (see
    :meth:`clac_core.inference.Explorer.umap_coords` for the columns)."""
    import pandas as pd

    rows = m.get("crystal_rows", np.arange(len(index)))  # (S,) the crystals on the map
    md = index.metadata.iloc[rows]
    cr = pd.DataFrame(
        {
            "x": m["crystal_xy"][:, 0],
            "y": m["crystal_xy"][:, 1],
            "modality": "crystal",
            "label": md["formula"].to_numpy(),
            "crystal_system": md["crystal_system"].to_numpy(),
            "source": md["source"].to_numpy(),
            "row": np.asarray(rows),
        }
    )
    for c in index.property_columns():
        cr[c] = md[c].to_numpy()
    d = index.descriptions
    tx = pd.DataFrame(
        {
            "x": m["desc_xy"][:, 0],
            "y": m["desc_xy"][:, 1],
            "modality": "text",
            "label": d["text"].to_numpy() if len(d) else [],
            "crystal_system": "text",
            "source": d["view"].to_numpy() if len(d) else [],
            "row": np.arange(len(d)),
        }
    )
    return pd.concat([cr, tx], ignore_index=True)


def project_onto_map(index: CorpusIndex, m: dict[str, Any], emb: np.ndarray, k: int = 10) -> np.ndarray:
    """(B, 2) float32 places of new (B, D) embeddings on the map ``m``: similarity-weighted
    mean of the k nearest corpus points' coordinates (UMAP models are not saved without pickle)."""
    rows = m.get("crystal_rows", np.arange(len(index)))  # (S,) the crystals on the map
    ref = np.concatenate([np.asarray(index.embeddings[rows], dtype=np.float32), index.desc_embeddings])  # (S+M, D)
    xy = np.concatenate([m["crystal_xy"], m["desc_xy"]])  # (S+M, 2)
    emb = np.atleast_2d(np.asarray(emb, dtype=np.float32))
    sims = emb @ ref.T  # (B, N+M)
    k = min(k, ref.shape[0])
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (B, k)
    s = np.take_along_axis(sims, idx, 1)
    w = np.exp(20.0 * (s - s.max(1, keepdims=True)))
    w /= w.sum(1, keepdims=True)
    return np.einsum("bk,bkc->bc", w, xy[idx]).astype(np.float32)
