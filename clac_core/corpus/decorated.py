"""Hypothetical crystals made by chemically plausible element substitution on prototypes.

Approach (data-mined ionic substitution, Hautier et al., Inorg. Chem. 50, 656 (2011),
doi:10.1021/ic102031h, with the lambda table pymatgen ships in
``pymatgen/core/structure_prediction/data/lambda.json``):

1. Parents: the AFLOW prototypes (:func:`clac_core.corpus.prototypes.iter_prototypes`) with
   at most ``max_sites`` sites (20 by default).
2. Each parent gets one integer oxidation state per element from pymatgen's
   ``Composition.oxi_state_guesses``. Parents with an integer guess are *ionic*; parents
   without a guess whose elements are all metals are *intermetallic* (oxidation state 0);
   the rest (mixed valence, covalent non-metal frameworks) are not decorated.
3. Candidate substitutes for each parent species are the ``top_k`` species with the highest
   conditional substitution probability ``P(new | old) = exp(lambda(new, old)) / p(old)``
   (pymatgen's ``SubstitutionProbability.cond_prob``). For intermetallic parents the table
   is summed over oxidation states to element level and restricted to metals.
4. Sampling (seeded numpy ``Generator``): parents are visited round robin in a shuffled
   order; a candidate draws one substitute per parent element with probability proportional
   to ``P(new | old)``. It is rejected if it changes nothing, maps two parent elements onto
   one element, is not charge balanced (sum of oxidation state x count != 0), repeats an
   already made (parent, reduced formula) pair, or gives a shortest interatomic distance below
   ``min_distance`` after rescaling. A parent that fails ``max_failures`` turns in a row is
   retired. No StructureMatcher is run per candidate: distinctness is by (parent id,
   reduced formula).
5. Volume: the lattice is scaled isotropically by ``sum_i r_new(i) / sum_i r_old(i)`` over
   all sites (so the volume by its cube), with r the Shannon ionic radius of the species
   (pymatgen ``Species.ionic_radius``), falling back to the element's average ionic radius
   and then its atomic radius; intermetallics use metallic radii. Neighbour distances then
   move with the sizes of the ions that replaced the parent's.

Records: id ``"dec:<parent aflow label>:<reduced formula>"``, source ``"decorated"``,
``hypothetical=True``, the parent's labels (same structure type), and provenance
``parent_id`` (``"aflow:..."``), ``parent`` (the parent's prototype formula, e.g. "NaCl",
used in text as "decorated from the NaCl prototype"), ``substitution`` ("Na->K, Cl->Br"),
``oxidation_states`` ("K:+1, Br:-1"), ``bonding`` (ionic/intermetallic) and ``scale``.

The substitution tables, radii and parents live in :mod:`clac_core.corpus.substitution`
(their names are re-exported here); this module samples and builds the crystals.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import numpy as np

from clac_core.corpus.substitution import _Parent, _parents, _radius, _tables
from clac_core.record import CrystalRecord
from clac_core.vocab.elements import is_metal


def _fmt_oxi(o: int) -> str:
    return f"{o:+d}" if o else "0"


def iter_decorated(
    n: int = 20000,
    seed: int = 0,
    *,
    max_sites: int = 20,
    top_k: int = 24,
    min_distance: float = 1.0,
    max_failures: int = 30,
    attempts_per_turn: int = 20,
) -> Iterator[CrystalRecord]:
    """Yield up to ``n`` distinct hypothetical crystals decorated from AFLOW prototypes.

    Deterministic for a given ``seed`` (and installed pymatgen data). See the module
    docstring for the method.

    Args:
        n: number of crystals to make.
        seed: sampling seed.
        max_sites: only parents with at most this many sites.
        top_k: substitutes considered per parent species.
        min_distance: reject candidates whose shortest interatomic distance after rescaling is
            below this (Å); 0.7 Å is used when hydrogen is present.
        max_failures: retire a parent after this many turns without a new crystal.
        attempts_per_turn: candidates drawn per parent per turn.

    Yields:
        CrystalRecord with source "decorated" and hypothetical=True. Fewer than ``n`` (with a
        warning) only if every parent is exhausted.
    """
    if n <= 0:
        return
    species_table, el_table = _tables()
    parents = _parents(max_sites)
    rng = np.random.default_rng(seed)
    options = [_candidate_options(par, species_table, el_table, top_k) for par in parents]
    made = 0
    for rec in _round_robin(
        parents,
        options,
        rng,
        n,
        min_distance=min_distance,
        max_failures=max_failures,
        attempts_per_turn=attempts_per_turn,
    ):
        made += 1
        yield rec
    if made < n:
        warnings.warn(
            f"decoration exhausted all {len(parents)} parents after {made} of {n} crystals", stacklevel=2
        )


def _candidate_options(
    par: _Parent, species_table: dict, el_table: dict, top_k: int
) -> list[tuple[list[str], list[int], np.ndarray]]:
    """Candidate substitutes per parent element: (symbols, oxidation states, probabilities)."""
    per_el = []
    for e, o in zip(par.elements, par.oxi, strict=True):
        if par.bonding == "ionic":
            rows = species_table[(e, o)][:top_k]
            syms = [r[0][0] for r in rows]
            oxis = [r[0][1] for r in rows]
        else:
            rows = [r for r in el_table[e] if is_metal(r[0])][:top_k]
            syms = [r[0] for r in rows]
            oxis = [0] * len(rows)
        p = np.array([r[1] for r in rows], dtype=float)
        p = np.sqrt(p)  # tempered: flatter than the raw table, more varied decorations
        per_el.append((syms, oxis, p / p.sum()))
    return per_el


def _round_robin(
    parents: list[_Parent],
    options: list[list[tuple[list[str], list[int], np.ndarray]]],
    rng: np.random.Generator,
    n: int,
    *,
    min_distance: float,
    max_failures: int,
    attempts_per_turn: int,
) -> Iterator[CrystalRecord]:
    """Up to ``n`` crystals, visiting parents round robin in a shuffled order; a parent is
    retired after ``max_failures`` turns in a row without a new crystal."""
    from pymatgen.core import Lattice, Structure

    seen: set[tuple[str, str]] = set()
    failures = [0] * len(parents)
    active = list(rng.permutation(len(parents)))
    made = 0
    while active and made < n:
        still = []
        for pi in active:
            if made >= n:
                still.append(pi)
                continue
            par = parents[pi]
            rec = _decorate(rng, par, options[pi], seen, min_distance, attempts_per_turn, Lattice, Structure)
            if rec is None:
                failures[pi] += 1
                if failures[pi] < max_failures:
                    still.append(pi)
                continue
            failures[pi] = 0
            still.append(pi)
            made += 1
            yield rec
        active = still


def _decorate(
    rng: np.random.Generator, par: _Parent, opts, seen, min_distance, attempts_per_turn, Lattice, Structure
) -> CrystalRecord | None:
    """One turn of a parent: up to ``attempts_per_turn`` draws until one gives a new crystal."""
    for _ in range(attempts_per_turn):
        picked = _draw(rng, opts, par.counts)
        if picked is None:
            continue
        syms, oxis = picked
        if tuple(syms) == par.elements or len(set(syms)) != len(syms):
            continue
        if sum(o * c for o, c in zip(oxis, par.counts, strict=True)) != 0:
            continue
        rec = _make(par, syms, oxis, seen, min_distance, Lattice, Structure)
        if rec is not None:
            return rec
    return None


def _draw(rng: np.random.Generator, opts, counts) -> tuple[list[str], list[int]] | None:
    """One substitute per parent element; the last (in a random order) is drawn only among
    species that make the total charge zero, so most draws are balanced by construction."""
    order = rng.permutation(len(opts))
    syms: list[str] = [""] * len(opts)
    oxis: list[int] = [0] * len(opts)
    charge = 0
    for k in order[:-1]:
        s, o, p = opts[k]
        j = int(rng.choice(len(p), p=p))
        syms[k], oxis[k] = s[j], o[j]
        charge += o[j] * counts[k]
    last = order[-1]
    s, o, p = opts[last]
    if charge % counts[last]:
        return None
    need = -charge // counts[last]
    ok = np.fromiter((ox == need for ox in o), dtype=bool, count=len(o))
    if not ok.any():
        return None
    q = np.where(ok, p, 0.0)
    j = int(rng.choice(len(q), p=q / q.sum()))
    syms[last], oxis[last] = s[j], o[j]
    return syms, oxis


def _make(par: _Parent, syms, oxis, seen, min_distance, Lattice, Structure) -> CrystalRecord | None:
    new_sum = sum(c * _radius(e, o) for e, o, c in zip(syms, oxis, par.counts, strict=True))
    scale = new_sum / par.radius_sum
    limit = 0.7 if "H" in syms else min_distance
    if par.min_dist * scale < limit:
        return None
    species = [syms[i] for i in par.site_elem]
    structure = Structure(Lattice(par.lattice * scale), species, par.frac_coords)
    formula = structure.composition.reduced_formula
    key = (par.id, formula)
    if key in seen:
        return None
    seen.add(key)
    return CrystalRecord(
        id=f"dec:{par.label}:{formula}",
        structure=structure,
        source="decorated",
        provenance={
            "parent_id": par.id,
            "parent": par.formula,
            "substitution": ", ".join(f"{a}->{b}" for a, b in zip(par.elements, syms, strict=True) if a != b),
            "oxidation_states": ", ".join(f"{e}:{_fmt_oxi(o)}" for e, o in zip(syms, oxis, strict=True)),
            "bonding": par.bonding,
            "scale": f"{scale:.4f}",
        },
        labels=dict(par.labels),
        hypothetical=True,
    )


def decorated_summary(records: list[CrystalRecord]) -> str:
    """One-line JSON summary (counts per bonding type and parent) for logs."""
    by_bond: dict[str, int] = {}
    parents: set[str] = set()
    for r in records:
        by_bond[r.provenance.get("bonding", "?")] = by_bond.get(r.provenance.get("bonding", "?"), 0) + 1
        parents.add(r.provenance.get("parent_id", ""))
    return json.dumps({"crystals": len(records), "parents": len(parents), "bonding": by_bond})
