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
from typing import TYPE_CHECKING

import numpy as np

from clac_core.symmetry import crystal_system_from_number, symmetry_dataset

if TYPE_CHECKING:  # pymatgen is imported lazily: it takes ~1 s
    from pymatgen.core import Composition, Structure

# --------------------------------------------------------------------------------------
# Element tables

_ALKALI = {"Li", "Na", "K", "Rb", "Cs", "Fr"}
_ALKALINE_EARTH = {"Be", "Mg", "Ca", "Sr", "Ba", "Ra"}
_LANTHANIDES = {"La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
_ACTINIDES = {"Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"}
_POST_TRANSITION = {"Al", "Ga", "In", "Sn", "Tl", "Pb", "Bi", "Po", "Nh", "Fl", "Mc", "Lv"}
_METALLOIDS = {"B", "Si", "Ge", "As", "Sb", "Te"}
_CHALCOGENS = {"O", "S", "Se", "Te"}
_HALOGENS = {"F", "Cl", "Br", "I", "At"}
_PNICTOGENS = {"N", "P", "As", "Sb", "Bi"}
_NOBLE_GASES = {"He", "Ne", "Ar", "Kr", "Xe", "Rn"}
_OTHER_NONMETALS = {"H", "C"}

# Elements that act as anions, most specific class name each.
ANION_NAMES: dict[str, str] = {
    "O": "oxide",
    "S": "sulfide",
    "Se": "selenide",
    "Te": "telluride",
    "N": "nitride",
    "P": "phosphide",
    "As": "arsenide",
    "Sb": "antimonide",
    "F": "fluoride",
    "Cl": "chloride",
    "Br": "bromide",
    "I": "iodide",
    "H": "hydride",
    "C": "carbide",
    "B": "boride",
    "Si": "silicide",
    "Ge": "germanide",
    "Bi": "bismuthide",
}
# Oxoanion-forming centres (X bonded to O only, given coordination) -> salt name.
_OXOANIONS: dict[tuple[str, int], str] = {
    ("P", 4): "phosphate",
    ("S", 4): "sulfate",
    ("Si", 4): "silicate",
    ("B", 3): "borate",
    ("B", 4): "borate",
    ("C", 3): "carbonate",
    ("N", 3): "nitrate",
    ("As", 4): "arsenate",
    ("V", 4): "vanadate",
    ("Mo", 4): "molybdate",
    ("W", 4): "tungstate",
    ("Cr", 4): "chromate",
    ("Ge", 4): "germanate",
    ("Cl", 4): "perchlorate",
}

def element_family(symbol: str) -> str:
    """Primary chemical family of an element, e.g. "alkali metal", "halogen".

    An element belongs to exactly one primary family here (Te is a chalcogen, As a pnictogen,
    Bi a post-transition metal), so texts never contradict themselves.
    """
    if symbol in _ALKALI:
        return "alkali metal"
    if symbol in _ALKALINE_EARTH:
        return "alkaline-earth metal"
    if symbol in _LANTHANIDES:
        return "lanthanide"
    if symbol in _ACTINIDES:
        return "actinide"
    if symbol in _CHALCOGENS:
        return "chalcogen"
    if symbol in _HALOGENS:
        return "halogen"
    if symbol in {"N", "P", "As"}:
        return "pnictogen"
    if symbol in _METALLOIDS:
        return "metalloid"
    if symbol in _POST_TRANSITION:
        return "post-transition metal"
    if symbol in _NOBLE_GASES:
        return "noble gas"
    if symbol in _OTHER_NONMETALS:
        return "nonmetal"
    return "transition metal"


def _is_metal(symbol: str) -> bool:
    fam = element_family(symbol)
    return fam.endswith("metal") or fam in {"lanthanide", "actinide"}


# --------------------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class SiteEnvironment:
    """Local environment of one symmetry-distinct site.

    Attributes:
        element: element symbol of the site.
        multiplicity: number of equivalent sites in the input cell.
        cn: coordination number (bonded neighbours, see module docstring).
        polyhedron: geometry name ("octahedral", "tetrahedral", ...) or None when unnamed.
        neighbors: neighbour element -> count, e.g. {"O": 6}.
    """

    element: str
    multiplicity: int
    cn: int
    polyhedron: str | None
    neighbors: dict[str, int]


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
# Helpers


def _electronegativity(symbol: str) -> float:
    from pymatgen.core import Element

    x = Element(symbol).X
    return float(x) if x == x else 0.0  # noble gases have NaN


def _anions(elements: list[str]) -> list[str]:
    """Anion elements: the most electronegative nonmetals when a less electronegative element is present."""
    if len(elements) < 2:
        return []
    cand = [e for e in elements if e in ANION_NAMES and not _is_metal(e)]
    if not cand:
        return []
    x = {e: _electronegativity(e) for e in elements}
    xmin = min(x.values())
    most = max(cand, key=lambda e: x[e])
    if x[most] <= xmin:
        return []
    anions = [most]
    # Other strong anions (O, N, halogens, S, Se, Te) that are clearly more electronegative
    # than every metal in the compound count too ("oxide fluoride", "oxynitride").
    metals_x = [x[e] for e in elements if _is_metal(e)] or [xmin]
    for e in cand:
        if (
            e != most
            and e in {"O", "N", "F", "Cl", "Br", "I", "S", "Se", "Te", "H"}
            and x[e] > max(metals_x) + 0.3
        ):
            # only when e is not bonded as a cation to `most`, i.e. not an oxoanion centre
            if e in {"S", "Se", "Te", "N", "Cl", "Br", "I"} and most == "O":
                continue
            anions.append(e)
    anions.sort(key=lambda e: -x[e])
    return anions


def _oxidation_states(comp: Composition, anions: list[str], max_elements: int, max_atoms: float):
    """Most likely integer oxidation states, or None when the guess would be slow or absent."""
    if not anions:
        return None
    reduced = comp.reduced_composition
    if len(reduced.elements) > max_elements or reduced.num_atoms > max_atoms:
        return None
    try:
        guesses = reduced.oxi_state_guesses(max_sites=-1)
    except Exception:  # pymatgen raises on exotic inputs; unknown is the honest answer
        return None
    if not guesses:
        return None
    best = guesses[0]
    states = {}
    for el, v in best.items():
        if abs(v - round(v)) > 1e-6:  # mixed valence averages are not stated
            return None
        states[str(el)] = int(round(v))
    if any(states.get(a, 0) >= 0 for a in anions):
        return None
    return states


def _angles(vectors: np.ndarray) -> np.ndarray:
    """Pairwise angles (degrees) between neighbour vectors, (k, 3) -> (k*(k-1)/2,)."""
    n = np.linalg.norm(vectors, axis=1, keepdims=True)
    u = vectors / np.clip(n, 1e-8, None)
    cos = np.clip(u @ u.T, -1.0, 1.0)
    iu = np.triu_indices(len(vectors), 1)
    return np.degrees(np.arccos(cos[iu]))


def polyhedron_name(vectors: np.ndarray) -> str | None:
    """Name the coordination geometry from neighbour vectors (k, 3), or None if unnamed."""
    k = len(vectors)
    if k == 1:
        return "single-bonded"
    ang = _angles(vectors)
    n_trans = int(np.sum(ang > 155.0))
    if k == 2:
        return "linear" if ang[0] > 155.0 else "bent"
    if k == 3:
        return "trigonal planar" if abs(ang.sum() - 360.0) < 15.0 else "trigonal pyramidal"
    if k == 4:
        if n_trans >= 2:
            return "square planar"
        if n_trans == 0 and np.all(np.abs(ang - 109.47) < 25.0):
            return "tetrahedral"
        return "see-saw" if n_trans == 1 else None
    if k == 5:
        if n_trans == 1:
            return "trigonal bipyramidal"
        if n_trans == 2:
            return "square pyramidal"
        return None
    if k == 6:
        if n_trans >= 3:
            return "octahedral"
        if n_trans == 0:
            return "trigonal prismatic"
        return None
    if k == 7:
        return "pentagonal bipyramidal" if n_trans == 1 else None
    if k == 8:
        if n_trans >= 4:
            return "cubic"
        if n_trans == 0:
            return "square antiprismatic"
        return "hexagonal bipyramidal" if n_trans == 1 else None
    if k == 12:
        if n_trans >= 6:
            return "cuboctahedral"
        if n_trans == 3:
            return "anticuboctahedral"
        return None
    if k == 14 and n_trans >= 7:
        return "rhombic dodecahedral"
    return None


def _dimensionality(n: int, i: np.ndarray, j: np.ndarray, images: np.ndarray) -> int | None:
    """Rank of cycle translations in the bonded periodic graph (max over components).

    Args:
        n: number of sites.
        i, j: (E,) bonded site pairs.
        images: (E, 3) integer lattice image of j for each bond.
    """
    if n == 0:
        return None
    parent = list(range(n))
    offset = [np.zeros(3, dtype=int) for _ in range(n)]  # position of node relative to its root

    def find(a: int) -> tuple[int, np.ndarray]:
        off = np.zeros(3, dtype=int)
        path = []
        while parent[a] != a:
            path.append(a)
            off = off + offset[a]
            a = parent[a]
        # path compression
        acc = off.copy()
        for p in path:
            o = offset[p].copy()
            offset[p] = acc
            parent[p] = a
            acc = acc - o
        return a, off

    cycles: dict[int, list[np.ndarray]] = {}
    for a, b, img in zip(i.tolist(), j.tolist(), images, strict=True):
        ra, oa = find(a)
        rb, ob = find(b)
        # bond: a (at cell 0) -> b (at cell img); in root frame: pos(b) = oa + img - ob relative...
        if ra == rb:
            t = oa + img - ob
            if np.any(t):
                cycles.setdefault(ra, []).append(t)
        else:
            parent[rb] = ra
            offset[rb] = oa + img - ob
            cycles.setdefault(ra, []).extend(cycles.pop(rb, []))
    best = 0
    for vecs in cycles.values():
        if vecs:
            r = int(np.linalg.matrix_rank(np.array(vecs, dtype=float)))
            best = max(best, r)
            if best == 3:
                break
    return best


def _conventional_lattice(ds, structure: Structure) -> tuple[float, ...]:
    """(a, b, c, alpha, beta, gamma, volume) of spglib's standardized conventional cell."""
    from pymatgen.core import Lattice

    if ds is None:
        lat = structure.lattice
    else:
        lat = Lattice(np.asarray(ds.std_lattice, dtype=float))
    a, b, c = lat.abc
    al, be, ga = lat.angles
    return a, b, c, al, be, ga, lat.volume


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

    comp = structure.composition
    x_of = {str(e): _electronegativity(str(e)) for e in comp.elements}
    elements = sorted(x_of, key=lambda e: (x_of[e], e))
    families = {e: element_family(e) for e in elements}
    anions = _anions(elements)

    # --- symmetry
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

    # --- neighbours (one periodic search over all sites; needed for dimensionality anyway)
    n = len(structure)
    species = [site.specie.symbol for site in structure]
    ci, cj, images, dist = structure.get_neighbor_list(max_cutoff)
    ci = ci.astype(int)
    cj = cj.astype(int)
    images = np.rint(images).astype(int)
    keep = dist > 1e-6
    ci, cj, images, dist = ci[keep], cj[keep], images[keep], dist[keep]
    anions = _refine_anions(anions, elements, species, ci, cj, dist)
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
    bonded = allowed & (dist <= (1.0 + bond_tol) * dmin[ci])

    # --- per distinct site
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

    # --- bonded network dimensionality (each bond once: i < j, or i == j with a positive image)
    bi, bj, bim = ci[bonded], cj[bonded], images[bonded]
    dimensionality = _dimensionality(n, bi, bj, bim)

    # --- anion class
    anion_class = _anion_class(elements, anions, sites)
    oxi = _oxidation_states(comp, anions, oxi_max_elements, oxi_max_atoms)

    return CrystalFacts(
        formula=comp.reduced_formula,
        elements=elements,
        families=families,
        oxidation_states=oxi,
        anion_class=anion_class,
        anions=anions,
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
        nsites=n,
        density=float(structure.density),
        sites=sites,
        bond_lengths=bond_lengths,
        dimensionality=dimensionality,
        labels=dict(labels or {}),
    )


def _refine_anions(
    anions: list[str],
    elements: list[str],
    species: list[str],
    ci: np.ndarray,
    cj: np.ndarray,
    dist: np.ndarray,
) -> list[str]:
    """Add second anions such as As in an oxyarsenide (LaFeAsO-type), but not oxoanion centres.

    A nonmetal more electronegative than every metal present is an anion unless it is
    covalently bonded to the main anion (S in a sulfate, P in a phosphate, H in a hydroxide):
    bonded means closer than 1.25 x the sum of atomic radii.
    """
    if not anions:
        return anions
    from pymatgen.core import Element

    metals = [e for e in elements if _is_metal(e)]
    if not metals:
        return anions
    xmax_metal = max(_electronegativity(e) for e in metals)
    main = anions[0]
    sp = np.array(species)
    out = list(anions)
    for e in elements:
        if e in out or e not in ANION_NAMES or _is_metal(e) or _electronegativity(e) <= xmax_metal:
            continue
        m = (sp[ci] == e) & (sp[cj] == main)
        dmin = float(dist[m].min()) if m.any() else np.inf
        r = (Element(e).atomic_radius or 1.0) + (Element(main).atomic_radius or 1.0)
        if dmin > 1.25 * r:
            out.append(e)
    return out


def _anion_class(elements: list[str], anions: list[str], sites: list[SiteEnvironment]) -> str:
    if len(elements) == 1:
        return "element"
    if not anions:
        return "intermetallic" if all(_is_metal(e) for e in elements) else "compound"
    if anions == ["O"] and len(elements) >= 3:
        # oxosalts: a centre bonded only to O with the textbook coordination
        for s in sites:
            key = (s.element, s.cn)
            if key in _OXOANIONS and set(s.neighbors) == {"O"}:
                return _OXOANIONS[key]
    if len(anions) == 1:
        return ANION_NAMES[anions[0]]
    if len(anions) == 2:
        if "O" in anions:  # oxyfluoride, oxynitride, oxysulfide, oxyarsenide ...
            other = anions[1] if anions[0] == "O" else anions[0]
            return "oxy" + ANION_NAMES[other]
        return f"{ANION_NAMES[anions[0]]} {ANION_NAMES[anions[1]]}"
    return "mixed-anion compound"
