"""Searchable embedding index of a crystal corpus, for the app and ``clac index build``.

An index directory holds (no pickle anywhere)::

    manifest.json               checkpoint id/hash, corpus sources, counts, created, version
    embeddings.npy              (N, D) float16 crystal embeddings, L2-normalized
    metadata.parquet            one row per crystal (see ``METADATA_COLUMNS`` + property columns)
    descriptions.parquet        description bank: text, view, crystal_id (deduplicated texts)
    description_embeddings.npy  (M, D) float16 text embeddings, L2-normalized
    umap_<key>.npz              optional cached 2D coordinates (see clac_core.inference)

In memory embeddings are float32. Search is one matrix product followed by hard filters
(elements, crystal system, band gap, number of sites, source) and a top-k selection.
Shape legend: N crystals, M descriptions, D embedding dims, B queries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.embed import ProgressFn  # (stage, done, total) callback

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

    from clac_core.corpus.record import CrystalRecord

INDEX_VERSION = 1
CRYSTAL_SYSTEMS: tuple[str, ...] = (
    "cubic",
    "hexagonal",
    "trigonal",
    "tetragonal",
    "orthorhombic",
    "monoclinic",
    "triclinic",
)
METADATA_COLUMNS: tuple[str, ...] = (
    "crystal_id",
    "formula",
    "source",
    "hypothetical",
    "spacegroup_symbol",
    "spacegroup_number",
    "crystal_system",
    "nsites",
    "elements",  # space-separated element symbols, sorted, e.g. "O Sr Ti"
    "lattice",  # 9 floats, row-major Å
    "frac_coords",  # 3N floats
    "atomic_numbers",  # N ints
)


class CorpusIndexError(RuntimeError):
    """Raised for a missing/corrupt index directory or an invalid search request."""


@dataclass
class SearchFilters:
    """Hard filters applied before ranking. Empty/None fields do not filter.

    Attributes:
        must_contain: element symbols that every hit must contain.
        must_not_contain: element symbols no hit may contain.
        crystal_systems: allowed crystal systems (lower case, see ``CRYSTAL_SYSTEMS``).
        band_gap: (min, max) in eV; rows with unknown band gap are dropped when set.
        nsites: (min, max) number of sites in the cell, inclusive.
        sources: allowed ``source`` values.
        include_hypothetical: keep generated (decorated) crystals.
        property_ranges: metadata column -> (min, max), e.g. ``{"formation_energy_per_atom":
            (None, 0.0)}``; rows whose value is unknown (NaN, or no such column) are dropped
            when a bound is set.
    """

    must_contain: Sequence[str] = ()
    must_not_contain: Sequence[str] = ()
    crystal_systems: Sequence[str] = ()
    band_gap: tuple[float | None, float | None] = (None, None)
    nsites: tuple[int | None, int | None] = (None, None)
    sources: Sequence[str] = ()
    include_hypothetical: bool = True
    property_ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no field filters anything (empty lists count as empty, as from the UI)."""
        return not (
            self.must_contain
            or self.must_not_contain
            or self.crystal_systems
            or self.sources
            or any(v is not None for v in (*self.band_gap, *self.nsites))
            or not self.include_hypothetical
            or any(v is not None for lo_hi in self.property_ranges.values() for v in lo_hi)
        )


