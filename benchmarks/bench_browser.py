"""What a user waits for in a real browser (issue 19, part 2): launches ``streamlit run app.py``
on the shipped assets (or ``--checkpoint`` / ``--index``), drives Debian's Chromium through
Playwright and prints one JSON object:

* ``home_interactive_s``: launch -> Home's search box usable (script run finished);
* ``first_search_s``: click on "Search by text" -> first results grid rendered;
* ``query_p50_s`` / ``query_p95_s`` (+ every time): Enter in the search box -> the run it
  started has finished and the results grid shows, over ``--queries`` queries (property-aware
  search as the page's default, on);
* ``map_first_render_s``: click on "Embedding map" -> plot drawn and run finished;
* ``viewer_change_s``: typing a crystal id in the 3D viewer's search box -> its view drawn
  (median over a few ids).

A benchmark, not a test: it asserts nothing and prints numbers (targets in the issue: query
p50 <= 0.6 s, p95 <= 1.2 s; first Search <= 3 s; Home <= 6 s; map <= 3 s; viewer <= 1 s).

    .venv/bin/python benchmarks/bench_browser.py [--queries 20] [--port 8631]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser_kit import ARGS, CHROMIUM, RUN_WATCH, _settle, start_app, stop_app, wait_healthy  # noqa: E402  (the tests' kit)

QUERIES = [  # a spread of what users type; not an eval set (nothing is scored)
    "material with bandgap around 1.5 eV", "magnetic iron compound",
    "layered sulfide", "lithium cobalt oxide", "cubic perovskite", "thermoelectric telluride",
    "semiconductor without lead or cadmium, gap 1-2 eV", "hard material with bulk modulus above 250 GPa",
    "transparent conducting oxide", "metallic nitride", "stable fluoride with a gap above 5 eV",
    "hexagonal layered material", "2D van der Waals material", "rare-earth-free magnet",
    "Li-ion cathode material containing cobalt", "low density light element compound",
    "tetragonal tin compound", "non-magnetic insulator", "copper chalcogenide", "wide band gap oxide",
]  # the page opens on "wide band gap oxide": it comes last, so every Enter starts a new run


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--port", type=int, default=8631)
    ap.add_argument("--checkpoint", help="CLAC_CHECKPOINT for the app (default: the shipped assets)")
    ap.add_argument("--index", help="CLAC_INDEX for the app (default: the shipped assets)")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if a.checkpoint:
        env["CLAC_CHECKPOINT"] = a.checkpoint
    if a.index:
        env["CLAC_INDEX"] = a.index
    url = f"http://127.0.0.1:{a.port}"
    t_launch = time.perf_counter()
    proc = start_app(a.port, env, subprocess.DEVNULL)
    out: dict[str, object] = {"queries": a.queries}
    try:
        if not wait_healthy(url, proc, 120):
            raise SystemExit("streamlit did not start within 120 s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            pg = browser.new_page(viewport={"width": 1400, "height": 1700})
            pg.set_default_timeout(120_000)
            pg.add_init_script(RUN_WATCH)
            pg.goto(url + "/")
            pg.get_by_label("Describe the crystal you are looking for").wait_for()
            _settle(pg)
            out["home_interactive_s"] = round(time.perf_counter() - t_launch, 2)

            nav = pg.locator("[data-testid='stSidebarNav']")
            t = time.perf_counter()
            nav.get_by_text("Search by text", exact=True).click()
            pg.wait_for_selector("h1:has-text('Search by text')")
            pg.locator("[data-testid='stDataFrame']").first.wait_for()
            _settle(pg)
            out["first_search_s"] = round(time.perf_counter() - t, 2)

            box = pg.get_by_label("Describe the crystal you are looking for")
            times: list[float] = []
            for q in (QUERIES * (1 + a.queries // len(QUERIES)))[: a.queries]:
                if box.input_value() == q:  # Enter on an unchanged query starts no run
                    continue
                box.fill(q)
                t = time.perf_counter()
                box.press("Enter")
                _settle(pg)
                pg.locator("[data-testid='stDataFrame'], [data-testid='stAlert']").first.wait_for()
                times.append(time.perf_counter() - t)
            out["query_p50_s"] = round(statistics.median(times), 3)
            out["query_p95_s"] = round(_pct(times, 0.95), 3)
            out["query_times_s"] = [round(x, 3) for x in times]

            t = time.perf_counter()
            nav.get_by_text("Embedding map", exact=True).click()
            pg.wait_for_selector("h1:has-text('Embedding map')")
            pg.wait_for_selector(".js-plotly-plot")
            _settle(pg)
            out["map_first_render_s"] = round(time.perf_counter() - t, 2)

            nav.get_by_text("3D viewer", exact=True).click()
            pg.wait_for_selector("h1:has-text('3D viewer')")
            _settle(pg)
            find = pg.locator("input[aria-label='Find a crystal']").first
            changes: list[float] = []
            for cid in ("mp-2534", "mp-2657", "mp-19017", "mp-149"):  # ids in the shipped index
                find.fill(cid)
                t = time.perf_counter()
                find.press("Enter")
                _settle(pg)
                pg.locator("h3", has_text=f"({cid})").first.wait_for()
                pg.locator("iframe").first.wait_for()
                changes.append(time.perf_counter() - t)
            out["viewer_change_s"] = round(statistics.median(changes), 3)
            out["viewer_change_times_s"] = [round(x, 3) for x in changes]
            browser.close()
    finally:
        stop_app(proc)
    out["cpu_count"] = os.cpu_count()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
