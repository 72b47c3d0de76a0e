"""Encoder speed and memory, printed as JSON lines.

Measures, on real Materials Project crystals (``mp_37k``):

* graph building (structures/s, from parsed ``Structure`` objects; serial and 2 processes),
* crystal encoder inference (crystals/s from prebuilt graphs) beside a bare
  torch_geometric CGConv stack of the same layers in the same run,
* text embedding through ``HFTextEncoder.embed`` beside a bare transformers forward +
  mean pooling of the same model,
* peak memory (``ru_maxrss``; ``torch.cuda.max_memory_allocated`` on GPU) and CUDA
  numbers when a GPU is present.

Usage::

    python benchmarks/bench_encoders.py --data ../shared/data --n 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def emit(**record: Any) -> None:
    print(json.dumps(record), flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def best_time(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def load_structures(data: Path, n: int) -> list[Any]:
    import pandas as pd
    from pymatgen.core import Structure

    df = pd.read_csv(data / "mp_37k" / "structures.csv.gz", nrows=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(c, fmt="cif") for c in df["cif"]]


def bare_cgconv_stack(cfg: Any, graph_cfg: Any) -> Any:
    """The same layers as CGCNNEncoder written directly against torch_geometric."""
    import torch
    from torch import nn
    from torch_geometric.nn import CGConv, global_mean_pool

    from clac_core.graph import element_features, gaussian_expand

    class Bare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            table = element_features()
            self.register_buffer("table", table)
            self.embed = nn.Linear(table.shape[1], cfg.hidden_dim)
            self.convs = nn.ModuleList(
                [
                    CGConv(cfg.hidden_dim, dim=graph_cfg.num_gaussians, aggr="mean", batch_norm=True)
                    for _ in range(cfg.num_layers)
                ]
            )
            self.head = nn.Sequential(
                nn.Linear(cfg.hidden_dim, cfg.out_dim), nn.Softplus(), nn.Linear(cfg.out_dim, cfg.out_dim)
            )

        def forward(self, b: Any) -> torch.Tensor:
            x = self.embed(self.table[b.z])
            ea = gaussian_expand(b.edge_dist, graph_cfg)
            for conv in self.convs:
                x = torch.nn.functional.softplus(conv(x, b.edge_index, ea))
            return self.head(global_mean_pool(x, b.batch, size=b.num_graphs))

    return Bare()


def bench_graphs(structures: list[Any], graph_cfg: Any) -> list[Any]:
    from clac_core.graph import GraphCache, structure_to_graph

    n = len(structures)
    structure_to_graph(structures[0], graph_cfg)  # warm-up: first call imports torch_geometric
    t = time.perf_counter()
    graphs = [structure_to_graph(s, graph_cfg) for s in structures]
    dt = time.perf_counter() - t
    emit(
        bench="graph_build",
        mode="serial",
        structures=n,
        seconds=round(dt, 3),
        structures_per_s=round(n / dt, 1),
        mean_atoms=round(sum(g.num_nodes for g in graphs) / n, 1),
        mean_edges=round(sum(g.edge_index.shape[1] for g in graphs) / n, 1),
        target_per_s=1000,
    )
    t = time.perf_counter()
    cache = GraphCache.build(structures, graph_cfg, num_workers=2, progress=False)
    dt = time.perf_counter() - t
    emit(
        bench="graph_build",
        mode="GraphCache.build num_workers=2",
        structures=len(cache),
        seconds=round(dt, 3),
        structures_per_s=round(n / dt, 1),
        target_per_s=1000,
    )
    return graphs


def bench_crystal(graphs: list[Any], device: str, batch_size: int, repeats: int) -> None:
    import torch

    from clac_core.config import ModelConfig
    from clac_core.graph import collate
    from clac_core.models import CLaCModel

    cfg = ModelConfig()
    batches = [collate(graphs[i : i + batch_size]).to(device) for i in range(0, len(graphs), batch_size)]
    n = len(graphs)
    for kind in ("cgcnn", "schnet"):
        cfg.crystal.kind = kind
        torch.manual_seed(0)
        model = CLaCModel(cfg, load_text_backbone=False).to(device).eval()

        def run_model(model: Any = model) -> None:
            with torch.no_grad():
                for b in batches:
                    model.encode_crystal(b)
            if device.startswith("cuda"):
                torch.cuda.synchronize()

        run_model()
        dt = best_time(run_model, repeats)
        emit(
            bench="crystal_encoder",
            encoder=f"CLaCModel.encode_crystal ({kind})",
            device=device,
            crystals=n,
            batch_size=batch_size,
            seconds=round(dt, 3),
            crystals_per_s=round(n / dt, 1),
            target_per_s=2000,
        )
    bare = bare_cgconv_stack(cfg.crystal, cfg.graph).to(device).eval()

    def run_bare() -> None:
        with torch.no_grad():
            for b in batches:
                bare(b)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    run_bare()
    dt = best_time(run_bare, repeats)
    emit(
        bench="crystal_encoder",
        encoder="bare CGConv stack (no projection head)",
        device=device,
        crystals=n,
        batch_size=batch_size,
        seconds=round(dt, 3),
        crystals_per_s=round(n / dt, 1),
    )


def bench_text(texts: list[str], device: str, batch_size: int, repeats: int) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from clac_core.config import TextEncoderConfig
    from clac_core.models import HFTextEncoder
    from clac_core.models.text import resolve_text_model

    cfg = TextEncoderConfig()
    enc = HFTextEncoder(cfg).to(device).eval()
    path = resolve_text_model(cfg.name)
    tok = AutoTokenizer.from_pretrained(path)
    bare = AutoModel.from_pretrained(path).to(device).eval()

    def run_bare() -> None:
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                t = tok(
                    texts[i : i + batch_size],
                    max_length=cfg.max_length,
                    padding=True,
                    truncation=True,
                    return_tensors="pt",
                ).to(device)
                h = bare(**t).last_hidden_state
                m = t["attention_mask"].unsqueeze(-1).to(h.dtype)
                ((h * m).sum(1) / m.sum(1)).cpu()

    def run_ours() -> None:
        enc.embed(texts, batch_size=batch_size)

    run_bare()
    run_ours()
    # interleave the repeats so both see the same machine load
    t_bare, t_ours = float("inf"), float("inf")
    for _ in range(repeats):
        t_bare = min(t_bare, best_time(run_bare, 1))
        t_ours = min(t_ours, best_time(run_ours, 1))
    n = len(texts)
    ntok = sum(len(tok(t)["input_ids"]) for t in texts) / n
    emit(
        bench="text_encoder",
        encoder="bare transformers + mean pooling",
        device=device,
        texts=n,
        mean_tokens=round(ntok, 1),
        seconds=round(t_bare, 3),
        texts_per_s=round(n / t_bare, 1),
    )
    emit(
        bench="text_encoder",
        encoder="HFTextEncoder.embed",
        device=device,
        texts=n,
        mean_tokens=round(ntok, 1),
        seconds=round(t_ours, 3),
        texts_per_s=round(n / t_ours, 1),
        ratio_to_bare=round(t_bare / t_ours, 3),
        target_ratio=0.9,
    )


def make_texts(structures: list[Any], n: int) -> list[str]:
    out = []
    for s in structures[:n]:
        comp = s.composition
        out.append(
            f"{comp.reduced_formula} is a crystal with {len(s)} atoms per cell, density "
            f"{s.density:.2f} g/cm3 and volume {s.volume:.1f} cubic angstrom, made of "
            + ", ".join(el.long_name for el in comp.elements)
            + "."
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--n", type=int, default=1000, help="mp_37k structures to use")
    p.add_argument("--n-texts", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--text-batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from clac_core.config import GraphConfig

    emit(
        bench="env",
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpus=os.cpu_count(),
        cuda=torch.cuda.is_available(),
        gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        load_avg=os.getloadavg()[0],
    )
    t = time.perf_counter()
    structures = load_structures(args.data, args.n)
    emit(bench="load_cifs", structures=len(structures), seconds=round(time.perf_counter() - t, 2))
    graphs = bench_graphs(structures, GraphConfig())
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        bench_crystal(graphs, device, args.batch_size, args.repeats)
        bench_text(make_texts(structures, args.n_texts), device, args.text_batch_size, args.repeats)
        if device == "cuda":
            emit(
                bench="memory",
                device="cuda",
                max_memory_allocated_mb=round(torch.cuda.max_memory_allocated() / 2**20, 1),
            )
    emit(bench="memory", device="cpu", peak_rss_mb=round(peak_rss_mb(), 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