# Element symbols by atomic number (index 0 unused), so element filters need no pymatgen import.
ELEMENT_SYMBOLS: tuple[str, ...] = ("",) + tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
    "Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er "
    "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md "
    "No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()
)
_Z_OF = {s: z for z, s in enumerate(ELEMENT_SYMBOLS) if s}


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol, any case ("o", "Ti"); CorpusIndexError if unknown."""
    z = _Z_OF.get(str(symbol).strip().capitalize())
    if z is None:
        raise CorpusIndexError(f"unknown element symbol {symbol!r}")
    return z


@dataclass(frozen=True)
class Categories:
    """A string column as integer codes into a list of distinct values."""

    codes: np.ndarray  # (N,) int
    values: tuple[str, ...]

    @classmethod
    def of(cls, values: pd.Series, *, lower: bool = False) -> Categories:
        import pandas as pd

        strings = values.astype(str)
        codes, uniq = pd.factorize(strings.str.lower() if lower else strings)
        return cls(np.asarray(codes, dtype=np.int32), tuple(str(u) for u in uniq))

    def isin(self, allowed: set[str]) -> np.ndarray:
        """(N,) bool: value in ``allowed``."""
        ok = np.array([v in allowed for v in self.values] + [False], dtype=bool)  # code -1 -> False
        return ok[self.codes]  # a table lookup per row, no string comparison per row


@dataclass(frozen=True)
class FilterColumns:
    """What :class:`SearchFilters` reads, precomputed as numpy arrays from the metadata.

    Attributes:
        elements: (119, N) bool, element presence by atomic number (row z is contiguous).
        crystal_system: lower-case crystal system codes.
        source: source codes.
        nsites: (N,) int.
        band_gap: (N,) float with NaN for unknown, or None without a band_gap column.
        hypothetical: (N,) bool.
    """

    elements: np.ndarray
    crystal_system: Categories
    source: Categories
    nsites: np.ndarray
    band_gap: np.ndarray | None
    hypothetical: np.ndarray

    @classmethod
    def from_metadata(cls, md: pd.DataFrame) -> FilterColumns:
        n = len(md)
        zs = [np.asarray(z, dtype=np.int64).reshape(-1) for z in md["atomic_numbers"]]
        counts = np.fromiter((len(z) for z in zs), dtype=np.int64, count=n)
        elements = np.zeros((119, n), dtype=bool)
        if counts.sum():
            elements[np.concatenate(zs), np.repeat(np.arange(n), counts)] = True
        return cls(
            elements=elements,
            crystal_system=Categories.of(md["crystal_system"], lower=True),
            source=Categories.of(md["source"]),
            nsites=md["nsites"].to_numpy(dtype=np.int64),
            band_gap=md["band_gap"].to_numpy(dtype=np.float64) if "band_gap" in md.columns else None,
            hypothetical=md["hypothetical"].to_numpy(dtype=bool),
        )


@dataclass
class CorpusIndex:
    """Crystal embeddings + metadata + a description bank.

    Attributes:
        embeddings: (N, D) float32, L2-normalized crystal embeddings.
        metadata: N rows, columns ``METADATA_COLUMNS`` plus one float column per known property.
        desc_embeddings: (M, D) float32, L2-normalized description embeddings.
        descriptions: M rows with ``text``, ``view``, ``crystal_id``.
        manifest: provenance (checkpoint hash, sources, counts, created, version).
    """

    embeddings: np.ndarray
    metadata: pd.DataFrame
    desc_embeddings: np.ndarray
    descriptions: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    _filter_cols: FilterColumns | None = field(default=None, repr=False)
    _property_arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.embeddings = _normalize(np.asarray(self.embeddings, dtype=np.float32))
        self.desc_embeddings = _normalize(np.asarray(self.desc_embeddings, dtype=np.float32))
        if len(self.metadata) != len(self.embeddings):
            raise CorpusIndexError(
                f"index metadata has {len(self.metadata)} rows but embeddings {len(self.embeddings)}"
            )
        if len(self.descriptions) != len(self.desc_embeddings):
            raise CorpusIndexError(
                f"description bank has {len(self.descriptions)} texts but "
                f"{len(self.desc_embeddings)} embeddings"
            )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.metadata)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def corpus_hash(self) -> str:
        """Short hash of the crystal ids and the embedding bytes (keys caches such as UMAP)."""
        h = hashlib.sha256()
        h.update("\n".join(self.metadata["crystal_id"].astype(str)).encode())
        h.update(self.embeddings.astype(np.float16).tobytes())
        h.update(str(len(self.descriptions)).encode())
        return h.hexdigest()[:16]

    def prepare_filters(self) -> FilterColumns:
        """The metadata columns the filters read, as numpy arrays (built once; cheap per query).

        Called by :meth:`load` so that the first search does not pay for it; any other index
        builds them on its first filtered search.
        """
        if self._filter_cols is None:
            self._filter_cols = FilterColumns.from_metadata(self.metadata)
        return self._filter_cols

    def element_mask(self) -> np.ndarray:
        """(N, 119) bool: element presence per crystal by atomic number (a view, built once)."""
        return self.prepare_filters().elements.T

    # ------------------------------------------------------------------ search
    def filter_mask(self, filters: SearchFilters | None) -> np.ndarray:
        """(N,) bool rows passing ``filters``."""
        if filters is None or filters.is_empty():
            return np.ones(len(self), dtype=bool)
        cols = self.prepare_filters()
        keep = np.ones(len(self), dtype=bool)
        for s in filters.must_contain:
            keep &= cols.elements[atomic_number(s)]  # contiguous (N,) row of the (119, N) table
        for s in filters.must_not_contain:
            keep &= ~cols.elements[atomic_number(s)]
        if filters.crystal_systems:
            keep &= cols.crystal_system.isin({str(s).lower() for s in filters.crystal_systems})
        lo, hi = filters.band_gap
        if lo is not None or hi is not None:
            if cols.band_gap is None:
                keep[:] = False
            else:
                keep &= ~np.isnan(cols.band_gap)  # unknown gaps are dropped when filtering by gap
                if lo is not None:
                    keep &= cols.band_gap >= lo
                if hi is not None:
                    keep &= cols.band_gap <= hi
        lo, hi = filters.nsites
        if lo is not None:
            keep &= cols.nsites >= lo
        if hi is not None:
            keep &= cols.nsites <= hi
        if filters.sources:
            keep &= cols.source.isin({str(s) for s in filters.sources})
        if not filters.include_hypothetical:
            keep &= ~cols.hypothetical
        for col, (lo, hi) in filters.property_ranges.items():
            if lo is None and hi is None:
                continue
            vals = self.property_array(col)
            keep &= ~np.isnan(vals)  # unknown values are dropped when filtering by a property
            if lo is not None:
                keep &= vals >= lo
            if hi is not None:
                keep &= vals <= hi
        return keep

    def property_array(self, column: str) -> np.ndarray:
        """(N,) float64 values of a metadata column, NaN where unknown (all NaN without the
        column); built once per column, like :class:`FilterColumns`."""
        if column not in self._property_arrays:
            import pandas as pd

            if column in self.metadata.columns:
                vals = pd.to_numeric(self.metadata[column], errors="coerce").to_numpy(dtype=np.float64)
            else:
                vals = np.full(len(self), np.nan)
            self._property_arrays[column] = vals
        return self._property_arrays[column]

    def search(
        self,
        query_emb: np.ndarray,
        k: int = 20,
        filters: SearchFilters | None = None,
        rescore: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Rank crystals by cosine similarity to one query embedding.

        Args:
            query_emb: (D,) or (1, D) query embedding (normalized here).
            k: number of hits.
            filters: hard filters applied before ranking.
            rescore: ``(rows (n,), cosine (n,)) -> (n,)`` fused scores to rank by instead
                (e.g. property-aware search; -inf drops a row). The result then also has a
                ``score`` column; ``similarity`` stays the model's cosine.

        Returns:
            DataFrame of at most k rows sorted by ``similarity`` (or ``score``), descending,
            with ``rank``, ``similarity``, ``row`` (position in the index) and the metadata columns.
        """
        q = _normalize(np.asarray(query_emb, dtype=np.float32).reshape(1, -1))[0]  # (D,)
        if q.shape[0] != self.dim:
            raise CorpusIndexError(f"query has {q.shape[0]} dims, index has {self.dim}")
        if filters is None or filters.is_empty():
            rows = np.arange(len(self))
            scores = _dot(self.embeddings, q)  # (N,)
        else:
            rows = np.flatnonzero(self.filter_mask(filters))  # (n,)
            # The mask comes first: a selective filter scores only the rows it keeps (the (N, D)
            # product dominates a search at 50k crystals); a loose one is cheaper as one full product.
            if len(rows) <= len(self) // 2:
                scores = _dot(self.embeddings[rows], q)  # (n,)
            else:
                scores = _dot(self.embeddings, q)[rows]
        if rescore is None:
            return self._top_rows(rows, scores, k)
        fused = np.asarray(rescore(rows, scores), dtype=np.float64)
        keep = np.isfinite(fused)
        rows, cos, fused = rows[keep], scores[keep], fused[keep]
        out = self._top_rows(rows, fused, k)
        pos = np.searchsorted(rows, out["row"].to_numpy())
        out["similarity"] = cos[pos].astype(np.float32)
        out.insert(2, "score", fused[pos].astype(np.float32))
        return out

    def _top_rows(self, rows: np.ndarray, scores: np.ndarray, k: int) -> pd.DataFrame:
        k = min(int(k), len(rows))
        if k <= 0:
            out = self.metadata.iloc[:0].copy()
            out.insert(0, "similarity", np.zeros(0, dtype=np.float32))
            out.insert(0, "rank", np.zeros(0, dtype=np.int64))
            out.insert(2, "row", np.zeros(0, dtype=np.int64))
            return out
        part = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        order = part[np.argsort(-scores[part], kind="stable")]
        sel = rows[order]
        out = self.metadata.iloc[sel].reset_index(drop=True).copy()
        out.insert(0, "similarity", scores[order].astype(np.float32))
        out.insert(0, "rank", np.arange(1, len(sel) + 1))
        out.insert(2, "row", sel)
        return out

    def nearest_descriptions(self, query_emb: np.ndarray, k: int = 5) -> pd.DataFrame:
        """Top-k texts of the description bank for one (D,) embedding: text, view, similarity."""
        import pandas as pd

        q = _normalize(np.asarray(query_emb, dtype=np.float32).reshape(1, -1))[0]
        if len(self.descriptions) == 0:
            return pd.DataFrame(columns=["rank", "similarity", "text", "view", "crystal_id"])
        scores = self.desc_embeddings @ q  # (M,)
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
        out = self.descriptions.iloc[order].reset_index(drop=True).copy()
        out.insert(0, "similarity", scores[order].astype(np.float32))
        out.insert(0, "rank", np.arange(1, k + 1))
        return out

    def structure(self, row: int) -> Structure:
        """Exact pymatgen Structure of index row ``row`` (from the stored arrays)."""
        from clac_core.corpus.record import structure_from_arrays

        r = self.metadata.iloc[int(row)]
        return structure_from_arrays(r["lattice"], r["frac_coords"], r["atomic_numbers"])

    def property_columns(self) -> list[str]:
        from clac_core.properties import QUANTITIES

        return [c for c in self.metadata.columns if c in QUANTITIES]

    # ------------------------------------------------------------------ disk
    def save(self, out_dir: str | Path) -> Path:
        """Write the index to ``out_dir`` (created). Returns the directory."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "embeddings.npy", self.embeddings.astype(np.float16), allow_pickle=False)
        np.save(
            out / "description_embeddings.npy", self.desc_embeddings.astype(np.float16), allow_pickle=False
        )
        self.metadata.to_parquet(out / "metadata.parquet", index=False)
        self.descriptions.to_parquet(out / "descriptions.parquet", index=False)
        manifest = dict(self.manifest)
        manifest.setdefault("version", INDEX_VERSION)
        manifest["counts"] = {
            "crystals": len(self),
            "descriptions": len(self.descriptions),
            "by_source": {str(k): int(v) for k, v in self.metadata["source"].value_counts().items()},
        }
        manifest["dim"] = self.dim
        manifest["corpus_hash"] = self.corpus_hash
        self.manifest = manifest
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, index_dir: str | Path) -> CorpusIndex:
        """Read an index written by :meth:`save`."""
        import pandas as pd

        d = Path(index_dir)
        needed = ["manifest.json", "embeddings.npy", "metadata.parquet"]
        missing = [n for n in needed if not (d / n).exists()]
        if missing:
            raise CorpusIndexError(f"{d} is not a CLaC index (missing {', '.join(missing)})")
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        emb = np.load(d / "embeddings.npy", allow_pickle=False)
        meta = pd.read_parquet(d / "metadata.parquet")
        if (d / "descriptions.parquet").exists():
            desc = pd.read_parquet(d / "descriptions.parquet")
            demb = np.load(d / "description_embeddings.npy", allow_pickle=False)
        else:
            desc = pd.DataFrame({"text": [], "view": [], "crystal_id": []})
            demb = np.zeros((0, emb.shape[1]), dtype=np.float32)
        idx = cls(embeddings=emb, metadata=meta, desc_embeddings=demb, descriptions=desc, manifest=manifest)
        idx.prepare_filters()
        return idx


# ---------------------------------------------------------------------- helpers


def _normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalization of a (B, D) array (zero rows stay zero)."""
    if x.ndim != 2 or x.shape[0] == 0:
        return x.astype(np.float32, copy=False)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32, copy=False)


