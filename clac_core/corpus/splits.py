"""Train/val/test splits grouped by reduced formula.

Every crystal with the same reduced formula lands in the same split, so no composition seen
in training appears in validation or test (polymorphs and decorated twins cannot leak). The
split of a formula is a pure function of ``(formula, seed)``: a BLAKE2 hash mapped to [0, 1)
and compared with the cumulative fractions. It does not depend on which other crystals are in
the corpus, so adding a source never moves existing crystals between splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

SPLIT_NAMES = ("train", "val", "test")


def formula_unit_interval(formula: str, seed: int = 0) -> float:
    """Deterministic pseudo-random number in [0, 1) for a (formula, seed) pair."""
    h = hashlib.blake2b(f"{seed}|{formula}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def split_of(formula: str, *, seed: int = 0, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> str:
    """Split name ("train", "val" or "test") of one reduced formula."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    u = formula_unit_interval(formula, seed)
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "val"
    return "test"


def assign_splits(
    formulas: Iterable[str], *, seed: int = 0, fractions: Sequence[float] = (0.8, 0.1, 0.1)
) -> list[str]:
    """Split name for each formula, grouped by formula (see module docstring).

    Args:
        formulas: reduced formulas, one per crystal.
        seed: changes the assignment of formulas to splits.
        fractions: expected (train, val, test) fractions of distinct formulas.

    Returns:
        list of "train"/"val"/"test", same length and order as ``formulas``.
    """
    cache: dict[str, str] = {}
    out = []
    for f in formulas:
        if f not in cache:
            cache[f] = split_of(f, seed=seed, fractions=fractions)
        out.append(cache[f])
    return out
