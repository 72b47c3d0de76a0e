"""``clac index build`` / ``clac index merge``: embed a corpus with a checkpoint into an index;
``clac index refresh-text``: move an index to a text-side run of its checkpoint
(:mod:`clac_core.index.refresh`).

The build streams its sources in chunks into a work folder (default ``<out>.partial``) and
resumes there after a kill; ``--shard i/n`` embeds one shard's chunks only (a Slurm array task
or Ray task each), and ``clac index merge`` then writes the index (see
:mod:`clac_core.index.stream`). On GPUs the build runs under ``torchrun`` as training does::

    torchrun --standalone --nproc_per_node 8 $(which clac) index build --checkpoint CKPT \
        --source csv:crystals.csv --out index/

each rank embeds shard RANK/WORLD_SIZE into the shared ``--work`` folder on its own device, all
wait at a barrier, and rank 0 merges and writes the index; the same command without torchrun
runs in one process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from clac_core.index.filters import CorpusIndexError
from clac_core.logs import report_skipped

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.training.distributed import DistInfo


def configure_parser(p: argparse.ArgumentParser) -> None:
    from clac_core.corpus.sources import SPEC_HELP

    sub = p.add_subparsers(dest="index_command", required=True)
    b = sub.add_parser("build", help="embed a corpus with a checkpoint into an index directory")
    b.add_argument("--checkpoint", required=True, help="checkpoint directory or file")
    g = b.add_mutually_exclusive_group(required=True)
    g.add_argument("--data", help="a `clac data build` output directory")
    g.add_argument(
        "--source",
        action="append",
        default=[],
        help=f"source spec (repeatable): {SPEC_HELP}",
    )
    b.add_argument("--out", required=True, help="output index directory")
    b.add_argument("--max-descriptions", type=int, default=5000, help="cap on the description bank")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--umap", action="store_true", help="also precompute the 2D map (slow first fit)")
    b.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad CSV row, structure file, frame or entry (default: skip it)",
    )
    b.add_argument("--work", help="folder of finished chunks, kept for a resume (default: OUT.partial)")
    b.add_argument("--chunk-size", type=int, default=4096, help="crystals per chunk (a multiple of 64)")
    b.add_argument("--shard", help="i/n: embed only shard i of n (then `clac index merge`); not under torchrun")
    b.add_argument("--device", default="auto",
                   help="auto (cuda:LOCAL_RANK when CUDA is present, else cpu) | cpu | cuda | cuda:N")
    m = sub.add_parser("merge", help="write the index from the finished chunks of sharded builds")
    m.add_argument("--checkpoint", required=True, help="checkpoint (embeds the description bank)")
    m.add_argument("--work", required=True, help="the --work folder the shards wrote")
    m.add_argument("--out", required=True, help="output index directory")
    m.add_argument("--umap", action="store_true", help="also precompute the 2D map (slow first fit)")
    r = sub.add_parser(
        "refresh-text",
        help="re-embed the description bank for a checkpoint that changed only the text side (train.locked_crystal)",
    )
    r.add_argument("--index", required=True, help="index directory (rewritten in place)")
    r.add_argument("--checkpoint", required=True, help="the new checkpoint")
    r.add_argument("--previous", required=True, help="the checkpoint the index was built with")
    r.add_argument("--umap", action="store_true", help="also fit the 2D map anew (slow first fit)")


def run(args: argparse.Namespace) -> int:
    """Exit 0: all inputs indexed; 1: some were skipped (the rest written) or a user error.

    Under ``torchrun`` a rank other than 0 exits 0 once its shard is done and every rank has
    reached the barrier (torchrun stops the whole job when one rank fails, so a helper rank
    must not fail for rows rank 0 reports); rank 0 reports and exits as one process would.
    """
    from clac_core.training.distributed import dist_from_env

    t0 = time.perf_counter()
    skipped: list[str] = []
    dist = dist_from_env()
    if args.index_command == "refresh-text":
        return _refresh(args)
    try:
        if args.index_command == "merge":
            idx, counts = _merge(args), {}
        else:
            idx, counts = _build(args, skipped, dist)
    except (FileNotFoundError, NotADirectoryError, ValueError, CorpusIndexError) as exc:
        # user errors (missing file or column, bad row with --strict, damaged checkpoint,
        # no usable crystal, missing chunks): one line, no traceback
        report_skipped(f"clac index {args.index_command}", skipped, "inputs")
        print(f"clac index {args.index_command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if args.index_command == "build" and not dist.main:
        print(json.dumps({"rank": dist.rank, **counts}))
        return 0
    report_skipped("clac index build", skipped, "rows/files (left out of the index)")
    line: dict = {"out": str(args.out), **counts, "seconds": round(time.perf_counter() - t0, 1)}
    if idx is not None:
        if args.umap:
            from clac_core.index.projection import compute_umap

            compute_umap(idx, args.out)
        line.update(crystals=len(idx), descriptions=len(idx.descriptions))
    if args.index_command == "build":
        line["skipped"] = len(skipped)
    print(json.dumps(line))
    return 1 if skipped else 0


def _refresh(args: argparse.Namespace) -> int:
    from clac_core.index.refresh import refresh_text_side
    from clac_core.models.checkpoint import CheckpointError

    try:
        line = refresh_text_side(args.index, args.checkpoint, previous=args.previous, umap=args.umap)
    except (FileNotFoundError, CheckpointError, CorpusIndexError) as exc:
        print(f"clac index refresh-text: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(json.dumps(line))
    return 0


def _build(args: argparse.Namespace, skipped: list[str], dist: DistInfo):
    import logging

    from clac_core.index.stream import parse_shard, shard_for, stream_build_from_args
    from clac_core.logs import console_logging
    from clac_core.training.distributed import process_group, resolve_device

    shard = parse_shard(args.shard) if args.shard else None
    shard_for(dist, shard)  # --shard under torchrun: a user error before the process group
    try:
        device = resolve_device(args.device, dist.local_rank)
    except RuntimeError as exc:
        raise CorpusIndexError(f"--device {args.device}: CUDA is not available on this machine") from exc
    # under torchrun the log lines say which rank did what; one process logs warnings only
    with process_group(dist, args.device), console_logging(logging.INFO if dist.enabled else logging.WARNING):
        return stream_build_from_args(
            checkpoint=args.checkpoint,
            out=args.out,
            data=args.data,
            sources=args.source,
            max_descriptions=args.max_descriptions,
            seed=args.seed,
            skipped=skipped,
            strict=args.strict,
            work=args.work,
            chunk_size=args.chunk_size,
            shard=shard,
            device=device,
            dist=dist,
        )


def _merge(args: argparse.Namespace):
    from clac_core.index.stream import merge_chunks
    from clac_core.models import CLaCModel

    return merge_chunks(CLaCModel.from_checkpoint(args.checkpoint), args.work, args.out)
