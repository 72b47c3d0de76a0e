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

This module holds the command and the scheduling; the per-crystal work (payloads, chunks,
rows, part files) is in :mod:`clac_core.corpus.build_chunks` and what is written (options,
summary, schema, parts, merged tables, manifest) in :mod:`clac_core.corpus.build_files`.
Their names are re-exported here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from clac_core.corpus.build_chunks import (  # noqa: F401  (re-exported: benchmarks, tests)
    _chunks,
    _payload,
    process_chunk,
    process_payload,
)
from clac_core.corpus.build_files import (  # noqa: F401  (re-exported: tests, callers)
    CRYSTAL_COLUMNS,
    FORMAT_VERSION,
    PAIR_COLUMNS,
    PART_DIR,
    BuildOptions,
    BuildSummary,
    _merge,
    _part_done,
    _part_paths,
    _schema,
    _write_manifest,
    _write_table,
)

log = logging.getLogger(__name__)


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
    b.add_argument(
        "--search-texts", type=int, default=1, metavar="N",
        help="search-box requests per crystal (view 'search'), each phrased anew (default 1)",
    )
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
        search_texts=args.search_texts,
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
# reading the sources (main process)


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
    t0 = time.perf_counter()
    out = Path(out)
    parts = _start_parts(out / PART_DIR, opts)
    workers = workers or os.cpu_count() or 1
    summary = BuildSummary()
    n_chunks, failures = _run_chunks(opts, parts, summary, workers, after_chunk, progress)

    summary.chunks = n_chunks
    _merge(parts, n_chunks, out, summary)
    summary.failure_examples = [f"{i}: {m}" for i, m in failures[:5]] or summary.failure_examples
    summary.seconds = time.perf_counter() - t0
    _write_manifest(out, opts, summary)
    if not keep_parts:
        shutil.rmtree(parts)
    return summary


def _start_parts(parts: Path, opts: BuildOptions) -> Path:
    """Create ``parts`` and record the build's arguments in ``parts/build.json``; parts left
    by a build with other arguments are removed first."""
    parts.mkdir(parents=True, exist_ok=True)
    fp_path = parts / "build.json"
    fp = opts.fingerprint()
    if fp_path.exists() and json.loads(fp_path.read_text()) != fp:
        log.warning("%s: parts from a build with other arguments; starting over", parts)
        shutil.rmtree(parts)
        parts.mkdir(parents=True)
    fp_path.write_text(json.dumps(fp, indent=1))
    return parts


def _run_chunks(
    opts: BuildOptions,
    parts: Path,
    summary: BuildSummary,
    workers: int,
    after_chunk: Callable[[int], None] | None,
    progress: bool,
) -> tuple[int, list[tuple[str, str]]]:
    """Process every chunk whose part is not already in ``parts``: in this process when
    ``workers`` is 1, else in a pool with at most ``2 * workers`` chunks in flight. Returns
    (number of chunks, failures as (crystal id, message) in chunk order)."""
    from tqdm.auto import tqdm

    cfg = {"seed": opts.seed, "robocrys": opts.robocrys, "fractions": tuple(opts.fractions),
           "search_texts": opts.search_texts}  # fmt: skip
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
            pool = _new_pool(workers)
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
    return n_chunks, failures


def _new_pool(workers: int):
    """A ``multiprocessing`` pool of ``workers`` processes (fork where the platform has it)."""
    import multiprocessing as mp

    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(workers)