def _dot(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(B, D) @ (D,) -> (B,) on one thread.

    Why einsum and not ``x @ q``: the product is memory-bound, and OpenBLAS's gemv wakes its
    thread pool, whose threads keep spinning after the call. On 2 loaded cores (a training run
    alongside) that took 8 ms instead of 2.3 ms at 50k x 256, and the spinning threads then
    slowed the next query's text encoding in torch from ~13 to ~30 ms
    (benchmarks/bench_search.py; OPENBLAS_NUM_THREADS=1 gave the same gain).
    """
    return np.einsum("nd,d->n", x, q)


def checkpoint_hash(path: str | Path) -> str:
    """Short sha256 over a checkpoint file or every file in a checkpoint directory."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    if not files:
        raise CorpusIndexError(f"checkpoint {p} has no files")
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def symmetry_info(structure: Structure, symprec: float = 0.1) -> dict[str, Any]:
    """Space group symbol/number and crystal system of a structure (spglib via pymatgen)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sga = SpacegroupAnalyzer(structure, symprec=symprec)
        return {
            "spacegroup_symbol": sga.get_space_group_symbol(),
            "spacegroup_number": int(sga.get_space_group_number()),
            "crystal_system": sga.get_crystal_system(),
        }
    except Exception:  # spglib fails on some distorted cells: report P1/triclinic honestly
        return {"spacegroup_symbol": "P1", "spacegroup_number": 1, "crystal_system": "triclinic"}


def metadata_row(record: CrystalRecord) -> dict[str, Any]:
    """One metadata row (``METADATA_COLUMNS`` + properties) for a record."""
    from clac_core.corpus.record import structure_to_arrays

    s = record.structure
    row: dict[str, Any] = {
        "crystal_id": record.id,
        "formula": record.formula,
        "source": record.source,
        "hypothetical": bool(record.hypothetical),
        **symmetry_info(s),
        "nsites": len(s),
        "elements": " ".join(sorted({el.symbol for el in s.composition.elements})),
        **structure_to_arrays(s),
    }
    row["density"] = float(s.density)  # g/cm³, known for every crystal (property-aware search)
    for k, v in record.properties.items():
        row[k] = float(v)
    return row


def encode_structures(
    model: Any,
    structures: Sequence[Structure],
    *,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
    desc: str = "crystals",
) -> np.ndarray:
    """Embed structures with a CLaC model (:func:`clac_core.embed.embed_structures`).

    Returns:
        (B, D) float32, L2-normalized.
    """
    from clac_core.embed import embed_structures

    structures = list(structures)
    return embed_structures(model, structures, batch_size, len(structures) >= 256, callback=progress, desc=desc)


PREDICTED_PREFIX = "predicted_"  # metadata columns of aux-head predictions (physical units)


def predicted_properties(
    model: Any, structures: Sequence[Structure], *, progress: ProgressFn | None = None
) -> dict[str, np.ndarray]:
    """``predicted_<property>`` -> (N,) values from the model's aux head ({} without one).

    The app shows them, marked as predicted, where a crystal has no DFT value; their test
    error is measured by ``clac eval`` (``inverse_design.aux_head``)."""
    from clac_core.embed import predict_structures

    names = list(getattr(model.cfg, "aux_properties", []) or [])
    if not names or getattr(model, "aux_head", None) is None:
        return {}
    pred = predict_structures(model, list(structures), progress=len(structures) >= 256, callback=progress)
    return {f"{PREDICTED_PREFIX}{n}": pred[:, k].astype(np.float32) for k, n in enumerate(names)}


def encode_texts(
    model: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    progress: ProgressFn | None = None,
    desc: str = "descriptions",
) -> np.ndarray:
    """Embed texts with a CLaC model (:func:`clac_core.embed.embed_texts`). Returns (B, D) float32, L2-normalized."""
    from clac_core.embed import embed_texts

    texts = list(texts)
    return embed_texts(model, texts, batch_size, len(texts) >= 256, callback=progress, desc=desc)


def _descriptions_for(records: Sequence[CrystalRecord], seed: int) -> list[tuple[str, str, str]]:
    """(text, view, crystal_id) for each generated description of each record."""
    describe = describe_fn()
    out = []
    for i, rec in enumerate(records):
        try:
            descs = describe(rec, seed=seed + i)
        except Exception:  # a crystal whose facts cannot be computed contributes no text
            continue
        out.extend((d.text, d.view, rec.id) for d in descs)
    return out


def describe_fn() -> Callable[..., list[Any]]:
    """``clac_core.text.describe`` (the function, even while the package only exposes the module)."""
    import importlib

    fn = getattr(importlib.import_module("clac_core.text"), "describe", None)
    if fn is None or not callable(fn):
        fn = importlib.import_module("clac_core.text.describe").describe
    return fn


def _dedupe_cap(items: Iterable[tuple[str, str, str]], cap: int, seed: int) -> list[tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for t in items:
        key = " ".join(t[0].split())
        if key and key not in seen:
            seen[key] = t
    vals = list(seen.values())
    if cap and len(vals) > cap:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(vals), size=cap, replace=False))
        vals = [vals[i] for i in keep]
    return vals


def records_from_data_dir(data_dir: str | Path) -> tuple[list[CrystalRecord], list[tuple[str, str, str]]]:
    """Records and (text, view, crystal_id) pairs from a ``clac data build`` directory."""
    import pandas as pd

    from clac_core.corpus.record import CrystalRecord, structure_from_arrays

    d = Path(data_dir)
    if not (d / "crystals.parquet").exists():
        raise CorpusIndexError(f"{d} has no crystals.parquet (expected a `clac data build` directory)")
    df = pd.read_parquet(d / "crystals.parquet")
    records = []
    for r in df.itertuples(index=False):
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
    texts: list[tuple[str, str, str]] = []
    if (d / "pairs.parquet").exists():
        pairs = pd.read_parquet(d / "pairs.parquet", columns=["crystal_id", "text", "view"])
        texts = list(zip(pairs["text"], pairs["view"], pairs["crystal_id"].astype(str), strict=True))
    return records, texts


def build(
    model: Any,
    records: Sequence[CrystalRecord],
    *,
    checkpoint: str | Path | None = None,
    sources: Sequence[str] = (),
    texts: Sequence[tuple[str, str, str]] | None = None,
    max_descriptions: int = 5000,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> CorpusIndex:
    """Embed a corpus into an index.

    Args:
        model: a loaded ``CLaCModel``.
        records: crystals to index.
        checkpoint: checkpoint path, hashed into the manifest.
        sources: source specs recorded in the manifest.
        texts: (text, view, crystal_id) description candidates; None = generate with
            ``clac_core.text.describe``.
        max_descriptions: cap on the deduplicated description bank (0 = no cap).
        seed: seed for description generation and subsampling.
        progress: callback (stage, done, total) for UIs.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if not records:
        raise CorpusIndexError("no crystals to index")
    rows = []
    for i, rec in enumerate(tqdm(records, desc="metadata", disable=len(records) < 256, leave=False)):
        rows.append(metadata_row(rec))
        if progress and (i % 50 == 0 or i == len(records) - 1):
            progress("metadata", i + 1, len(records))
    meta = pd.DataFrame(rows)
    for col in METADATA_COLUMNS:
        if col not in meta.columns:
            raise CorpusIndexError(f"metadata column {col} missing")
    emb = encode_structures(model, [r.structure for r in records], progress=progress)
    for col, values in predicted_properties(model, [r.structure for r in records], progress=progress).items():
        meta[col] = values
    if texts is None:
        if progress:
            progress("descriptions", 0, 1)
        texts = _descriptions_for(records, seed)
    bank = _dedupe_cap(texts, max_descriptions, seed)
    desc = pd.DataFrame(bank, columns=["text", "view", "crystal_id"])
    demb = (
        encode_texts(model, list(desc["text"]), progress=progress)
        if len(desc)
        else np.zeros((0, emb.shape[1]), dtype=np.float32)
    )
    manifest = {
        "version": INDEX_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "checkpoint_hash": checkpoint_hash(checkpoint) if checkpoint else None,
        "sources": list(sources),
        "max_descriptions": max_descriptions,
        "seed": seed,
    }
    return CorpusIndex(embeddings=emb, metadata=meta, desc_embeddings=demb, descriptions=desc, manifest=manifest)


def records_from_specs(
    specs: Sequence[str], *, skipped: list[str] | None = None, strict: bool = False
) -> list[CrystalRecord]:
    """All records of the given source specs (see clac_core.corpus.sources.records_from_spec).

    Args:
        specs: source specs.
        skipped: receives one reason per bad CSV row or structure file that was left out.
        strict: raise at the first bad row or file instead.
    """
    from clac_core.corpus.sources import records_from_spec

    out: list[CrystalRecord] = []
    for spec in specs:
        out.extend(records_from_spec(spec, skipped=skipped, strict=strict))
    return out


def build_from_args(
    *,
    checkpoint: str | Path,
    data: str | Path | None = None,
    sources: Sequence[str] = (),
    max_descriptions: int = 5000,
    seed: int = 0,
    progress: ProgressFn | None = None,
    skipped: list[str] | None = None,
    strict: bool = False,
) -> CorpusIndex:
    """Load a checkpoint and build an index from a data dir or source specs.

    ``skipped`` / ``strict``: see :func:`records_from_specs` (source specs only).
    """
    from clac_core.models import CLaCModel

    if data is not None:
        records, texts = records_from_data_dir(data)
        srcs: list[str] = [f"data:{data}"]
    else:
        if not sources:
            raise CorpusIndexError("give --data DIR or at least one --source SPEC")
        records = records_from_specs(sources, skipped=skipped, strict=strict)
        texts, srcs = None, list(sources)
    if not records:
        raise CorpusIndexError("no usable crystals to index (every row or file was skipped)")
    model = CLaCModel.from_checkpoint(checkpoint)
    return build(
        model,
        records,
        checkpoint=checkpoint,
        sources=srcs,
        texts=texts,
        max_descriptions=max_descriptions,
        seed=seed,
        progress=progress,
    )


# ---------------------------------------------------------------------- CLI


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="index_command", required=True)
    b = sub.add_parser("build", help="embed a corpus with a checkpoint into an index directory")
    b.add_argument("--checkpoint", required=True, help="checkpoint directory or file")
    g = b.add_mutually_exclusive_group(required=True)
    g.add_argument("--data", help="a `clac data build` output directory")
    g.add_argument(
        "--source",
        action="append",
        default=[],
        help="source spec: prototypes | decorated | csv:PATH | cifs:PATH (repeatable)",
    )
    b.add_argument("--out", required=True, help="output index directory")
    b.add_argument("--max-descriptions", type=int, default=5000, help="cap on the description bank")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--umap", action="store_true", help="also precompute the 2D map (slow first fit)")
    b.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad CSV row or structure file (default: skip it)",
    )


