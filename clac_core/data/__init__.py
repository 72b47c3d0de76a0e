"""Training data: a ``clac data build`` directory -> graphs, cached text features, batches.

Layout read (see docs/ARCHITECTURE.md): ``DIR/crystals.parquet`` (one row per crystal, with
``lattice`` / ``frac_coords`` / ``atomic_numbers`` arrays) and ``DIR/pairs.parquet`` (one row
per crystal-text pair). Derived caches go to ``DIR/cache/``:

* ``graphs-<graphkey>-<idskey>.npz``: :class:`clac_core.graph.GraphCache` of every crystal,
  built once (all cores) and reused by every run with the same cutoff / neighbour count.
* ``text-<model>-L<max_length>/chunk-NNNNN.{npy,json}``: pooled backbone features of unique
  texts, written chunk by chunk (atomic renames), so an interrupted build resumes where it
  stopped and a later run with more texts only embeds the new ones. No pickle anywhere.

Batches are ``PairBatch(graphs, texts | text_features, crystal_index, pair_index)``; the
order of pairs per epoch is a pure function of ``(seed, epoch)`` (:class:`EpochSampler`),
so a resumed run sees exactly the batches an uninterrupted one would. For the intra-modal
loss terms a batch can also carry a second text view per pair and graphs of augmented
crystals; those draws use a generator the trainer derives from ``(seed, epoch, batch)``,
so they are just as reproducible across a resume.

Modules, one job each (the public names below are importable from ``clac_core.data``):

- :mod:`~clac_core.data.datadir`: ``DataDir``, ``load_data_dir``, ``read_crystals``.
- :mod:`~clac_core.data.targets`: aux regression targets (``crystal_targets``,
  ``inverse_aux_transform``, ``crystal_density``).
- :mod:`~clac_core.data.caches`: the graph cache and the text-feature cache under ``DIR/cache/``.
- :mod:`~clac_core.data.sampling`: ``EpochSampler``, ``concept_weights`` (concept-balanced
  replay), ``select_pairs``, ``eval_pool``.
- :mod:`~clac_core.data.pairs`: ``PairDataset`` and ``PairBatch``.
- :mod:`~clac_core.data.locked`: ``LockedCrystals``, ``locked_crystals``: a corpus index's stored
  crystal embeddings in place of the graph cache, for text-side runs against a locked crystal
  tower (``train.locked_crystal``).

Shape legend: B pairs in a batch, H text backbone hidden size, P pairs, C crystals.
"""

from __future__ import annotations

from clac_core.data.caches import graph_cache_path, load_graph_cache, text_cache_dir, text_feature_cache
from clac_core.data.datadir import CRYSTAL_COLUMNS, PAIR_COLUMNS, DataDir, load_data_dir, read_crystals
from clac_core.data.locked import LockedCrystals, locked_crystals
from clac_core.data.pairs import PairBatch, PairDataset
from clac_core.data.sampling import (
    EVAL_EXCLUDED_VIEWS,
    EpochSampler,
    concept_weights,
    eval_pool,
    select_pairs,
)
from clac_core.data.targets import AUX_TRANSFORMS, crystal_density, crystal_targets, inverse_aux_transform

__all__ = [
    "AUX_TRANSFORMS",
    "CRYSTAL_COLUMNS",
    "DataDir",
    "EVAL_EXCLUDED_VIEWS",
    "EpochSampler",
    "LockedCrystals",
    "PAIR_COLUMNS",
    "PairBatch",
    "PairDataset",
    "concept_weights",
    "crystal_density",
    "crystal_targets",
    "eval_pool",
    "graph_cache_path",
    "inverse_aux_transform",
    "load_data_dir",
    "load_graph_cache",
    "locked_crystals",
    "read_crystals",
    "select_pairs",
    "text_cache_dir",
    "text_feature_cache",
]
