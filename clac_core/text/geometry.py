"""Geometry of bonded neighbours: coordination polyhedra, network dimensionality, cell.

Used by :func:`clac_core.text.facts.analyze`. Dimensionality is the rank of the lattice
translations that close bonded cycles in the most connected component (the idea of Larsen et
al., npj Comput. Mater. 2019, computed with a periodic union-find instead of supercells).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pymatgen is imported lazily: it takes ~1 s
    from pymatgen.core import Structure


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
