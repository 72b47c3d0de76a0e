"""Crystal facts that synthetic descriptions are written from.

:func:`analyze` turns a pymatgen ``Structure`` into a :class:`CrystalFacts`: chemistry
(formula, element families, oxidation states when cheap to guess, anion class), symmetry
(spglib space group, crystal system, conventional lattice parameters), and the local
environment of each symmetry-distinct site (coordination number, polyhedron, bond lengths)
plus the bonded network's dimensionality.

Everything here is fast by design (the whole corpus goes through it): one spglib call, one
periodic neighbour search with ``Structure.get_neighbor_list`` and numpy, no CrystalNN.

Bonding criterion (a simple, documented rule rather than a learned one): a neighbour ``j`` of
site ``i`` is bonded when ``d_ij <= (1 + bond_tol) * d_min(i)``, where ``d_min(i)`` is the
shortest distance from ``i`` to an allowed partner. In ionic compounds (an anion element is
present) cations only bond to anions and anions only to cations; otherwise every pair is
allowed. Dimensionality is the rank of the lattice translations that close bonded cycles in
the most connected component (the idea of Larsen et al., npj Comput. Mater. 2019, computed with
a periodic union-find instead of supercells).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.symmetry import crystal_system_from_number, symmetry_dataset
from clac_core.text.chemistry import (
    anion_class as classify_anions,
)
from clac_core.text.chemistry import (
    electronegativity,
    oxidation_states,
    refine_anions,
)
from clac_core.text.geometry import _conventional_lattice, _dimensionality, polyhedron_name
from clac_core.text.sites import SiteEnvironment
from clac_core.vocab.elements import composition_anions, element_family

if TYPE_CHECKING:  # pymatgen is imported lazily: it takes ~1 s
    from pymatgen.core import Composition, Structure

__all__ = ["CrystalFacts", "SiteEnvironment", "analyze"]

# --------------------------------------------------------------------------------------
# Facts


@dataclass
class CrystalFacts:
    """What is known about a crystal's chemistry and structure (all computed, never guessed).

    Attributes:
        formula: reduced formula, e.g. "SrTiO3".
        elements: element symbols, most electropositive first.
        families: element -> primary family ("alkali metal", "chalcogen", ...).
        oxidation_states: element -> integer oxidation state, or None when not guessed
            (too many elements/atoms, no charge-balanced guess, or an intermetallic).
        anion_class: "oxide", "sulfide", "chloride", "oxide fluoride", "phosphate",
            "intermetallic", "element", ...
        anions: anion element symbols ([] for intermetallics and elements).
        spacegroup_symbol: Hermann–Mauguin symbol, e.g. "Pm-3m".
        spacegroup_number: 1-230.
        crystal_system: "cubic", "tetragonal", ...
        a, b, c: conventional (standardized) lattice lengths in Å.
        alpha, beta, gamma: conventional lattice angles in degrees.
        volume: conventional cell volume in Å³.
        nsites: atoms in the input cell.
        density: g/cm³.
        sites: one :class:`SiteEnvironment` per symmetry-distinct site.
        bond_lengths: "A-B" (alphabetical) -> (shortest, longest) bonded distance in Å.
        dimensionality: 0-3 (0 molecular, 1 chains, 2 layers, 3 framework) or None.
        labels: names copied from the record's labels (prototype, mineral, ...), if any.
    """

    formula: str
    elements: list[str]
    families: dict[str, str]
    oxidation_states: dict[str, int] | None
    anion_class: str
    anions: list[str]
    spacegroup_symbol: str
    spacegroup_number: int
    crystal_system: str
    a: float
    b: float
    c: float
    alpha: float
    beta: float
    gamma: float
    volume: float
    nsites: int
    density: float
    sites: list[SiteEnvironment] = field(default_factory=list)
    bond_lengths: dict[str, tuple[float, float]] = field(default_factory=dict)
    dimensionality: int | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def dimensionality_word(self) -> str | None:
        """ "molecular", "chain", "layered", "framework" or None."""
        if self.dimensionality is None:
            return None
        return {0: "molecular", 1: "chain", 2: "layered", 3: "framework"}[self.dimensionality]


# --------------------------------------------------------------------------------------
# Main entry


def analyze(
    structure: Structure,
    *,
    symprec: float = 0.1,
    bond_tol: float = 0.2,
    max_cutoff: float = 6.0,
    labels: dict[str, str] | None = None,
    oxi_max_elements: int = 4,
    oxi_max_atoms: float = 12,
) -> CrystalFacts:
    """Compute the facts of a crystal that descriptions are written from.

    Args:
        structure: an ordered pymatgen Structure (N sites).
        symprec: spglib symmetry tolerance in Å.
        bond_tol: relative bond-length tolerance above each site's shortest distance.
        max_cutoff: neighbour search radius in Å; sites with no partner within it get cn 0.
        labels: the record's names (prototype, mineral, ...) to carry along unchanged.
        oxi_max_elements: only guess oxidation states for at most this many elements...
        oxi_max_atoms: ...and at most this many atoms in the reduced formula (guessing is
            combinatorial and can take seconds otherwise).

    Returns:
        CrystalFacts for the structure.

    Raises:
        ValueError: if the structure is disordered or empty.
    """
    if len(structure) == 0:
        raise ValueError("cannot analyze an empty structure")
    if not structure.is_ordered:
        raise ValueError("analyze() needs an ordered structure (partial occupancies found)")
    comp, elements, families, anions = _chemistry(structure)
    symmetry, equivalent = _symmetry_fields(structure, symprec)
    anions, sites, bond_lengths, dimensionality = _bonded_network(
        structure, elements, anions, equivalent, max_cutoff=max_cutoff, bond_tol=bond_tol
    )
    anion_class = classify_anions(elements, anions, sites)
    oxi = oxidation_states(comp, anions, oxi_max_elements, oxi_max_atoms)
    return CrystalFacts(
        formula=comp.reduced_formula,
        elements=elements,
        families=families,
        oxidation_states=oxi,
        anion_class=anion_class,
        anions=anions,
        **symmetry,
        nsites=len(structure),
        density=float(structure.density),
        sites=sites,
        bond_lengths=bond_lengths,
        dimensionality=dimensionality,
        labels=dict(labels or {}),
    )


def _chemistry(structure: Structure) -> tuple[Composition, list[str], dict[str, str], list[str]]:
    """(composition, elements most electropositive first, element -> family, anions)."""
    comp = structure.composition
    x_of = {str(e): electronegativity(str(e)) for e in comp.elements}
    elements = sorted(x_of, key=lambda e: (x_of[e], e))
    families = {e: element_family(e) for e in elements}
    return comp, elements, families, composition_anions(elements)


def _symmetry_fields(structure: Structure, symprec: float) -> tuple[dict[str, Any], np.ndarray]:
    """Space group, crystal system and conventional lattice as :class:`CrystalFacts` fields,
    and the (N,) symmetry-equivalence class of every site."""
    ds = symmetry_dataset(structure, symprec)  # None: spglib gives up; P1 is the honest answer
    if ds is not None:
        sg_symbol, sg_number = str(ds.international), int(ds.number)
        equivalent = np.asarray(
            ds.crystallographic_orbits, dtype=int
        )  # equivalent_atoms misses supercell translations
    else:
        sg_symbol, sg_number = "P1", 1
        equivalent = np.arange(len(structure))
    a, b, c, al, be, ga, vol = _conventional_lattice(ds, structure)
    fields = dict(
        spacegroup_symbol=sg_symbol,
        spacegroup_number=sg_number,
        crystal_system=crystal_system_from_number(sg_number),
        a=float(a),
        b=float(b),
        c=float(c),
        alpha=float(al),
        beta=float(be),
        gamma=float(ga),
        volume=float(vol),
    )
    return fields, equivalent


def _bonded_network(
    structure: Structure,
    elements: list[str],
    anions: list[str],
    equivalent: np.ndarray,
    *,
    max_cutoff: float,
    bond_tol: float,
) -> tuple[list[str], list[SiteEnvironment], dict[str, tuple[float, float]], int | None]:
    """Neighbours, bonds (module docstring), site environments and dimensionality.

    Returns:
        (anions refined with the neighbour distances, sites, bond_lengths, dimensionality).
    """
    # one periodic neighbour search over all sites (needed for dimensionality anyway)
    n = len(structure)
    species = [site.specie.symbol for site in structure]
    ci, cj, images, dist = _neighbor_list(structure, max_cutoff)
    anions = refine_anions(anions, elements, species, ci, cj, dist)
    bonded = _bonded_mask(n, species, anions, ci, cj, dist, bond_tol)
    sites, bond_lengths = _site_environments(structure, species, equivalent, ci, cj, images, dist, bonded)

    # bonded network dimensionality (each bond once: i < j, or i == j with a positive image)
    bi, bj, bim = ci[bonded], cj[bonded], images[bonded]
    return anions, sites, bond_lengths, _dimensionality(n, bi, bj, bim)


def _neighbor_list(
    structure: Structure, max_cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(E,) centers, (E,) neighbours, (E, 3) integer images, (E,) distances; self-pairs dropped."""
    ci, cj, images, dist = structure.get_neighbor_list(max_cutoff)
    ci = ci.astype(int)
    cj = cj.astype(int)
    images = np.rint(images).astype(int)
    keep = dist > 1e-6
    ci, cj, images, dist = ci[keep], cj[keep], images[keep], dist[keep]
    return ci, cj, images, dist


