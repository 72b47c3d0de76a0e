"""The reader of a ``clac data build`` directory: :class:`DataDir` and :func:`load_data_dir`.

The stored ``split`` column is the formula-grouped split written by ``clac data build``; with
``split="chemsys"`` the reader replaces it (crystals and pairs) by the chemical-system split
of :mod:`clac_core.corpus.splits`, computed from the stored atomic numbers with the
manifest's seed and fractions, so no rebuild is needed.

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
SPLIT_COLUMNS = ("crystal_id", "formula", "split", "atomic_numbers")
PAIR_COLUMNS = ("crystal_id", "text", "view", "split")


@dataclass
class DataDir:
    """A loaded data directory.

    Attributes:
        path: the directory.
        crystals: crystals.parquet without the CIF column (C rows, original order).
        pairs: pairs.parquet columns crystal_id/text/view/split plus ``crystal_index``
            (row of the crystal in ``crystals``), P rows.
        split_kind: "formula" (as stored) or "chemsys" (recomputed on load; ``crystals``
            then also has a ``chemsys`` column).
    """

    path: Path
    crystals: pd.DataFrame
    pairs: pd.DataFrame
    split_kind: str = "formula"  # which split the ``split`` columns hold (corpus.splits.SplitKind)

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


def split_settings(path: str | Path) -> tuple[int, tuple[float, float, float]]:
    """(seed, (train, val, test) fractions) the data dir was split with (manifest.json;
    0 and the build defaults when the manifest does not say)."""
    from clac_core.corpus.splits import DEFAULT_FRACTIONS

    mpath = Path(path) / "manifest.json"
    manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.is_file() else {}
    fractions = (manifest.get("options") or {}).get("fractions") or DEFAULT_FRACTIONS
    return int(manifest.get("seed", 0) or 0), tuple(float(f) for f in fractions)  # type: ignore[return-value]


def chemical_systems(atomic_numbers: Sequence[Sequence[int]]) -> list[str]:
    """Chemical system ("Fe-Li-O-P") of each crystal from its atomic numbers (C,)."""
    from pymatgen.core import Element

    from clac_core.corpus.splits import chemical_system

    symbol: dict[int, str] = {}
    memo: dict[tuple[int, ...], str] = {}
    out = []
    for z in atomic_numbers:
        key = tuple(sorted({int(x) for x in z}))
        if key not in memo:
            for x in key:
                symbol.setdefault(x, Element.from_Z(x).symbol)
            memo[key] = chemical_system(symbol[x] for x in key)
        out.append(memo[key])
    return out


def with_split(crystals: pd.DataFrame, kind: str, *, seed: int, fractions: Sequence[float]) -> pd.DataFrame:
    """``crystals`` with its ``split`` column for ``kind`` ("formula": unchanged; "chemsys":
    recomputed from ``atomic_numbers``, and a ``chemsys`` column added)."""
    from clac_core.corpus.splits import assign_chemsys_splits, check_split_kind

    if check_split_kind(kind) == "formula":
        return crystals
    systems = chemical_systems(crystals["atomic_numbers"])
    splits = assign_chemsys_splits(systems, seed=seed, fractions=fractions)
    return crystals.assign(chemsys=systems, split=splits)


def read_crystal_splits(path: str | Path, kind: str = "formula") -> pd.DataFrame:
    """crystal_id, formula, split (of ``kind``) and chemsys of every crystal of a data dir
    (the leakage check reads the training side of a checkpoint's data with it)."""
    seed, fractions = split_settings(path)
    c = read_crystals(path, columns=SPLIT_COLUMNS)
    c = with_split(c, kind, seed=seed, fractions=fractions)
    if "chemsys" not in c.columns:
        c = c.assign(chemsys=chemical_systems(c["atomic_numbers"]))
    return c.drop(columns=["atomic_numbers"])


def load_data_dir(path: str | Path, *, split: str = "formula") -> DataDir:
    """Read ``crystals.parquet`` and ``pairs.parquet`` of a ``clac data build`` directory.

    Args:
        path: the directory.
        split: "formula" (the stored split) or "chemsys" (recomputed, see module docstring).

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
    seed, fractions = split_settings(path)
    crystals = with_split(crystals, split, seed=seed, fractions=fractions)
    pairs = pd.read_parquet(path / "pairs.parquet", columns=list(PAIR_COLUMNS))
    index_of = pd.Series(np.arange(len(crystals)), index=crystals["crystal_id"].astype(str))
    if not index_of.index.is_unique:
        raise ValueError(f"{path / 'crystals.parquet'} has duplicate crystal_id values")
    ci = index_of.reindex(pairs["crystal_id"].astype(str))
    if ci.isna().any():
        bad = pairs["crystal_id"][ci.isna().to_numpy()].iloc[0]
        raise ValueError(f"pairs.parquet names crystal {bad!r} that is not in crystals.parquet")
    pairs = pairs.assign(crystal_index=ci.to_numpy().astype(np.int64)).reset_index(drop=True)
    if split != "formula":  # pairs follow their crystal
        pairs = pairs.assign(split=crystals["split"].to_numpy()[pairs["crystal_index"].to_numpy()])
    return DataDir(path=path, crystals=crystals, pairs=pairs, split_kind=split)
