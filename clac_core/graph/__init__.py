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

Modules, one job each (every name below is importable from ``clac_core.graph``):

- :mod:`~clac_core.graph.elements`: the element feature table (``element_features``).
- :mod:`~clac_core.graph.featurize`: neighbours, symmetry features, ``structure_to_graph``,
  ``gaussian_expand``, ``augment_structure``.
- :mod:`~clac_core.graph.cache`: ``collate`` and ``GraphCache``.
"""

from __future__ import annotations

from clac_core.config import GraphConfig
from clac_core.graph.cache import (
    _FORK_STATE,
    GraphCache,
    GraphParts,
    _build_index,
    _build_one,
    collate,
    graph_config_key,
)
from clac_core.graph.elements import (
    ELEMENT_FEATURE_BLOCKS,
    ELEMENT_TABLE_RESOURCE,
    MAX_Z,
    _bins,
    _element_table_numpy,
    _onehot,
    _safe,
    _valence_electrons,
    compute_element_table,
    element_features,
    read_element_table,
    write_element_table,
)
from clac_core.graph.featurize import (
    _DIST_DECIMALS,
    _FALLBACK_GROWTH,
    _FALLBACK_TRIES,
    NUM_LATTICE_FEATURES,
    augment_structure,
    gaussian_expand,
    neighbor_arrays,
    structure_to_graph,
    symmetry_features,
)
from clac_core.symmetry import symmetry_dataset

__all__ = [
    "ELEMENT_FEATURE_BLOCKS",
    "ELEMENT_TABLE_RESOURCE",
    "MAX_Z",
    "NUM_LATTICE_FEATURES",
    "_DIST_DECIMALS",
    "_FALLBACK_GROWTH",
    "_FALLBACK_TRIES",
    "_FORK_STATE",
    "GraphCache",
    "GraphConfig",
    "GraphParts",
    "_bins",
    "_build_index",
    "_build_one",
    "_element_table_numpy",
    "_onehot",
    "_safe",
    "_valence_electrons",
    "augment_structure",
    "collate",
    "compute_element_table",
    "element_features",
    "gaussian_expand",
    "graph_config_key",
    "neighbor_arrays",
    "read_element_table",
    "structure_to_graph",
    "symmetry_dataset",
    "symmetry_features",
    "write_element_table",
]
