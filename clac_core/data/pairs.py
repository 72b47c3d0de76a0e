"""Crystal-text pairs for the network: :class:`PairDataset` collates :class:`PairBatch` es.

Shape legend: B pairs in a batch, H text backbone hidden size, P pairs, C crystals, K aux properties.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from pymatgen.core import Structure
    from torch_geometric.data import Batch

    from clac_core.graph import GraphCache


@dataclass
class PairBatch:
    """One collated batch of B crystal-text pairs.

    Attributes:
        graphs: PyG ``Batch`` of the B crystal graphs (``z``, ``edge_index``, ``edge_dist``, ``batch``),
            or (B, D) stored crystal embeddings with a locked crystal tower
            (:class:`clac_core.data.locked.LockedCrystals` in place of the graph cache).
        texts: the B texts (also beside ``text_features``: a token branch reads them).
        text_features: (B, H) cached pooled text features, or None.
        crystal_index: (B,) long, crystal row (positives share it).
        pair_index: (B,) long, row in the dataset's pairs.
        texts2: a second text of the same crystal per pair (intra-text term; None when off).
        text_features2: (B, H) cached features of those second texts, or None.
        graphs2: ``Batch`` of B augmented crystal graphs, row i an augmented copy of crystal i
            (intra-crystal term), or None.
    """

    graphs: Batch | torch.Tensor
    texts: list[str] | None
    text_features: torch.Tensor | None
    crystal_index: torch.Tensor
    pair_index: torch.Tensor
    texts2: list[str] | None = None
    text_features2: torch.Tensor | None = None
    graphs2: Batch | None = None
    targets: torch.Tensor | None = None  # (B, K) standardized aux targets, NaN = unknown
    # hard negatives (loss.negation_weight): rows (M,) of the batch whose text has one, their
    # negated texts and (M, H) cached features of those (None when off)
    negated_rows: torch.Tensor | None = None
    negated_texts: list[str] | None = None
    negated_features: torch.Tensor | None = None

    def to(self, device: Any) -> PairBatch:
        return PairBatch(
            graphs=self.graphs.to(device),
            texts=self.texts,
            text_features=None if self.text_features is None else self.text_features.to(device),
            crystal_index=self.crystal_index.to(device),
            pair_index=self.pair_index.to(device),
            texts2=self.texts2,
            text_features2=None if self.text_features2 is None else self.text_features2.to(device),
            graphs2=None if self.graphs2 is None else self.graphs2.to(device),
            targets=None if self.targets is None else self.targets.to(device),
            negated_rows=None if self.negated_rows is None else self.negated_rows.to(device),
            negated_texts=self.negated_texts,
            negated_features=None if self.negated_features is None else self.negated_features.to(device),
        )

    def __len__(self) -> int:
        return int(self.crystal_index.numel())


class PairDataset:
    """Crystal-text pairs backed by a graph cache and (optionally) cached text features.

    Args:
        graphs: graph cache over all crystals of the data dir (index = crystal row), or a
            :class:`~clac_core.data.locked.LockedCrystals` (batches then carry embeddings).
        crystal_index: (P,) crystal row per pair.
        texts: P texts.
        text_features: (P, H) float32 cached features, or None to pass raw texts.
        second_text: also give every pair a second text of the same crystal
            (``PairBatch.texts2`` / ``text_features2``), drawn uniformly among the *other*
            pairs of that crystal in this dataset. A crystal with a single pair here reuses
            its only text (the intra-text term is then trivially aligned for that row).
        structures: crystal rows -> pymatgen Structures (e.g. :meth:`DataDir.structures`);
            when given, every batch also carries graphs of augmented copies of its crystals
            (``PairBatch.graphs2``, see :func:`clac_core.graph.augment_structure`), built on
            the fly with the graph cache's settings.
        targets: (C, K) standardized aux-property targets per crystal row (NaN = unknown);
            batches then carry ``PairBatch.targets`` (B, K).
        negated: P hard-negative texts (None where a pair has none); batches then carry
            ``PairBatch.negated_rows`` / ``negated_texts`` (and ``negated_features`` with
            ``negated_features`` given: (P, H), rows of pairs without a negative unused).
    """

    def __init__(
        self,
        graphs: GraphCache,
        crystal_index: np.ndarray,
        texts: Sequence[str],
        text_features: np.ndarray | None = None,
        *,
        second_text: bool = False,
        structures: Callable[[Sequence[int]], list[Structure]] | None = None,
        targets: np.ndarray | None = None,
        negated: Sequence[str | None] | None = None,
        negated_features: np.ndarray | None = None,
    ) -> None:
        self.graphs = graphs
        self.negated = None if negated is None else list(negated)
        self.negated_features = negated_features  # (P, H) or None
        if self.negated is not None and len(self.negated) != len(texts):
            raise ValueError("negated and texts differ in length")
        self.targets = targets  # (C, K) per crystal row, standardized, NaN = unknown
        self.crystal_index = np.asarray(crystal_index, dtype=np.int64)
        self.texts = list(texts)
        self.text_features = text_features
        self.second_text = bool(second_text)
        self.structures = structures
        if len(self.texts) != self.crystal_index.size:
            raise ValueError("texts and crystal_index differ in length")
        if text_features is not None and text_features.shape[0] != self.crystal_index.size:
            raise ValueError("text_features and crystal_index differ in length")
        if self.second_text:
            # pairs grouped by crystal, as in EpochSampler: order[start[g] : start[g] + size[g]]
            order = np.argsort(self.crystal_index, kind="stable")
            sorted_ci = self.crystal_index[order]
            first = np.r_[True, sorted_ci[1:] != sorted_ci[:-1]] if order.size else np.zeros(0, bool)
            group = np.cumsum(first) - 1  # (P,) group of each sorted pair
            starts = np.flatnonzero(first)
            sizes = np.diff(np.r_[starts, order.size])
            self._group_order = order
            self._start_of = np.empty(order.size, np.int64)  # by pair position
            self._size_of = np.empty(order.size, np.int64)
            self._rank_of = np.empty(order.size, np.int64)  # place of the pair inside its group
            self._start_of[order] = starts[group]
            self._size_of[order] = sizes[group]
            self._rank_of[order] = np.arange(order.size) - starts[group]

    @property
    def has_views(self) -> bool:
        """Whether batches carry second texts or augmented graphs (collate then needs an rng)."""
        return self.second_text or self.structures is not None

    def __len__(self) -> int:
        return int(self.crystal_index.size)

    def second_view_positions(self, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B,) positions -> (B,) positions of another pair of the same crystal (itself if none)."""
        if not self.second_text:
            raise ValueError("this dataset was built with second_text=False")
        pos = np.asarray(positions, dtype=np.int64)
        size, rank = self._size_of[pos], self._rank_of[pos]
        # uniform over the size - 1 other members: draw in [0, size - 1), skip over our own rank
        r = (rng.random(pos.size) * np.maximum(size - 1, 1)).astype(np.int64)
        r = r + (r >= rank)
        other = self._group_order[self._start_of[pos] + np.minimum(r, size - 1)]
        return np.where(size > 1, other, pos)

    def augmented_graphs(self, crystal_rows: Sequence[int], rng: np.random.Generator) -> Batch:
        """Graphs of augmented copies of ``crystal_rows`` (B crystals -> ``Batch`` of B graphs)."""
        from clac_core.graph import augment_structure, collate, structure_to_graph

        if self.structures is None:
            raise ValueError("this dataset was built without structures (no augmentation)")
        rows = list(crystal_rows)
        graphs = [structure_to_graph(augment_structure(s, rng), self.graphs.cfg) for s in self.structures(rows)]
        pre = getattr(self.graphs, "pretrained", None)
        if pre is not None:  # frozen pretrained features: the original crystal's (not recomputed per draw)
            import torch

            for g, r in zip(graphs, rows, strict=True):
                g.pretrained = torch.from_numpy(np.array(pre[int(r) : int(r) + 1], dtype=np.float32))
        return collate(graphs)

    def collate(
        self, positions: Sequence[int] | np.ndarray, *, rng: np.random.Generator | None = None
    ) -> PairBatch:
        """Batch pairs at ``positions`` (B,).

        Args:
            positions: (B,) pair positions.
            rng: draws the second texts and augmentations; required when :attr:`has_views`
                (pass one derived from ``(seed, epoch, batch)`` for reproducible runs).
        """
        import torch

        pos = np.asarray(positions, dtype=np.int64)
        ci = self.crystal_index[pos]
        feats = None
        texts: list[str] | None = [self.texts[int(i)] for i in pos]
        if self.text_features is not None:
            feats = torch.from_numpy(np.ascontiguousarray(self.text_features[pos]))
        batch = PairBatch(
            graphs=self.graphs.batch(ci.tolist()),
            texts=texts,
            text_features=feats,
            crystal_index=torch.from_numpy(ci),
            pair_index=torch.from_numpy(pos),
            targets=None if self.targets is None else torch.from_numpy(np.ascontiguousarray(self.targets[ci])),
        )
        if self.negated is not None:
            rows = [k for k, i in enumerate(pos) if self.negated[int(i)] is not None]
            batch.negated_rows = torch.tensor(rows, dtype=torch.long)
            batch.negated_texts = [self.negated[int(pos[k])] for k in rows]  # type: ignore[misc]
            if self.negated_features is not None:
                batch.negated_features = torch.from_numpy(np.ascontiguousarray(self.negated_features[pos[rows]]))
        if not self.has_views:
            return batch
        if rng is None:
            raise ValueError("collate needs an rng when second texts or augmentations are enabled")
        if self.second_text:
            pos2 = self.second_view_positions(pos, rng)
            if self.text_features is not None:
                batch.text_features2 = torch.from_numpy(np.ascontiguousarray(self.text_features[pos2]))
            batch.texts2 = [self.texts[int(i)] for i in pos2]
        if self.structures is not None:
            batch.graphs2 = self.augmented_graphs(ci.tolist(), rng)
        return batch
