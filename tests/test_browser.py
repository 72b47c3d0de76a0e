"""Real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Checks a text search, an upload, that the 3D viewer's canvas draws (WebGL in software), and
saves a screenshot of every page under test-artifacts/screenshots/.
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
from test_app import NACL_CIF  # noqa: E402
from test_index import build_tiny_assets  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser_assets")
    ck, ix = build_tiny_assets(out)
    port = _free_port()
    env = dict(os.environ, CLAC_CHECKPOINT=str(ck), CLAC_INDEX=str(ix), CLAC_USER_INDEXES=str(out / "user"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = open(out / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (out / "streamlit.log").read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1700})
        pg.set_default_timeout(90_000)
        yield pg
        browser.close()


def _settle(page) -> None:
    """Wait until Streamlit has finished the script run: no running indicator, no stale elements."""
    page.wait_for_timeout(700)
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
        "document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=90_000,
    )


def _goto(page, server: str, path: str) -> None:
    page.goto(f"{server}/{path}")
    page.wait_for_selector("h1", timeout=90_000)
    page.get_by_text("Corpus index").first.wait_for()  # the shared sidebar (app.py) rendered
    _settle(page)


def _viewer_canvas_size(page) -> tuple[int, int]:
    frame_el = page.wait_for_selector("iframe", timeout=60_000)
    frame = frame_el.content_frame()
    canvas = frame.wait_for_selector("canvas", timeout=60_000)
    box = canvas.bounding_box()
    return int(box["width"]), int(box["height"])


def test_home_and_search(server, page):
    _goto(page, server, "home")
    page.get_by_text("UNTRAINED", exact=False).first.wait_for()
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    _goto(page, server, "search")
    box = page.get_by_label("Describe the crystal you are looking for")
    box.fill("a hexagonal oxide")
    box.press("Enter")
    page.wait_for_selector("[data-testid='stDataFrame']")
    _settle(page)
    w, h = _viewer_canvas_size(page)
    assert w > 50 and h > 50
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "search.png"), full_page=True)


def test_upload(server, page, tmp_path):
    _goto(page, server, "upload")
    good = tmp_path / "nacl.cif"
    good.write_text(NACL_CIF)
    bad = tmp_path / "broken.cif"
    bad.write_text("not a cif\n")
    page.locator("input[type='file']").first.set_input_files([str(good), str(bad)])
    page.get_by_text("broken.cif", exact=False).last.wait_for()
    page.get_by_text("Zero-shot labels", exact=False).first.wait_for()
    page.wait_for_selector("[data-testid='stAlertContentError']")
    _settle(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "upload.png"), full_page=True)


def test_viewer_canvas(server, page):
    _goto(page, server, "viewer")
    w, h = _viewer_canvas_size(page)
    assert w > 100 and h > 100
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "viewer.png"), full_page=True)


def test_map_and_corpus(server, page):
    _goto(page, server, "map")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "map.png"), full_page=True)
    _goto(page, server, "corpus")
    page.screenshot(path=str(SHOTS / "corpus.png"), full_page=True)
