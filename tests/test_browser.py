# ruff: noqa: F811  (the fixtures server and page come from browser_kit)
"""Real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Each workflow asserts what the user sees: result rows and their property columns (read from
the data grid's accessibility table), per-file errors beside good results, a 3D canvas with
drawn (non-blank) pixels, the new index selected after building, distinct query and upload
markers on the map, a Markdown-injection payload shown as text, no request leaving the
machine and a quiet server log. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_kit import (  # noqa: E402, F401
    CHROMIUM,
    REPO,
    REQUESTS,
    SHOTS,
    _canvas_ink,
    _goto,
    _grid,
    _grid_until,
    _nav,
    _settle,
    _sidebar_choice,
    _upload,
    page,
    server,
)
from helpers import NACL_CIF, PAYLOAD, tiny_csv  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]


def _set_switch(page, label: str, on: bool) -> None:
    """Set a checkbox or toggle and wait for its run. A click that lands while the page is
    being redrawn can miss the widget (the frontend's race, not the app's): the state is read
    back and the click repeated, at most three times."""
    for _ in range(3):
        if page.get_by_label(label, exact=True).is_checked() == on:
            return
        page.get_by_text(label, exact=True).first.click()
        _settle(page)
    assert page.get_by_label(label, exact=True).is_checked() == on, f"{label} did not switch"


def test_home_and_search(server, page):
    _goto(page, server, "home")
    page.get_by_text("UNTRAINED", exact=False).first.wait_for()
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    _goto(page, server, "search")
    _set_switch(page, "Include hypothetical (decorated) crystals", True)  # TiO2, Mg, KF: no band gap known
    _set_switch(page, "Property-aware search", False)  # the model's ranking of every crystal
    box = page.get_by_label("Describe the crystal you are looking for")
    box.fill("a hexagonal oxide")
    box.press("Enter")
    _settle(page)
    # every crystal of the tiny index (12) is ranked; the grid's accessible rows can follow its
    # canvas a moment later under load: read until they show the new ranking, up to a minute
    heads, rows = _grid_until(page, lambda h, rs: "formula" in h
                              and {"NaCl", "ZnO", "TiO2"} <= {r[h.index("formula")] for r in rs})
    assert {"formula", "space group", "band gap (eV)", "crystal id"} <= set(heads)
    assert len(rows) == 12
    gap = {r[heads.index("formula")]: r[heads.index("band gap (eV)")] for r in rows}
    # the accessibility table carries the raw values: numbers, and nothing where unknown
    # (the canvas draws the placeholder "—" there, checked in tests/test_app.py)
    assert gap["TiO2"] == "" and float(gap["NaCl"]) == 5.0
    formulas = {r[heads.index("formula")] for r in rows}
    assert {"NaCl", "ZnO", "TiO2"} <= formulas
    assert page.locator("iframe").count() == 0  # the 3D view is built only when asked
    import csv
    import io

    table = list(csv.DictReader(io.StringIO(_download(page, "Download CSV"))))  # the results table as CSV
    assert len(table) == 12 and {"NaCl", "ZnO", "TiO2"} <= {r["formula"] for r in table}
    page.get_by_text("Show in 3D", exact=True).click()
    _settle(page)
    assert _canvas_ink(page) > 0.01
    page.screenshot(path=str(SHOTS / "search.png"), full_page=True)


def test_home_query_enter_runs_search(server, page):
    _goto(page, server, "")  # the app's root URL: Home
    box = page.get_by_label("Describe the crystal you are looking for")
    box.fill("an oxide")
    box.press("Enter")
    page.wait_for_selector("h1:has-text('Search by text')")
    _settle(page)
    assert page.get_by_label("Describe the crystal you are looking for").input_value() == "an oxide"
    heads, rows = _grid(page)
    formulas = {r[heads.index("formula")] for r in rows}
    assert formulas and all("O" in f for f in formulas), formulas  # the query ran: oxides only
    page.screenshot(path=str(SHOTS / "home_to_search.png"), full_page=True)


def test_home_deep_link_and_about_page(server, page):
    """``/home`` shows Home (no "Page not found" dialog); About shows its tables, no broken
    image and no path of the machine that built the assets."""
    import re

    _goto(page, server, "home")
    page.wait_for_timeout(1000)
    assert page.get_by_text("Page not found", exact=False).count() == 0
    assert page.locator("h1").first.inner_text().strip() == "CLaC Explorer"
    assert page.get_by_label("Describe the crystal you are looking for").count() == 1
    _nav(page, "About the model")
    page.get_by_text("Model card", exact=True).click()  # open the card: its figure must load
    page.wait_for_timeout(1500)
    heads, rows = _grid(page)
    f, v = heads.index("field"), heads.index("value")
    assert {r[f]: r[v] for r in rows}["checkpoint"] == "model"  # a name, not the /tmp path it lives at
    broken = page.evaluate(
        "[...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert broken == []
    text = page.locator("[data-testid='stMain']").inner_text()
    assert not re.search(r"/(work|tmp|home|root)/", text)
    page.screenshot(path=str(SHOTS / "about.png"), full_page=True)


def _first_grid_with(page, column: str, tries: int = 120) -> tuple[list[str], list[list[str]]]:
    """The first st.dataframe whose header has ``column`` and whose rows are drawn, read every
    0.5 s for up to ``tries`` rounds (under load a grid's accessible table can follow the run)."""
    for _ in range(tries):
        for i in range(page.locator("[data-testid='stDataFrame']").count()):
            heads, rows = _grid(page, i)
            if column in heads and rows:
                return heads, rows
        page.wait_for_timeout(500)
    raise AssertionError(f"no table with a {column!r} column was shown")


def test_upload_error_beside_good_result(server, page, tmp_path):
    _goto(page, server, "upload")
    good = tmp_path / "nacl.cif"
    good.write_text(NACL_CIF)
    bad = tmp_path / "broken.cif"
    bad.write_text("not a cif\n")
    page.locator("input[type='file']").first.set_input_files([str(bad), str(good)])
    page.get_by_text("Zero-shot labels", exact=False).first.wait_for()
    _settle(page)
    err = page.locator("[data-testid='stAlertContentError']")
    assert err.count() == 1 and "broken.cif" in err.first.inner_text()
    assert page.get_by_text("NaCl · Fm-3m (225)", exact=False).count() == 1  # the good file's result
    # the upload's own values come first; its nearest corpus crystals are the first grid with formulas
    heads, rows = _first_grid_with(page, "formula")
    assert "band gap (eV)" in heads and rows and "NaCl" in {r[heads.index("formula")] for r in rows}
    page.screenshot(path=str(SHOTS / "upload.png"), full_page=True)


def test_viewer_canvas_draws(server, page):
    _goto(page, server, "viewer")
    assert _canvas_ink(page) > 0.01  # atoms and bonds drawn, not a blank box
    frame = page.locator("iframe").first.content_frame
    software = frame.locator("#clac3d").evaluate(  # the renderer this browser gives WebGL
        "() => { const g = document.createElement('canvas').getContext('webgl');"
        " const d = g.getExtension('WEBGL_debug_renderer_info');"
        " return /swiftshader|llvmpipe|softpipe|software/i.test(g.getParameter(d.UNMASKED_RENDERER_WEBGL)); }")
    # antialiasing only on a GPU: in software it made each draw ~7x slower
    assert frame.locator("#clac3d").get_attribute("data-antialias") == ("false" if software else "true")
    box = page.get_by_role("textbox", name="Find a crystal")  # a search box, not a list of every crystal
    box.fill("t:Mg")
    box.press("Enter")
    _settle(page)
    assert page.locator("h3", has_text="Mg (t:Mg)").count() == 1  # the exact id, not t:MgO
    box.fill("t:M")
    box.press("Enter")
    _settle(page)
    assert page.get_by_text("No crystal has the id", exact=False).count() == 1  # part of an id opens none
    assert page.locator("h3", has_text="(t:").count() == 0
    page.screenshot(path=str(SHOTS / "viewer.png"), full_page=True)


def test_home_loads_the_map_library_once_before_the_map_opens(server, page):
    """Home imports the frontend's plotly chunk while the browser is idle (app_pages/ui/
    browser_warm.py); the map opened afterwards draws with that same module: one fetch, no second."""
    _goto(page, server, "")
    page.wait_for_function("window.__clacMapLibrary === 'ready'", timeout=60_000)
    fetched = "performance.getEntriesByType('resource').filter(e => e.name.includes('/PlotlyChart.')).length"
    assert page.evaluate(fetched) == 1  # loaded on Home, before any chart
    assert page.locator(".js-plotly-plot").count() == 0
    _nav(page, "Embedding map")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    assert page.evaluate(fetched) == 1  # the map reused it


def test_map_query_and_upload_markers(server, page, tmp_path):
    _goto(page, server, "map")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    box = page.get_by_label("Project a query")
    box.fill("a cubic oxide")
    box.press("Enter")
    _settle(page)
    good = tmp_path / "nacl.cif"
    good.write_text(NACL_CIF)
    page.locator("input[type='file']").first.set_input_files([str(good)])
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].some(g => (g.data || []).some(t => t.name === 'your upload'))"
    )
    _settle(page)
    traces = page.evaluate(
        "[...document.querySelector('.js-plotly-plot').data].map(t => ({name: t.name, symbol: t.marker.symbol, "
        "color: t.marker.color}))"
    )
    by = {t["name"]: t for t in traces}
    q, u = by["your query"], by["your upload"]
    assert q["symbol"] != u["symbol"] and q["color"] != u["color"]
    assert len(traces) == len(by)  # a clean legend: each name once
    assert page.locator(".legendtext", has_text="your query").count() == 1
    assert page.locator(".legendtext", has_text="your upload").count() == 1
    page.screenshot(path=str(SHOTS / "map.png"), full_page=True)


