"""Which pairs a run visits: the per-epoch order (:class:`EpochSampler`), split selection and
the fixed validation retrieval pool.

Shape legend: P pairs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# captions mix several views; the property queries (query, query2) and search requests are
# many-to-one (many crystals share a band gap or a "layered selenide"), so validation and eval
# retrieval keep the one-to-one views
EVAL_EXCLUDED_VIEWS = ("caption", "query", "query2", "search", "statements")


class EpochSampler:
    """Order of training pairs per epoch, a pure function of ``(seed, epoch)``.

    * ``"crystals"``: every training crystal once per epoch, with one of its texts drawn
      uniformly (different draws per epoch).
    * ``"pairs"``: every pair once per epoch.

    Concept replay (``replay`` > 0): ``replay`` more pairs per epoch, drawn with probabilities
    ``replay_weights`` (:func:`concept_weights`) from their own seeded stream and shuffled in
    among the epoch's pairs, so the rare wordings the uniform draw seldom visits ("van der
    Waals", "carbonate", "quaternary") are seen more often without taking any pair away.

    Under DDP the epoch order is padded (wrapping around) to a multiple of ``world_size``
    and rank r takes positions r, r + W, ... (like ``DistributedSampler``), so every rank
    runs the same number of steps.

    Args:
        crystal_index: (P,) crystal row of every training pair.
        mode: "crystals" or "pairs".
        seed: base seed.
        rank, world_size: DDP position.
        replay_weights: (P,) probabilities summing to 1 (needed when ``replay`` > 0).
        replay: extra pairs per epoch (0 = none; the epoch order is then as without replay).
    """

    def __init__(
        self,
        crystal_index: np.ndarray,
        mode: Literal["crystals", "pairs"] = "crystals",
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        replay_weights: np.ndarray | None = None,
        replay: int = 0,
    ) -> None:
        if mode not in ("crystals", "pairs"):
            raise ValueError(f"train.sampling must be 'crystals' or 'pairs', not {mode!r}")
        if replay and (replay_weights is None or len(replay_weights) != len(crystal_index)):
            raise ValueError("concept replay needs one weight per training pair")
        self.replay = int(replay)
        self.replay_weights = None if replay_weights is None else np.asarray(replay_weights, dtype=np.float64)
        self.crystal_index = np.asarray(crystal_index, dtype=np.int64)
        self.mode = mode
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        order = np.argsort(self.crystal_index, kind="stable")
        sorted_ci = self.crystal_index[order]
        starts = (
            np.flatnonzero(np.r_[True, sorted_ci[1:] != sorted_ci[:-1]]) if order.size else np.zeros(0, int)
        )
        self._group_order = order  # pair positions grouped by crystal
        self._group_start = starts
        self._group_size = np.diff(np.r_[starts, order.size])

    @property
    def num_crystals(self) -> int:
        return int(self._group_start.size)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """All positions (into ``crystal_index``) visited in ``epoch``, before sharding."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self.mode == "pairs":
            order = rng.permutation(self.crystal_index.size)
        else:
            pick = self._group_start + (rng.random(self.num_crystals) * self._group_size).astype(np.int64)
            order = self._group_order[pick][rng.permutation(self.num_crystals)]
        if not self.replay:
            return order
        extra_rng = np.random.default_rng([self.seed, int(epoch), 1])
        extra = extra_rng.choice(self.crystal_index.size, size=self.replay, p=self.replay_weights)
        both = np.concatenate([order, extra])
        return both[extra_rng.permutation(both.size)]

    def __len__(self) -> int:
        n = (self.crystal_index.size if self.mode == "pairs" else self.num_crystals) + self.replay
        return -(-n // self.world_size)

    def shard(self, epoch: int) -> np.ndarray:
        """This rank's positions for ``epoch`` (length ``len(self)``)."""
        order = self.epoch_order(epoch)
        total = len(self) * self.world_size
        if total > order.size:
            order = np.concatenate([order, order[: total - order.size]])
        return order[self.rank : total : self.world_size]

    def batches(self, epoch: int, batch_size: int, *, start: int = 0) -> Iterator[np.ndarray]:
        """Batches of positions for this rank; ``start`` skips that many batches (resume).

        A last batch with fewer than 2 pairs is dropped (a contrastive loss needs negatives).
        """
        idx = self.shard(epoch)
        for b, lo in enumerate(range(0, idx.size, batch_size)):
            if b < start:
                continue
            chunk = idx[lo : lo + batch_size]
            if chunk.size < 2:
                return
            yield chunk

    def num_batches(self, batch_size: int) -> int:
        n = len(self)
        full, rest = divmod(n, batch_size)
        return full + (1 if rest >= 2 else 0)


def concept_weights(texts: Sequence[str], *, min_count: int = 10) -> tuple[np.ndarray, dict[str, int]]:
    """Concept-balanced replay probabilities of training pairs.

    A concept (:data:`clac_core.vocab.concepts.CONCEPTS`: a dimensionality or polyhedron phrase,
    a structure type, a class or application word, an anion class, an arity, a crystal system)
    is drawn uniformly among those that at least ``min_count`` texts name, then one of its texts
    uniformly: class-balanced sampling over concepts, so a wording 300 texts use is replayed as
    often as one 30,000 texts use. A text naming several concepts adds their shares.

    Args:
        texts: (P,) training texts.
        min_count: concepts named by fewer texts are left out (a handful of texts would be
            repeated many times per epoch).

    Returns:
        (P,) float64 probabilities summing to 1 (all zero when no concept qualifies), and the
        number of texts naming each concept that qualified.
    """
    import pandas as pd

    from clac_core.vocab.concepts import CONCEPTS

    series = pd.Series(list(texts), dtype=object)
    weights = np.zeros(len(series), dtype=np.float64)
    counts: dict[str, int] = {}
    for name, pattern in CONCEPTS:
        hit = series.str.contains(pattern, case=False, regex=True).to_numpy(dtype=bool)
        n = int(hit.sum())
        if n >= max(1, min_count):
            counts[name] = n
            weights[hit] += 1.0 / n
    total = weights.sum()
    return (weights / total if total > 0 else weights), counts


def select_pairs(
    pairs: pd.DataFrame, split: str, *, max_pairs: int = 0, seed: int = 0, exclude_views: Sequence[str] = ()
) -> pd.DataFrame:
    """Pairs of one split without the ``exclude_views`` texts, optionally subsampled (seeded)
    to ``max_pairs`` rows."""
    sel = pairs[(pairs["split"] == split) & ~pairs["view"].isin(list(exclude_views))]
    if max_pairs and len(sel) > max_pairs:
        rng = np.random.default_rng([seed, 7])
        sel = sel.iloc[np.sort(rng.choice(len(sel), size=max_pairs, replace=False))]
    return sel.reset_index(drop=True)


def eval_pool(
    pairs: pd.DataFrame, split: str = "val", *, max_crystals: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Retrieval pool: up to ``max_crystals`` crystals of ``split``, one text each (seeded).

    Views in :data:`EVAL_EXCLUDED_VIEWS` are left out. The pool is fixed for a seed, so the
    per-epoch metrics are comparable.
    """
    sel = pairs[(pairs["split"] == split) & ~pairs["view"].isin(EVAL_EXCLUDED_VIEWS)]
    if sel.empty:
        return sel.reset_index(drop=True)
    rng = np.random.default_rng([seed, 11])
    sel = sel.iloc[rng.permutation(len(sel))]
    sel = sel.drop_duplicates("crystal_index", keep="first")
    sel = sel.sort_values("crystal_index", kind="stable")
    if max_crystals and len(sel) > max_crystals:
        sel = sel.iloc[np.sort(rng.choice(len(sel), size=max_crystals, replace=False))]
    return sel.reset_index(drop=True)
