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

Shape legend: B pairs in a batch, H text backbone hidden size, P pairs, C crystals.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from clac_core.config import GraphConfig, TextEncoderConfig

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch
    from pymatgen.core import Structure
    from torch_geometric.data import Batch

    from clac_core.graph import GraphCache
    from clac_core.record import CrystalRecord

CRYSTAL_COLUMNS = ("crystal_id", "split", "formula", "lattice", "frac_coords", "atomic_numbers")
PAIR_COLUMNS = ("crystal_id", "text", "view", "split")
# captions mix several views; the property queries (query, query2) are many-to-one (many
# crystals share a band gap), so validation retrieval keeps the one-to-one views
EVAL_EXCLUDED_VIEWS = ("caption", "query", "query2")


def _sha(text: str, n: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


# --------------------------------------------------------------------------------------
# the data directory
# --------------------------------------------------------------------------------------
@dataclass
class DataDir:
    """A loaded data directory.

    Attributes:
        path: the directory.
        crystals: crystals.parquet without the CIF column (C rows, original order).
        pairs: pairs.parquet columns crystal_id/text/view/split plus ``crystal_index``
            (row of the crystal in ``crystals``), P rows.
    """

    path: Path
    crystals: pd.DataFrame
    pairs: pd.DataFrame

    @property
    def cache_dir(self) -> Path:
        return self.path / "cache"

    @property
    def crystal_ids(self) -> list[str]:
        return [str(x) for x in self.crystals["crystal_id"]]

    def structures(self, indices: Sequence[int] | None = None) -> list[Structure]:
        """pymatgen Structures from the stored arrays (no CIF parsing)."""
        from clac_core.record import structure_from_arrays

        rows = self.crystals if indices is None else self.crystals.iloc[list(indices)]
        return [
            structure_from_arrays(lat, fc, z)
            for lat, fc, z in zip(rows["lattice"], rows["frac_coords"], rows["atomic_numbers"], strict=True)
        ]

    def records(self) -> list[CrystalRecord]:
        """One :class:`CrystalRecord` per crystal (structure, source, known properties, labels)."""
        from clac_core.record import CrystalRecord, structure_from_arrays

        records = []
        for r in self.crystals.itertuples(index=False):
            props = json.loads(r.properties) if isinstance(getattr(r, "properties", None), str) else {}
            labels = json.loads(r.labels) if isinstance(getattr(r, "labels", None), str) else {}
            records.append(
                CrystalRecord(
                    id=str(r.crystal_id),
                    structure=structure_from_arrays(r.lattice, r.frac_coords, r.atomic_numbers),
                    source=str(r.source),
                    properties={k: float(v) for k, v in props.items() if v is not None and v == v},
                    labels=labels,
                    hypothetical=bool(r.hypothetical),
                )
            )
        return records

    def texts(self) -> list[tuple[str, str, str]]:
        """(text, view, crystal_id) of every pair, in file order."""
        p = self.pairs
        return list(zip(p["text"], p["view"], p["crystal_id"].astype(str), strict=True))


def read_crystals(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``crystals.parquet`` of a ``clac data build`` directory (all columns, or ``columns``),
    without pairing it with the texts (:func:`load_data_dir` does both)."""
    import pandas as pd

    return pd.read_parquet(Path(path) / "crystals.parquet", columns=None if columns is None else list(columns))


def load_data_dir(path: str | Path) -> DataDir:
    """Read ``crystals.parquet`` and ``pairs.parquet`` of a ``clac data build`` directory.

    Raises:
        FileNotFoundError: a parquet file is missing.
        ValueError: columns are missing or pairs name unknown crystals.
    """
    import pandas as pd

    path = Path(path)
    for name in ("crystals.parquet", "pairs.parquet"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} not found; build it with `clac data build --out {path}`")
    crystals = read_crystals(path)
    missing = [c for c in CRYSTAL_COLUMNS if c not in crystals.columns]
    if missing:
        raise ValueError(f"{path / 'crystals.parquet'} lacks columns {missing}")
    crystals = crystals.drop(columns=[c for c in ("cif",) if c in crystals.columns]).reset_index(drop=True)
    pairs = pd.read_parquet(path / "pairs.parquet", columns=list(PAIR_COLUMNS))
    index_of = pd.Series(np.arange(len(crystals)), index=crystals["crystal_id"].astype(str))
    if not index_of.index.is_unique:
        raise ValueError(f"{path / 'crystals.parquet'} has duplicate crystal_id values")
    ci = index_of.reindex(pairs["crystal_id"].astype(str))
    if ci.isna().any():
        bad = pairs["crystal_id"][ci.isna().to_numpy()].iloc[0]
        raise ValueError(f"pairs.parquet names crystal {bad!r} that is not in crystals.parquet")
    pairs = pairs.assign(crystal_index=ci.to_numpy().astype(np.int64)).reset_index(drop=True)
    return DataDir(path=path, crystals=crystals, pairs=pairs)


# --------------------------------------------------------------------------------------
# crystal property targets (auxiliary regression head)
# --------------------------------------------------------------------------------------
# Heavy-tailed targets are regressed in a transformed space (and mapped back on prediction).
AUX_TRANSFORMS: dict[str, str] = {"total_magnetization": "log1p_abs"}


def _atomic_masses() -> np.ndarray:
    """(119,) atomic masses in u by atomic number (index 0 unused)."""
    from pymatgen.core.periodic_table import Element

    table = np.full(119, np.nan)
    for z in range(1, 119):
        try:
            table[z] = float(Element.from_Z(z).atomic_mass)
        except (ValueError, TypeError):  # pragma: no cover - superheavy elements without a mass
            pass
    return table


def crystal_density(lattice: Any, atomic_numbers: Any, masses: np.ndarray | None = None) -> float:
    """Mass density in g/cm³ from a (3, 3) lattice in Å (rows, possibly stored as a list of
    arrays) and the atomic numbers."""
    masses = _atomic_masses() if masses is None else masses
    lat = np.vstack([np.ravel(np.asarray(r, dtype=float)) for r in lattice]).reshape(3, 3)
    mass = float(masses[np.asarray(atomic_numbers, dtype=np.int64)].sum())
    return mass * 1.66053906660 / abs(float(np.linalg.det(lat)))


def crystal_targets(data: DataDir, names: Sequence[str]) -> np.ndarray:
    """(C, K) float32 property values of every crystal in ``names`` order, NaN where unknown,
    in the regression space of :data:`AUX_TRANSFORMS`. ``"density"`` is computed from the
    structure when the record does not state it."""
    column = data.crystals.get("properties", [None] * len(data.crystals))
    props = [json.loads(p) if isinstance(p, str) else {} for p in column]
    out = np.full((len(data.crystals), len(names)), np.nan, dtype=np.float32)
    for k, name in enumerate(names):
        if name == "density":
            masses = _atomic_masses()
            for i, (lat, z, p) in enumerate(zip(data.crystals["lattice"], data.crystals["atomic_numbers"], props, strict=True)):
                out[i, k] = p["density"] if "density" in p else crystal_density(lat, z, masses)
            continue
        vals = np.array([p.get(name, np.nan) for p in props], dtype=np.float64)
        if AUX_TRANSFORMS.get(name) == "log1p_abs":
            vals = np.log1p(np.abs(vals))
        out[:, k] = vals
    return out


def inverse_aux_transform(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Map (B, K) values from the regression space back to physical units."""
    out = np.array(values, dtype=np.float64, copy=True)
    for k, name in enumerate(names):
        if AUX_TRANSFORMS.get(name) == "log1p_abs":
            out[:, k] = np.expm1(np.clip(out[:, k], 0, None))
    return out


# --------------------------------------------------------------------------------------
# graph cache
# --------------------------------------------------------------------------------------
def graph_cache_path(data: DataDir, cfg: GraphConfig) -> Path:
    from clac_core.graph import graph_config_key

    ids_key = _sha("\n".join(data.crystal_ids))
    return data.cache_dir / f"graphs-{graph_config_key(cfg)}-{ids_key}.npz"


def load_graph_cache(
    data: DataDir, cfg: GraphConfig, *, num_workers: int | None = None, progress: bool = True
) -> GraphCache:
    """Graphs of every crystal in ``data`` (row order), built once and cached under DIR/cache/.

    Args:
        data: loaded data dir.
        cfg: graph settings (the cache is keyed by them and by the crystal ids).
        num_workers: processes used to build (default: all cores).
        progress: tqdm bar while building.
    """
    from clac_core.graph import GraphCache

    path = graph_cache_path(data, cfg)
    if path.is_file():
        cache = GraphCache.load(path, cfg)
        if cache.ids is None or cache.ids == data.crystal_ids:
            return cache
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    cache = GraphCache.build(
        data.structures(), cfg, ids=data.crystal_ids, num_workers=workers, progress=progress
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    cache.save(tmp)
    os.replace(tmp, path)
    return cache


# --------------------------------------------------------------------------------------
# cached text features
# --------------------------------------------------------------------------------------
def text_cache_dir(data_dir: str | Path, cfg: TextEncoderConfig) -> Path:
    """``DIR/cache/text-<model>-L<max_length>`` (model name slugged, with a hash if it was a path)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg.name).strip("_")[-40:] or "model"
    if slug != cfg.name:
        slug = f"{slug}-{_sha(cfg.name, 8)}"
    return Path(data_dir) / "cache" / f"text-{slug}-L{int(cfg.max_length)}"


def _read_chunks(folder: Path) -> tuple[dict[str, tuple[int, int]], list[Path]]:
    """Map text -> (chunk number, row) over the complete chunks in ``folder``."""
    where: dict[str, tuple[int, int]] = {}
    files: list[Path] = []
    for meta in sorted(folder.glob("chunk-*.json")):
        npy = meta.with_suffix(".npy")
        if not npy.is_file():
            continue  # the .npy is renamed into place before its .json: incomplete chunk
        texts = json.loads(meta.read_text(encoding="utf-8"))["texts"]
        k = len(files)
        files.append(npy)
        for row, t in enumerate(texts):
            where.setdefault(t, (k, row))
    return where, files


def text_feature_cache(
    data_dir: str | Path,
    texts: Sequence[str],
    cfg: TextEncoderConfig,
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    chunk_size: int = 2048,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """Pooled text-backbone features of ``texts``, computed once per unique text and cached.

    Unique texts missing from the cache are sorted by length (less padding), embedded in
    chunks of ``chunk_size`` and each chunk is written as ``chunk-NNNNN.npy`` (float32
    (n, H)) + ``chunk-NNNNN.json`` (its texts) with atomic renames: killing the process
    loses at most the chunk in progress, and the next call resumes.

    Args:
        data_dir: the data directory (features go to its ``cache/``).
        texts: P texts (duplicates allowed).
        cfg: text encoder settings; the cache is keyed by ``name`` and ``max_length``.
        embed: function list[str] -> (n, H) float32; default builds a frozen
            :class:`clac_core.models.text.HFTextEncoder` and uses its ``embed``.
        chunk_size: texts per cache file.
        batch_size: texts per backbone forward.
        progress: tqdm bar over texts.

    Returns:
        (P, H) float32 array, row i = features of ``texts[i]``; (P, H + Q) when
        ``cfg.quantities`` (quantity features appended after reading, never cached).
    """
    from tqdm.auto import tqdm

    folder = text_cache_dir(data_dir, cfg)
    folder.mkdir(parents=True, exist_ok=True)
    texts = [str(t) for t in texts]
    where, files = _read_chunks(folder)
    missing = sorted({t for t in texts if t not in where}, key=lambda t: (len(t), t))
    if missing:
        if embed is None:
            embed = _default_embed(cfg, batch_size)
        next_id = 1 + max((int(p.stem.split("-")[1]) for p in folder.glob("chunk-*.json")), default=-1)
        with tqdm(total=len(missing), desc="text features", unit="text", disable=not progress) as bar:
            for start in range(0, len(missing), chunk_size):
                part = missing[start : start + chunk_size]
                feats = np.asarray(embed(part), dtype=np.float32)
                if feats.shape[0] != len(part):
                    raise RuntimeError(f"text embed returned {feats.shape[0]} rows for {len(part)} texts")
                stem = folder / f"chunk-{next_id:05d}"
                tmp_npy = folder / f".chunk-{next_id:05d}.{os.getpid()}.npy"
                np.save(tmp_npy, feats)
                os.replace(tmp_npy, stem.with_suffix(".npy"))
                tmp_json = folder / f".chunk-{next_id:05d}.{os.getpid()}.json"
                tmp_json.write_text(
                    json.dumps({"texts": part, "model": cfg.name, "max_length": cfg.max_length})
                )
                os.replace(tmp_json, stem.with_suffix(".json"))
                next_id += 1
                bar.update(len(part))
        where, files = _read_chunks(folder)
    arrays = [np.load(f, mmap_mode="r", allow_pickle=False) for f in files]
    if not texts:
        return np.zeros((0, arrays[0].shape[1] if arrays else 0), np.float32)
    dim = arrays[0].shape[1]
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        k, row = where[t]
        out[i] = arrays[k][row]
    if cfg.quantities:  # cheap (regex), so never cached: parser changes need no re-embedding
        out = _append_quantity_features(out, texts)
    return out


def _append_quantity_features(pooled: np.ndarray, texts: list[str]) -> np.ndarray:
    """(P, H) -> (P, H + Q), quantity features computed once per unique text."""
    from clac_core.quantities import quantity_features

    uniq = list(dict.fromkeys(texts))
    q = quantity_features(uniq)
    row = {t: i for i, t in enumerate(uniq)}
    return np.concatenate([pooled, q[[row[t] for t in texts]]], axis=1)


def _default_embed(cfg: TextEncoderConfig, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    import dataclasses

    from clac_core.models.text import HFTextEncoder

    enc = HFTextEncoder(dataclasses.replace(cfg, train_mode="frozen", quantities=False))
    return lambda texts: enc.embed(texts, batch_size=batch_size).numpy()


# --------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------
class EpochSampler:
    """Order of training pairs per epoch, a pure function of ``(seed, epoch)``.

    * ``"crystals"``: every training crystal once per epoch, with one of its texts drawn
      uniformly (different draws per epoch).
    * ``"pairs"``: every pair once per epoch.

    Under DDP the epoch order is padded (wrapping around) to a multiple of ``world_size``
    and rank r takes positions r, r + W, ... (like ``DistributedSampler``), so every rank
    runs the same number of steps.

    Args:
        crystal_index: (P,) crystal row of every training pair.
        mode: "crystals" or "pairs".
        seed: base seed.
        rank, world_size: DDP position.
    """

    def __init__(
        self,
        crystal_index: np.ndarray,
        mode: Literal["crystals", "pairs"] = "crystals",
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if mode not in ("crystals", "pairs"):
            raise ValueError(f"train.sampling must be 'crystals' or 'pairs', not {mode!r}")
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
            return rng.permutation(self.crystal_index.size)
        pick = self._group_start + (rng.random(self.num_crystals) * self._group_size).astype(np.int64)
        return self._group_order[pick][rng.permutation(self.num_crystals)]

    def __len__(self) -> int:
        n = self.crystal_index.size if self.mode == "pairs" else self.num_crystals
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


# --------------------------------------------------------------------------------------
# datasets and batches
# --------------------------------------------------------------------------------------
@dataclass
class PairBatch:
    """One collated batch of B crystal-text pairs.

    Attributes:
        graphs: PyG ``Batch`` of the B crystal graphs (``z``, ``edge_index``, ``edge_dist``, ``batch``).
        texts: the B texts (None when ``text_features`` is given).
        text_features: (B, H) cached pooled text features, or None.
        crystal_index: (B,) long, crystal row (positives share it).
        pair_index: (B,) long, row in the dataset's pairs.
        texts2: a second text of the same crystal per pair (intra-text term; None when off
            or when ``text_features2`` is given).
        text_features2: (B, H) cached features of those second texts, or None.
        graphs2: ``Batch`` of B augmented crystal graphs, row i an augmented copy of crystal i
            (intra-crystal term), or None.
    """

    graphs: Batch
    texts: list[str] | None
    text_features: torch.Tensor | None
    crystal_index: torch.Tensor
    pair_index: torch.Tensor
    texts2: list[str] | None = None
    text_features2: torch.Tensor | None = None
    graphs2: Batch | None = None
    targets: torch.Tensor | None = None  # (B, K) standardized aux targets, NaN = unknown

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
        )

    def __len__(self) -> int:
        return int(self.crystal_index.numel())


class PairDataset:
    """Crystal-text pairs backed by a graph cache and (optionally) cached text features.

    Args:
        graphs: graph cache over all crystals of the data dir (index = crystal row).
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
    ) -> None:
        self.graphs = graphs
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
        structs = self.structures(list(crystal_rows))
        return collate([structure_to_graph(augment_structure(s, rng), self.graphs.cfg) for s in structs])

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
            texts = None
        batch = PairBatch(
            graphs=self.graphs.batch(ci.tolist()),
            texts=texts,
            text_features=feats,
            crystal_index=torch.from_numpy(ci),
            pair_index=torch.from_numpy(pos),
            targets=None if self.targets is None else torch.from_numpy(np.ascontiguousarray(self.targets[ci])),
        )
        if not self.has_views:
            return batch
        if rng is None:
            raise ValueError("collate needs an rng when second texts or augmentations are enabled")
        if self.second_text:
            pos2 = self.second_view_positions(pos, rng)
            if self.text_features is not None:
                batch.text_features2 = torch.from_numpy(np.ascontiguousarray(self.text_features[pos2]))
            else:
                batch.texts2 = [self.texts[int(i)] for i in pos2]
        if self.structures is not None:
            batch.graphs2 = self.augmented_graphs(ci.tolist(), rng)
        return batch


def select_pairs(pairs: pd.DataFrame, split: str, *, max_pairs: int = 0, seed: int = 0) -> pd.DataFrame:
    """Pairs of one split, optionally subsampled (seeded) to ``max_pairs`` rows."""
    sel = pairs[pairs["split"] == split]
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
