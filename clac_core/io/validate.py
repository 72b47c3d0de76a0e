"""Validation of every parsed structure: sites, cell, species, occupancies, the partial
occupancy policy, overlapping and isolated atoms (one vectorized periodic neighbour list)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from clac_core.io.errors import (
    BadLatticeError,
    BadOccupancyError,
    BadSitesError,
    IsolatedAtomError,
    ParseError,
    PartialOccupancyError,
    TooManySitesError,
    UnknownElementError,
)
from clac_core.io.limits import (
    MAX_CELL_LENGTH,
    MAX_NEIGHBOR_IMAGES,
    MIN_CELL_VOLUME,
    MIN_DISTANCE,
    OCCUPANCY_TOLERANCE,
    PARTIAL_NOTE,
    _Limits,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _validate(
    s: Structure,
    *,
    name: str,
    label: str,
    limits: _Limits,
    on_partial: Literal["most_probable", "reject"],
) -> Structure:
    """Check sites, lattice, species, occupancies, neighbours; return the final structure."""
    if len(s) == 0:
        raise BadSitesError(f"{label} contains no atoms.", filename=name)
    # Count before anything expensive (the neighbour search scales with the site count).
    if len(s) > limits.max_sites:
        raise TooManySitesError(
            f"{label} has {len(s)} sites; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell, or raise max_sites.",
            filename=name,
        )
    volume = _check_cell(s, label=label, name=name)
    _check_species(s, label=label, name=name)
    if not s.is_ordered:
        n_partial = sum(not site.is_ordered for site in s)
        if on_partial == "reject":
            raise PartialOccupancyError(
                f"{label} has {n_partial} partially occupied site(s) (disorder or vacancies). "
                "Upload an ordered structure, or pass on_partial='most_probable' to keep each "
                "site's most probable species.",
                filename=name,
            )
        s = _most_probable(s, label=label, name=name)
    _check_neighbors(s, label=label, name=name, cutoff=limits.neighbor_cutoff, volume=volume)
    return s


def _check_cell(s: Structure, *, label: str, name: str) -> float:
    """Finite numbers, lattice vectors at most MAX_CELL_LENGTH long, a non-degenerate cell.

    Returns:
        The cell volume, Å³.
    """
    import numpy as np

    matrix = s.lattice.matrix
    if not (np.isfinite(matrix).all() and np.isfinite(s.frac_coords).all()):
        raise ParseError(
            f"{label} has non-numeric (NaN or infinite) cell parameters or coordinates. "
            "Check the numbers in the file.",
            filename=name,
        )
    with np.errstate(all="ignore"):
        lengths = np.linalg.norm(matrix, axis=1)
    if not (lengths <= MAX_CELL_LENGTH).all():
        raise BadLatticeError(
            f"{label} has a lattice vector {float(lengths.max()):.3g} Å long; the limit is "
            f"{MAX_CELL_LENGTH:g} Å. Check the units (Å, not pm or bohr) and the scale factor.",
            filename=name,
        )
    with np.errstate(all="ignore"):
        volume = abs(float(np.linalg.det(matrix)))
    if not volume >= MIN_CELL_VOLUME:
        raise BadLatticeError(
            f"{label} has a degenerate cell (volume {volume:.3g} Å³): its lattice "
            "vectors are (nearly) parallel or zero. Check the cell parameters.",
            filename=name,
        )
    return volume


def _check_species(s: Structure, *, label: str, name: str) -> None:
    """Real elements only; every occupancy in (0, 1] and each site's total at most 1."""
    from pymatgen.core import DummySpecies

    unknown = sorted(
        {
            getattr(sp, "symbol", str(sp))
            for sp in s.composition
            if isinstance(sp, DummySpecies) or not 1 <= getattr(sp, "Z", 0) <= 118
        }
    )
    if unknown:
        raise UnknownElementError(
            f"{label} contains unknown element symbol(s) {', '.join(unknown)}. Use real "
            "element symbols (e.g. Na, Cl); dummy or placeholder species are not supported.",
            filename=name,
        )
    for i, site in enumerate(s):
        occ = list(site.species.values())
        if not all(math.isfinite(o) and 0 < o <= 1 + OCCUPANCY_TOLERANCE for o in occ) or (
            sum(occ) > 1 + OCCUPANCY_TOLERANCE
        ):
            raise BadOccupancyError(
                f"{label}: site {i + 1} has occupancies {', '.join(f'{o:.3g}' for o in occ)}; each "
                "must be above 0 and at most 1, and together at most 1.",
                filename=name,
            )


