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

Modules, one job each (the public names below are importable from ``clac_core.graph``):

- :mod:`~clac_core.graph.elements`: the element feature table (``element_features``).
- :mod:`~clac_core.graph.featurize`: neighbours, symmetry features, ``structure_to_graph``,
  ``gaussian_expand``, ``augment_structure``.
- :mod:`~clac_core.graph.cache`: ``collate`` and ``GraphCache``.
"""

from __future__ import annotations

from clac_core.graph.cache import GraphCache, GraphParts, collate, graph_config_key
from clac_core.graph.elements import (
    ELEMENT_FEATURE_BLOCKS,
    ELEMENT_TABLE_RESOURCE,
    MAX_Z,
    compute_element_table,
    element_features,
    read_element_table,
    write_element_table,
)
from clac_core.graph.featurize import (
    NUM_LATTICE_FEATURES,
    augment_structure,
    gaussian_expand,
    neighbor_arrays,
    structure_to_graph,
    symmetry_features,
)

__all__ = [
    "ELEMENT_FEATURE_BLOCKS",
    "ELEMENT_TABLE_RESOURCE",
    "GraphCache",
    "GraphParts",
    "MAX_Z",
    "NUM_LATTICE_FEATURES",
    "augment_structure",
    "collate",
    "compute_element_table",
    "element_features",
    "gaussian_expand",
    "graph_config_key",
    "neighbor_arrays",
    "read_element_table",
    "structure_to_graph",
    "symmetry_features",
    "write_element_table",
]
