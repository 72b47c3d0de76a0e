"""Add the energy-above-hull column to an index built before it, in place, and say how long it took.

    python scripts/add_corpus_hull.py INDEX_DIR

The column is what ``clac index build`` now computes (:func:`clac_core.index.hull.with_hull_column`:
each crystal's energy above the convex hull of the index's own crystals, from their DFT formation
energies); the embeddings, descriptions and manifest are left as they are. The metadata file is
written under a temporary name and swapped in. Prints one JSON line: the index, the crystals with
a value, the seconds taken and how many lie on or near the hull.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", help="an index directory (holds metadata.parquet)")
    args = ap.parse_args(argv)

    import warnings

    import pandas as pd

    from clac_core.index import CorpusIndexError
    from clac_core.index.build import add_corpus_hull
    from clac_core.properties import HULL_COLUMN
    from clac_core.vocab.classes import NEAR_HULL

    def progress(desc: str, done: int, total: int) -> None:
        print(f"{desc}: {done}/{total} chemical systems", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():  # pymatgen: "No Pauling electronegativity for He" and the like
            warnings.simplefilter("ignore", UserWarning)
            n = add_corpus_hull(args.index_dir, progress=progress)
    except CorpusIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    eh = pd.read_parquet(f"{args.index_dir}/metadata.parquet", columns=[HULL_COLUMN])[HULL_COLUMN]
    print(json.dumps({"index": args.index_dir, "crystals_with_a_value": n, "seconds": round(seconds, 1),
                      "near_hull": int((eh <= NEAR_HULL).sum()), "near_hull_ev_per_atom": NEAR_HULL}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
