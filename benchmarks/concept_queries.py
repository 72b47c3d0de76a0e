"""Concept queries, the model alone: what share of the top 10 has the computed fact the words name.

    python benchmarks/concept_queries.py [--checkpoint assets/model ...] [--index assets/index]

For each checkpoint, each query is embedded by the model's text tower and ranked against the
index's stored crystal embeddings (no parser, no re-rank: the model alone), and the top 10 are
judged by a rule over the index's own columns (dimensionality of the bonded network, structure
type, DFT band gap, elements, energy above the corpus hull). The vanadium column counts top-10
crystals that contain V, the WordPiece confusion of "van der Waals" with vanadium.

This is a **development set**: the queries are the concept queries named in issues 18/19, which
were looked at while the text views were changed. It measures the text tower's reading of
these words, not generalization; the held-out numbers are ``clac eval``'s.

The crystals are the index's stored embeddings, so pass checkpoints whose crystal tower made the
index: the shipped model, or a text-side run from it (``train.locked_crystal``). Prints one JSON
line per checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clac_core.properties import HULL_COLUMN  # noqa: E402
from clac_core.query.rerank import stable_mask  # noqa: E402
from clac_core.vocab.applications import REDOX_METALS  # noqa: E402
from clac_core.vocab.classes import INSULATOR, METALLIC, PHOTOVOLTAIC, WIDE_GAP, ClassWord  # noqa: E402

Rule = Callable[[pd.DataFrame], np.ndarray]


def _has(el: str) -> Rule:
    return lambda m: m["elements"].map(lambda s: el in s.split()).to_numpy()


def _gap(word: ClassWord) -> Rule:
    """The DFT band gap has the class word's interval (the one table the search and the
    training texts read, clac_core.vocab.classes)."""
    return lambda m: m["band_gap"].map(word.contains).to_numpy(dtype=bool)


def _dim(d: int) -> Rule:
    return lambda m: (m["dimensionality"] == d).to_numpy()


def _cathode(m: pd.DataFrame) -> np.ndarray:
    """Li + a redox-active transition metal (vocab.applications) + a band gap (an ionic compound;
    the index stores no anion class)."""
    redox = m["elements"].map(lambda s: bool(REDOX_METALS & set(s.split()))).to_numpy()
    return _has("Li")(m) & redox & (m["band_gap"] > 0).to_numpy()


def _stable(m: pd.DataFrame) -> np.ndarray:
    """The search's "stable" (query.rerank.stable_mask) over the DFT columns alone."""
    cols = {c: m[c].to_numpy() for c in (HULL_COLUMN, "formation_energy_per_atom") if c in m}
    if not cols:
        raise KeyError(HULL_COLUMN)
    return stable_mask(cols, len(m))


# query -> (rule in words, rule)
QUERIES: dict[str, tuple[str, Rule]] = {
    "2D van der Waals material": ("2D bonded network", _dim(2)),
    "layered van der Waals crystal": ("2D bonded network", _dim(2)),
    "material with a van der Waals gap": ("2D bonded network", _dim(2)),
    "layered material": ("2D bonded network", _dim(2)),
    "two-dimensional layered crystal": ("2D bonded network", _dim(2)),
    "chain structure": ("1D bonded network", _dim(1)),
    "one-dimensional chains": ("1D bonded network", _dim(1)),
    "molecular crystal": ("0D bonded network", _dim(0)),
    "cubic perovskite": ("perovskite type, cubic", lambda m: ((m["structure_type"] == "perovskite")
                                                                & (m["crystal_system"] == "cubic")).to_numpy()),
    "spinel oxide": ("spinel type", lambda m: (m["structure_type"] == "spinel").to_numpy()),
    "rock salt compound": ("rock salt type", lambda m: (m["structure_type"] == "rock salt").to_numpy()),
    "Li-ion battery cathode": ("Li + redox-active metal + a band gap", _cathode),
    "photovoltaic absorber": ("band gap 1.1-1.7 eV (vocab PHOTOVOLTAIC)", _gap(PHOTOVOLTAIC)),
    "transparent conducting oxide": ("oxide, wide gap >= 3 eV", lambda m: _has("O")(m) & _gap(WIDE_GAP)(m)),
    "thermoelectric telluride": ("contains Te", _has("Te")),
    "a metal": ("no band gap (vocab METALLIC)", _gap(METALLIC)),
    "an insulator": ("band gap >= 4 eV (vocab INSULATOR)", _gap(INSULATOR)),
    "stable compound": ("on or near the corpus hull where known, else formation energy < 0", _stable),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", action="append", default=None, help="repeatable (default assets/model)")
    ap.add_argument("--index", default="assets/index")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args(argv)
    from clac_core.embed import embed_texts
    from clac_core.models import CLaCModel

    meta = pd.read_parquet(Path(args.index) / "metadata.parquet")
    emb = np.asarray(np.load(Path(args.index) / "embeddings.npy"), dtype=np.float32)  # (N, D)
    truth: dict[str, np.ndarray] = {}
    missing: dict[str, str] = {}
    for q, (_, rule) in QUERIES.items():
        try:
            truth[q] = rule(meta)
        except KeyError as exc:  # an index built before that column existed
            missing[q] = f"the index has no {exc.args[0]} column"
    has_v = _has("V")(meta)
    for ck in args.checkpoint or ["assets/model"]:
        model = CLaCModel.from_checkpoint(ck)
        names = list(truth)
        q = embed_texts(model, names, batch_size=32, progress=False)  # (Q, D)
        top = np.argsort(-(q @ emb.T), axis=1)[:, : args.k]  # (Q, k)
        rows = {
            name: {"rule": QUERIES[name][0], "share": round(float(truth[name][t].mean()), 2),
                   "base": round(float(truth[name].mean()), 3), "with_V": round(float(has_v[t].mean()), 2),
                   "top3": meta["formula"].iloc[t[:3]].tolist()}
            for name, t in zip(names, top, strict=True)
        }  # fmt: skip
        mean = float(np.mean([r["share"] for r in rows.values()])) if rows else float("nan")
        print(json.dumps({"checkpoint": ck, "set": "development (issue 18/19 concept queries)",
                          "mean_share": round(mean, 3), "queries": rows, "skipped": missing}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
