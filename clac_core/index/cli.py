"""``clac index build``: embed a corpus with a checkpoint into an index directory."""

from __future__ import annotations

import argparse
import json
import sys
import time

from clac_core.index.build import build_from_args
from clac_core.index.filters import CorpusIndexError
from clac_core.logs import report_skipped


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


def run(args: argparse.Namespace) -> int:
    """Exit 0: all inputs indexed; 1: some were skipped (the rest written) or a user error."""
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
        from clac_core.index.projection import compute_umap

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
