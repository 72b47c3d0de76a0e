"""Prepare the folder that ``benchmarks/gpu_check.sh`` takes to a GPU machine without pymatgen.

Writes, into ``--out`` (keep it out of git, e.g. listed in ``.git/info/exclude``):

* ``element_table.npy``: :func:`clac_core.graph.element_features` as computed here from
  pymatgen (``benchmarks/gpu_entry.py`` serves it there);
* ``minilm_fp16/``: the config's text model with its weights stored as float16 (half the
  bytes to carry) and ``dtype: float32`` in its ``config.json``, so ``from_pretrained``
  (transformers 5 reads the dtype from there) loads float32 parameters again; the values
  are the fp32 weights rounded to fp16 (max abs difference ~1e-3 for MiniLM);
* ``data/``: a ``clac data build`` directory of ``--limit`` crystals per source with its
  graph cache for the config's graph settings already built (``DIR/cache/``), trimmed to the
  columns training reads (no CIFs) and the cache re-saved compressed (``np.load`` reads both).

    python benchmarks/gpu_check_prepare.py --out .gpu_carry --limit 6000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def write_fp16_text_model(name: str, out: Path) -> Path:
    from safetensors.torch import load_file, save_file

    from clac_core.models.text import resolve_text_model

    src = Path(resolve_text_model(name))
    out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(src / "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(half, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    cfg["dtype"] = cfg["torch_dtype"] = "float32"  # load back as float32 parameters
    (out / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    for f in TOKENIZER_FILES:
        if (src / f).is_file():
            shutil.copy(src / f, out / f)
    return out


def write_data(build_dir: Path, out: Path, graph_cfg) -> dict:
    import numpy as np
    import pandas as pd

    from clac_core.data import (
        CRYSTAL_COLUMNS,
        PAIR_COLUMNS,
        graph_cache_path,
        load_data_dir,
        load_graph_cache,
    )

    d = load_data_dir(build_dir)
    graphs = load_graph_cache(d, graph_cfg, progress=False)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    pd.read_parquet(build_dir / "crystals.parquet", columns=list(CRYSTAL_COLUMNS)).to_parquet(
        out / "crystals.parquet", compression="zstd"
    )
    pd.read_parquet(build_dir / "pairs.parquet", columns=list(PAIR_COLUMNS)).to_parquet(
        out / "pairs.parquet", compression="zstd"
    )
    shutil.copy(build_dir / "manifest.json", out / "manifest.json")
    src = graph_cache_path(d, graph_cfg)
    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    with open(out / "cache" / src.name, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return dict(
        crystals=len(d.crystals),
        pairs=len(d.pairs),
        mean_atoms=float(graphs.z.size / max(1, len(graphs))),
        cache=src.name,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path, default=REPO / "configs" / "default_gpu.yaml")
    p.add_argument("--source", action="append", default=None, help="clac data build --source (repeatable)")
    p.add_argument("--limit", type=int, default=6000, help="crystals per source")
    p.add_argument("--build-dir", type=Path, default=REPO / "data" / "gpu_subset")
    args = p.parse_args(argv)
    sources = args.source or ["csv:../shared/data/mp_37k"]

    import numpy as np

    from clac_core.config import load_config
    from clac_core.graph.elements import _element_table_numpy

    cfg = load_config(args.config, [])
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "element_table.npy", _element_table_numpy())
    write_fp16_text_model(cfg.model.text.name, args.out / "minilm_fp16")
    if not (args.build_dir / "pairs.parquet").is_file():
        cmd = [sys.executable, "-m", "clac_core.cli", "data", "build", "--out", str(args.build_dir)]
        cmd += [a for s in sources for a in ("--source", s)] + ["--limit", str(args.limit)]
        subprocess.run(cmd, check=True, cwd=REPO)
    info = write_data(args.build_dir, args.out / "data", cfg.model.graph)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(json.dumps({**info, "out": str(args.out), "out_bytes": size, "cpu_count": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