def test_map_click_picks_a_crystal_and_finds_similar_structures(server, page):
    """A click on a crystal's point selects it (Streamlit's plotly selection, customdata =
    (modality, row)); "Find similar structures" then lists other corpus crystals by the crystal
    embedding, never the picked one itself."""
    _goto(page, server, "map")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    _settle(page)
    # the screen position of the first crystal trace's first point, from plotly's own axes
    x, y, label = page.evaluate(
        "() => { const gd = document.querySelector('.js-plotly-plot'); const fl = gd._fullLayout;"
        " const t = gd._fullData.find(d => d.customdata && d.customdata.length && d.customdata[0][0] === 'crystal');"
        " const r = gd.querySelector('.nsewdrag').getBoundingClientRect();"
        " return [r.left + fl.xaxis.l2p(t.x[0]), r.top + fl.yaxis.l2p(t.y[0]), t.hovertext[0]]; }")
    page.mouse.click(x, y)
    _settle(page)
    page.get_by_text("Selected:", exact=False).first.wait_for()
    picked = page.locator("input[aria-label='Selected crystal']").input_value()  # "NaCl (t:NaCl)"
    formula = label.split("<br>")[0]
    assert formula in picked
    page.get_by_role("button", name="Find similar structures").click()
    _settle(page)
    assert page.get_by_text("Structures similar to", exact=False).count() == 1
    n = page.locator("[data-testid='stDataFrame']").count()
    heads, rows = _grid(page, n - 1)  # the panel's table comes last
    assert "formula" in heads and "crystal id" in heads and rows
    picked_id = picked.split("(")[-1].split(")")[0]
    assert picked_id not in {r[heads.index("crystal id")] for r in rows}  # itself left out
    page.screenshot(path=str(SHOTS / "map_similar.png"), full_page=True)


