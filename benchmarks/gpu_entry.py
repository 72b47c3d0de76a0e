"""Run ``bench_train.py`` or a ``clac`` command where pymatgen and spglib are not installed.

For GPU machines without pymatgen (see ``benchmarks/gpu_check.sh``). Over a data directory
whose graph cache is already built (``DIR/cache/graphs-*.npz``, made by ``clac train`` or
``clac_core.data.load_graph_cache`` where pymatgen is installed), the training path needs
pymatgen for one thing only: the element feature table of
:func:`clac_core.graph.element_features`, which is computed from pymatgen's periodic table.
This entry point loads that table from an ``.npy`` written beforehand and makes every other
import of pymatgen / spglib fail at once (``ModuleNotFoundError``), so a missed use shows up
instead of being papered over.

    # where pymatgen is installed
    python benchmarks/gpu_entry.py --export-table element_table.npy
    # on the GPU machine
    python benchmarks/gpu_entry.py --element-table element_table.npy \\
        bench --config configs/default_gpu.yaml --data DIR --steps 30
    python benchmarks/gpu_entry.py --element-table element_table.npy \\
        clac train --config configs/default_gpu.yaml --data DIR --out RUN
    python benchmarks/gpu_entry.py --element-table element_table.npy \\
        check-checkpoint RUN/best --data DIR

Run it by path (``python benchmarks/gpu_entry.py``), not with ``-m``: the ``clac_core`` it
uses is the one of the checkout this file sits in.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import runpy
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCKED = ("pymatgen", "spglib")


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuses the blocked top-level packages (and everything under them)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ARG002
        if fullname.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{fullname} is blocked by benchmarks/gpu_entry.py", name=fullname)
        return None


def block_imports() -> None:
    """Make ``import pymatgen`` / ``import spglib`` fail (also when they are installed)."""
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            raise RuntimeError(f"{name} was imported before gpu_entry could block it")
    sys.meta_path.insert(0, _Blocker())


def use_element_table(path: Path) -> None:
    """Serve :func:`clac_core.graph.element_features` from a saved ``(119, F)`` float32 table."""
    import numpy as np

    from clac_core.graph import elements

    table = np.load(path, allow_pickle=False)
    if table.ndim != 2 or table.shape[0] != elements.MAX_Z + 1 or table.dtype != np.float32:
        raise ValueError(
            f"{path}: expected a ({elements.MAX_Z + 1}, F) float32 table, got {table.shape} {table.dtype}"
        )
    elements._element_table_numpy = lambda: table  # element_features() looks the name up per call


def check_checkpoint(ckpt: Path, data: Path, n: int = 256) -> dict:
    """Reload a trained checkpoint on the training device and embed N val pairs with it.

    Returns the retrieval metrics of those pairs (:func:`clac_core.training.validate.retrieval_metrics`)
    and a few facts of the reloaded model, as a dict (printed as one JSON line).
    """
    import numpy as np
    import torch

    from clac_core.data import eval_pool, load_data_dir, load_graph_cache
    from clac_core.models.clip import CLaCModel
    from clac_core.training.distributed import resolve_device
    from clac_core.training.validate import retrieval_metrics

    device = resolve_device("auto")
    t = time.perf_counter()
    model = CLaCModel.from_checkpoint(ckpt, device=device)
    load_s = time.perf_counter() - t
    d = load_data_dir(data)
    graphs = load_graph_cache(d, model.cfg.graph, progress=False)
    pool = eval_pool(d.pairs, "val", max_crystals=n, seed=0)
    with torch.no_grad():
        b = graphs.batch(pool["crystal_index"].tolist()).to(device)
        cr = model.encode_crystal(b).float()
        tx = model.encode_text(list(pool["text"])).float()
    dtypes = sorted({str(p.dtype) for p in model.parameters()})
    return dict(
        bench="check_checkpoint",
        checkpoint=str(ckpt),
        device=str(device),
        load_seconds=load_s,
        param_dtypes=dtypes,
        text_train_mode=model.cfg.text.train_mode,
        stored_text_prefixes=model.checkpoint_meta.get("stored_text_prefixes"),
        pool=len(pool),
        finite=bool(torch.isfinite(cr).all() and torch.isfinite(tx).all()),
        norm_mean=float(np.mean(cr.norm(dim=-1).cpu().numpy())),
        **{f"val_{k}": v for k, v in retrieval_metrics(tx, cr).items()},
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--export-table"] and len(argv) == 2:
        import numpy as np

        from clac_core.graph.elements import _element_table_numpy

        np.save(argv[1], _element_table_numpy())
        print(f"wrote {argv[1]}")
        return 0
    if len(argv) < 3 or argv[0] != "--element-table":
        print(__doc__, file=sys.stderr)
        return 2
    table, command, rest = Path(argv[1]), argv[2], argv[3:]
    sys.path.insert(0, str(REPO))
    block_imports()
    use_element_table(table)
    import clac_core

    print(
        f"gpu_entry: clac_core from {Path(clac_core.__file__).parent}, pymatgen/spglib blocked",
        file=sys.stderr,
    )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if command == "bench":
        sys.argv = [str(REPO / "benchmarks" / "bench_train.py"), *rest]
        runpy.run_path(sys.argv[0], run_name="__main__")  # exits through sys.exit(main())
        return 0
    if command == "clac":
        from clac_core.cli import main as clac_main

        return clac_main(rest)
    if command == "check-checkpoint":
        import argparse

        p = argparse.ArgumentParser(prog="gpu_entry.py check-checkpoint")
        p.add_argument("checkpoint", type=Path)
        p.add_argument("--data", type=Path, required=True)
        p.add_argument("--n", type=int, default=256)
        a = p.parse_args(rest)
        print(json.dumps(check_checkpoint(a.checkpoint, a.data, a.n)), flush=True)
        return 0
    print(f"unknown command {command!r} (bench, clac, check-checkpoint)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
