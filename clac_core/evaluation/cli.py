"""``clac eval``: parse the flags, run :func:`~clac_core.evaluation.pipeline.evaluate`, write reports.

Usage::

    clac eval --checkpoint CKPT --data DIR|csv:PATH|cifs:PATH [--split test] [--text-column NAME]
              [--pools 100,1000,all] [--repeats 5] [--seed 0] [--limit N] [--second csv:PATH]
              [--out results.json]

Writes ``results.json`` and ``results.md`` (same folder); the layout is described in
:mod:`clac_core.evaluation`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from clac_core.evaluation.metrics import DIRECTIONS, parse_pools


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="CLaC checkpoint directory")
    p.add_argument("--data", required=True,
                   help="`clac data build` folder, or a source spec: csv:PATH / cifs:PATH / extxyz:PATH / "
                   "mpjson:PATH / alexandria:PATH")
    p.add_argument(
        "--split",
        default=None,
        help="split to evaluate (data dir default: test; a source spec default: all rows)",
    )
    p.add_argument(
        "--split-kind",
        choices=("formula", "chemsys"),
        default=None,
        help="group the split by reduced formula or by chemical system (default: the split the "
        "checkpoint was trained on, else formula)",
    )
    p.add_argument("--text-column", default=None, help="csv: column whose texts are the queries/captions")
    p.add_argument("--pools", default="100,1000,all", help="retrieval pool sizes, e.g. 100,1000,all")
    p.add_argument("--repeats", type=int, default=5, help="random pools per size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate at most this many crystals")
    p.add_argument(
        "--second", default=None, help="second corpus spec (never trained on) for leakage.second_corpus"
    )
    p.add_argument(
        "--second-limit", type=int, default=None, help="crystals of the second corpus (default: --limit)"
    )
    p.add_argument("--probe-epochs", type=int, default=5, help="epochs of the supervised baseline (0 = skip)")
    p.add_argument("--queries", default=None, help="free-text queries YAML (default: packaged)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--out", default="results.json", help="results JSON (Markdown written beside it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from clac_core.evaluation.pipeline import evaluate
    from clac_core.evaluation.report import write_results
    from clac_core.logs import console_logging

    try:
        pools = parse_pools(args.pools)
        if args.repeats < 1:
            raise ValueError("--repeats must be >= 1")
        with console_logging(logging.INFO if not args.no_progress else logging.WARNING):
            results = evaluate(
                args.checkpoint,
                args.data,
                split=args.split,
                split_kind=args.split_kind,
                text_column=args.text_column,
                pools=pools,
                repeats=args.repeats,
                seed=args.seed,
                limit=args.limit,
                second=args.second,
                second_limit=args.second_limit,
                probe_epochs=args.probe_epochs,
                device=args.device,
                batch_size=args.batch_size,
                queries_path=args.queries,
                progress=not args.no_progress,
            )
    except (FileNotFoundError, ValueError) as exc:
        print(f"clac eval: error: {exc}", file=sys.stderr)
        return 2
    out, md = write_results(results, args.out)
    r = results["retrieval"]
    for d in DIRECTIONS:
        for pool, x in r[d].items():
            print(
                f"{d:16s} {pool:9s} (n={x['pool_size']}) R@1 {x['R@1']:.3f} R@10 {x['R@10']:.3f} MRR {x['MRR']:.3f}"
            )
    from clac_core.evaluation.inverse_design import plot_inverse_design

    fig = plot_inverse_design(results, Path(out).with_name("inverse_design.png"))
    print(f"wrote {out} and {md}" + (f" and {fig}" if fig else ""))
    return 0
