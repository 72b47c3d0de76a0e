"""Write the app's default model + corpus index into assets/ (one command).

    python scripts/make_assets.py --random-init --out assets/                     # placeholder
    python scripts/make_assets.py --checkpoint runs/x/best --out assets/           # trained model
    python scripts/make_assets.py --random-init --out assets/ --sources prototypes decorated --n-decorated 3000
    python scripts/make_assets.py --checkpoint runs/default/best --out assets/ \
        --data-dir data/full --data-sources mp_37k prototype \
        --elastic ../shared/data/mp_37k/elastic.csv.gz --max-descriptions 20000     # the shipped index

Writes ``OUT/model/`` (a checkpoint; with --random-init its config extra says
``"untrained": true``) and ``OUT/index/`` (embeddings float16, metadata, description bank, UMAP
coordinates), then prints the sizes as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def _records(sources: list[str], n_decorated: int, seed: int) -> list:
    """Records for each source; "decorated" is capped at n_decorated."""
    out = []
    for spec in sources:
        if spec == "decorated":
            from clac_core.corpus import iter_decorated

            out.extend(iter_decorated(n_decorated, seed=seed))
        else:
            from clac_core.index import records_from_specs

            out.extend(records_from_specs([spec]))
    return out


# Views kept in the shipped description bank, in order of preference: short, informative texts
# (formula-free captions and property queries, DFT property sentences) are what an uploaded
# crystal's "nearest descriptions" should show; long composition/structure texts are left out.
BANK_VIEWS = ("caption", "properties", "query", "query2")
ELASTIC_COLUMNS = {"K_VRH": "bulk_modulus", "G_VRH": "shear_modulus", "poisson_ratio": "poisson_ratio"}


def _records_from_data_dir(data_dir: str, sources: list[str], elastic: str | None) -> tuple[list, list]:
    """Records of the data dir's ``sources`` (all when empty) + their (text, view, id) pairs in
    :data:`BANK_VIEWS`; elastic moduli merged by material_id when ``elastic`` is given."""
    import pandas as pd

    from clac_core.index import records_from_data_dir

    records, texts = records_from_data_dir(data_dir)
    if sources:
        records = [r for r in records if r.source in set(sources)]
    if elastic:
        e = pd.read_csv(elastic, usecols=["material_id", *ELASTIC_COLUMNS]).set_index("material_id")
        for r in records:
            if r.id in e.index:
                row = e.loc[r.id]
                for col, name in ELASTIC_COLUMNS.items():
                    if pd.notna(row[col]):
                        r.properties[name] = float(row[col])
    ids = {r.id for r in records}
    texts = [t for t in texts if t[2] in ids and t[1] in BANK_VIEWS]
    return records, texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--checkpoint", help="trained checkpoint directory to ship")
    g.add_argument("--random-init", action="store_true", help="placeholder: random weights, labelled untrained")
    ap.add_argument("--config", help="YAML config for --random-init (default: configs/default.yaml if present)")
    ap.add_argument("--out", default="assets", help="assets folder (model/ and index/ are replaced)")
    ap.add_argument("--sources", nargs="+", default=["prototypes", "decorated"], help="corpus source specs")
    ap.add_argument("--data-dir", help="take crystals and texts from a `clac data build` folder instead of --sources")
    ap.add_argument("--data-sources", nargs="*", default=[], help="with --data-dir: keep these sources only")
    ap.add_argument("--elastic", help="with --data-dir: CSV of elastic moduli by material_id (K_VRH, G_VRH, ...)")
    ap.add_argument("--n-decorated", type=int, default=3000, help="decorated crystals to include")
    ap.add_argument("--max-descriptions", type=int, default=4000, help="cap on the description bank")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-umap", action="store_true", help="skip the UMAP precomputation")
    args = ap.parse_args(argv)

    import torch

    from clac_core.config import load_config
    from clac_core.index import build
    from clac_core.index.projection import compute_umap
    from clac_core.models import CLaCModel, save_checkpoint

    t0 = time.perf_counter()
    out = Path(args.out)
    model_dir, index_dir = out / "model", out / "index"
    out.mkdir(parents=True, exist_ok=True)
    if args.random_init:
        cfg_path = args.config or ("configs/default.yaml" if Path("configs/default.yaml").exists() else None)
        cfg = load_config(cfg_path)
        torch.manual_seed(args.seed)
        model = CLaCModel(cfg.model)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        save_checkpoint(
            model, model_dir, step=0,
            extra={"untrained": True, "note": "random initialisation; placeholder for the app", "config": cfg_path},
        )
    else:
        src = Path(args.checkpoint)
        if not src.is_dir():
            print(f"checkpoint {src} is not a directory", file=sys.stderr)
            return 2
        if src.resolve() != model_dir.resolve():
            if model_dir.exists():
                shutil.rmtree(model_dir)
            shutil.copytree(src, model_dir)
    model = CLaCModel.from_checkpoint(model_dir)
    texts = None
    if args.data_dir:
        records, texts = _records_from_data_dir(args.data_dir, args.data_sources, args.elastic)
        sources = [f"{args.data_dir}:{s}" for s in args.data_sources] or [args.data_dir]
    else:
        records = _records(args.sources, args.n_decorated, args.seed)
        sources = args.sources
    print(f"[make_assets] {len(records)} crystals from {sources}", file=sys.stderr)
    idx = build(model, records, checkpoint=model_dir, sources=sources, texts=texts,
                max_descriptions=args.max_descriptions, seed=args.seed,
                feature_cache=Path(args.data_dir) / "cache" if args.data_dir else None)
    if index_dir.exists():
        shutil.rmtree(index_dir)
    idx.save(index_dir)
    if not args.no_umap:
        print("[make_assets] fitting UMAP (first fit compiles numba, ~25 s)", file=sys.stderr)
        compute_umap(idx, index_dir, seed=args.seed)
    sizes = {str(p): _size(p) for p in (model_dir, index_dir)}
    print(json.dumps({
        "model": str(model_dir), "index": str(index_dir), "crystals": len(idx),
        "descriptions": len(idx.descriptions), "bytes": sizes, "total_mb": round(sum(sizes.values()) / 1e6, 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
