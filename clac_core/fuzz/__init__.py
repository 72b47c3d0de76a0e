"""Seeded malformed-input generator and a watched runner for :func:`clac_core.io.read_structures`.

:func:`generate` makes the cases (deterministic for a seed): each has a class (what kind of
damage), a file name, the bytes and what a correct reader must do with it (``"error"``:
refuse it; ``"valid"``: accept it; ``"either"``: a random mutation that may or may not still
be a crystal). :func:`run_case` reads one case in a forked worker process with an address-space
limit and a wall-clock limit, and classifies the outcome:

* ``clean error``: a :class:`~clac_core.io.StructureReadError` naming the file, in plain words;
* ``unclear message``: a clean error whose message lacks the file name or shows library
  internals (``len(items)=...``, ``NoneType``, ...);
* ``accepted valid``: structures returned, and they pass :func:`sane` (and the case may be
  valid);
* ``nonsense accepted``: structures returned for a case that must be refused, or that fail
  :func:`sane` (an unknown element, a 1e308 Å cell, an isolated atom, ...);
* ``uncaught``: any other exception;
* ``timeout``: over the time limit (the worker is killed);
* ``over memory``: a ``MemoryError`` under the address-space limit, or a peak resident size
  growth over the memory limit.

``scripts/fuzz_io.py`` runs the whole set and prints the classes × outcomes table; the tests
run a sample. Unix only (``os.fork``, ``resource``).

The package: :mod:`~clac_core.fuzz.crystals` (valid starting crystals and their text),
:mod:`~clac_core.fuzz.cases` (the generators) and :mod:`~clac_core.fuzz.runner` (judging, the
watched worker, the table). Its public names are importable from ``clac_core.fuzz``.
"""

from __future__ import annotations

from clac_core.fuzz.cases import GENERATORS, Expect, FuzzCase, generate
from clac_core.fuzz.crystals import FORMATS
from clac_core.fuzz.runner import (
    BAD_OUTCOMES,
    OUTCOMES,
    FuzzResult,
    run_all,
    run_case,
    sane,
    table,
    targets_met,
    warm_up,
)

__all__ = [
    "BAD_OUTCOMES",
    "Expect",
    "FORMATS",
    "FuzzCase",
    "FuzzResult",
    "GENERATORS",
    "OUTCOMES",
    "generate",
    "run_all",
    "run_case",
    "sane",
    "table",
    "targets_met",
    "warm_up",
]