def _bonded_mask(
    n: int,
    species: list[str],
    anions: list[str],
    ci: np.ndarray,
    cj: np.ndarray,
    dist: np.ndarray,
    bond_tol: float,
) -> np.ndarray:
    """(E,) True for the neighbour pairs that are bonded (the criterion in the module docstring)."""
    if anions:
        is_anion = np.array([s in anions for s in species])
        allowed = is_anion[ci] != is_anion[cj]
        # a cation with no anion in range (rare) falls back to all neighbours
        has = np.zeros(n, dtype=bool)
        has[ci[allowed]] = True
        allowed |= ~has[ci]
    else:
        allowed = np.ones(len(ci), dtype=bool)
    dmin = np.full(n, np.inf)
    np.minimum.at(dmin, ci[allowed], dist[allowed])
    return allowed & (dist <= (1.0 + bond_tol) * dmin[ci])


def _site_environments(
    structure: Structure,
    species: list[str],
    equivalent: np.ndarray,
    ci: np.ndarray,
    cj: np.ndarray,
    images: np.ndarray,
    dist: np.ndarray,
    bonded: np.ndarray,
) -> tuple[list[SiteEnvironment], dict[str, tuple[float, float]]]:
    """One :class:`SiteEnvironment` per symmetry-distinct site, and "A-B" -> (shortest, longest)
    bonded distance."""
    n = len(structure)
    cart = structure.cart_coords
    lat_m = structure.lattice.matrix
    sites: list[SiteEnvironment] = []
    pair_range: dict[str, list[float]] = {}
    distinct, counts = np.unique(equivalent, return_counts=True)
    order = np.argsort(ci, kind="stable")
    ci_s, cj_s, im_s, d_s, b_s = ci[order], cj[order], images[order], dist[order], bonded[order]
    starts = np.searchsorted(ci_s, np.arange(n + 1))
    for rep, mult in zip(distinct.tolist(), counts.tolist(), strict=True):
        lo, hi = starts[rep], starts[rep + 1]
        m = b_s[lo:hi]
        nb_j, nb_img, nb_d = cj_s[lo:hi][m], im_s[lo:hi][m], d_s[lo:hi][m]
        vecs = cart[nb_j] + nb_img @ lat_m - cart[rep]
        nbs: dict[str, int] = {}
        el = species[rep]
        for jj, dd in zip(nb_j.tolist(), nb_d.tolist(), strict=True):
            e2 = species[jj]
            nbs[e2] = nbs.get(e2, 0) + 1
            key = "-".join(sorted((el, e2)))
            pair_range.setdefault(key, []).append(dd)
        cn = len(nb_j)
        sites.append(
            SiteEnvironment(
                element=el,
                multiplicity=int(mult),
                cn=cn,
                polyhedron=polyhedron_name(vecs) if cn else None,
                neighbors=dict(sorted(nbs.items())),
            )
        )
    bond_lengths = {k: (float(min(v)), float(max(v))) for k, v in sorted(pair_range.items())}
    return sites, bond_lengths
