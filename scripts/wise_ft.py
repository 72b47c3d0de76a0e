"""Weight-space ensemble of a checkpoint and its text-side run (WiSE-FT; clac_core.models.wise).

    python scripts/wise_ft.py --start runs/default_stage3/best --tuned runs/default_lit/best \
        --alpha 0.5 --out runs/default_wise

Writes OUT: the tuned checkpoint with every text-side tensor set to (1 - alpha) * start +
alpha * tuned; the crystal side (identical in both, checked) is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", required=True, help="the checkpoint the text-side run started from")
    ap.add_argument("--tuned", required=True, help="the text-side run's checkpoint")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the tuned text side (default 0.5)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    from clac_core.models.checkpoint import CheckpointError
    from clac_core.models.wise import interpolate_text_side

    try:
        out = interpolate_text_side(args.start, args.tuned, args.alpha, args.out)
    except (CheckpointError, FileNotFoundError) as exc:
        print(f"wise_ft: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(out), "alpha": args.alpha}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
