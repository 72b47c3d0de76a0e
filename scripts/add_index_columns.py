"""Add the columns ``clac index build`` now computes to an index built before them, in place.

    python scripts/add_index_columns.py INDEX_DIR [--column structure_type|energy_above_hull ...]

- ``structure_type``: each stored structure analysed as at build time
  (:func:`clac_core.index.build.add_structure_types`, rules in :mod:`clac_core.vocab.structure_types`);
- ``energy_above_hull``: each crystal's energy above the convex hull of the index's own crystals,
  from their DFT formation energies (:func:`clac_core.index.build.add_corpus_hull`).

The embeddings, descriptions and manifest are left as they are; the metadata file is written
under a temporary name and swapped in. Prints one JSON line per column: the index, the seconds
taken and what the column holds (the count of each structure type; the crystals with a hull
distance and how many lie within 25 meV/atom of the hull).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

COLUMNS = ("structure_type", "energy_above_hull")


def _summary(column: str, index_dir: str, result: object) -> dict[str, object]:
    if column == "structure_type":
        counts: dict[str, int] = result  # type: ignore[assignment]
        typed = {k: v for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if k}
        return {"crystals": sum(counts.values()), "with_a_type": sum(typed.values()), "types": typed}
    import pandas as pd

    from clac_core.vocab.classes import NEAR_HULL

    eh = pd.read_parquet(f"{index_dir}/metadata.parquet", columns=[column])[column]
    return {"crystals_with_a_value": result, "near_hull": int((eh <= NEAR_HULL).sum()), "near_hull_ev_per_atom": NEAR_HULL}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", help="an index directory (holds metadata.parquet)")
    ap.add_argument("--column", action="append", choices=COLUMNS, help="the column(s) to add (default: both)")
    args = ap.parse_args(argv)

    from clac_core.index import CorpusIndexError
    from clac_core.index.build import add_corpus_hull, add_structure_types

    def progress(desc: str, done: int, total: int) -> None:
        print(f"{desc}: {done}/{total}", file=sys.stderr, flush=True)

    add = {"structure_type": add_structure_types, "energy_above_hull": add_corpus_hull}
    for column in args.column or COLUMNS:
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():  # pymatgen: "No Pauling electronegativity for He" and the like
                warnings.simplefilter("ignore", UserWarning)
                result = add[column](args.index_dir, progress=progress)
        except CorpusIndexError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        seconds = round(time.perf_counter() - t0, 1)
        print(json.dumps({"index": args.index_dir, "column": column, "seconds": seconds,
                          **_summary(column, args.index_dir, result)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
