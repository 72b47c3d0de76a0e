"""Add the ``structure_type`` column to an index built before it, in place, and say how long it took.

    python scripts/add_structure_types.py INDEX_DIR

The column is what ``clac index build`` now computes (:func:`clac_core.index.build.structure_columns`,
rules in :mod:`clac_core.vocab.structure_types`); the embeddings, descriptions and manifest are
left as they are. The metadata file is written under a temporary name and swapped in. Prints one
JSON line: the index, the crystals, the seconds taken and the count of each structure type.
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

    from clac_core.index import CorpusIndexError
    from clac_core.index.build import add_structure_types

    def progress(desc: str, done: int, total: int) -> None:
        print(f"{desc}: {done}/{total}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        counts = add_structure_types(args.index_dir, progress=progress)
    except CorpusIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    typed = {k: v for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if k}
    print(json.dumps({"index": args.index_dir, "crystals": sum(counts.values()), "seconds": round(seconds, 1),
                      "with_a_type": sum(typed.values()), "types": typed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
