"""Compare two `clac eval` results.json files metric by metric (model card vs a re-run).

    python scripts/compare_results.py assets/eval/results.json runs/eval_check/results.json
    python scripts/compare_results.py A.json B.json --tol 0.02 --rel-tol-mae 0.1

Prints one line per metric (reference, other, difference, ok) and exits 1 if any metric is
outside tolerance or present in only one file. See clac_core.evaluation.report.compare_results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clac_core.evaluation.report import compare_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reference", type=Path)
    p.add_argument("other", type=Path)
    p.add_argument("--tol", type=float, default=0.01, help="absolute tolerance for scores in [0, 1]")
    p.add_argument("--rel-tol-mae", type=float, default=0.05, help="relative tolerance for probe MAEs")
    args = p.parse_args(argv)
    try:
        ref, other = (json.loads(f.read_text()) for f in (args.reference, args.other))
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: cannot read results: {e}", file=sys.stderr)
        return 2
    rows = compare_results(ref, other, tol=args.tol, rel_tol_mae=args.rel_tol_mae)

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    width = max((len(r["metric"]) for r in rows), default=10)
    print(f"{'metric':<{width}}  {'reference':>9}  {'other':>9}  {'diff':>8}  ok")
    for r in rows:
        print(f"{r['metric']:<{width}}  {f(r['reference']):>9}  {f(r['other']):>9}  {f(r['diff']):>8}  "
              f"{'yes' if r['ok'] else 'NO'}")
    bad = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(bad)}/{len(rows)} metrics within tolerance "
          f"(scores ±{args.tol}, MAE ±{args.rel_tol_mae:.0%})")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
