"""Fuzz clac_core.io.read_structures with seeded malformed inputs; print classes x outcomes.

Each input is read in its own forked worker with an address-space limit and a wall-clock
limit (see clac_core.fuzz). Exit status 0 when the targets are met: no uncaught exception,
no input over the time limit, none over the memory limit, no nonsense accepted and no
message showing library internals.

    nice -n 15 python scripts/fuzz_io.py --seed 0 --per-class 60
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter


def main(argv: list[str] | None = None) -> int:
    from clac_core import fuzz

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class", type=int, default=60, help="cases per class (17 classes)")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per input before the worker is killed")
    p.add_argument("--memory-mb", type=float, default=1024.0, help="extra memory a worker may take")
    p.add_argument("--show", type=int, default=3, help="examples printed per bad outcome")
    args = p.parse_args(argv)

    cases = fuzz.generate(args.seed, args.per_class)
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"  {done}/{total} inputs, {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    results = fuzz.run_all(cases, time_limit=args.time_limit, memory_mb=args.memory_mb, progress=progress)
    print(
        f"{len(results)} inputs, seed {args.seed}, {args.per_class} per class; limits {args.time_limit:g} s "
        f"and {args.memory_mb:g} MB per input; {time.perf_counter() - t0:.0f} s in all\n"
    )
    print(fuzz.table(results))
    shown: Counter[str] = Counter()
    for r in results:
        if r.outcome in fuzz.BAD_OUTCOMES and shown[r.outcome] < args.show:
            shown[r.outcome] += 1
            print(f"\n{r.outcome}: {r.case.cls} {r.case.filename!r} ({r.seconds:.2f} s): {r.detail[:300]}")
    ok = fuzz.targets_met(results)
    print(f"\ntargets met: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
