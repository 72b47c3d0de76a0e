"""The metadata table on disk: written in row groups, read whole or without the structure
columns, whose rows are then read on demand (a large index opens without them).

``lattice``, ``frac_coords`` and ``atomic_numbers`` are most of the table's bytes (and, as
Python objects in pandas, most of its memory); the search and the filters never read them
(the filters' element table comes from the ``elements`` string column), only a crystal's
structure does (result tables of a large index leave them out). Shape legend: N crystals, R rows asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

STRUCTURE_COLUMNS: tuple[str, ...] = ("lattice", "frac_coords", "atomic_numbers")
ROW_GROUP = 4_096  # rows per parquet row group: one structure read decodes one group


ZSTD_LEVEL = 9  # measured on the shipped table: 21.9 MB at zstd's default level 1, 16.6 MB at 9; reads as fast


def write_metadata(md: pd.DataFrame, path: str | Path) -> None:
    """Write the metadata table in row groups of ``ROW_GROUP`` rows, zstd-compressed at
    :data:`ZSTD_LEVEL` (the shipped index's table, mostly the fractional coordinates: 23.5 MB
    with parquet's default snappy, 21.9 MB with zstd level 1, 16.6 MB at level 9, which writes
    in 0.7 s instead of 0.3 s and reads as fast)."""
    md.to_parquet(path, index=False, row_group_size=ROW_GROUP, compression="zstd", compression_level=ZSTD_LEVEL)


def metadata_rows(path: str | Path) -> int:
    """Number of rows of a metadata file (from its footer, no data read)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def read_metadata(path: str | Path, *, lazy: bool) -> pd.DataFrame:
    """The metadata table; with ``lazy`` without :data:`STRUCTURE_COLUMNS`."""
    import pandas as pd
    import pyarrow.parquet as pq

    if not lazy:
        return pd.read_parquet(path)
    names = pq.ParquetFile(path).schema_arrow.names
    return pd.read_parquet(path, columns=[c for c in names if c not in STRUCTURE_COLUMNS])


class LazyStructureColumns:
    """:data:`STRUCTURE_COLUMNS` of chosen rows, read from the parquet file's row groups."""

    def __init__(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self._file = pq.ParquetFile(self.path)
        meta = self._file.metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # (G+1,)
        self._cache: tuple[int, Any] | None = None  # the last row group read

    def _group(self, g: int) -> Any:
        if self._cache is None or self._cache[0] != g:
            self._cache = (g, self._file.read_row_group(g, columns=list(STRUCTURE_COLUMNS)))
        return self._cache[1]

    def rows(self, rows: np.ndarray) -> dict[str, list[Any]]:
        """Column -> values (arrays) of ``rows`` (R,), in the order given (each row group read once)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        groups = np.searchsorted(self._starts, rows, side="right") - 1  # (R,)
        out: dict[str, list[Any]] = {c: [None] * len(rows) for c in STRUCTURE_COLUMNS}
        for g in np.unique(groups):
            table = self._group(int(g))
            for i in np.flatnonzero(groups == g):
                for c in STRUCTURE_COLUMNS:
                    out[c][i] = np.asarray(table.column(c)[int(rows[i] - self._starts[g])].as_py())
        return out
