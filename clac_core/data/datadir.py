"""The reader of a ``clac data build`` directory: :class:`DataDir` and :func:`load_data_dir`.

Shape legend: P pairs, C crystals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

    from clac_core.record import CrystalRecord

CRYSTAL_COLUMNS = ("crystal_id", "split", "formula", "lattice", "frac_coords", "atomic_numbers")
PAIR_COLUMNS = ("crystal_id", "text", "view", "split")


@dataclass
class DataDir:
    """A loaded data directory.

    Attributes:
        path: the directory.
        crystals: crystals.parquet without the CIF column (C rows, original order).
        pairs: pairs.parquet columns crystal_id/text/view/split plus ``crystal_index``
            (row of the crystal in ``crystals``), P rows.
    """

    path: Path
    crystals: pd.DataFrame
    pairs: pd.DataFrame

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    @property
    def crystal_ids(self) -> list[str]:
        return [str(x) for x in self.crystals["crystal_id"]]

    def structures(self, indices: Sequence[int] | None = None) -> list[Structure]:
        """pymatgen Structures from the stored arrays (no CIF parsing)."""
        from clac_core.record import structure_from_arrays

        rows = self.crystals if indices is None else self.crystals.iloc[list(indices)]
        return [
            structure_from_arrays(lat, fc, z)
            for lat, fc, z in zip(rows["lattice"], rows["frac_coords"], rows["atomic_numbers"], strict=True)
        ]

    def records(self) -> list[CrystalRecord]:
        """One :class:`CrystalRecord` per crystal (structure, source, known properties, labels)."""
        from clac_core.record import CrystalRecord, structure_from_arrays

        records = []
        for r in self.crystals.itertuples(index=False):
            props = json.loads(r.properties) if isinstance(getattr(r, "properties", None), str) else {}
            labels = json.loads(r.labels) if isinstance(getattr(r, "labels", None), str) else {}
            records.append(
                CrystalRecord(
                    id=str(r.crystal_id),
                    structure=structure_from_arrays(r.lattice, r.frac_coords, r.atomic_numbers),
                    source=str(r.source),
                    properties={k: float(v) for k, v in props.items() if v is not None and v == v},
                    labels=labels,
                    hypothetical=bool(r.hypothetical),
                )
            )
        return records

    def texts(self) -> list[tuple[str, str, str]]:
        """(text, view, crystal_id) of every pair, in file order."""
        p = self.pairs
        return list(zip(p["text"], p["view"], p["crystal_id"].astype(str), strict=True))


def read_crystals(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``crystals.parquet`` of a ``clac data build`` directory (all columns, or ``columns``),
    without pairing it with the texts (:func:`load_data_dir` does both)."""
    import pandas as pd

    return pd.read_parquet(Path(path) / "crystals.parquet", columns=None if columns is None else list(columns))


def load_data_dir(path: str | Path) -> DataDir:
    """Read ``crystals.parquet`` and ``pairs.parquet`` of a ``clac data build`` directory.

    Raises:
        FileNotFoundError: a parquet file is missing.
        ValueError: columns are missing or pairs name unknown crystals.
    """
    import pandas as pd

    path = Path(path)
    for name in ("crystals.parquet", "pairs.parquet"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} not found; build it with `clac data build --out {path}`")
    crystals = read_crystals(path)
    missing = [c for c in CRYSTAL_COLUMNS if c not in crystals.columns]
    if missing:
        raise ValueError(f"{path / 'crystals.parquet'} lacks columns {missing}")
    crystals = crystals.drop(columns=[c for c in ("cif",) if c in crystals.columns]).reset_index(drop=True)
    pairs = pd.read_parquet(path / "pairs.parquet", columns=list(PAIR_COLUMNS))
    index_of = pd.Series(np.arange(len(crystals)), index=crystals["crystal_id"].astype(str))
    if not index_of.index.is_unique:
        raise ValueError(f"{path / 'crystals.parquet'} has duplicate crystal_id values")
    ci = index_of.reindex(pairs["crystal_id"].astype(str))
    if ci.isna().any():
        bad = pairs["crystal_id"][ci.isna().to_numpy()].iloc[0]
        raise ValueError(f"pairs.parquet names crystal {bad!r} that is not in crystals.parquet")
    pairs = pairs.assign(crystal_index=ci.to_numpy().astype(np.int64)).reset_index(drop=True)
    return DataDir(path=path, crystals=crystals, pairs=pairs)
