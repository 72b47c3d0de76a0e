"""Search latency and app cold start, printed as JSON lines.

    python benchmarks/bench_search.py                 # both
    python benchmarks/bench_search.py --skip-cold     # latency only

1. Text-query latency (encode the query with the CLaC text tower + filtered search) on a
   synthetic 50,000-crystal index on CPU, and on the shipped default index (assets/) through the
   app's path, model-only and property-aware; target median < 100 ms.
2. App cold start: wall time from launching ``streamlit run app.py`` until headless Chromium
   shows the Home page's content (title, metrics and its last section, "Pages") and Streamlit's
   "running" indicator is gone, i.e. the first script run has finished and the page answers
   input; target < 15 s. Chromium's own start is inside that time (it is launched after the
   server's health check passes), so the number is an upper bound. Then, as a second number,
   the time to open the Search page and get its first results table (this is where the model is
   loaded, once per process). Without Chromium only the server's health check is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def synthetic_index(n: int, dim: int, seed: int = 0):
    """A CorpusIndex with random unit embeddings and plausible metadata (N rows)."""
    import pandas as pd

    from clac_core.index import CorpusIndex
    from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST as CRYSTAL_SYSTEMS

    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, dim)).astype(np.float32)
    nsites = rng.integers(1, 60, n)
    zs = [rng.choice(np.arange(1, 84), size=rng.integers(1, 5), replace=False) for _ in range(n)]
    meta = pd.DataFrame({
        "crystal_id": [f"syn-{i}" for i in range(n)],
        "formula": [f"X{i}" for i in range(n)],
        "source": rng.choice(["mp_37k", "prototype", "decorated"], n),
        "hypothetical": rng.random(n) < 0.3,
        "spacegroup_symbol": "P1",
        "spacegroup_number": 1,
        "crystal_system": rng.choice(list(CRYSTAL_SYSTEMS), n),
        "nsites": nsites,
        "elements": "",
        "lattice": [[0.0] * 9] * n,
        "frac_coords": [[0.0] * 3] * n,
        "atomic_numbers": [z.tolist() for z in zs],
        "band_gap": np.where(rng.random(n) < 0.8, rng.exponential(1.5, n), np.nan),
    })
    desc = pd.DataFrame({"text": [], "view": [], "crystal_id": []})
    return CorpusIndex(embeddings=emb, metadata=meta, desc_embeddings=np.zeros((0, dim)), descriptions=desc)


def bench_latency(n: int, repeats: int) -> list[dict]:
    import torch

    from clac_core.config import ModelConfig
    from clac_core.index import SearchFilters
    from clac_core.inference import encode_query_texts as encode_texts  # the app's query path
    from clac_core.models import CLaCModel

    model = CLaCModel(ModelConfig()).eval()
    t0 = time.perf_counter()
    idx = synthetic_index(n, model.cfg.embed_dim)
    build_s = time.perf_counter() - t0
    idx.prepare_filters()  # CorpusIndex.load does this once, before the first query
    queries = ["a cubic perovskite oxide", "a layered sulfide semiconductor", "a wide band gap fluoride",
               "a metallic intermetallic with hexagonal symmetry", "rock salt structure"]
    filt = SearchFilters(must_contain=["O"], crystal_systems=["cubic", "tetragonal"], band_gap=(0.5, 4.0),
                         nsites=(1, 40), include_hypothetical=False)
    encode_texts(model, ["warm up"])
    out = []
    for name, f in (("no_filters", None), ("filters", filt)):
        times, search_only = [], []
        for r in range(repeats):
            q = queries[r % len(queries)]
            t = time.perf_counter()
            e = encode_texts(model, [q])[0]
            t1 = time.perf_counter()
            hits = idx.search(e, 25, f)
            t2 = time.perf_counter()
            times.append((t2 - t) * 1e3)
            search_only.append((t2 - t1) * 1e3)
        out.append({
            "bench": "text_query_latency", "case": name, "n_crystals": n, "dim": idx.dim, "repeats": repeats,
            "median_ms": round(float(np.median(times)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
            "search_only_median_ms": round(float(np.median(search_only)), 2),
            "search_only_p95_ms": round(float(np.percentile(search_only, 95)), 2),
            "hits": len(hits), "target_median_ms": 100, "synthetic_build_s": round(build_s, 2),
            "torch_threads": torch.get_num_threads(),
        })
    return out


def bench_default_index(repeats: int) -> list[dict]:
    """Latency on the shipped default index (assets/, the app's path: Explorer.search_text),
    model-only and property-aware; the query embedding cache is cleared before every query."""
    import torch

    from clac_core.inference import Explorer

    t0 = time.perf_counter()
    ex = Explorer.load()
    load_s = time.perf_counter() - t0
    queries = ["material with bandgap around 2 eV", "a wide band gap nitride", "magnetic iron oxide",
               "a cubic oxide with Li but no Co", "metallic intermetallic with hexagonal symmetry",
               "stable fluoride with a gap above 5 eV", "binary alkali halide",
               "ternary sulfide semiconductor that is not magnetic"]
    ex.search_text("warm up", 25, property_aware=True)
    out = []
    for aware in (False, True):
        times = []
        for r in range(repeats):
            ex._query_cache.clear()
            t = time.perf_counter()
            hits = ex.search_text(queries[r % len(queries)], 25, property_aware=aware)
            times.append((time.perf_counter() - t) * 1e3)
        out.append({
            "bench": "default_index_query_latency", "case": "property_aware" if aware else "model_only",
            "n_crystals": len(ex.index), "repeats": repeats, "median_ms": round(float(np.median(times)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2), "hits": len(hits), "target_median_ms": 100,
            "explorer_load_s": round(load_s, 2), "torch_threads": torch.get_num_threads(),
        })
    return out


def _wait_idle(pg, timeout_ms: int) -> None:
    """Until the script run has finished: no running indicator, no stale (greyed) elements."""
    pg.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
        "document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=timeout_ms,
    )


def bench_cold_start(timeout: float = 120.0) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        import urllib.request

        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if time.perf_counter() - t0 > timeout:
                    return {"bench": "cold_start", "error": "server did not start"}
                time.sleep(0.2)
        health_s = time.perf_counter() - t0
        result = {"bench": "cold_start", "server_health_s": round(health_s, 2), "target_s": 15}
        if not Path("/usr/bin/chromium").exists():
            result["note"] = "no /usr/bin/chromium: only the server start was timed"
            return result
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium",
                                  args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            pg = b.new_page()
            ms = int(timeout * 1000)
            pg.goto(url + "/home", timeout=ms)
            pg.wait_for_selector("[data-testid='stMetricValue']", timeout=ms)
            pg.get_by_text("Pages", exact=True).first.wait_for(timeout=ms)  # the page's last section
            _wait_idle(pg, ms)
            result["first_page_interactive_s"] = round(time.perf_counter() - t0, 2)
            t1 = time.perf_counter()
            pg.goto(url + "/search", timeout=ms)  # first model load of this server process
            pg.wait_for_selector("[data-testid='stDataFrame']", timeout=ms)
            _wait_idle(pg, ms)
            result["search_page_first_results_s"] = round(time.perf_counter() - t1, 2)
            b.close()
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args(argv)
    if not args.skip_latency:
        for row in bench_latency(args.n, args.repeats):
            print(json.dumps(row), flush=True)
        for row in bench_default_index(args.repeats):
            print(json.dumps(row), flush=True)
    if not args.skip_cold:
        print(json.dumps(bench_cold_start()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
