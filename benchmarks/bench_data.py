"""Throughput of the data build's per-crystal work (analysis + texts + CIF), robocrys off.

Prints JSON lines: one per stage (single process) and one for the worker pool, in crystals/s,
plus the median time of analyze + describe per crystal against its 40 ms budget,
over a sample of real mp_37k crystals with at most ``--max-sites`` sites. Also times the
decorated source. Usage::

    python benchmarks/bench_data.py [--data ../shared/data] [--n 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--max-sites", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--n-decorated", type=int, default=2000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from pymatgen.io.cif import CifWriter

    from clac_core.corpus.build import _payload, process_chunk, process_payload
    from clac_core.corpus.decorated import iter_decorated
    from clac_core.corpus.tables import iter_csv
    from clac_core.text import analyze, describe

    t = time.perf_counter()
    records = []
    for rec in iter_csv(args.data / "mp_37k", limit=args.n * 4):
        if len(rec.structure) <= args.max_sites:
            records.append(rec)
        if len(records) == args.n:
            break
    n = len(records)
    print(
        json.dumps({"stage": "read_csv_sample", "crystals": n, "seconds": round(time.perf_counter() - t, 2)})
    )

    def rate(label: str, fn) -> None:
        t = time.perf_counter()
        for r in records:
            fn(r)
        dt = time.perf_counter() - t
        print(
            json.dumps(
                {
                    "stage": label,
                    "processes": 1,
                    "crystals": n,
                    "seconds": round(dt, 2),
                    "crystals_per_s": round(n / dt, 1),
                }
            )
        )

    rate("analyze", lambda r: analyze(r.structure, labels=r.labels))
    rate("describe(analyze)", lambda r: describe(r, seed=0))
    per_crystal = []  # the corpus budget is 40 ms per crystal on one core (analysis + texts)
    for r in records:
        t = time.perf_counter()
        describe(r, facts=analyze(r.structure))
        per_crystal.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "stage": "analyze+describe_per_crystal",
                "crystals": n,
                "median_ms": round(1000 * statistics.median(per_crystal), 2),
                "budget_ms": 40,
            }
        )
    )
    rate("cif_writer", lambda r: str(CifWriter(r.structure)))
    payloads = [_payload(r) for r in records]
    t = time.perf_counter()
    for p in payloads:
        process_payload(p, seed=0, robocrys=False, fractions=(0.8, 0.1, 0.1))
    dt = time.perf_counter() - t
    print(
        json.dumps(
            {
                "stage": "build_per_crystal",
                "processes": 1,
                "crystals": n,
                "seconds": round(dt, 2),
                "crystals_per_s": round(n / dt, 1),
            }
        )
    )

    import multiprocessing as mp
    import tempfile

    chunk = max(1, n // (4 * args.workers))
    with tempfile.TemporaryDirectory() as tmp:
        tasks = [
            (k, payloads[i : i + chunk], tmp, {"seed": 0, "robocrys": False, "fractions": (0.8, 0.1, 0.1)})
            for k, i in enumerate(range(0, n, chunk))
        ]
        with mp.get_context("fork").Pool(args.workers) as pool:
            pool.map(process_chunk, tasks[:1])  # warm the workers' imports
            t = time.perf_counter()
            pool.map(process_chunk, tasks)
            dt = time.perf_counter() - t
    print(
        json.dumps(
            {
                "stage": "build_pool",
                "processes": args.workers,
                "crystals": n,
                "seconds": round(dt, 2),
                "crystals_per_s": round(n / dt, 1),
            }
        )
    )

    t = time.perf_counter()
    m = sum(1 for _ in iter_decorated(args.n_decorated, 0))
    dt = time.perf_counter() - t
    print(
        json.dumps(
            {
                "stage": "decorated_source",
                "crystals": m,
                "seconds": round(dt, 2),
                "crystals_per_s": round(m / dt, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