def test_corpus_build_selects_new_index_and_payload_is_text(server, page, tmp_path):
    _goto(page, server, "corpus")
    csv = tmp_path / "evil_demo.csv"
    csv.write_text(tiny_csv(2).replace("3961", '"' + PAYLOAD + '"', 1))
    # one form: typing, Enter and choosing the file send nothing (no run to wait for); the
    # button stays disabled while the file uploads, and the click sends it all
    page.get_by_label("Index name").fill("browser built")
    page.get_by_label("Index name").press("Enter")
    page.locator("input[type='file']").first.set_input_files([str(csv)])
    page.locator("[data-testid='stFileChip']", has_text="evil_demo.csv").first.wait_for()
    page.locator("[data-testid='stFileChipIconSpinner']").first.wait_for(state="detached")
    # leaving the page mid-build stops it: the page says so before the build starts
    assert page.get_by_text("leaving it stops the build and nothing is saved", exact=False).count() >= 1
    page.get_by_role("button", name="Build index").click()
    page.get_by_text("now selected in the sidebar", exact=False).wait_for(timeout=120_000)
    _settle(page)
    assert "yours: browser_built" in _sidebar_choice(page)
    assert "2 crystals" in page.locator("[data-testid='stSidebar']").inner_text()  # its counts, not the default's
    _nav(page, "3D viewer")  # in-app navigation keeps the session (a reload starts a new one)
    page.get_by_text("Click here to re-login", exact=False).first.wait_for()
    heading = page.locator("h3", has_text="Click here").first.inner_text().replace("\u200b", "")
    assert "](https://evil.example/phish)" in heading  # the Markdown is shown, not rendered
    for frame in page.frames:
        links = frame.locator("a[href*='evil.example']")
        assert links.count() == 0, [links.nth(i).evaluate("e => e.outerHTML") for i in range(links.count())]
        assert frame.locator("img[src*='evil.example']").count() == 0
    page.screenshot(path=str(SHOTS / "corpus_injection.png"), full_page=True)
    _nav(page, "Search by text")
    assert "yours: browser_built" in _sidebar_choice(page)
    assert "Understood:" in page.locator("[data-testid='stMain']").inner_text()  # property-aware by default
    page.get_by_text("Property-aware search", exact=True).click()  # off: every crystal, the model's order
    _settle(page)
    formulas: set[str] = set()
    for _ in range(40):  # the grid is redrawn after the rerun; read it until it settles (20 s at most)
        heads, rows = _grid(page)
        formulas = {r[heads.index("formula")] for r in rows}
        if formulas == {"NaCl", "MgO"}:
            break
        page.wait_for_timeout(500)
    assert formulas == {"NaCl", "MgO"}  # the new index is searched


