"""Index scale benchmark: build, open, RAM and query latency/recall at N crystals, as JSON lines.

    python benchmarks/bench_index.py --n 10000 --n 100000          # one JSON line per size
    python benchmarks/bench_index.py --n 100000 --approximate      # force the approximate path

Data (synthetic, said in each line's ``data``): the shipped index's real crystal embeddings
(``assets/index/embeddings.npy``, the default model) repeated to N rows with Gaussian noise of
norm about ``--noise`` and renormalized; metadata rows repeated with them (new crystal ids);
the shipped description bank kept. Queries are text embeddings of the shipped model (an
evenly spaced sample of the description bank), searched one at a time as the app does.

Per size: ``build_s`` (engine from the stored embeddings: faiss flat, or the IVF index trained,
filled and tuned, then stored), ``open_s`` (``CorpusIndex.load`` in a fresh process: what the
app waits for), ``ram_mb`` (resident memory of that process after open and the queries, minus
the interpreter with numpy/pandas/faiss imported), ``disk_mb``, ``query_p50_ms`` /
``query_p95_ms`` unfiltered and ``query_filtered_p50_ms`` / ``_p95_ms`` over the filter set
``FILTERS``, ``recall_at_10`` (unfiltered and filtered) against exact search on the same vectors.
Build and open run in child processes so their memory is their own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHIPPED = REPO / "assets" / "index"
FILTERS = {  # name -> SearchFilters kwargs (the Search page's kinds of filters)
    "oxide_cubic": {"must_contain": ["O"], "crystal_systems": ["cubic"]},
    "gap_1_3": {"band_gap": (1.0, 3.0)},
    "no_o_hexagonal": {"must_not_contain": ["O"], "crystal_systems": ["hexagonal"]},
    "source_prototype": {"sources": ["prototype"]},
    "sr_ti": {"must_contain": ["Sr", "Ti"]},
}


def rss_mb() -> float:
    """Resident set size of this process (MB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_synthetic(n: int, out: Path, noise: float, seed: int = 0) -> dict:
    """Write an index of ``n`` rows into ``out`` (see the module docstring); returns the facts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clac_core.index.columns import ROW_GROUP

    out.mkdir(parents=True, exist_ok=True)
    base = np.load(SHIPPED / "embeddings.npy", mmap_mode="r")  # (B, D) float16
    b, d = base.shape
    rng = np.random.default_rng(seed)
    emb = np.lib.format.open_memmap(out / "embeddings.npy", mode="w+", dtype=np.float16, shape=(n, d))
    sigma = noise / np.sqrt(d)
    for s in range(0, n, 65_536):
        rows = np.arange(s, min(n, s + 65_536)) % b
        x = base[rows].astype(np.float32)
        if n > b:  # no noise when no row repeats (N <= the shipped rows)
            x += rng.normal(0, sigma, x.shape).astype(np.float32)
        emb[s : s + len(rows)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    emb.flush()
    table = pq.read_table(SHIPPED / "metadata.parquet")
    reps = int(np.ceil(n / b))
    big = pa.concat_tables([table] * reps).slice(0, n)  # shares the base buffers
    ids = pa.array([f"syn{i}" for i in range(n)])
    big = big.set_column(big.schema.get_field_index("crystal_id"), "crystal_id", ids)
    pq.write_table(big, out / "metadata.parquet", row_group_size=ROW_GROUP)
    for f in ("descriptions.parquet", "description_embeddings.npy"):
        (out / f).write_bytes((SHIPPED / f).read_bytes())
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    manifest.update(sources=[f"synthetic: shipped embeddings x{reps}, noise {noise}"], corpus_hash=None)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return {"base_rows": b, "dim": d}


def child(mode: str, folder: Path, approximate: bool, n_queries: int) -> dict:
    """Run ``mode`` ('build' or 'open') in a fresh interpreter and return its JSON."""
    cmd = [sys.executable, __file__, f"--{mode}", str(folder), "--queries", str(n_queries)]
    cmd += ["--approximate"] if approximate else []
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def engine_config(approximate: bool):
    from clac_core.index import EngineConfig

    return EngineConfig(exact_max_rows=0) if approximate else EngineConfig()


def do_build(folder: Path, approximate: bool) -> dict:
    """Hash the stored embeddings, write it to the manifest, and build (and store) the engine."""
    from clac_core.index import CorpusIndex

    base = rss_mb()
    t0 = time.perf_counter()
    idx = CorpusIndex.load(folder, config=engine_config(approximate))  # the engine is built here
    build_s = time.perf_counter() - t0
    man = json.loads((folder / "manifest.json").read_text())
    man["corpus_hash"] = idx.corpus_hash
    (folder / "manifest.json").write_text(json.dumps(man))
    info = idx.engine.info
    return {"build_s": round(build_s, 2), "build_ram_mb": round(rss_mb() - base),
            "engine": info.kind if info else "exact_flat_ip", "nlist": info.nlist if info else None,
            "nprobe": info.nprobe if info else None,
            "build_recall_at_10": info.recall_at_10 if info else 1.0}


def timed(fn, reps: list) -> list[float]:
    out = []
    for r in reps:
        t = time.perf_counter()
        fn(r)
        out.append((time.perf_counter() - t) * 1000)
    return out


def do_open(folder: Path, approximate: bool, n_queries: int) -> dict:
    """Open the index as the app does, then time searches and measure recall."""
    import faiss  # noqa: F401  (imported before the baseline, as the open needs it)
    import pandas  # noqa: F401

    from clac_core.index import CorpusIndex, SearchFilters, exact_topk_batch
    from clac_core.index.engine import exact_scores, top_k

    base = rss_mb()
    t0 = time.perf_counter()
    idx = CorpusIndex.load(folder, config=engine_config(approximate))
    open_s = time.perf_counter() - t0
    demb = idx.desc_embeddings
    qs = demb[np.linspace(0, len(demb) - 1, n_queries).astype(int)].astype(np.float32)  # (Q, D)
    idx.search(qs[0], 10)  # warm-up
    plain = timed(lambda q: idx.search(q, 10), list(qs))
    truth = exact_topk_batch(idx.embeddings, qs, 10)
    found = np.stack([idx.search(q, 10)["row"].to_numpy() for q in qs])
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    filt, frec, kept = [], [], {}
    for name, kw in FILTERS.items():
        f = SearchFilters(**kw)
        mask = idx.filter_mask(f)
        rows = np.flatnonzero(mask)
        kept[name] = round(len(rows) / len(idx), 4)
        sub = qs[: max(10, n_queries // len(FILTERS))]
        filt += timed(lambda q, f=f: idx.search(q, 10, f), list(sub))
        for q in sub[:20]:
            exact = set(rows[top_k(exact_scores(idx.embeddings, q, rows), 10)])
            got = set(idx.search(q, 10, f)["row"])
            frec.append(len(exact & got) / max(1, min(10, len(rows))))
    return {"open_s": round(open_s, 2), "ram_mb": round(rss_mb() - base), "rss_total_mb": round(rss_mb()),
            "query_p50_ms": round(float(np.percentile(plain, 50)), 2),
            "query_p95_ms": round(float(np.percentile(plain, 95)), 2),
            "query_filtered_p50_ms": round(float(np.percentile(filt, 50)), 2),
            "query_filtered_p95_ms": round(float(np.percentile(filt, 95)), 2),
            "recall_at_10": round(recall, 4), "recall_at_10_filtered": round(float(np.mean(frec)), 4),
            "filter_kept_share": kept, "queries": len(qs)}


def run_size(n: int, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        folder = Path(tmp) / f"index_{n}"
        t0 = time.perf_counter()
        facts = make_synthetic(n, folder, args.noise)
        gen_s = time.perf_counter() - t0
        how = (f"repeated with noise (norm ~{args.noise}) and renormalized" if n > facts["base_rows"]
               else "(the first N rows, no noise)")
        line = {"n": n, "data": f"synthetic: the shipped index's {facts['base_rows']} real embeddings {how}",
                "dim": facts["dim"], "generate_s": round(gen_s, 1)}
        line.update(child("build", folder, args.approximate, args.queries))
        line["disk_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20)
        line.update(child("open", folder, args.approximate, args.queries))
    line["loadavg_1m"] = round(os.getloadavg()[0], 2)
    line["cpus"] = os.cpu_count()
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, action="append", help="index size (repeatable)")
    p.add_argument("--approximate", action="store_true", help="force the approximate index at every size")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--noise", type=float, default=0.2, help="norm of the noise added to repeated rows")
    p.add_argument("--work", default=None, help="folder for the temporary indexes (default: system temp)")
    p.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--open", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.build:
        print(json.dumps(do_build(args.build, args.approximate)))
        return 0
    if args.open:
        print(json.dumps(do_open(args.open, args.approximate, args.queries)))
        return 0
    for n in args.n or [10_000, 100_000]:
        print(json.dumps(run_size(n, args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
