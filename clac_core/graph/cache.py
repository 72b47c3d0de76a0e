"""Batching and caching of crystal graphs: ``collate`` and ``GraphCache`` (build, save, load).

Shape legend: N atoms, E edges, B crystals, L lattice features.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.config import GraphConfig
from clac_core.graph.featurize import NUM_LATTICE_FEATURES, neighbor_arrays, symmetry_features

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure
    from torch_geometric.data import Batch, Data


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
    :meth:`with_pretrained` adds frozen pretrained crystal features ``pretrained`` (n, F),
    given to each graph as (1, F); they live in their own cache, not in the ``.npz``.
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
        self.pretrained: np.ndarray | None = None

    def with_pretrained(self, features: np.ndarray) -> GraphCache:
        """Attach (n, F) pretrained crystal features (row i -> graph i); returns self."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != len(self):
            raise ValueError(f"pretrained features of shape {features.shape} for {len(self)} graphs")
        self.pretrained = features
        return self

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
        if self.pretrained is not None:
            extra["pretrained"] = torch.from_numpy(np.array(self.pretrained[i : i + 1], dtype=np.float32))
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
