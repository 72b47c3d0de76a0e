"""The record type lives in :mod:`clac_core.record` (below ``text`` and ``corpus``); these names
stay importable from here for older code."""

from clac_core.record import CrystalRecord, structure_from_arrays, structure_to_arrays

__all__ = ["CrystalRecord", "structure_from_arrays", "structure_to_arrays"]
