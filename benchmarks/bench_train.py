"""Training throughput of the real loop (clac_core.train) beside bare baselines; JSON lines.

Measures, on real crystals (first N rows of ``../shared/data/mp_37k/structures.csv.gz``, or
a ``clac data build`` directory via ``--data``):

* ``train_step``: optimizer steps of :class:`clac_core.train.Trainer` (forward, loss, backward,
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


def load_structures(n: int, data: Path | None) -> tuple[list, list[str]]:
    """N structures and one text each (data dir texts, or formula sentences for mp_37k)."""
    if data is not None:
        from clac_core.data import load_data_dir

        d = load_data_dir(data)
        pairs = d.pairs.drop_duplicates("crystal_index").head(n)
        return d.structures(pairs["crystal_index"].tolist()), list(pairs["text"])
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


def bench_trainer(cfg, graphs, texts, device, steps: int, warmup: int) -> dict:

    from clac_core.data import EpochSampler, PairDataset
    from clac_core.train import DistInfo, Trainer

    cfg.train.device = str(device)
    tr = Trainer(cfg, REPO, REPO, DistInfo())
    feats = None
    if tr.cached:
        from clac_core.models.text import text_hidden_size

        rng = np.random.default_rng(0)  # cached features: their values do not change the cost
        feats = rng.normal(size=(len(texts), text_hidden_size(cfg.model.text.name))).astype(np.float32)
    tr.dataset = PairDataset(graphs, np.arange(len(graphs)), texts, feats)
    tr.sampler = EpochSampler(tr.dataset.crystal_index, "pairs", seed=0)
    tr.total_steps = 10_000
    tr._build_model()
    tr.model.train()
    bs = cfg.train.batch_size
    batches = list(tr.sampler.batches(0, bs))
    atoms = []
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        batch = tr.dataset.collate(batches[i % len(batches)]).to(device)
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
        atoms_per_batch=float(np.mean(atoms)),
        trainable_params=trainable,
        hidden_dim=cfg.model.crystal.hidden_dim,
        num_layers=cfg.model.crystal.num_layers,
        amp_bf16=tr.amp,
        final_loss=float(loss.detach()),
    )


def bench_bare_cgconv(cfg, graphs, device, steps: int, warmup: int) -> dict:
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
    n = len(graphs)
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        idx = [(i * bs + j) % n for j in range(bs)]
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
    p.add_argument("--n", type=int, default=1024, help="crystals to load")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--skip-bare", action="store_true")
    args = p.parse_args(argv)

    import torch

    from clac_core.config import load_config
    from clac_core.graph import GraphCache
    from clac_core.train import resolve_device

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = load_config(args.config, args.overrides)
    device = resolve_device(cfg.train.device)
    torch.manual_seed(0)
    t = time.perf_counter()
    structs, texts = load_structures(args.n, args.data)
    graphs = GraphCache.build(structs, cfg.model.graph, num_workers=os.cpu_count() or 1, progress=False)
    common = dict(
        device=str(device),
        config=str(args.config.name),
        n_crystals=len(graphs),
        threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    )
    print(
        json.dumps(
            dict(
                bench="setup",
                seconds=time.perf_counter() - t,
                mean_atoms=float(np.mean([len(s) for s in structs])),
                **common,
            )
        ),
        flush=True,
    )
    results = [bench_trainer(cfg, graphs, texts, device, args.steps, args.warmup)]
    print(json.dumps({**results[-1], **common, "peak_mem_mb": _peak_mb(device)}), flush=True)
    if not args.skip_bare:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        print(
            json.dumps(
                {
                    **bench_bare_cgconv(cfg, graphs, device, args.steps, args.warmup),
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
