"""``clac data build``: turn crystal sources into a crystal–text pair dataset.

Output (layout in docs/ARCHITECTURE.md): ``DIR/crystals.parquet`` (one row per crystal),
``DIR/pairs.parquet`` (one row per crystal–text pair) and ``DIR/manifest.json``.

How it runs:
- Sources are read lazily in the main process, in ``--source`` order, and each record is
  reduced to a compact payload (lattice, fractional coordinates, atomic numbers, metadata).
  Records whose id was already seen (the same ``material_id`` in two tables) are dropped:
  the first source wins, and the number dropped is reported.
- Payloads are grouped into fixed-size chunks; chunk ``k`` is the same set of crystals on
  every run with the same arguments. Each chunk is processed by a worker
  (``multiprocessing`` pool, all cores by default): structure -> ``clac_core.text.analyze``
  facts (space group, crystal system) -> ``clac_core.text.describe`` views -> CIF text. A
  failure on one crystal (spglib, a degenerate cell) is counted and the crystal skipped.
- Each finished chunk is written to ``DIR/.parts/NNNNN.crystals.parquet`` and
  ``NNNNN.pairs.parquet`` (temporary file + rename, so a part is either complete or absent).
  A rerun with the same arguments skips chunks whose part exists and holds the same crystal
  ids; Ctrl-C leaves finished parts in place. ``.parts/build.json`` records the arguments; a
  rerun with different ones starts over.
- At the end parts are merged in chunk order, one float column is added per canonical
  quantity present, and ``.parts/`` is removed (``--keep-parts`` keeps it).
- Splits are a pure function of (reduced formula, seed) (:mod:`clac_core.corpus.splits`),
  so they can be computed per chunk.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

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
    chunk_size: int = 200  # crystals per worker task and per part file
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test by formula

    def fingerprint(self) -> dict[str, Any]:
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        d["format_version"] = FORMAT_VERSION
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
# CLI


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``build`` subcommand to ``clac data``."""
    from clac_core.corpus.sources import SPEC_HELP

    sub = p.add_subparsers(dest="data_command", required=True)
    b = sub.add_parser("build", help="build crystals.parquet, pairs.parquet and manifest.json")
    b.add_argument(
        "--source", action="append", required=True, metavar="SPEC", help=f"repeatable: {SPEC_HELP}"
    )
    b.add_argument("--out", required=True, type=Path, help="output folder")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    b.add_argument("--n-decorated", type=int, default=20000, help="crystals from the decorated source")
    b.add_argument("--robocrys", action="store_true", help="also add robocrystallographer texts (slow)")
    b.add_argument("--limit", type=int, default=None, help="at most N crystals per source")
    b.add_argument("--chunk-size", type=int, default=200, help="crystals per task / part file")
    b.add_argument("--keep-parts", action="store_true", help="keep DIR/.parts after merging")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``clac data build``."""
    opts = BuildOptions(
        sources=list(args.source),
        seed=args.seed,
        n_decorated=args.n_decorated,
        robocrys=args.robocrys,
        limit=args.limit,
        chunk_size=args.chunk_size,
    )
    from clac_core.logs import console_logging

    with console_logging(logging.WARNING):
        summary = build_dataset(opts, args.out, workers=args.workers, keep_parts=args.keep_parts)
    print(format_summary(summary, args.out))
    return 0


def format_summary(s: BuildSummary, out: Path) -> str:
    """Human summary of a build."""
    lines = [
        f"wrote {out}: {s.crystals} crystals, {s.pairs} pairs in {s.seconds:.1f} s",
        "  per split:  " + ", ".join(f"{k} {v}" for k, v in s.per_split.items()),
        "  per source: " + ", ".join(f"{k} {v}" for k, v in s.per_source.items()),
        "  per view:   " + ", ".join(f"{k} {v}" for k, v in s.pairs_per_view.items()),
        f"  failures {s.failures}, duplicate ids dropped {s.duplicates}, "
        f"chunks {s.chunks} ({s.chunks_resumed} resumed from parts)",
    ]
    lines += [f"    failed: {e}" for e in s.failure_examples]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# payloads and chunks


def _payload(rec) -> dict[str, Any]:
    from clac_core.record import structure_to_arrays

    return {
        "id": rec.id,
        "source": rec.source,
        "provenance": dict(rec.provenance),
        "properties": dict(rec.properties),
        "labels": dict(rec.labels),
        "hypothetical": bool(rec.hypothetical),
        **structure_to_arrays(rec.structure),
    }


def _iter_payloads(opts: BuildOptions, stats: BuildSummary) -> Iterator[dict[str, Any]]:
    from clac_core.corpus.sources import records_from_spec

    seen: set[str] = set()
    for spec in opts.sources:
        for rec in records_from_spec(spec, seed=opts.seed, n_decorated=opts.n_decorated, limit=opts.limit):
            if rec.id in seen:
                stats.duplicates += 1
                continue
            seen.add(rec.id)
            yield _payload(rec)


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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


# --------------------------------------------------------------------------------------
# per-chunk work (runs in worker processes)


def process_payload(p: dict[str, Any], *, seed: int, robocrys: bool, fractions) -> tuple[dict, list[dict]]:
    """One crystal: facts, texts, CIF. Returns (crystal row, pair rows)."""
    import warnings

    from pymatgen.io.cif import CifWriter

    from clac_core.corpus.splits import split_of
    from clac_core.record import CrystalRecord, structure_from_arrays
    from clac_core.text import analyze, describe

    structure = structure_from_arrays(p["lattice"], p["frac_coords"], p["atomic_numbers"])
    rec = CrystalRecord(
        id=p["id"],
        structure=structure,
        source=p["source"],
        provenance=p["provenance"],
        properties=p["properties"],
        labels=p["labels"],
        hypothetical=p["hypothetical"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        facts = analyze(structure, labels=rec.labels)
        texts = describe(rec, seed=seed, robocrys=robocrys, facts=facts)
        cif = str(CifWriter(structure))
    formula = structure.composition.reduced_formula
    split = split_of(formula, seed=seed, fractions=fractions)
    crystal = {
        "crystal_id": rec.id,
        "formula": formula,
        "source": rec.source,
        "split": split,
        "hypothetical": rec.hypothetical,
        "parent": rec.provenance.get("parent_id"),
        "spacegroup_symbol": facts.spacegroup_symbol,
        "spacegroup_number": int(facts.spacegroup_number),
        "crystal_system": facts.crystal_system,
        "nsites": len(structure),
        "cif": cif,
        "lattice": p["lattice"],
        "frac_coords": p["frac_coords"],
        "atomic_numbers": p["atomic_numbers"],
        "properties": json.dumps(rec.properties, sort_keys=True),
        "labels": json.dumps(rec.labels, sort_keys=True),
        "provenance": json.dumps(rec.provenance, sort_keys=True),
    }
    views = [(d.view, d.text) for d in texts]
    views += [("given", v) for k, v in sorted(rec.provenance.items()) if k.startswith("text:")]
    pairs = [
        {
            "crystal_id": rec.id,
            "text": text,
            "view": view,
            "split": split,
            "formula": formula,
            "source": rec.source,
            "cif": cif,
        }
        for view, text in views
        if text
    ]
    return crystal, pairs


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


def process_chunk(task: tuple[int, list[dict[str, Any]], str, dict[str, Any]]) -> dict[str, Any]:
    """Process one chunk and write its part files. Returns counts and failures."""
    k, payloads, parts_dir, cfg = task
    crystals, pairs, failed = [], [], []
    for p in payloads:
        try:
            c, ps = process_payload(p, seed=cfg["seed"], robocrys=cfg["robocrys"], fractions=cfg["fractions"])
        except Exception as err:  # one bad crystal never stops the build
            failed.append((p["id"], f"{type(err).__name__}: {err}"[:300]))
            continue
        crystals.append(c)
        pairs.extend(ps)
    parts = Path(parts_dir)
    cpath, ppath = _part_paths(parts, k)
    meta = {b"clac_failed_ids": json.dumps([f[0] for f in failed]).encode()}
    _write_table(crystals, CRYSTAL_COLUMNS, cpath, meta)
    _write_table(pairs, PAIR_COLUMNS, ppath)  # written last: its presence marks the part done
    return {"k": k, "crystals": len(crystals), "pairs": len(pairs), "failed": failed}


# --------------------------------------------------------------------------------------
# the build


def build_dataset(
    opts: BuildOptions,
    out: str | Path,
    *,
    workers: int | None = None,
    keep_parts: bool = False,
    after_chunk: Callable[[int], None] | None = None,
    progress: bool = True,
) -> BuildSummary:
    """Build ``out/crystals.parquet``, ``out/pairs.parquet`` and ``out/manifest.json``.

    Args:
        opts: sources, seed and sizes.
        out: output folder (created).
        workers: worker processes; None uses all cores, 1 runs in this process.
        keep_parts: keep ``out/.parts`` after merging.
        after_chunk: called with the chunk number after each finished chunk (tests use it
            to simulate an interruption).
        progress: show a tqdm progress bar.

    Returns:
        BuildSummary of the finished build.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out = Path(out)
    parts = out / PART_DIR
    parts.mkdir(parents=True, exist_ok=True)
    fp_path = parts / "build.json"
    fp = opts.fingerprint()
    if fp_path.exists() and json.loads(fp_path.read_text()) != fp:
        log.warning("%s: parts from a build with other arguments; starting over", parts)
        shutil.rmtree(parts)
        parts.mkdir(parents=True)
    fp_path.write_text(json.dumps(fp, indent=1))

    workers = workers or os.cpu_count() or 1
    cfg = {"seed": opts.seed, "robocrys": opts.robocrys, "fractions": tuple(opts.fractions)}
    summary = BuildSummary()
    failures: list[tuple[str, str]] = []
    bar = tqdm(desc="crystals", unit="crystal", disable=not progress, dynamic_ncols=True)

    def finish(res: dict[str, Any]) -> None:
        failures.extend(res["failed"])
        bar.update(res["crystals"] + len(res["failed"]))
        if after_chunk is not None:
            after_chunk(res["k"])

    tasks = (
        (k, chunk, str(parts), cfg)
        for k, chunk in enumerate(_chunks(_iter_payloads(opts, summary), opts.chunk_size))
    )
    n_chunks = 0
    pool = None
    try:
        if workers > 1:
            import multiprocessing as mp

            pool = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(workers)
        pending: deque = deque()
        for task in tasks:
            n_chunks += 1
            k, chunk = task[0], task[1]
            if _part_done(parts, k, [p["id"] for p in chunk]):
                summary.chunks_resumed += 1
                bar.update(len(chunk))
                continue
            if pool is None:
                finish(process_chunk(task))
                continue
            pending.append(pool.apply_async(process_chunk, (task,)))
            while len(pending) >= 2 * workers:  # bounded: sources stream, memory stays flat
                finish(pending.popleft().get())
        while pending:
            finish(pending.popleft().get())
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()

    summary.chunks = n_chunks
    _merge(parts, n_chunks, out, summary)
    summary.failure_examples = [f"{i}: {m}" for i, m in failures[:5]] or summary.failure_examples
    summary.seconds = time.perf_counter() - t0
    _write_manifest(out, opts, summary)
    if not keep_parts:
        shutil.rmtree(parts)
    return summary


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
