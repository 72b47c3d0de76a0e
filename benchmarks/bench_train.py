"""Training throughput of the real loop (clac_core.training) beside bare baselines; JSON lines.

Measures, on real crystals (first N rows of ``../shared/data/mp_37k/structures.csv.gz``, or
every pair of the first N crystals of a ``clac data build`` directory via ``--data``; a data
directory reuses its graph cache under ``DIR/cache/`` (built there once if missing), so with the
cache present no pymatgen is needed, e.g. on a GPU machine, see ``benchmarks/gpu_check.sh``):

* ``train_step``: optimizer steps of :class:`clac_core.training.loop.Trainer` (forward, loss, backward,
  clip, AdamW, scheduler) for a config (``--config``, default ``configs/default.yaml``), with
  cached text features (train_mode cached) or the real text tower (top_k / frozen / full).
* ``bare_cgconv``: the same stack of PyG ``CGConv`` layers + mean pool + linear, forward +
  backward + AdamW, no model/loss code of ours (what the crystal side costs at minimum).
* ``bare_text_forward``: a plain ``transformers`` forward of the text model on the same texts
  (what a non-cached text tower costs per pair at minimum, without backward).

Each line: bench, device, batch_size, steps, pairs_per_s, ms_per_step, peak_mem_mb, plus
config details. CUDA is used when present.

    python benchmarks/bench_train.py --config configs/default.yaml --steps 10
    python benchmarks/bench_train.py --config configs/default_gpu.yaml --steps 20 --n 4096
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLAC_SHARED_DATA", REPO.parent / "shared" / "data"))


def _peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_structures(n: int) -> tuple[list, list[str]]:
    """First N structures of mp_37k and one formula sentence each (needs pymatgen)."""
    import pandas as pd
    from pymatgen.core import Structure

    df = pd.read_csv(SHARED / "mp_37k" / "structures.csv.gz", nrows=n)
    structs = [Structure.from_str(c, fmt="cif") for c in df["cif"]]
    texts = [
        f"{s.composition.reduced_formula} is a crystal with {len(s)} atoms in its unit cell and a band gap of "
        f"{bg:.2f} eV."
        for s, bg in zip(structs, df["band_gap"], strict=True)
    ]
    return structs, texts


def load_inputs(n: int, data: Path | None, gcfg) -> tuple[Any, np.ndarray, list[str]]:
    """Graphs, the crystal row of every pair (P,) and the P texts.

    With ``data``: the data dir's graph cache (loaded from ``DIR/cache/``, built there once if
    missing) and every pair (all views) of its first N crystals. Else N mp_37k crystals, one
    text each, graphs built here.
    """
    from clac_core.graph import GraphCache

    workers = os.cpu_count() or 1
    if data is not None:
        from clac_core.data import load_data_dir, load_graph_cache

        d = load_data_dir(data)
        graphs = load_graph_cache(d, gcfg, num_workers=workers, progress=False)
        pairs = d.pairs[d.pairs["crystal_index"] < n]
        return graphs, pairs["crystal_index"].to_numpy(), list(pairs["text"])
    structs, texts = load_structures(n)
    graphs = GraphCache.build(structs, gcfg, num_workers=workers, progress=False)
    return graphs, np.arange(len(graphs)), texts


def bench_trainer(cfg, graphs, crystal_index, texts, device, steps: int, warmup: int) -> dict:
    from clac_core.data import EpochSampler, PairDataset
    from clac_core.training.distributed import DistInfo
    from clac_core.training.loop import Trainer

    cfg.train.device = str(device)
    tr = Trainer(cfg, REPO, REPO, DistInfo())
    feats = None
    if tr.cached:
        from clac_core.models.text import text_hidden_size

        rng = np.random.default_rng(0)  # cached features: their values do not change the cost
        feats = rng.normal(size=(len(texts), text_hidden_size(cfg.model.text.name))).astype(np.float32)
    tr.dataset = PairDataset(graphs, crystal_index, texts, feats)
    tr.sampler = EpochSampler(tr.dataset.crystal_index, "pairs", seed=0)
    tr.total_steps = 10_000
    tr._build_model()
    tr.model.train()
    bs = cfg.train.batch_size
    batches = list(tr.sampler.batches(0, bs))
    atoms = []
    t0 = None
    collate_s = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
            collate_s = 0.0
        tc = time.perf_counter()
        batch = tr.dataset.collate(batches[i % len(batches)]).to(device)
        collate_s += time.perf_counter() - tc
        atoms.append(int(batch.graphs.num_nodes))
        loss = tr._forward_loss(batch)
        loss.backward()
        tr._optimizer_step()
    _sync(device)
    dt = time.perf_counter() - t0
    trainable = sum(p.numel() for p in tr.model.parameters() if p.requires_grad)
    return dict(
        bench="train_step",
        text_mode=cfg.model.text.train_mode,
        batch_size=bs,
        steps=steps,
        pairs_per_s=steps * bs / dt,
        ms_per_step=1000 * dt / steps,
        collate_ms_per_step=1000 * collate_s / steps,  # host-side batching (graphs + to(device))
        atoms_per_batch=float(np.mean(atoms)),
        trainable_params=trainable,
        hidden_dim=cfg.model.crystal.hidden_dim,
        num_layers=cfg.model.crystal.num_layers,
        amp_bf16=tr.amp,
        final_loss=float(loss.detach()),
    )


def bench_bare_cgconv(cfg, graphs, crystal_index, device, steps: int, warmup: int) -> dict:
    import torch
    from torch import nn
    from torch_geometric.nn import CGConv, global_mean_pool

    from clac_core.graph import element_features, gaussian_expand

    h, g = cfg.model.crystal.hidden_dim, cfg.model.graph.num_gaussians
    table = element_features().to(device)
    emb = nn.Linear(table.shape[1], h).to(device)
    convs = nn.ModuleList(
        [CGConv(h, dim=g, aggr="mean", batch_norm=True) for _ in range(cfg.model.crystal.num_layers)]
    ).to(device)
    head = nn.Linear(h, cfg.model.embed_dim).to(device)
    params = [*emb.parameters(), *convs.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    bs = cfg.train.batch_size
    n = len(crystal_index)
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        idx = [int(crystal_index[(i * bs + j) % n]) for j in range(bs)]
        b = graphs.batch(idx).to(device)
        x = emb(table[b.z])
        ea = gaussian_expand(b.edge_dist, cfg.model.graph)
        for conv in convs:
            x = torch.nn.functional.softplus(conv(x, b.edge_index, ea))
        out = head(global_mean_pool(x, b.batch, size=bs))
        loss = out.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(device)
    dt = time.perf_counter() - t0
    return dict(
        bench="bare_cgconv",
        batch_size=bs,
        steps=steps,
        pairs_per_s=steps * bs / dt,
        ms_per_step=1000 * dt / steps,
    )


def bench_bare_text(cfg, texts, device, steps: int, warmup: int) -> dict:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from clac_core.models.text import resolve_text_model

    path = resolve_text_model(cfg.model.text.name)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).to(device).eval()
    bs = cfg.train.batch_size
    use_amp = device.type == "cuda" and cfg.train.amp
    t0 = None
    ntok = []
    with torch.no_grad():
        for i in range(warmup + steps):
            if i == warmup:
                _sync(device)
                t0 = time.perf_counter()
            chunk = [texts[(i * bs + j) % len(texts)] for j in range(bs)]
            enc = tok(
                chunk,
                padding=True,
                truncation=True,
                max_length=cfg.model.text.max_length,
                return_tensors="pt",
            ).to(device)
            ntok.append(int(enc["input_ids"].shape[1]))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                model(**enc)
    _sync(device)
    dt = time.perf_counter() - t0
    return dict(
        bench="bare_text_forward",
        batch_size=bs,
        steps=steps,
        pairs_per_s=steps * bs / dt,
        ms_per_step=1000 * dt / steps,
        tokens=float(np.mean(ntok)),
        amp_bf16=use_amp,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", type=Path, default=REPO / "configs" / "default.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--data", type=Path, default=None, help="a clac data build dir (default: mp_37k rows)")
    p.add_argument("--n", type=int, default=1024, help="crystals to load (their every pair with --data)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--skip-bare", action="store_true")
    args = p.parse_args(argv)

    import torch

    from clac_core.config import load_config
    from clac_core.training.distributed import resolve_device

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = load_config(args.config, args.overrides)
    device = resolve_device(cfg.train.device)
    torch.manual_seed(0)
    t = time.perf_counter()
    graphs, crystal_index, texts = load_inputs(args.n, args.data, cfg.model.graph)
    crystals = np.unique(crystal_index)
    common = dict(
        device=str(device),
        config=str(args.config.name),
        n_crystals=int(crystals.size),
        n_pairs=len(texts),
        threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    )
    print(
        json.dumps(
            dict(
                bench="setup",
                seconds=time.perf_counter() - t,
                mean_atoms=float(np.mean(np.diff(graphs.node_offsets)[crystals])),
                **common,
            )
        ),
        flush=True,
    )
    results = [bench_trainer(cfg, graphs, crystal_index, texts, device, args.steps, args.warmup)]
    print(json.dumps({**results[-1], **common, "peak_mem_mb": _peak_mb(device)}), flush=True)
    if not args.skip_bare:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        print(
            json.dumps(
                {
                    **bench_bare_cgconv(cfg, graphs, crystal_index, device, args.steps, args.warmup),
                    **common,
                    "peak_mem_mb": _peak_mb(device),
                }
            ),
            flush=True,
        )
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        print(
            json.dumps(
                {
                    **bench_bare_text(cfg, texts, device, args.steps, args.warmup),
                    **common,
                    "peak_mem_mb": _peak_mb(device),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
