"""Shared browser-test kit: a Streamlit server on the tiny checkpoint + index and a Chromium
page driven by Playwright (fixtures ``server`` and ``page``), plus helpers that wait for a
script run to finish and read data grids. Imported by the ``test_browser*`` modules.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from helpers import build_tiny_assets  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env: dict[str, str], output) -> subprocess.Popen:
    """``streamlit run app.py`` on 127.0.0.1:``port``, headless, its output to ``output``."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float) -> bool:
    """True once the server at ``url`` answers its health check; False when ``proc`` exits or
    ``timeout_s`` passes first."""
    deadline = time.perf_counter() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return True
        except OSError:
            if proc.poll() is not None or time.perf_counter() > deadline:
                return False
            time.sleep(0.2)


def stop_app(proc: subprocess.Popen) -> None:
    """Terminate the server, killing it after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def serve(out: Path, ck: Path, ix: Path, **extra_env: str):
    """Run the app on checkpoint ``ck`` and index ``ix`` (user indexes and the log under ``out``)
    and yield (url, log path); the body of a module's ``server`` fixture."""
    port = _free_port()
    env = dict(os.environ, CLAC_CHECKPOINT=str(ck), CLAC_INDEX=str(ix), CLAC_USER_INDEXES=str(out / "user"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra_env)
    env.pop("CLAC_CORPUS_ROOT", None)
    log = open(out / "streamlit.log", "w")
    proc = start_app(port, env, log)
    url = f"http://127.0.0.1:{port}"
    if not wait_healthy(url, proc, 60):
        proc.kill()
        pytest.fail("streamlit did not start: " + (out / "streamlit.log").read_text()[-2000:])
    yield url, out / "streamlit.log"
    stop_app(proc)
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser_assets")
    yield from serve(out, *build_tiny_assets(out))


REQUESTS: list[str] = []  # every URL the browser asked for, over the whole module


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1700})
        pg.set_default_timeout(90_000)
        pg.add_init_script(RUN_WATCH)
        pg.on("request", lambda r: REQUESTS.append(r.url))
        yield pg
        browser.close()


# Installed in every page before the app's own scripts: the time of the last user input
# (click, key, typing, file choice), the time the last script run started, read from the
# script state Streamlit writes on its root element (``data-test-script-state``), and the time
# of the last message from the server. Under load the frontend can handle a run's first and
# last messages in one go and never draw the "running" state: 10 concurrent sessions on 2
# cores missed it for 14 of ~250 actions (each then waited out its timeout although the run had
# drawn its result, benchmarks/bench_concurrency.py). A change *from* "running" counts too,
# and a run whose state was never drawn is recognized by server messages after the input
# followed by a second of quiet.
RUN_WATCH = """
window.__clacActed = 0;
window.__clacRunStart = 0;
window.__clacLastMsg = 0;
for (const type of ["click", "keydown", "input", "change"]) {
  window.addEventListener(type, () => { window.__clacActed = performance.now(); }, true);
}
// A run began: the app is running now, or within one batch of records the state left some
// other value and later left "running" (a short run drawn and ended together). A lone change
// from "running" is the end of a run that began earlier (perhaps before the input), not a
// run the input started.
new MutationObserver((records) => {
  const app = document.querySelector("[data-testid='stApp']");
  if ((app && app.getAttribute("data-test-script-state") === "running")
      || records.some((r, i) => r.oldValue !== "running"
                                && records.slice(i + 1).some((q) => q.oldValue === "running"))) {
    window.__clacRunStart = performance.now();
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ["data-test-script-state"]});
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", () => { window.__clacLastMsg = performance.now(); });
  }
};
"""


def _settle(page) -> None:
    """Wait until Streamlit has finished the script run that the last user input started: a run
    began after the input (or, when its "running" state was never drawn, server messages came
    after the input and then a second of quiet), the app reports it is not running, no running
    indicator, no stale elements."""
    page.wait_for_function(
        "(window.__clacRunStart >= window.__clacActed || "
        "(window.__clacLastMsg > window.__clacActed && performance.now() - window.__clacLastMsg > 1000)) && "
        "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning' && "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
        "document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=90_000,
    )


def _goto(page, server, path: str) -> None:
    page.goto(f"{server[0]}/{path}")
    page.wait_for_selector("h1", timeout=90_000)
    page.get_by_text("Corpus index").first.wait_for()  # the shared sidebar (app.py) rendered
    _settle(page)


def _upload(page, *paths: Path) -> None:
    """Choose ``paths`` in the page's first file input and wait until the Upload page has drawn
    its answer for them (the nearest corpus descriptions, its last section)."""
    page.locator("input[type='file']").first.set_input_files([str(p) for p in paths])
    page.get_by_text("Nearest corpus descriptions", exact=False).first.wait_for()
    _settle(page)


def _grid(page, n: int = 0) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the n-th st.dataframe, from the grid's accessibility table (what a
    screen reader gets; the visible cells are drawn on a canvas)."""
    grid = page.locator("[data-testid='stDataFrame']").nth(n)
    grid.locator("th[role='columnheader']").first.wait_for(state="attached")
    heads = grid.locator("th[role='columnheader']").all_text_contents()
    rows = grid.locator("tbody tr[role='row']").all()
    return heads, [r.locator("td").all_text_contents() for r in rows]


def _grid_until(page, ready, n: int = 0, tries: int = 120) -> tuple[list[str], list[list[str]]]:
    """:func:`_grid` read until ``ready(heads, rows)`` holds, every 0.5 s for up to ``tries``
    reads (the grid's accessible rows can follow its canvas a moment later under load); the
    last read when it never does (the caller's assertions then say what was shown)."""
    for _ in range(tries):
        heads, rows = _grid(page, n)
        if ready(heads, rows):
            break
        page.wait_for_timeout(500)
    return heads, rows


def _nav(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    page.wait_for_selector(f"h1:has-text('{title}')")
    _settle(page)


def _sidebar_choice(page) -> str:
    """The sidebar selectbox's shown value (its text, or its input's value)."""
    sel = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first
    return sel.inner_text() + " " + " ".join(i.input_value() for i in sel.locator("input").all())


def _canvas_ink(page, frame_index: int = 0) -> float:
    """Fraction of the 3D canvas' pixels that differ from the white background."""
    import io

    import numpy as np
    from PIL import Image

    frame = page.locator("iframe").nth(frame_index).content_frame
    canvas = frame.locator("canvas").first
    canvas.wait_for()
    page.wait_for_timeout(1500)  # 3Dmol draws on the next animation frames
    img = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    return float((np.abs(img - 255).sum(axis=2) > 60).mean())
