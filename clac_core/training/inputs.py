"""What a run trains and validates on, read from a ``clac data build`` directory.

Training pairs (``train.max_pairs`` at most), a fixed validation pool (one text per crystal),
the graph cache (with the cached frozen CHGNet features when the crystal encoder reads them),
cached text features (``text.train_mode == "cached"``), aux regression
targets, and the epoch sampler. Under DDP rank 0 builds the caches, the others load them.
Shape legend: C crystals, K aux properties, T texts, H text hidden.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from clac_core.config import ExperimentConfig
from clac_core.graph.pretrained import feature_kind
from clac_core.training.distributed import DistInfo, barrier

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from clac_core.data import DataDir

T = TypeVar("T")


@dataclass
class TrainInputs:
    """Data of one run.

    Attributes:
        data: the loaded :class:`~clac_core.data.DataDir`.
        train_pairs: training pairs (DataFrame rows of ``pairs.parquet``).
        pool: validation pairs, one per crystal.
        dataset / pool_dataset: :class:`~clac_core.data.PairDataset` of each.
        sampler: :class:`~clac_core.data.EpochSampler` over the training pairs (this rank's shard).
        aux_stats: (mean (K,), std (K,)) of the aux targets over training crystals, or None.
    """

    data: Any
    train_pairs: Any
    pool: Any
    dataset: Any
    pool_dataset: Any
    sampler: Any
    aux_stats: tuple[np.ndarray, np.ndarray] | None


def main_first(dist: DistInfo, fn: Callable[[bool], T]) -> T:
    """``fn(progress=True)`` on rank 0 (which builds a cache), then ``fn(False)`` on the others."""
    out = fn(True) if dist.main else None
    barrier(dist)
    return out if dist.main else fn(False)


def aux_targets(
    data: Any, train_pairs: Any, names: list[str]
) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]:
    """(C, K) standardized aux targets (NaN = unknown) and their (mean, std), statistics from
    training crystals only; (None, None) without aux properties."""
    if not names:
        return None, None
    from clac_core.data import crystal_targets

    raw = crystal_targets(data, names)  # (C, K)
    rows = np.unique(train_pairs["crystal_index"].to_numpy())
    known = np.isfinite(raw[rows]).sum(axis=0)  # (K,)
    for name in (n for n, c in zip(names, known, strict=True) if c == 0):
        logging.getLogger(__name__).warning("aux property %s: no training crystal states it; its output stays untrained", name)
    with warnings.catch_warnings():  # an all-unknown column: mean 0 and std 1 below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(raw[rows], axis=0)
        std = np.nanstd(raw[rows], axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
    return ((raw - mean) / std).astype(np.float32), (mean.astype(np.float32), std.astype(np.float32))


def set_site_stats(model: Any, graphs: Any, rows: np.ndarray) -> None:
    """Set ``model.aux_sites_mean`` / ``aux_sites_std`` (SITE_DIM,) from the site features of
    the training crystals ``rows`` (a no-op for a model that reads no "sites" input, in its aux
    head or its crystal branch). A constant column gets std 1."""
    if not hasattr(model, "aux_sites_mean"):
        return
    import torch

    from clac_core.graph.pretrained import TOWER_DIMS

    feats = getattr(graphs, "pretrained", None)
    if feats is None or len(rows) == 0:
        raise ValueError("model input 'sites': the graphs carry no CHGNet site features for the training crystals")
    x = np.asarray(feats, dtype=np.float64)[rows, TOWER_DIMS["chgnet_sites"] :]  # (Ct, SITE_DIM)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    model.aux_sites_mean.copy_(torch.as_tensor(mean, dtype=model.aux_sites_mean.dtype))
    model.aux_sites_std.copy_(torch.as_tensor(std, dtype=model.aux_sites_std.dtype))


def hard_negatives(
    cfg: ExperimentConfig, data_dir: Path, dist: DistInfo, train_pairs: Any, *, cached: bool
) -> tuple[list[str | None] | None, np.ndarray | None]:
    """P hard-negative texts of the training pairs (a statements text with one fact made false,
    :func:`clac_core.text.statement_views.negated_statement`; None for other views) and, cached,
    their (P, H) backbone features (zero rows where none); (None, None) when
    ``loss.negation_weight`` is 0."""
    if cfg.loss.negation_weight <= 0:
        return None, None
    from clac_core.data import text_feature_cache
    from clac_core.text.statement_views import negated_statement

    negated = [negated_statement(t) if v == "statements" else None
               for t, v in zip(train_pairs["text"], train_pairs["view"], strict=True)]
    if not cached:
        return negated, None
    have = [t for t in negated if t is not None]
    got = main_first(dist, lambda progress: text_feature_cache(
        data_dir, have, cfg.model.text, batch_size=cfg.train.text_cache_batch, progress=progress))  # (N, H)
    feats = np.zeros((len(negated), got.shape[1]), np.float32)
    feats[[i for i, t in enumerate(negated) if t is not None]] = got
    return negated, feats


def check_locked(cfg: ExperimentConfig) -> None:
    """Settings a locked crystal tower (``train.locked_crystal``) needs.

    Raises:
        ValueError: no ``train.init_from``, an aux-head loss, or an intra-crystal term (each
            would need the crystal tower to run).
    """
    if not cfg.train.init_from:
        raise ValueError("train.locked_crystal needs train.init_from: the checkpoint whose index it reads")
    if cfg.loss.aux_weight > 0:
        raise ValueError("train.locked_crystal trains the text side only: set loss.aux_weight to 0")
    if cfg.loss.intra_crystal_weight > 0:
        raise ValueError("train.locked_crystal runs no crystal tower: set loss.intra_crystal_weight to 0")


def locked_inputs(cfg: ExperimentConfig, data: DataDir) -> tuple[pd.DataFrame, Any]:
    """(pairs, locked tower) of a run: with ``train.locked_crystal`` the pairs of the crystals
    the index holds and its stored embeddings (:class:`~clac_core.data.LockedCrystals`), else
    every pair and None (cheap: read before any graph is built, so a bad data dir fails fast)."""
    from clac_core.data import locked_crystals

    if not cfg.train.locked_crystal:
        return data.pairs, None
    check_locked(cfg)  # LiT: the index's stored crystal embeddings stand in for the tower
    locked = locked_crystals(data, cfg.train.locked_crystal, checkpoint=cfg.train.init_from)
    return data.pairs[locked.present[data.pairs["crystal_index"].to_numpy()]], locked


def graph_inputs(cfg: ExperimentConfig, data: DataDir, dist: DistInfo) -> Any:
    """The graph cache of every crystal, with frozen pretrained features where the tower has them."""
    from clac_core.data import load_graph_cache

    graphs = main_first(dist, lambda progress: load_graph_cache(data, cfg.model.graph, progress=progress))
    kind = feature_kind(cfg.model.crystal)
    if kind is not None:  # frozen pretrained crystal features travel with the graphs
        from clac_core.data.crystal_features import data_dir_features

        graphs.with_pretrained(main_first(dist, lambda progress: data_dir_features(data, kind, progress=progress)))
    return graphs


def replay_settings(tc: Any, train_pairs: Any) -> dict[str, Any]:
    """``EpochSampler`` keyword arguments for ``train.concept_replay`` (none when it is 0)."""
    if tc.concept_replay <= 0:
        return {}
    from clac_core.data import concept_weights

    log = logging.getLogger(__name__)
    log.info("concept replay: counting the concepts of %d training texts (about 1.5 min per 250k)", len(train_pairs))
    weights, counts = concept_weights(list(train_pairs["text"]))
    if not counts:
        log.warning("train.concept_replay: no concept is named by enough training texts; no replay")
        return {}
    base = len(train_pairs) if tc.sampling == "pairs" else int(train_pairs["crystal_index"].nunique())
    replay = int(round(tc.concept_replay * base))
    rare = sorted(counts.items(), key=lambda kv: kv[1])[:5]
    log.info("concept replay: %d more pairs per epoch over %d concepts (rarest: %s)", replay, len(counts),
             ", ".join(f"{k} ({v})" for k, v in rare))
    return {"replay_weights": weights, "replay": replay}


def load_inputs(cfg: ExperimentConfig, data_dir: Path, dist: DistInfo, *, cached: bool) -> TrainInputs:
    """Read ``data_dir`` and build everything a run iterates over (see :class:`TrainInputs`).

    Raises:
        ValueError: fewer than 2 training pairs.
    """
    from clac_core.data import (
        EpochSampler,
        PairDataset,
        eval_pool,
        load_data_dir,
        select_pairs,
        text_feature_cache,
    )

    tc = cfg.train
    data = load_data_dir(data_dir, split=tc.split)
    pairs, locked = locked_inputs(cfg, data)
    train_pairs = select_pairs(pairs, "train", max_pairs=tc.max_pairs, seed=tc.seed, exclude_views=tc.exclude_views)
    if len(train_pairs) < 2:
        raise ValueError(f"{data_dir} has {len(train_pairs)} training pairs; need at least 2")
    pool = eval_pool(pairs, "val", max_crystals=tc.max_eval, seed=tc.seed)
    graphs = locked if locked is not None else graph_inputs(cfg, data, dist)
    train_feats = pool_feats = None
    if cached:
        texts = list(train_pairs["text"]) + list(pool["text"])
        feats = main_first(
            dist,
            lambda progress: text_feature_cache(
                data_dir, texts, cfg.model.text, batch_size=tc.text_cache_batch, progress=progress
            ),
        )  # (T, H)
        train_feats, pool_feats = feats[: len(train_pairs)], feats[len(train_pairs) :]
    negated, neg_feats = hard_negatives(cfg, data_dir, dist, train_pairs, cached=cached)
    targets, aux_stats = aux_targets(data, train_pairs, list(cfg.model.aux_properties))
    # second texts are drawn among the training pairs, so cached mode already has
    # their features; augmented crystals are rebuilt from the stored arrays per batch
    dataset = PairDataset(
        graphs,
        train_pairs["crystal_index"].to_numpy(),
        list(train_pairs["text"]),
        train_feats,
        second_text=cfg.loss.intra_text_weight > 0,
        structures=data.structures if cfg.loss.intra_crystal_weight > 0 else None,
        targets=targets,
        negated=negated,
        negated_features=neg_feats,
    )
    pool_dataset = PairDataset(  # with targets, validation also scores the aux head
        graphs, pool["crystal_index"].to_numpy(), list(pool["text"]), pool_feats, targets=targets
    )
    sampler = EpochSampler(
        dataset.crystal_index, tc.sampling, seed=tc.seed, rank=dist.rank, world_size=dist.world_size,
        **replay_settings(tc, train_pairs),
    )
    return TrainInputs(data, train_pairs, pool, dataset, pool_dataset, sampler, aux_stats)