def test_nothing_leaves_the_machine_and_log_is_quiet(server, page):
    _goto(page, server, "home")
    page.wait_for_timeout(1000)
    outside = [u for u in REQUESTS if not u.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))]
    assert REQUESTS and not outside, outside[:10]
    log = server[1].read_text(errors="replace")
    for noise in ("Inotify", "spglib", "SPGLIB", "Traceback", "Session State API", "Loading weights", "it/s]"):
        assert noise not in log, log[-3000:]


def _search(page, query: str) -> str:
    """Type ``query`` into the Search box, run it, and return the main area's text."""
    box = page.get_by_label("Describe the crystal you are looking for")
    box.fill(query)
    box.press("Enter")
    _settle(page)
    page.get_by_text("Understood:", exact=False).first.wait_for()
    return page.locator("[data-testid='stMain']").inner_text()


def _elements(formula: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Z][a-z]?", formula))


def test_search_reads_negated_lists_moduli_structure_words_and_rules(server, page):
    """Issue 19's reading of what scientists write, in the browser with property-aware search on:
    a negation governs the whole list after it, moduli are read in GPa, structure and application
    words name their rule, and a search no crystal meets names the constraint and shows the
    nearest relaxation's results, never an empty page."""
    _goto(page, server, "search")
    _set_switch(page, "Include hypothetical (decorated) crystals", True)
    for query, excluded in (("oxide containing neither zinc nor sodium", {"Zn", "Na"}),
                            ("compound free of titanium and strontium", {"Ti", "Sr"})):  # fmt: skip
        shown = _search(page, query)
        for element in excluded:
            assert f"no {element}" in shown, (query, shown[:400])
        assert "contains Zn" not in shown and "contains Ti" not in shown
        heads, rows = _grid_until(page, lambda h, rs, ex=excluded: "formula" in h and len(rs) > 0
                                  and not any(_elements(r[h.index("formula")]) & ex for r in rs))  # fmt: skip
        assert rows and not any(_elements(r[heads.index("formula")]) & excluded for r in rows)
    shown = _search(page, "semiconductor without lead or cadmium, gap 1-2 eV")
    assert "no Pb" in shown and "no Cd" in shown and "contains Pb" not in shown and "contains Cd" not in shown
    assert "PBE" in shown  # a band-gap constraint says which gaps these are
    shown = _search(page, "hard material with bulk modulus above 250 GPa")
    assert "bulk modulus > 250 GPa" in shown and "hard (shear modulus" in shown
    assert "Nearest relaxation" in shown  # the tiny corpus has no moduli: named, and relaxed
    heads, rows = _grid_until(page, lambda h, rs: "formula" in h and len(rs) > 0)
    assert rows  # the relaxation's results, not an empty page
    assert "layered (2D bonded network)" in _search(page, "layered material")
    shown = _search(page, "transparent conducting oxide")
    assert "transparent conducting oxide (rule:" in shown and "In2O3" in shown
    # a structure type read from the words; the selected crystal's heading names its type (the
    # tiny corpus's only rock-salt oxide, MgO, comes first)
    assert "rock salt structure" in _search(page, "a rock salt oxide")
    page.locator("h3", has_text="MgO").first.wait_for()
    assert "rock salt" in page.locator("h3", has_text="MgO").first.inner_text()
    page.screenshot(path=str(SHOTS / "search_reading.png"), full_page=True)


