"""Merge crystal-branch runs of one start into one model: the average of their branches.

    python scripts/merge_branches.py runs/default_stage8 runs/default_stage8_s1 --out runs/default_stage8_ens

Each argument is a run folder (its ``best`` checkpoint is read) or a checkpoint folder. See
``clac_core.models.ensemble``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("members", nargs="+", help="run folders (their best/) or checkpoint folders")
    ap.add_argument("--out", required=True, help="checkpoint folder to write")
    args = ap.parse_args(argv)
    from clac_core.models.checkpoint import CheckpointError
    from clac_core.models.ensemble import merge_branches

    paths = [Path(m) / "best" if (Path(m) / "best").is_dir() else Path(m) for m in args.members]
    try:
        out = merge_branches(paths, args.out)
    except (CheckpointError, FileNotFoundError) as exc:
        print(f"merge_branches: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(out), "members": [str(p) for p in paths]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