def _most_probable(s: Structure, *, label: str, name: str) -> Structure:
    """Ordered copy: each site keeps its most probable species; vacancy-dominated sites go."""
    from pymatgen.core import Structure

    species, coords, kept = [], [], []
    for i, site in enumerate(s):
        occu = site.species  # Composition: species -> occupancy
        sp, frac = max(occu.items(), key=lambda kv: (kv[1], str(kv[0])))
        vacancy = 1.0 - sum(occu.values())
        if vacancy > frac:
            continue
        species.append(sp)
        coords.append(site.frac_coords)
        kept.append(i)
    if not species:
        raise BadSitesError(
            f"{label}: every site is mostly vacant, so resolving partial occupancy leaves no "
            "atoms. Upload an ordered structure.",
            filename=name,
        )
    site_props = {k: [v[i] for i in kept] for k, v in s.site_properties.items()}
    out = Structure(
        s.lattice,
        species,
        coords,
        site_properties=site_props or None,
        properties=dict(getattr(s, "properties", {}) or {}),
    )
    out.properties["clac_note"] = PARTIAL_NOTE
    return out


def _check_neighbors(s: Structure, *, label: str, name: str, cutoff: float, volume: float) -> None:
    """Overlapping atoms and atoms without a neighbour, from one periodic neighbour list.

    The cost of the search is estimated first: it visits every site's periodic images within
    ``cutoff`` of the cell, about ``prod(2 * ceil(cutoff / height) + 1)`` per site, where the
    heights are the distances between opposite cell faces (tiny for a nearly flat cell).
    """
    import numpy as np

    m = s.lattice.matrix
    faces = np.linalg.norm(np.cross(m[[1, 2, 0]], m[[2, 0, 1]]), axis=1)  # |b×c|, |c×a|, |a×b|
    heights = volume / faces
    r = max(cutoff, MIN_DISTANCE)
    images = float(np.prod(2 * np.ceil(r / heights) + 1)) * len(s)
    if images > MAX_NEIGHBOR_IMAGES:
        axis = "abc"[int(heights.argmin())]
        raise BadLatticeError(
            f"{label} has a nearly flat cell: it is only {float(heights.min()):.3g} Å thick "
            f"across the faces perpendicular to {axis}, so finding neighbours within {r:g} Å "
            "would need millions of periodic images. Check the lattice vectors, or upload a "
            "reduced (Niggli) cell.",
            filename=name,
        )
    # get_neighbor_list is vectorized and includes periodic images (and an atom's own
    # images); exact duplicates of different sites (distance 0, i != j) are kept, so they
    # count as overlaps.
    centers, neighbors, _, dists = s.get_neighbor_list(r=r)
    mask = dists < MIN_DISTANCE
    if mask.any():
        k = int(mask.nonzero()[0][int(dists[mask].argmin())])
        i, j, d = int(centers[k]), int(neighbors[k]), float(dists[k])
        raise BadSitesError(
            f"{label} has overlapping atoms: site {i} ({s[i].species_string}) and site {j} "
            f"({s[j].species_string}) are {d:.2f} Å apart; the minimum is {MIN_DISTANCE} Å. "
            "Check the coordinates (fractional vs Cartesian, units) and remove duplicate atoms.",
            filename=name,
        )
    if cutoff > 0:
        has = np.zeros(len(s), dtype=bool)
        has[centers[dists <= cutoff]] = True
        if not has.all():
            i = int((~has).nonzero()[0][0])
            raise IsolatedAtomError(
                f"{label} has an isolated atom: site {i} ({s[i].species_string}) has no "
                f"neighbour within {cutoff:g} Å, not even its own periodic image. The cell is "
                "probably too large for its atoms (vacuum, wrong units or scale factor); a "
                "crystal graph needs neighbours.",
                filename=name,
            )
