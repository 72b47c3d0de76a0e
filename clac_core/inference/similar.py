"""Find similar structures: corpus crystals nearest to one crystal by the crystal embedding.

Shape legend: D embedding dims.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

    from clac_core.index import SearchFilters
    from clac_core.inference.explorer import Explorer


def find_similar(
    explorer: Explorer,
    query: Structure | int | np.ndarray,
    k: int = 20,
    filters: SearchFilters | None = None,
) -> pd.DataFrame:
    """The ``k`` corpus crystals whose crystal embeddings are nearest (cosine) to ``query``,
    after the same hard filters as a text search.

    Args:
        explorer: the loaded model and index.
        query: an index row (its stored embedding; the row itself is left out of the hits),
            a (D,) crystal embedding the caller already has, or a structure (embedded here).
        k: number of hits.
        filters: hard filters (:class:`SearchFilters`), as on the Search page.

    Returns:
        The ``CorpusIndex.search`` frame (rank, similarity, row, metadata), best first.
    """
    if isinstance(query, (int, np.integer)):
        row = int(query)
        if not 0 <= row < len(explorer.index):
            raise IndexError(f"no crystal at row {row}; the index has {len(explorer.index)}")
        x = np.asarray(explorer.index.embeddings[row], dtype=np.float32)
        hits = explorer.index.search(x, k + 1, filters)
        hits = hits[hits["row"] != row].head(k).reset_index(drop=True)
        hits["rank"] = np.arange(1, len(hits) + 1)
        return hits
    if isinstance(query, np.ndarray):
        return explorer.index.search(query, k, filters)
    return explorer.index.search(explorer.embed_structures([query])[0], k, filters)