def _download(page, name_starts: str) -> str:
    """Click the download button whose label starts with ``name_starts``; the file's text."""
    import re

    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^" + re.escape(name_starts))).first.click()
    return Path(info.value.path()).read_text()


def test_viewer_downloads_the_cell_shown(server, page):
    """Issue 19, point 5: the CIF and POSCAR downloads are the chosen cell (diamond Si: 8 atoms in
    the conventional cell, 2 in the primitive one), not always the conventional one."""
    from pymatgen.core import Structure

    _goto(page, server, "viewer")
    box = page.get_by_role("textbox", name="Find a crystal")
    box.fill("t:Si")
    box.press("Enter")
    _settle(page)
    page.locator("h3", has_text="Si (t:Si)").first.wait_for()
    conventional = Structure.from_str(_download(page, "Download CIF"), fmt="cif")
    assert len(conventional) == 8
    page.get_by_text("Primitive cell", exact=True).click()
    _settle(page)
    assert len(Structure.from_str(_download(page, "Download CIF"), fmt="cif")) == 2
    assert len(Structure.from_str(_download(page, "Download POSCAR"), fmt="poscar")) == 2


def _map_traces(page) -> list[dict]:
    return page.evaluate(
        "[...document.querySelector('.js-plotly-plot').data].map(t => ({name: t.name, n: (t.hovertext || []).length, "
        "hover: (t.hovertext || [])[0] || '', cmin: t.marker.cmin, cmax: t.marker.cmax}))"
    )


def test_map_hover_descriptions_colour_scale_and_export(server, page):
    """Issue 19, points 5 and 6, in the browser: the hover names the crystal system and a key
    property, description points are hidden until asked for, a property's colour scale is clipped
    to robust percentiles (said in a caption), and the map downloads as a self-contained HTML page."""
    _goto(page, server, "map")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    _settle(page)
    traces = _map_traces(page)
    assert "description (text)" not in {t["name"] for t in traces}  # hidden by default
    hovers = page.evaluate(
        "[...document.querySelector('.js-plotly-plot').data].flatMap(t => t.hovertext || [])")
    nacl = next(h for h in hovers if h.startswith("NaCl"))  # NaCl: cubic, band gap 5 eV in the tiny corpus
    assert "cubic" in nacl.lower() and "band gap" in nacl.lower(), nacl
    _set_switch(page, "Show description points", True)
    page.wait_for_function(
        "[...document.querySelector('.js-plotly-plot').data].some(t => t.name === 'description (text)')")
    texts = next(t for t in _map_traces(page) if t["name"] == "description (text)")
    assert texts["n"] > 0
    _set_switch(page, "Show description points", False)
    box = page.get_by_label("Colour by")
    box.click()
    page.get_by_role("option", name="band gap", exact=False).first.click()
    _settle(page)
    page.get_by_text("Colour scale clipped to percentiles 2–98", exact=False).first.wait_for()
    scaled = [t for t in _map_traces(page) if t["cmin"] is not None]
    assert scaled and scaled[0]["cmax"] > scaled[0]["cmin"]
    html = _download(page, "Download the map (HTML)")
    import re

    assert re.search(r"<script[^>]*src=[\"']https?://", html) is None  # nothing fetched from the web
    assert len(html) > 1_000_000 and "Plotly.newPlot" in html  # plotly.js itself is inside: opens offline


def test_home_example_query_and_drop_zone(server, page, tmp_path):
    """Issue 19, point 1, in the browser: an example query on Home runs that search on the Search
    page, and a file dropped on Home opens the Upload page with it."""
    _goto(page, server, "home")
    page.get_by_role("button", name="wide band gap oxide").click()
    page.wait_for_selector("h1:has-text('Search by text')")
    _settle(page)
    assert page.get_by_label("Describe the crystal you are looking for").input_value() == "wide band gap oxide"
    heads, rows = _grid_until(page, lambda h, rs: "formula" in h and len(rs) > 0)
    assert rows and all("O" in _elements(r[heads.index("formula")]) for r in rows)  # the query ran: oxides
    _goto(page, server, "home")
    cif = tmp_path / "nacl_home.cif"
    cif.write_text(NACL_CIF)
    _upload(page, cif)
    assert page.get_by_text("nacl_home.cif", exact=False).count() >= 1
    assert page.get_by_text("This upload", exact=False).count() >= 1  # the Upload page, with the file
