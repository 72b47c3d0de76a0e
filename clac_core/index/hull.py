"""Energy above the convex hull of a corpus's own crystals, from their DFT formation energies.

A crystal's energy above the hull (eV/atom) is how far its formation energy lies above the
lowest-energy mix of the corpus's other crystals of the same elements (0: on the hull, i.e.
stable against decomposition into them). It is computed over *this corpus* only: with fewer
competing phases than Materials Project holds, it is a lower bound of MP's own value (a crystal
on this hull may lie above MP's). Elements are the references, at formation energy 0.

One exact phase diagram per chemical system (pymatgen's :class:`PhaseDiagram` over the crystals
whose elements are a subset of it); a crystal without a formation energy gets NaN. 96 s for the
35,858 crystals of the app's index on 2 cores. "Near the hull" is
:data:`clac_core.vocab.classes.NEAR_HULL`. Shape legend: N crystals.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
# above this many crystals with a formation energy the hull is not computed at build time
# (~100 s per 36k crystals on 2 cores, growing with the crystals per chemical system)
MAX_HULL_ROWS = 300_000


def energy_above_hull(
    formulas: Sequence[str],
    formation_energy: Sequence[float] | np.ndarray,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(N,) energy above the corpus hull in eV/atom (>= 0), NaN where the formation energy
    (eV/atom) is unknown or a formula cannot be read.

    Args:
        formulas: (N,) formulas (any form pymatgen's ``Composition`` reads).
        formation_energy: (N,) formation energy per atom, eV/atom (NaN: unknown).
        progress: called as ``progress(done, total)`` over the chemical systems.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition, Element

    fe = np.asarray(formation_energy, dtype=np.float64)
    out = np.full(len(formulas), np.nan)
    entries: dict[int, PDEntry] = {}
    by_system: dict[frozenset[str], list[int]] = defaultdict(list)
    for i, (f, e) in enumerate(zip(formulas, fe, strict=True)):
        if not np.isfinite(e):
            continue
        try:
            comp = Composition(str(f))
            system = frozenset(el.symbol for el in comp.elements)
            if comp.num_atoms <= 0 or not all(isinstance(el, Element) for el in comp.elements):
                continue  # nothing, or a dummy species ("Xx"): no element reference to measure from
            entries[i] = PDEntry(comp, float(e) * comp.num_atoms)
        except Exception:  # an unreadable formula: no hull distance
            continue
        by_system[system].append(i)
    systems = sorted(by_system, key=lambda s: (len(s), sorted(s)))
    for n, system in enumerate(systems, 1):
        members = [i for k in range(1, len(system) + 1) for sub in combinations(sorted(system), k)
                   for i in by_system.get(frozenset(sub), ())]
        refs = [PDEntry(Composition({Element(el): 1}), 0.0) for el in system]
        pd = PhaseDiagram([entries[i] for i in members] + refs)
        for i in by_system[system]:
            out[i] = max(0.0, float(pd.get_e_above_hull(entries[i], allow_negative=True)))
        if progress is not None and (n % 500 == 0 or n == len(systems)):
            progress(n, len(systems))
    return out


def with_hull_column(meta: Any, progress: Callable[[str, int, int], None] | None = None) -> Any:
    """``meta`` (an index's metadata frame) with its :data:`~clac_core.properties.HULL_COLUMN`
    computed over its own rows, where it has formation energies; unchanged when none has one,
    or when more than :data:`MAX_HULL_ROWS` have one (logged: a corpus that large, e.g.
    Alexandria, ships its own energies above its full hull)."""
    from clac_core.properties import HULL_COLUMN

    fe_col = "formation_energy_per_atom"
    if fe_col not in meta.columns or not meta[fe_col].notna().any():
        return meta
    known = int(meta[fe_col].notna().sum())
    if known > MAX_HULL_ROWS:
        log.warning("energy above hull not computed: %d crystals with a formation energy (limit %d)",
                    known, MAX_HULL_ROWS)
        return meta
    report = None if progress is None else (lambda done, total: progress("hull", done, total))
    meta = meta.copy()
    meta[HULL_COLUMN] = energy_above_hull(meta["formula"].astype(str).tolist(), meta[fe_col].to_numpy(), report)
    return meta
