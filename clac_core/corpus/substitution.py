"""The data behind decoration (:mod:`clac_core.corpus.decorated`): pymatgen's data-mined
substitution probabilities at species and element level, ionic / metallic radii, and the
parent prototypes with their oxidation states, site counts and shortest distances.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from clac_core.vocab.elements import is_metal


@dataclass(frozen=True)
class _Parent:
    id: str
    label: str
    formula: str
    labels: tuple[tuple[str, str], ...]
    elements: tuple[str, ...]  # distinct elements, sorted
    oxi: tuple[int, ...]  # oxidation state per element (0 for intermetallics)
    counts: tuple[int, ...]  # sites per element
    site_elem: np.ndarray  # (N,) index into elements
    lattice: np.ndarray  # (3, 3)
    frac_coords: np.ndarray  # (N, 3)
    radius_sum: float
    min_dist: float
    bonding: str


def _lambda_path() -> Path:
    from clac_core.corpus.prototypes import _package_file

    return _package_file("pymatgen.core.structure_prediction", "data", "lambda.json")


def _parse_species(s: str) -> tuple[str, int]:
    """'Fe3+' -> ('Fe', 3); 'O2-' -> ('O', -2)."""
    sign = -1 if s.endswith("-") else 1
    body = s[:-1]
    i = len(body)
    while i > 0 and body[i - 1].isdigit():
        i -= 1
    return body[:i], sign * int(body[i:] or 1)


@lru_cache(maxsize=1)
def _tables() -> tuple[dict, dict]:
    """Conditional substitution probabilities at species and element level.

    Returns:
        (species_table, element_table): ``species_table[(el, oxi)]`` is a list of
        ((el', oxi'), P(new | old)) sorted by descending probability; ``element_table[el]``
        likewise over elements (summed over oxidation states).
    """
    from pymatgen.core.structure_prediction.substitution_probability import SubstitutionProbability

    sp = SubstitutionProbability()
    species = sorted(sp.species, key=str)
    observed = {k for k in sp._l}  # only pairs seen in the data, not the alpha floor
    px = {s: sp.get_px(s) for s in species}
    table: dict[tuple[str, int], list[tuple[tuple[str, int], float]]] = {}
    el_acc: dict[str, dict[str, float]] = {}
    for old in species:
        key_old = (old.symbol, int(old.oxi_state))
        rows = []
        for new in species:
            if frozenset([old, new]) not in observed:
                continue
            p = math.exp(sp.get_lambda(new, old)) / px[old]
            rows.append(((new.symbol, int(new.oxi_state)), p))
            el_acc.setdefault(old.symbol, {}).setdefault(new.symbol, 0.0)
            el_acc[old.symbol][new.symbol] += p
        rows.sort(key=lambda r: (-r[1], r[0]))
        table[key_old] = rows
    el_table = {e: sorted(d.items(), key=lambda r: (-r[1], r[0])) for e, d in el_acc.items()}
    return table, el_table


@cache
def _radius(symbol: str, oxi: int) -> float:
    from pymatgen.core import Element, Species

    el = Element(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if oxi == 0:
            r = el.metallic_radius or el.atomic_radius
        else:
            try:
                r = Species(symbol, oxi).ionic_radius
            except Exception:
                r = None
            r = r or el.average_ionic_radius or el.atomic_radius
    return float(r or 1.5)


def _parents(max_sites: int) -> list[_Parent]:

    from clac_core.corpus.prototypes import iter_prototypes

    species_table, el_table = _tables()
    out = []
    for rec in iter_prototypes(include_minerals=False, max_sites=max_sites):
        s = rec.structure
        comp = s.composition
        elements = tuple(sorted(el.symbol for el in comp.elements))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            guesses = comp.oxi_state_guesses(max_sites=-max_sites) if len(elements) > 1 else ()
        if guesses and all(float(guesses[0][e]).is_integer() for e in elements):
            oxi = tuple(int(guesses[0][e]) for e in elements)
            if any((e, o) not in species_table for e, o in zip(elements, oxi, strict=True)):
                continue
            bonding = "ionic"
        elif (
            not guesses
            and all(is_metal(e) for e in elements)
            and all(e in el_table for e in elements)
        ):
            oxi = tuple(0 for _ in elements)
            bonding = "intermetallic"
        else:
            continue
        index = {e: i for i, e in enumerate(elements)}
        site_elem = np.array([index[site.specie.symbol] for site in s], dtype=int)
        counts = tuple(int((site_elem == i).sum()) for i in range(len(elements)))
        dm = s.distance_matrix + np.eye(len(s)) * 1e6
        min_dist = float(dm.min()) if len(s) > 1 else float(min(s.lattice.abc))
        radius_sum = sum(c * _radius(e, o) for e, o, c in zip(elements, oxi, counts, strict=True))
        out.append(
            _Parent(
                id=rec.id,
                label=rec.id.split(":", 1)[1],
                formula=rec.labels.get("prototype", comp.reduced_formula),
                labels=tuple(sorted(rec.labels.items())),
                elements=elements,
                oxi=oxi,
                counts=counts,
                site_elem=site_elem,
                lattice=s.lattice.matrix.copy(),
                frac_coords=s.frac_coords.copy(),
                radius_sum=radius_sum,
                min_dist=min_dist,
                bonding=bonding,
            )
        )
    return out
