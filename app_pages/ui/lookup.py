"""Find corpus crystals by what a user types in the viewer: a crystal id or a formula.

A 35,858-entry selectbox took 8–13 s to draw and typing "mp-13" in it opened mp-130 (issue 19,
point 5). Here one query is a few vectorized comparisons over the index's ``crystal_id`` and
``formula`` columns (a few ms on the full corpus), and a partial id never opens a crystal by
itself: it lists the ids that start with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

MAX_MATCHES = 50  # listed at most; the caption says how many matched in all
MatchKind = Literal["id", "formula", "id prefix"]


@dataclass(frozen=True)
class Matches:
    """What a query found, best first.

    Attributes:
        rows: index rows, exact id first, then same formula (lowest formation energy, then smallest cell, first), then ids
            that start with the query (shortest first); at most ``MAX_MATCHES``.
        kinds: why each row matched.
        total: how many rows matched before the cut.
    """

    rows: list[int]
    kinds: list[MatchKind]
    total: int

    @property
    def certain(self) -> bool:
        """The first row is what the user named (its id or its formula), so it may open at once;
        a partial id is not (typing "mp-13" must not open mp-130)."""
        return bool(self.kinds) and self.kinds[0] != "id prefix"


def _reduced_formula(text: str) -> str | None:
    """"O2Si" -> "SiO2", as the index writes formulas; None when it is no formula."""
    from pymatgen.core import Composition

    try:
        return Composition(text).reduced_formula
    except Exception:  # any text that is not a formula (pymatgen raises several types)
        return None


class CrystalFinder:
    """Lookups over one index's metadata; build once per index (the lower-cased columns are
    the only cost, about 20 ms for the full corpus)."""

    def __init__(self, metadata: pd.DataFrame) -> None:
        self._ids = metadata["crystal_id"].astype(str).str.lower().reset_index(drop=True)  # (N,)
        formulas = metadata["formula"].astype(str).reset_index(drop=True)
        self._formulas = formulas.to_numpy()  # (N,)
        self._formulas_lower = formulas.str.lower().to_numpy()  # (N,)
        self._sizes = self._column(metadata, "nsites", 0.0)  # (N,)
        # the ground state first: lowest formation energy per atom (unknown last)
        self._energies = self._column(metadata, "formation_energy_per_atom", np.inf)  # (N,)

    @staticmethod
    def _column(metadata: pd.DataFrame, name: str, missing: float) -> np.ndarray:
        if name not in metadata:
            return np.full(len(metadata), missing)
        return pd.to_numeric(metadata[name], errors="coerce").fillna(missing).to_numpy(dtype=float)

    def __len__(self) -> int:
        return len(self._ids)

    def row_of(self, crystal_id: str) -> int | None:
        """The row of an exact id (case ignored), else None."""
        hit = np.flatnonzero(self._ids.to_numpy() == crystal_id.strip().lower())
        return int(hit[0]) if len(hit) else None

    def find(self, query: str, limit: int = MAX_MATCHES) -> Matches:
        """Rows whose id is ``query``, whose formula is it, or whose id starts with it."""
        q = query.strip()
        if not q:
            return Matches([], [], 0)
        ql = q.lower()
        ids = self._ids.to_numpy()
        by_id = ids == ql
        wanted = {q} | ({f} if (f := _reduced_formula(q)) else set())
        by_formula = (np.isin(self._formulas, list(wanted)) | (self._formulas_lower == ql)) & ~by_id
        by_prefix = self._ids.str.startswith(ql).to_numpy() & ~by_id & ~by_formula
        f_rows = np.flatnonzero(by_formula)
        f_rows = f_rows[np.lexsort((self._sizes[f_rows], self._energies[f_rows]))]
        p_rows = np.flatnonzero(by_prefix)
        p_rows = p_rows[np.lexsort((ids[p_rows], [len(i) for i in ids[p_rows]]))]
        groups: list[tuple[np.ndarray, MatchKind]] = [
            (np.flatnonzero(by_id), "id"), (f_rows, "formula"), (p_rows, "id prefix")
        ]
        rows = [int(r) for g, _ in groups for r in g]
        kinds: list[MatchKind] = [k for g, k in groups for _ in g]
        return Matches(rows[:limit], kinds[:limit], len(rows))
