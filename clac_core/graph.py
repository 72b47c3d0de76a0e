"""Structure -> crystal graph featurization (no ``nn.Module`` code here).

A crystal graph has one node per atom of the unit cell and directed edges ``j -> i`` from
each of the nearest ``cfg.max_neighbors`` periodic neighbours ``j`` (any image) within
``cfg.cutoff`` to the center atom ``i`` (PyG convention: ``edge_index[0]`` = source = neighbour,
``edge_index[1]`` = target = center). Distances are kept raw; encoders expand them with
:func:`gaussian_expand` so one cache serves any basis width.

With ``cfg.symmetry`` a graph also carries two per-crystal fields (see
:func:`symmetry_features`): ``sg`` (1,) long space-group number (0 = unknown) and ``lat``
(1, L) float32 conventional-cell shape; batches stack them to (B,) and (B, L).

Shape legend: N atoms, E edges, G Gaussians, F element features, L lattice features.

Heavy imports (torch, torch_geometric) happen inside functions so ``clac --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.config import GraphConfig
from clac_core.symmetry import symmetry_dataset

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from pymatgen.core import Structure
    from torch_geometric.data import Batch, Data

MAX_Z = 118  # element table rows 0..118; row 0 = unknown / padding (all zeros)
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
    import spglib

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
        reduced = spglib.niggli_reduce(lattice)
        shape_lattice = lattice if reduced is None else np.asarray(reduced, dtype=np.float64)
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
# element features
# --------------------------------------------------------------------------------------
def _bins(value: float | None, lo: float, hi: float, n: int) -> list[float]:
    """One-hot of ``value`` over ``n`` equal bins on [lo, hi] (clipped); zeros if unknown."""
    out = [0.0] * n
    if value is None or not math.isfinite(value):
        return out
    idx = int((value - lo) / (hi - lo) * n)
    out[min(max(idx, 0), n - 1)] = 1.0
    return out


def _onehot(index: int | None, n: int, start: int = 1) -> list[float]:
    out = [0.0] * n
    if index is not None and start <= index < start + n:
        out[index - start] = 1.0
    return out


def _safe(fn: Any) -> float | None:
    try:
        v = fn()
    except Exception:  # pymatgen raises KeyError/ValueError/AttributeError for missing data
        return None
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _valence_electrons(el: Any) -> float | None:
    """Electrons in the outermost shell plus open (n-1)d and (n-2)f subshells."""
    try:
        shells = el.full_electronic_structure
    except Exception:
        return None
    n_max = max(n for n, _, _ in shells)
    total = 0
    for n, orb, occ in shells:
        if (
            n == n_max
            or (orb == "d" and n == n_max - 1 and occ < 10)
            or (orb == "f" and n == n_max - 2 and occ < 14)
        ):
            total += occ
    return float(total)


# (name, length) of each one-hot block, in order; see element_features().
ELEMENT_FEATURE_BLOCKS: tuple[tuple[str, int], ...] = (
    ("group", 18),
    ("period", 7),
    ("block", 4),
    ("electronegativity", 10),
    ("covalent_radius", 10),
    ("atomic_radius", 10),
    ("valence_electrons", 12),
    ("first_ionization_energy", 10),
    ("electron_affinity", 10),
    ("atomic_volume", 10),
    ("atomic_mass", 10),
)


ELEMENT_TABLE_RESOURCE = Path(__file__).resolve().parent / "resources" / "element_features.json"


@functools.lru_cache(maxsize=1)
def _element_table_numpy() -> np.ndarray:
    """The packaged table (no pymatgen needed), else computed from pymatgen."""
    if ELEMENT_TABLE_RESOURCE.is_file():
        return read_element_table(ELEMENT_TABLE_RESOURCE)
    return compute_element_table()


def read_element_table(path: str | Path) -> np.ndarray:
    """(119, F) float32 table from the JSON written by :func:`write_element_table`."""
    data = json.loads(Path(path).read_text())
    blocks = [(str(name), int(n)) for name, n in data["blocks"]]
    if tuple(blocks) != ELEMENT_FEATURE_BLOCKS:
        raise ValueError(f"{path}: feature blocks {blocks} differ from {ELEMENT_FEATURE_BLOCKS}")
    table = np.zeros((MAX_Z + 1, sum(n for _, n in blocks)), dtype=np.float32)
    for z, ones in enumerate(data["ones"]):
        table[z, ones] = 1.0
    return table


def write_element_table(path: str | Path = ELEMENT_TABLE_RESOURCE) -> Path:
    """Freeze :func:`compute_element_table` into a JSON resource (row z: indices of its ones).

    Shipping the table pins the crystal tower's input across pymatgen versions and lets a
    model be built where pymatgen is not installed (e.g. a bare GPU machine with a graph cache).
    """
    table = compute_element_table()
    if not np.isin(table, (0.0, 1.0)).all():
        raise ValueError("element table is not one-hot; the JSON format stores only ones")
    payload = {
        "source": "clac_core.graph.compute_element_table (pymatgen periodic table data)",
        "blocks": [list(b) for b in ELEMENT_FEATURE_BLOCKS],
        "ones": [np.flatnonzero(row).tolist() for row in table],
    }
    path = Path(path)
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path


def compute_element_table() -> np.ndarray:
    """Element feature table computed from pymatgen (see :func:`element_features`)."""
    import warnings

    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.core import Element

    avogadro = 6.02214076e23
    rows = [np.zeros(sum(n for _, n in ELEMENT_FEATURE_BLOCKS), dtype=np.float32)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing data for heavy elements
        for z in range(1, MAX_Z + 1):
            el = Element.from_Z(z)
            block = _safe(lambda el=el: "spdf".index(el.block))
            mol_vol = _safe(lambda el=el: el.molar_volume)  # cm^3/mol
            atom_vol = None if mol_vol is None else mol_vol * 1e24 / avogadro  # Å^3/atom
            feats = (
                _onehot(_safe(lambda el=el: el.group) and int(el.group), 18)
                + _onehot(_safe(lambda el=el: el.row) and int(el.row), 7)
                + _onehot(None if block is None else int(block), 4, start=0)
                + _bins(_safe(lambda el=el: el.X), 0.5, 4.0, 10)
                + _bins(CovalentRadius.radius.get(el.symbol), 0.25, 2.5, 10)
                + _bins(_safe(lambda el=el: el.atomic_radius), 0.25, 2.6, 10)
                + _onehot(_valence_electrons(el) and int(_valence_electrons(el)), 12)
                + _bins(_safe(lambda el=el: el.ionization_energy), 3.5, 25.0, 10)
                + _bins(_safe(lambda el=el: el.electron_affinity), -1.0, 3.7, 10)
                + _bins(atom_vol, 1.0, 120.0, 10)
                + _bins(_safe(lambda el=el: el.atomic_mass), 0.0, 300.0, 10)
            )
            rows.append(np.asarray(feats, dtype=np.float32))
    return np.stack(rows)


def element_features() -> torch.Tensor:
    """Fixed table of elemental properties, one-hot binned like CGCNN's ``atom_init.json``.

    Source: pymatgen's periodic table data (``pymatgen.core.Element``: group, row/period,
    block, Pauling electronegativity ``X``, empirical ``atomic_radius``, first
    ``ionization_energy`` (eV), ``electron_affinity`` (eV), ``molar_volume`` converted to
    Å^3/atom, ``atomic_mass``; valence electrons counted from ``full_electronic_structure``)
    and covalent radii from ``pymatgen.analysis.molecule_structure_comparator.CovalentRadius``
    (Cordero et al. 2008). The binning follows Xie & Grossman, PRL 120, 145301 (2018),
    Table S2: each property is one-hot encoded in ~10 equal bins (categorical ones by
    value); see ``ELEMENT_FEATURE_BLOCKS`` for the block order and lengths. A property
    pymatgen does not know for an element leaves its block all zero.

    Read from the packaged ``clac_core/resources/element_features.json`` (written by
    :func:`write_element_table`; a test checks it against a fresh :func:`compute_element_table`),
    so building a model needs no pymatgen; loaded once per process (``functools.lru_cache``).

    Returns:
        (119, F) float32 tensor; row z is element z, row 0 (unknown) is all zeros.
    """
    import torch

    return torch.from_numpy(_element_table_numpy().copy())


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


# --------------------------------------------------------------------------------------
# batching and caching
# --------------------------------------------------------------------------------------
def collate(graphs: Sequence[Data]) -> Batch:
    """Batch graphs into one disconnected graph (``Batch.from_data_list``).

    Returns:
        ``Batch`` with ``z`` (N,), ``edge_index`` (2, E) offset per graph, ``edge_dist`` (E,),
        ``batch`` (N,) graph index of every atom, ``num_graphs`` = B.
    """
    from torch_geometric.data import Batch

    if len(graphs) == 0:
        raise ValueError("cannot collate an empty list of graphs")
    return Batch.from_data_list(list(graphs))


def graph_config_key(cfg: GraphConfig) -> str:
    """Short stable hash of the settings that change the cached arrays."""
    fields: dict[str, Any] = {"cutoff": float(cfg.cutoff), "max_neighbors": int(cfg.max_neighbors)}
    if cfg.symmetry:  # only then, so caches built before the option existed keep their key
        fields.update(symmetry=True, symprec=float(cfg.symprec))
    payload = json.dumps(fields, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


GraphParts = tuple  # (z, edge_index, edge_dist) or, with cfg.symmetry, (..., sg, lat)


def _build_one(args: tuple[Structure, GraphConfig]) -> GraphParts:
    structure, cfg = args
    z = np.asarray(structure.atomic_numbers, dtype=np.int64)
    ei, dist = neighbor_arrays(structure, cfg, z)
    if cfg.symmetry:
        sg, lat = symmetry_features(structure, cfg.symprec)
        return z, ei, dist, sg, lat
    return z, ei, dist


_FORK_STATE: dict[str, Any] = {}  # set only while a fork pool of GraphCache.build runs


def _build_index(i: int) -> GraphParts:
    return _build_one((_FORK_STATE["structures"][i], _FORK_STATE["cfg"]))


class GraphCache:
    """Crystal graphs of many structures, stored as concatenated arrays.

    Arrays: ``z`` (sum N,) int16, ``edge_index`` (2, sum E) int32 local to each graph,
    ``edge_dist`` (sum E,) float32, ``node_offsets`` / ``edge_offsets`` (n + 1,) int64.
    With ``cfg.symmetry`` also ``sg`` (n,) int16 and ``lat`` (n, L) float32 per graph.
    ``cache[i]`` returns a fresh ``Data``. Saved as ``.npz`` and loaded with
    ``allow_pickle=False``; the graph config travels inside the file and must match on load.
    """

    def __init__(
        self,
        cfg: GraphConfig,
        z: np.ndarray,
        edge_index: np.ndarray,
        edge_dist: np.ndarray,
        node_offsets: np.ndarray,
        edge_offsets: np.ndarray,
        ids: Sequence[str] | None = None,
        sg: np.ndarray | None = None,
        lat: np.ndarray | None = None,
    ) -> None:
        if cfg.symmetry and (sg is None or lat is None):
            raise ValueError("a graph cache with cfg.symmetry needs the sg and lat arrays")
        self.sg = sg if cfg.symmetry else None
        self.lat = lat if cfg.symmetry else None
        self.cfg = cfg
        self.z = z
        self.edge_index = edge_index
        self.edge_dist = edge_dist
        self.node_offsets = node_offsets
        self.edge_offsets = edge_offsets
        self.ids = list(ids) if ids is not None else None
        if ids is not None and len(self.ids) != len(self):
            raise ValueError(f"{len(self.ids)} ids for {len(self)} graphs")

    # -- building ----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        structures: Iterable[Structure],
        cfg: GraphConfig | None = None,
        *,
        ids: Sequence[str] | None = None,
        num_workers: int = 0,
        progress: bool = True,
    ) -> GraphCache:
        """Build graphs for ``structures`` (tqdm progress; ``num_workers > 1`` uses processes).

        Args:
            structures: ordered pymatgen Structures.
            cfg: graph settings.
            ids: optional id per structure (saved with the cache).
            num_workers: worker processes (0/1 = this process).
            progress: show a tqdm bar.
        """
        from tqdm.auto import tqdm

        cfg = cfg or GraphConfig()
        structures = list(structures)
        jobs = ((s, cfg) for s in structures)
        bar = dict(total=len(structures), desc="crystal graphs", disable=not progress, unit="struct")
        if num_workers > 1 and len(structures) > 64:
            import multiprocessing as mp

            if os.name == "posix":
                # fork: workers inherit the structures; only indices and arrays cross processes
                _FORK_STATE["structures"], _FORK_STATE["cfg"] = structures, cfg
                try:
                    with mp.get_context("fork").Pool(num_workers) as pool:
                        it = pool.imap(_build_index, range(len(structures)), chunksize=64)
                        parts = list(tqdm(it, **bar))
                finally:
                    _FORK_STATE.clear()
            else:
                with mp.get_context("spawn").Pool(num_workers) as pool:
                    parts = list(tqdm(pool.imap(_build_one, jobs, chunksize=64), **bar))
        else:
            parts = [_build_one(j) for j in tqdm(jobs, **bar)]
        return cls.from_parts(parts, cfg, ids=ids)

    @classmethod
    def from_parts(
        cls,
        parts: Sequence[GraphParts],
        cfg: GraphConfig,
        ids: Sequence[str] | None = None,
    ) -> GraphCache:
        n_nodes = np.array([p[0].size for p in parts], dtype=np.int64)
        n_edges = np.array([p[2].size for p in parts], dtype=np.int64)
        node_offsets = np.concatenate([[0], np.cumsum(n_nodes)]).astype(np.int64)
        edge_offsets = np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64)
        if parts:
            z = np.concatenate([p[0] for p in parts]).astype(np.int16)
            ei = np.concatenate([p[1] for p in parts], axis=1).astype(np.int32)
            dist = np.concatenate([p[2] for p in parts]).astype(np.float32)
        else:
            z, ei, dist = np.zeros(0, np.int16), np.zeros((2, 0), np.int32), np.zeros(0, np.float32)
        sg = lat = None
        if cfg.symmetry:
            sg = np.array([p[3] for p in parts], dtype=np.int16)
            lat = (
                np.stack([p[4] for p in parts]).astype(np.float32)
                if parts
                else np.zeros((0, NUM_LATTICE_FEATURES), np.float32)
            )
        return cls(cfg, z, ei, dist, node_offsets, edge_offsets, ids=ids, sg=sg, lat=lat)

    # -- access ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.node_offsets.size - 1)

    def __getitem__(self, i: int) -> Data:
        import torch
        from torch_geometric.data import Data

        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"graph index {i} out of range for {n} graphs")
        a, b = self.node_offsets[i], self.node_offsets[i + 1]
        c, d = self.edge_offsets[i], self.edge_offsets[i + 1]
        extra: dict[str, Any] = {}
        if self.sg is not None and self.lat is not None:
            extra = {
                "sg": torch.tensor([int(self.sg[i])], dtype=torch.long),
                "lat": torch.from_numpy(np.array(self.lat[i : i + 1], dtype=np.float32)),
            }
        return Data(
            z=torch.from_numpy(self.z[a:b].astype(np.int64)),
            edge_index=torch.from_numpy(self.edge_index[:, c:d].astype(np.int64)),
            edge_dist=torch.from_numpy(np.ascontiguousarray(self.edge_dist[c:d])),
            num_nodes=int(b - a),
            **extra,
        )

    def batch(self, indices: Sequence[int]) -> Batch:
        """``collate([self[i] for i in indices])``."""
        return collate([self[int(i)] for i in indices])

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (no pickled objects) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"graph_config": dataclasses.asdict(self.cfg), "key": graph_config_key(self.cfg), "format": 1}
        arrays: dict[str, np.ndarray] = dict(
            z=self.z,
            edge_index=self.edge_index,
            edge_dist=self.edge_dist,
            node_offsets=self.node_offsets,
            edge_offsets=self.edge_offsets,
            meta=np.array(json.dumps(meta)),
        )
        if self.ids is not None:
            arrays["ids"] = np.array(self.ids, dtype=str)
        if self.sg is not None and self.lat is not None:
            arrays["sg"], arrays["lat"] = self.sg, self.lat
        with open(path, "wb") as fh:  # np.savez would append .npz to names without it
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, cfg: GraphConfig | None = None) -> GraphCache:
        """Read a cache written by :meth:`save`.

        Args:
            path: the ``.npz`` file.
            cfg: if given, the cached graph config must produce the same graphs
                (same cutoff and max_neighbors), else ``ValueError``.
        """
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            stored = GraphConfig(**meta["graph_config"])
            if cfg is not None and graph_config_key(cfg) != graph_config_key(stored):
                raise ValueError(f"graph cache {path} was built with {stored}, not {cfg}")
            return cls(
                cfg if cfg is not None else stored,
                f["z"],
                f["edge_index"],
                f["edge_dist"],
                f["node_offsets"],
                f["edge_offsets"],
                ids=[str(x) for x in f["ids"]] if "ids" in f.files else None,
                sg=f["sg"] if "sg" in f.files else None,
                lat=f["lat"] if "lat" in f.files else None,
            )
