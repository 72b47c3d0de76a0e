"""Ablation of the crystal tower (issue 18): CGCNN vs frozen CHGNet features vs both.

Trains one run per tower on the same data, split, seed and pairs budget (chemical-system split
by default), then scores each on that split's test crystals: the aux head's band-gap and
formation-energy MAE beside a mean predictor (the test values' mean, as ``clac eval``'s
property-aware section does), and band-gap / formation-energy inverse design (CLaC's
template, top 10 and 50, beside random k) from the ``inverse_design`` section of ``clac eval``.
Prints one JSON line per tower and appends them to ``OUT/ablation.jsonl``.

    python scripts/ablate_crystal_tower.py --data data/full --out runs/tower_ablation

The CHGNet features of every crystal are computed once into DATA/cache (about 8 minutes for
40k crystals on 2 cores) and shared by both CHGNet towers. Run one ablation at a time per
data dir (one writer per cache).
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

TOWERS = ("cgcnn", "chgnet", "cgcnn+chgnet")
AUX_PROPS = ("band_gap", "formation_energy_per_atom")


def train(a: argparse.Namespace, tower: str, run: Path) -> float:
    """``clac train`` for one tower (skipped when ``run/best`` exists); returns seconds."""
    t0 = time.time()
    if (run / "best" / "model.safetensors").is_file():
        return 0.0
    sets = [
        f"model.crystal.kind={tower}",
        f"train.split={a.split}",
        f"train.epochs={a.epochs}",
        f"train.max_pairs={a.max_pairs}",
        *a.set,
    ]
    cmd = [sys.executable, "-m", "clac_core.cli", "train", "--config", a.config, "--data", str(a.data)]
    cmd += ["--out", str(run)] + [x for s in sets for x in ("--set", s)]
    subprocess.run(cmd, check=True)
    return time.time() - t0


def aux_errors(ctx) -> dict:
    """Aux-head MAE per property beside the mean predictor, on the evaluated crystals."""
    import numpy as np

    from clac_core.embed import predict_graphs
    from clac_core.evaluation.inverse_design import property_values

    names = list(ctx.model.cfg.aux_properties)
    pred = predict_graphs(ctx.model, ctx.graphs)  # (N, K) physical units
    out: dict = {}
    for prop in AUX_PROPS:
        if prop not in names:
            continue
        y = property_values(ctx.es.properties, ctx.es.structures, prop)
        p = pred[:, names.index(prop)]
        p = np.clip(p, 0, None) if prop == "band_gap" else p
        ok = np.isfinite(y)
        if ok.sum() >= 2:
            out[f"{prop}_aux_MAE"] = float(np.abs(p[ok] - y[ok]).mean())
            out[f"{prop}_mean_predictor_MAE"] = float(np.abs(y[ok] - y[ok].mean()).mean())
            out[f"{prop}_n"] = int(ok.sum())
    return out


def inverse_design_numbers(res: dict) -> dict:
    out: dict = {}
    for prop in AUX_PROPS:
        r = res.get(prop, {})
        if "template" not in r:
            out[f"{prop}_inverse_design"] = r.get("skipped", "not scored")
            continue
        for k in ("top10", "top50"):
            m = r["template"]["model"][k]
            out[f"{prop}_{k}_MAE"] = m["MAE"]
            out[f"{prop}_{k}_random"] = r["random"][k]["MAE"]
            out[f"{prop}_{k}_x_random"] = m["MAE"] / r["random"][k]["MAE"] if r["random"][k]["MAE"] else None
            out[f"{prop}_{k}_r"] = m.get("pearson_r")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data/full"))
    ap.add_argument("--out", type=Path, default=Path("runs/tower_ablation"))
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--split", choices=("formula", "chemsys"), default="chemsys")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-pairs", type=int, default=15000, help="training pairs subsample (same for all)")
    ap.add_argument("--towers", nargs="*", default=list(TOWERS), choices=TOWERS)
    ap.add_argument("--limit", type=int, default=None, help="test crystals scored (default: all)")
    ap.add_argument("--set", action="append", default=[], help="extra config override for every run")
    a = ap.parse_args(argv)

    from clac_core.evaluation.context import EvalOptions
    from clac_core.evaluation.inverse_design import inverse_design_section
    from clac_core.evaluation.pipeline import load_context

    a.out.mkdir(parents=True, exist_ok=True)
    for tower in a.towers:
        run = a.out / tower.replace("+", "_plus_")
        train_s = train(a, tower, run)
        t0 = time.time()
        opts = EvalOptions(split="test", split_kind=a.split, limit=a.limit, pools=(100,), repeats=1,
                           probe_epochs=0, progress=False)  # fmt: skip
        ctx = load_context(run / "best", str(a.data), opts)
        row = {"tower": tower, "split": a.split, "epochs": a.epochs, "max_pairs": a.max_pairs,
               "test_crystals": len(ctx.es), "train_seconds": round(train_s, 1)}  # fmt: skip
        row.update(aux_errors(ctx))
        row.update(inverse_design_numbers(inverse_design_section(ctx)))
        row["eval_seconds"] = round(time.time() - t0, 1)
        print(json.dumps(row), flush=True)
        with open(a.out / "ablation.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
