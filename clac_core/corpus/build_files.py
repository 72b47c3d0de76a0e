"""What ``clac data build`` writes: its options and summary, the column lists and parquet
schema, the part files under ``DIR/.parts``, and the merged tables and manifest.

The layout is described in :mod:`clac_core.corpus.build` and docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PART_DIR = ".parts"
CRYSTAL_COLUMNS = [
    "crystal_id",
    "formula",
    "source",
    "split",
    "hypothetical",
    "parent",
    "spacegroup_symbol",
    "spacegroup_number",
    "crystal_system",
    "nsites",
    "cif",
    "lattice",
    "frac_coords",
    "atomic_numbers",
    "properties",
    "labels",
    "provenance",
]
PAIR_COLUMNS = ["crystal_id", "text", "view", "split", "formula", "source", "cif"]
FORMAT_VERSION = 1


@dataclass
class BuildOptions:
    """Arguments of one build (also what ``.parts/build.json`` records)."""

    sources: list[str]  # source specs, see clac_core.corpus.sources
    seed: int = 0  # text phrasing, decoration and split seed
    n_decorated: int = 20000  # crystals made by the "decorated" source
    robocrys: bool = False  # add robocrystallographer descriptions (slow, ~2 s per crystal)
    limit: int | None = None  # at most this many crystals per source
    search_texts: int = 1  # search-box requests per crystal (view "search"), each phrased anew
    chunk_size: int = 200  # crystals per worker task and per part file
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test by formula

    def fingerprint(self) -> dict[str, Any]:
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        d["format_version"] = FORMAT_VERSION
        if d["search_texts"] == 1:  # the default leaves earlier builds' fingerprints (and resume) as they were
            del d["search_texts"]
        return d


@dataclass
class BuildSummary:
    """What a build produced (printed and written into the manifest)."""

    crystals: int = 0
    pairs: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, int] = field(default_factory=dict)
    pairs_per_view: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    failure_examples: list[str] = field(default_factory=list)
    duplicates: int = 0
    chunks: int = 0
    chunks_resumed: int = 0
    seconds: float = 0.0


# --------------------------------------------------------------------------------------
# part files


def _part_paths(parts: Path, k: int) -> tuple[Path, Path]:
    return parts / f"{k:05d}.crystals.parquet", parts / f"{k:05d}.pairs.parquet"


def _part_done(parts: Path, k: int, ids: list[str]) -> bool:
    import pyarrow.parquet as pq

    cpath, ppath = _part_paths(parts, k)
    if not (cpath.exists() and ppath.exists()):
        return False
    try:
        done = pq.read_table(cpath, columns=["crystal_id"]).column("crystal_id").to_pylist()
        fails = json.loads(pq.read_schema(cpath).metadata.get(b"clac_failed_ids", b"[]"))
    except Exception:
        return False
    return sorted(done + fails) == sorted(ids)


def _write_table(
    rows: list[dict], columns: list[str], path: Path, metadata: dict[bytes, bytes] | None = None
):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema(columns)) if rows else _schema(columns).empty_table()
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _schema(columns: list[str]):
    import pyarrow as pa

    types = {
        "hypothetical": pa.bool_(),
        "spacegroup_number": pa.int32(),
        "nsites": pa.int32(),
        "lattice": pa.list_(pa.float64()),
        "frac_coords": pa.list_(pa.float64()),
        "atomic_numbers": pa.list_(pa.int32()),
    }
    return pa.schema([(c, types.get(c, pa.string())) for c in columns])


# --------------------------------------------------------------------------------------
# merged tables and manifest


def _merge(parts: Path, n_chunks: int, out: Path, summary: BuildSummary) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clac_core.properties import QUANTITIES

    ctables, ptables, n_failed = [], [], 0
    for k in range(n_chunks):
        cpath, ppath = _part_paths(parts, k)
        ct = pq.read_table(cpath)
        n_failed += len(json.loads((ct.schema.metadata or {}).get(b"clac_failed_ids", b"[]")))
        ctables.append(ct.replace_schema_metadata(None))
        ptables.append(pq.read_table(ppath))
    crystals = pa.concat_tables(ctables) if ctables else _schema(CRYSTAL_COLUMNS).empty_table()
    pairs = pa.concat_tables(ptables) if ptables else _schema(PAIR_COLUMNS).empty_table()

    props = [json.loads(s) for s in crystals.column("properties").to_pylist()]
    present = [q for q in QUANTITIES if any(q in d for d in props)]
    for q in present:
        values = np.array([d.get(q, np.nan) for d in props], dtype=float)
        crystals = crystals.append_column(q, pa.array(values, type=pa.float64()))
    pq.write_table(crystals, out / "crystals.parquet")
    pq.write_table(pairs, out / "pairs.parquet")

    summary.crystals = crystals.num_rows
    summary.pairs = pairs.num_rows
    summary.failures = n_failed
    summary.per_split = dict(sorted(Counter(crystals.column("split").to_pylist()).items()))
    summary.per_source = dict(Counter(crystals.column("source").to_pylist()))
    summary.pairs_per_view = dict(Counter(pairs.column("view").to_pylist()))


def _write_manifest(out: Path, opts: BuildOptions, s: BuildSummary) -> None:
    import pyarrow.parquet as pq

    from clac_core.corpus.sources import spec_name

    try:
        from importlib.metadata import version

        pkg_version = version("clac-explorer")
    except Exception:
        pkg_version = "unknown"
    crystals = pq.read_table(out / "crystals.parquet", columns=["source", "split"])
    pairs = pq.read_table(out / "pairs.parquet", columns=["source", "split"])

    def cross(t) -> dict[str, dict[str, int]]:
        d: dict[str, dict[str, int]] = {}
        for src, sp in zip(t.column("source").to_pylist(), t.column("split").to_pylist(), strict=True):
            d.setdefault(src, {}).setdefault(sp, 0)
            d[src][sp] += 1
        return d

    manifest = {
        "version": pkg_version,
        "format_version": FORMAT_VERSION,
        "sources": [{"spec": spec, "name": spec_name(spec)} for spec in opts.sources],
        "seed": opts.seed,
        "options": opts.fingerprint(),
        "counts": {
            "crystals": s.crystals,
            "pairs": s.pairs,
            "per_split": s.per_split,
            "per_source": s.per_source,
            "pairs_per_split": dict(sorted(Counter(pairs.column("split").to_pylist()).items())),
            "pairs_per_view": s.pairs_per_view,
            "crystals_per_source_split": cross(crystals),
        },
        "failures": s.failures,
        "failure_examples": s.failure_examples,
        "duplicates_dropped": s.duplicates,
        "build_seconds": round(s.seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
