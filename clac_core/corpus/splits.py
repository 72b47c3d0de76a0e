"""Train/val/test splits grouped by reduced formula or by chemical system.

Two kinds (:data:`SplitKind`):

* ``"formula"``: every crystal with the same reduced formula lands in the same split, so no
  composition seen in training appears in validation or test (polymorphs and decorated twins
  cannot leak). This is the split ``clac data build`` writes into the ``split`` column.
* ``"chemsys"``: every crystal with the same *element set* (chemical system, "Fe-Li-O-P")
  lands in the same split, so no test crystal's element set occurs in training: LiFePO4 and
  Li3Fe2(PO4)3 are tested together, never one against the other. Harder, and closer to a
  user's new materials. Subsystems may still be shared (Fe-O in training, Fe-Li-O in test).

The split of a key is a pure function of ``(key, seed)``: a BLAKE2 hash mapped to [0, 1) and
compared with the cumulative fractions. It does not depend on which other crystals are in
the corpus, so adding a source never moves existing crystals between splits. The fractions
are fractions of distinct keys; on mp_37k (35,570 crystals, 17,466 chemical systems) the
chemsys split's crystal fractions for seeds 0-4 stay within 0.012 of 0.8 / 0.1 / 0.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Literal

SPLIT_NAMES = ("train", "val", "test")
SplitKind = Literal["formula", "chemsys"]
SPLIT_KINDS: tuple[str, ...] = ("formula", "chemsys")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def formula_unit_interval(formula: str, seed: int = 0) -> float:
    """Deterministic pseudo-random number in [0, 1) for a (formula, seed) pair."""
    h = hashlib.blake2b(f"{seed}|{formula}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def split_of(formula: str, *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> str:
    """Split name ("train", "val" or "test") of one reduced formula."""
    return _split_of_key(formula, seed, fractions)


def chemical_system(symbols: Iterable[str]) -> str:
    """Sorted, de-duplicated element symbols joined by "-" (pymatgen's ``chemical_system``)."""
    return "-".join(sorted(set(symbols)))


def chemsys_split_of(chemsys: str, *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> str:
    """Split name of one chemical system (:func:`chemical_system`)."""
    # own namespace: a one-element formula ("Si") and its system must not share a hash by design
    return _split_of_key(f"chemsys:{chemsys}", seed, fractions)


def _split_of_key(key: str, seed: int, fractions: Sequence[float]) -> str:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    u = formula_unit_interval(key, seed)
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "val"
    return "test"


def assign_splits(
    formulas: Iterable[str], *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> list[str]:
    """Split name for each formula, grouped by formula (see module docstring).

    Args:
        formulas: reduced formulas, one per crystal.
        seed: changes the assignment of formulas to splits.
        fractions: expected (train, val, test) fractions of distinct formulas.

    Returns:
        list of "train"/"val"/"test", same length and order as ``formulas``.
    """
    return _assign(formulas, split_of, seed, fractions)


def assign_chemsys_splits(
    systems: Iterable[str], *, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> list[str]:
    """Split name for each chemical system (one per crystal), grouped by system."""
    return _assign(systems, chemsys_split_of, seed, fractions)


def _assign(keys: Iterable[str], split_fn: Any, seed: int, fractions: Sequence[float]) -> list[str]:
    """``split_fn(key, seed=, fractions=)`` of each key, computed once per distinct key."""
    cache: dict[str, str] = {}
    out = []
    for k in keys:
        if k not in cache:
            cache[k] = split_fn(k, seed=seed, fractions=fractions)
        out.append(cache[k])
    return out


def check_split_kind(kind: str) -> str:
    """``kind`` if it is a :data:`SplitKind`, else ``ValueError`` naming the choices."""
    if kind not in SPLIT_KINDS:
        raise ValueError(f"unknown split kind {kind!r}; choose from {list(SPLIT_KINDS)}")
    return kind
