"""Ablation of the property-language design (issue 11), on a budget that fits 2 CPU cores.

Trains one short run per variant on the same subsample of a ``clac data build`` folder (same
seed, same pairs budget), then scores each on the test split with the ``inverse_design`` and
``zero_shot`` sections of ``clac eval`` (``--formula-free`` adds that section). Prints one JSON line per variant
and writes them to ``OUT/ablation.jsonl`` (the table in docs/MODEL_NOTES.md is made from it).

    python scripts/ablate_property_language.py --data data/full --out runs/ablation

Variants (each adds to the previous unless said):
  base        no property-query views, no quantity features, no aux head (the old recipe)
  +views      formula-free property-query views in the training texts
  +quantities number-aware text features (model.text.quantities)
  +aux        multi-task property head on the crystal tower (the shipped recipe)
  views+aux   property-query views and aux head, without quantity features

Run it after ``clac eval`` has cached the test texts' features in DATA/cache (only one process
should write that cache at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

AUX = "model.aux_properties=[band_gap,formation_energy_per_atom,total_magnetization,density]"
VARIANTS: dict[str, tuple[bool, list[str]]] = {  # name -> (property-query views?, overrides)
    "base": (False, ["model.text.quantities=false", "model.aux_properties=[]", "loss.aux_weight=0.0"]),
    "+views": (True, ["model.text.quantities=false", "model.aux_properties=[]", "loss.aux_weight=0.0"]),
    "+quantities": (True, ["model.text.quantities=true", "model.aux_properties=[]", "loss.aux_weight=0.0"]),
    "+aux": (True, ["model.text.quantities=true", AUX, "loss.aux_weight=1.0"]),
    "views+aux": (True, ["model.text.quantities=false", AUX, "loss.aux_weight=1.0"]),
}


def no_query_dir(data: Path, out: Path) -> Path:
    """``out``: the data dir without the property-query views (crystals and caches shared)."""
    import pandas as pd

    from clac_core.text.query_views import QUERY_VIEWS

    out.mkdir(parents=True, exist_ok=True)
    for name in ("crystals.parquet", "manifest.json", "cache"):
        link = out / name
        if not link.exists():
            link.symlink_to((data / name).resolve())
    pairs = pd.read_parquet(data / "pairs.parquet")
    pairs[~pairs["view"].isin(QUERY_VIEWS)].to_parquet(out / "pairs.parquet", index=False)
    return out


def summarize(res: dict) -> dict:
    inv = res.get("inverse_design", {})
    out: dict = {}
    for prop in ("band_gap", "formation_energy_per_atom", "density"):
        r = inv.get(prop, {})
        if "template" not in r:
            continue
        for k in ("top10", "top50"):
            out[f"{prop}_{k}_MAE"] = r["template"]["model"][k]["MAE"]
            out[f"{prop}_{k}_random"] = r["random"][k]["MAE"]
        out[f"{prop}_top10_r"] = r["template"]["model"]["top10"]["pearson_r"]
        out[f"{prop}_phrasings_top10_MAE"] = r["phrasings_mean"]["model"]["top10"]["MAE"]
    zs = res.get("zero_shot", {})
    for task in ("metal_vs_insulator", "gap_size", "crystal_system"):
        if isinstance(zs.get(task), dict):
            out[f"zs_{task}"] = zs[task].get("accuracy")
    ff = res.get("formula_free", {})
    if ff:
        m = ff["model"]["text_to_crystal"].get("pool_1000") or next(iter(ff["model"]["text_to_crystal"].values()))
        out["formula_free_t2c_R@10"] = m["R@10"]
        out["formula_free_ratio"] = next(iter(ff["ratios"]["text_to_crystal"].values()))["R@10"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/full"))
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-pairs", type=int, default=60000, help="training pairs subsample (same for all)")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--pools", default="1000")
    ap.add_argument("--formula-free", action="store_true", help="also score formula-free retrieval (slower)")
    a = ap.parse_args(argv)

    from clac_core.evaluation.context import EvalOptions, Section
    from clac_core.evaluation.formula_free import announce_formula_free, formula_free_section
    from clac_core.evaluation.inverse_design import announce_inverse_design, inverse_design_section
    from clac_core.evaluation.metrics import parse_pools
    from clac_core.evaluation.pipeline import load_context, run_sections
    from clac_core.evaluation.zero_shot import zero_shot_section

    a.out.mkdir(parents=True, exist_ok=True)
    nq = no_query_dir(a.data, a.out / "data_no_query")
    sections = [
        Section("zero_shot", zero_shot_section),
        Section("inverse_design", inverse_design_section, announce_inverse_design),
    ]
    if a.formula_free:
        sections.append(Section("formula_free", formula_free_section, announce_formula_free))
    log = a.out / "ablation.jsonl"
    for name in a.variants:
        views, overrides = VARIANTS[name]
        run = a.out / name.replace("+", "plus_")
        t0 = time.time()
        if not (run / "best" / "model.safetensors").is_file():
            cmd = [sys.executable, "-m", "clac_core.cli", "train", "--config", a.config,
                   "--data", str(a.data if views else nq), "--out", str(run),
                   "--set", f"train.epochs={a.epochs}", "--set", f"train.max_pairs={a.max_pairs}"]
            for o in overrides:
                cmd += ["--set", o]
            subprocess.run(cmd, check=True)
        train_s = time.time() - t0
        opts = EvalOptions(split="test", pools=parse_pools(a.pools), repeats=1, probe_epochs=0, progress=False)
        ctx = load_context(run / "best", str(a.data), opts)
        run_sections(ctx, sections)
        row = {"variant": name, "train_seconds": round(train_s, 1), "epochs": a.epochs,
               "max_pairs": a.max_pairs, **summarize(ctx.results)}
        (run / "ablation_results.json").write_text(json.dumps(ctx.results, default=float, indent=1))
        print(json.dumps(row), flush=True)
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
