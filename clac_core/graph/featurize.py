"""Structure -> crystal graph: periodic neighbours, symmetry features, distance basis, augmentation.

Edges run ``j -> i`` from each of the nearest ``cfg.max_neighbors`` periodic neighbours ``j``
of center ``i`` (see the :mod:`clac_core.graph` package docstring for the conventions).

Shape legend: N atoms, E edges, G Gaussians, L lattice features.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.config import GraphConfig
from clac_core.symmetry import niggli_lattice, symmetry_dataset

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from pymatgen.core import Structure
    from torch_geometric.data import Data

_FALLBACK_GROWTH = 1.5  # radius factor when an atom has no neighbour within the cutoff
_FALLBACK_TRIES = 4
_DIST_DECIMALS = 4  # distances rounded for tie-breaking only (stored values are exact)
NUM_LATTICE_FEATURES = 6  # see symmetry_features


# --------------------------------------------------------------------------------------
# global symmetry features
# --------------------------------------------------------------------------------------
def symmetry_features(structure: Structure, symprec: float = 0.1) -> tuple[int, np.ndarray]:
    """Space group and conventional-cell shape of a crystal (one spglib call, ~1 ms).

    Both come from spglib's standardized conventional cell, which spglib derives from the
    primitive cell, so they do not change with the choice of supercell, atom order or
    origin. If spglib finds no symmetry (badly distorted cells) the space group is 0
    ("unknown") and the shape is read from the Niggli-reduced input cell.

    Args:
        structure: ordered pymatgen Structure.
        symprec: spglib distance tolerance in Å.

    Returns:
        (space group number 1..230 or 0, (L,) float32 features): log(b/a), log(c/a),
        cos(alpha), cos(beta), cos(gamma), log(volume per atom / 10 Å³).
    """
    lattice = np.asarray(structure.lattice.matrix, dtype=np.float64)
    try:
        ds = symmetry_dataset(structure, symprec)
    except Exception:  # spglib raises on some degenerate cells; treat as "no symmetry found"
        ds = None
    if ds is not None:
        number = int(ds.number)
        shape_lattice = np.asarray(ds.std_lattice, dtype=np.float64)
        n_std = len(ds.std_types)
    else:
        number = 0
        shape_lattice = niggli_lattice(lattice)
        n_std = len(structure)
    a, b, c = np.linalg.norm(shape_lattice, axis=1)
    cos = [
        float(np.dot(shape_lattice[1], shape_lattice[2]) / (b * c)),
        float(np.dot(shape_lattice[0], shape_lattice[2]) / (a * c)),
        float(np.dot(shape_lattice[0], shape_lattice[1]) / (a * b)),
    ]
    vol = abs(float(np.linalg.det(shape_lattice))) / max(n_std, 1)
    feats = np.array([math.log(b / a), math.log(c / a), *cos, math.log(vol / 10.0)], dtype=np.float32)
    return number, feats


# --------------------------------------------------------------------------------------
# neighbour search
# --------------------------------------------------------------------------------------
def neighbor_arrays(
    structure: Structure, cfg: GraphConfig, z: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest periodic neighbours of every atom, as numpy arrays.

    Uses ``Structure.get_neighbor_list`` (C-accelerated) and a vectorized top-k per
    center in numpy. Ties at equal distance are broken by the neighbour's atomic number,
    so the kept multiset of (element, distance) per atom is independent of atom order,
    supercell choice and origin (needed for the invariance of the crystal embedding).

    If some atom has no neighbour within ``cfg.cutoff`` (e.g. an isolated molecule in a
    huge vacuum cell) the radius is grown by 1.5x for this structure, up to 4 times;
    a structure that still has an isolated atom raises ``ValueError``.

    Args:
        structure: ordered pymatgen Structure with N sites.
        cfg: graph settings (cutoff, max_neighbors).
        z: (N,) atomic numbers if already known (saves a pass over the sites).

    Returns:
        edge_index (2, E) int64 [neighbour j, center i], edge_dist (E,) float32 in Å.
    """
    n = len(structure)
    if n == 0:
        raise ValueError("cannot build a graph for an empty structure")
    radius = float(cfg.cutoff)
    k = int(cfg.max_neighbors)
    for _ in range(_FALLBACK_TRIES + 1):
        center, nbr, _images, dist = structure.get_neighbor_list(r=radius)
        center = np.asarray(center, dtype=np.int64)
        nbr = np.asarray(nbr, dtype=np.int64)
        dist = np.asarray(dist, dtype=np.float64)
        if center.size and np.unique(center).size == n:
            break
        radius *= _FALLBACK_GROWTH
    else:
        raise ValueError(
            f"structure {structure.composition.reduced_formula} has an atom without any "
            f"neighbour within {radius / _FALLBACK_GROWTH:.1f} Å; refusing to build an isolated graph"
        )
    if z is None:
        z = np.asarray(structure.atomic_numbers, dtype=np.int64)
    # sort by center, then distance, then neighbour element (deterministic ties)
    order = np.lexsort((z[nbr], np.round(dist, _DIST_DECIMALS), center))
    center, nbr, dist = center[order], nbr[order], dist[order]
    counts = np.bincount(center, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(center.size) - starts[center]
    keep = rank < k
    edge_index = np.stack([nbr[keep], center[keep]]).astype(np.int64)
    return edge_index, dist[keep].astype(np.float32)


def structure_to_graph(structure: Structure, cfg: GraphConfig | None = None) -> Data:
    """Crystal graph of one structure.

    Args:
        structure: ordered pymatgen Structure (N sites).
        cfg: graph settings; defaults to ``GraphConfig()``.

    Returns:
        ``torch_geometric.data.Data`` with ``z`` (N,) long atomic numbers, ``edge_index``
        (2, E) long (source = neighbour j, target = center i), ``edge_dist`` (E,) float32 Å,
        and ``num_nodes`` = N; with ``cfg.symmetry`` also ``sg`` (1,) long and ``lat`` (1, L)
        float32 (:func:`symmetry_features`).
    """
    import torch
    from torch_geometric.data import Data

    cfg = cfg or GraphConfig()
    z = np.asarray(structure.atomic_numbers, dtype=np.int64)
    edge_index, edge_dist = neighbor_arrays(structure, cfg, z)
    extra: dict[str, Any] = {}
    if cfg.symmetry:
        sg, lat = symmetry_features(structure, cfg.symprec)
        extra = {"sg": torch.tensor([sg], dtype=torch.long), "lat": torch.from_numpy(lat).unsqueeze(0)}
    return Data(
        z=torch.from_numpy(z),
        edge_index=torch.from_numpy(edge_index),
        edge_dist=torch.from_numpy(edge_dist),
        num_nodes=int(z.size),
        **extra,
    )


def gaussian_expand(dist: torch.Tensor, cfg: GraphConfig | None = None) -> torch.Tensor:
    """Expand distances in a fixed Gaussian basis (CGCNN's edge features).

    Centres are ``linspace(0, cfg.cutoff, cfg.num_gaussians)``; each feature is
    ``exp(-(d - mu)^2 / width^2)`` with ``width = cfg.gaussian_width`` (Xie & Grossman 2018).

    Args:
        dist: (E,) distances in Å.
        cfg: graph settings.

    Returns:
        (E, G) float tensor.
    """
    import torch

    cfg = cfg or GraphConfig()
    centres = torch.linspace(0.0, cfg.cutoff, cfg.num_gaussians, device=dist.device, dtype=dist.dtype)
    return torch.exp(-((dist.unsqueeze(-1) - centres) ** 2) / cfg.gaussian_width**2)


# --------------------------------------------------------------------------------------
# augmentation (for the intra-crystal alignment loss)
# --------------------------------------------------------------------------------------
def augment_structure(
    structure: Structure,
    rng: np.random.Generator,
    *,
    sigma: float = 0.03,
    p_supercell: float = 0.5,
    max_sites: int = 200,
) -> Structure:
    """A second view of the same crystal for the intra-crystal InfoNCE term.

    With probability ``p_supercell`` a 2x1x1 supercell along a random axis (when the result
    stays within ``max_sites``) -- the same crystal, so an invariant encoder maps it to the
    same point; otherwise (and additionally) a small isotropic Gaussian perturbation of the
    Cartesian positions (``sigma`` Å), which changes distances slightly.

    Args:
        structure: ordered Structure (not modified).
        rng: numpy random generator (``np.random.default_rng(seed)``).
        sigma: standard deviation of the position noise in Å (0 disables it).
        p_supercell: probability of the supercell transform.
        max_sites: skip the supercell if it would exceed this many sites.

    Returns:
        a new Structure.
    """
    from pymatgen.core import Structure as _Structure

    s = structure.copy()
    if rng.random() < p_supercell and 2 * len(s) <= max_sites:
        scale = [1, 1, 1]
        scale[int(rng.integers(3))] = 2
        s.make_supercell(scale)
    if sigma > 0:
        cart = s.cart_coords + rng.normal(0.0, sigma, size=(len(s), 3))
        s = _Structure(s.lattice, s.species, cart, coords_are_cartesian=True)
    return s