SHOW_REASONS = 5  # bad rows/files listed on stderr; the rest are counted


def report_skipped(prog: str, skipped: Sequence[str], kind: str) -> None:
    """One summary line plus the first reasons, on stderr (shared by ``clac embed``)."""
    import sys

    if not skipped:
        return
    print(f"{prog}: skipped {len(skipped)} bad {kind}; the first:", file=sys.stderr)
    for reason in skipped[:SHOW_REASONS]:
        print(f"  - {' '.join(str(reason).split())[:300]}", file=sys.stderr)
    if len(skipped) > SHOW_REASONS:
        print(f"  ... and {len(skipped) - SHOW_REASONS} more", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Exit 0: all inputs indexed; 1: some were skipped (the rest written) or a user error."""
    import sys

    if args.index_command != "build":  # pragma: no cover - argparse enforces
        return 2
    t0 = time.perf_counter()
    skipped: list[str] = []
    try:
        idx = build_from_args(
            checkpoint=args.checkpoint,
            data=args.data,
            sources=args.source,
            max_descriptions=args.max_descriptions,
            seed=args.seed,
            skipped=skipped,
            strict=args.strict,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError, CorpusIndexError) as exc:
        # user errors (missing file or column, bad row with --strict, damaged checkpoint,
        # no usable crystal): one line, no traceback
        report_skipped("clac index build", skipped, "inputs")
        print(f"clac index build: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    report_skipped("clac index build", skipped, "rows/files (left out of the index)")
    out = idx.save(args.out)
    if args.umap:
        from clac_core.inference import compute_umap

        compute_umap(idx, out)
    print(
        json.dumps(
            {
                "out": str(out),
                "crystals": len(idx),
                "descriptions": len(idx.descriptions),
                "seconds": round(time.perf_counter() - t0, 1),
                "skipped": len(skipped),
            }
        )
    )
    return 1 if skipped else 0
