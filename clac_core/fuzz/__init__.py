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
watched worker, the table). Every name is importable from ``clac_core.fuzz``.
"""

from __future__ import annotations

from clac_core.fuzz.cases import (  # noqa: F401 - private names of the old fuzz.py, kept importable
    _BAD_ANGLES,
    _BAD_LENGTHS,
    _BAD_OCC,
    _BAD_SYMBOLS,
    _BOMBS,
    _NEEDS_VALID,
    _SG_ORDERS,
    GENERATORS,
    Expect,
    FuzzCase,
    _bad_cell,
    _bad_element,
    _bad_occupancy,
    _cif,
    _compression,
    _flat_cell,
    _garbage,
    _huge_counts,
    _isolated_atom,
    _json_shapes,
    _many_blocks,
    _mutated,
    _nacl_sites,
    _no_symbols,
    _overlap,
    _poscar,
    _supercell,
    _symmetry_bomb,
    _truncated,
    _valid,
    generate,
)
from clac_core.fuzz.crystals import FORMATS, _serialize, _valid_structures  # noqa: F401 - kept importable
from clac_core.fuzz.runner import (  # noqa: F401 - private names of the old fuzz.py, kept importable
    _INTERNALS,
    BAD_OUTCOMES,
    OUTCOMES,
    FuzzResult,
    _collect,
    _judge,
    _report,
    _status_kb,
    _worker,
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
    "GENERATORS",
    "OUTCOMES",
    "FuzzCase",
    "FuzzResult",
    "generate",
    "run_all",
    "run_case",
    "sane",
    "table",
    "targets_met",
    "warm_up",
]
