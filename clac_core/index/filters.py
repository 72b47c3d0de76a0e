"""Hard search filters and the numpy columns they read (precomputed once per index).

Shape legend: N crystals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from clac_core.vocab.elements import ATOMIC_NUMBER

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class CorpusIndexError(RuntimeError):
    """Raised for a missing/corrupt index directory or an invalid search request."""


@dataclass
class SearchFilters:
    """Hard filters applied before ranking. Empty/None fields do not filter.

    Attributes:
        must_contain: element symbols that every hit must contain.
        must_not_contain: element symbols no hit may contain.
        crystal_systems: allowed crystal systems (lower case, see ``clac_core.symmetry.CRYSTAL_SYSTEMS``).
        band_gap: (min, max) in eV; rows with unknown band gap are dropped when set.
        nsites: (min, max) number of sites in the cell, inclusive.
        sources: allowed ``source`` values.
        include_hypothetical: keep generated (decorated) crystals.
        property_ranges: metadata column -> (min, max), e.g. ``{"formation_energy_per_atom":
            (None, 0.0)}``; rows whose value is unknown (NaN, or no such column) are dropped
            when a bound is set.
    """

    must_contain: Sequence[str] = ()
    must_not_contain: Sequence[str] = ()
    crystal_systems: Sequence[str] = ()
    band_gap: tuple[float | None, float | None] = (None, None)
    nsites: tuple[int | None, int | None] = (None, None)
    sources: Sequence[str] = ()
    include_hypothetical: bool = True
    property_ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no field filters anything (empty lists count as empty, as from the UI)."""
        return not (
            self.must_contain
            or self.must_not_contain
            or self.crystal_systems
            or self.sources
            or any(v is not None for v in (*self.band_gap, *self.nsites))
            or not self.include_hypothetical
            or any(v is not None for lo_hi in self.property_ranges.values() for v in lo_hi)
        )


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol, any case ("o", "Ti"); CorpusIndexError if unknown."""
    z = ATOMIC_NUMBER.get(str(symbol).strip().capitalize())
    if z is None:
        raise CorpusIndexError(f"unknown element symbol {symbol!r}")
    return z


@dataclass(frozen=True)
class Categories:
    """A string column as integer codes into a list of distinct values."""

    codes: np.ndarray  # (N,) int
    values: tuple[str, ...]

    @classmethod
    def of(cls, values: pd.Series, *, lower: bool = False) -> Categories:
        import pandas as pd

        strings = values.astype(str)
        codes, uniq = pd.factorize(strings.str.lower() if lower else strings)
        return cls(np.asarray(codes, dtype=np.int32), tuple(str(u) for u in uniq))

    def isin(self, allowed: set[str]) -> np.ndarray:
        """(N,) bool: value in ``allowed``."""
        ok = np.array([v in allowed for v in self.values] + [False], dtype=bool)  # code -1 -> False
        return ok[self.codes]  # a table lookup per row, no string comparison per row


@dataclass(frozen=True)
class FilterColumns:
    """What :class:`SearchFilters` reads, precomputed as numpy arrays from the metadata.

    Attributes:
        elements: (119, N) bool, element presence by atomic number (row z is contiguous).
        crystal_system: lower-case crystal system codes.
        source: source codes.
        nsites: (N,) int.
        band_gap: (N,) float with NaN for unknown, or None without a band_gap column.
        hypothetical: (N,) bool.
    """

    elements: np.ndarray
    crystal_system: Categories
    source: Categories
    nsites: np.ndarray
    band_gap: np.ndarray | None
    hypothetical: np.ndarray

    @classmethod
    def from_metadata(cls, md: pd.DataFrame) -> FilterColumns:
        """From the metadata table; the element table from ``atomic_numbers`` or, when the
        structure columns were not read (a large index), from the ``elements`` strings."""
        n = len(md)
        elements = np.zeros((119, n), dtype=bool)
        if "atomic_numbers" in md.columns:
            zs = [np.asarray(z, dtype=np.int64).reshape(-1) for z in md["atomic_numbers"]]
            counts = np.fromiter((len(z) for z in zs), dtype=np.int64, count=n)
            if counts.sum():
                elements[np.concatenate(zs), np.repeat(np.arange(n), counts)] = True
        else:
            _elements_from_strings(md["elements"], elements)
        return cls(
            elements=elements,
            crystal_system=Categories.of(md["crystal_system"], lower=True),
            source=Categories.of(md["source"]),
            nsites=md["nsites"].to_numpy(dtype=np.int64),
            band_gap=md["band_gap"].to_numpy(dtype=np.float64) if "band_gap" in md.columns else None,
            hypothetical=md["hypothetical"].to_numpy(dtype=bool),
        )


def _elements_from_strings(values: pd.Series, out: np.ndarray) -> None:
    """Fill the (119, N) presence table from space-separated symbols ("O Sr Ti"), one parse
    per distinct string (a large corpus repeats few element sets), no Python loop per row."""
    import pandas as pd

    codes, uniq = pd.factorize(values.astype(str))  # (N,) codes into U distinct strings
    per = [[ATOMIC_NUMBER[e] for e in str(t).split() if e in ATOMIC_NUMBER] for t in uniq]
    lens = np.array([len(z) for z in per] + [0], dtype=np.int64)  # (U+1,), code -1 -> 0
    if not lens.sum():
        return
    flat = np.concatenate([np.asarray(z, dtype=np.int64) for z in per if z])
    starts = np.concatenate([[0], np.cumsum(lens[:-2])]).astype(np.int64)  # (U,) first z of each string
    row_len = lens[codes]  # (N,)
    rows = np.repeat(np.arange(len(codes)), row_len)
    within = np.arange(row_len.sum()) - np.repeat(np.cumsum(row_len) - row_len, row_len)
    out[flat[np.repeat(starts[codes], row_len) + within], rows] = True
