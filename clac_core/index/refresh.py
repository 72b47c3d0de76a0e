"""Move an index to a new checkpoint that changed only the text side (``clac index refresh-text``).

A text-side run (``train.locked_crystal``, LiT) keeps the crystal tower bit for bit, so an
index's crystal embeddings stay valid for the new model; only what the text tower computed
changes: the description bank's embeddings and the 2D map (fitted over crystals and
descriptions together). Re-embedding 10^4-10^6 crystals would cost minutes to hours; this costs
the description bank (seconds) and the map.

Checks, in order, each refused in plain words (:class:`~clac_core.index.filters.CorpusIndexError`):
the index was built with ``previous`` (its manifest's checkpoint hash), and ``previous`` and
``checkpoint`` have identical crystal-side tensors
(:func:`clac_core.models.checkpoint.crystal_side_differences`).

Shape legend: M descriptions, D embedding dims.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from clac_core.index.filters import CorpusIndexError


def refresh_text_side(
    index_dir: str | Path, checkpoint: str | Path, *, previous: str | Path, umap: bool = False
) -> dict[str, Any]:
    """Re-embed the description bank of ``index_dir`` with ``checkpoint`` and record it as the
    index's checkpoint (manifest ``checkpoint_hash``; ``text_side_from`` keeps the old hash).

    Args:
        index_dir: a corpus index folder, rewritten in place (each file swapped in whole).
        checkpoint: the new checkpoint (a text-side run from ``previous``).
        previous: the checkpoint the index was built with.
        umap: fit the 2D map anew (else the app falls back to PCA until one is fitted).

    Returns:
        what was done: old and new hash, descriptions re-embedded, seconds, the map file.

    Raises:
        CorpusIndexError: the index was not built with ``previous``, or the crystal towers differ.
    """
    from clac_core.embed import embed_texts
    from clac_core.index.projection import compute_umap, umap_cache_path
    from clac_core.index.store import CorpusIndex, _save_float16
    from clac_core.models import CLaCModel
    from clac_core.models.fingerprint import checkpoint_hash, crystal_side_differences

    t0 = time.perf_counter()
    folder = Path(index_dir)
    index = CorpusIndex.load(folder)
    old, prev = index.manifest.get("checkpoint_hash"), checkpoint_hash(previous)
    if old != prev:
        raise CorpusIndexError(
            f"{folder} was built with checkpoint hash {old}, not with {previous} ({prev}): pass the "
            "checkpoint that built it as --previous"
        )
    diff = crystal_side_differences(previous, checkpoint)
    if diff:
        raise CorpusIndexError(
            f"{checkpoint} has another crystal tower than {previous} ({len(diff)} tensors differ, e.g. "
            f"{', '.join(diff[:3])}): its crystal embeddings would differ, so rebuild the index (clac index build)"
        )
    stale_map = umap_cache_path(index, folder)
    model = CLaCModel.from_checkpoint(checkpoint)
    texts = index.descriptions["text"].astype(str).tolist()
    if texts:
        index.desc_embeddings = embed_texts(model, texts, batch_size=64, progress=False)  # (M, D), normalized
        _save_float16(index.desc_embeddings, folder / "description_embeddings.npy")
    manifest = dict(index.manifest)
    manifest.update(checkpoint=str(checkpoint), checkpoint_hash=checkpoint_hash(checkpoint),
                    text_side_from={"checkpoint_hash": old, "refreshed": time.strftime("%Y-%m-%dT%H:%M:%S%z")})  # fmt: skip
    tmp = folder / f".manifest.{os.getpid()}.json"
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    tmp.replace(folder / "manifest.json")
    index.manifest = manifest  # the map's key reads the new checkpoint hash
    stale_map.unlink(missing_ok=True)  # keyed by the old checkpoint: never read again
    out: dict[str, Any] = {"index": str(folder), "previous_hash": old, "checkpoint_hash": manifest["checkpoint_hash"],
                           "descriptions": len(texts)}  # fmt: skip
    if umap:
        out["map"] = str(compute_umap(index, folder))  # the index in memory, now the new text side's
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
