"""Every page under streamlit.testing.v1.AppTest, pointed at a tiny checkpoint + index."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from helpers import BAD_CIF, NACL_CIF, PAYLOAD, shared_tiny_assets, tiny_csv  # noqa: E402


@pytest.fixture(scope="session")
def app_env(tmp_path_factory):
    out = tmp_path_factory.mktemp("app_assets")
    ck, ix = shared_tiny_assets()
    old = {k: os.environ.get(k) for k in ("CLAC_CHECKPOINT", "CLAC_INDEX", "CLAC_USER_INDEXES")}
    os.environ["CLAC_CHECKPOINT"] = str(ck)
    os.environ["CLAC_INDEX"] = str(ix)
    os.environ["CLAC_USER_INDEXES"] = str(out / "user")
    yield out
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _app(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}")
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _frames(at):
    return [d.value for d in at.dataframe]


def _nearest(at):
    """The first result table of crystals on the page (the Upload page shows the upload's own
    values first, then its nearest corpus crystals)."""
    return next(f for f in _frames(at) if "formula" in f.columns)


def _shown(markdown: str) -> str:
    """What a reader sees of escaped Markdown source (backslash escapes removed)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def _texts(at) -> str:
    """Everything a reader sees on the page as text: Markdown, captions, headings, alerts,
    metrics, tables, dataframes and JSON (the page's expanders included)."""
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "error", "warning", "info",
                                   "success") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_string() for d in at.dataframe] + [t.value.to_string() for t in at.table]
    parts += [str(j.value) for j in at.json]
    return "\n".join(_shown(p) for p in parts)


def test_home_is_a_start_page(app_env):
    from app_pages.ui.handoff import EXAMPLE_QUERIES

    at = _app()
    text = _texts(at)
    assert "UNTRAINED" in text and "one embedding space" in text
    assert at.text_input(key="home_query").label == "Describe the crystal you are looking for"
    assert [at.button(key=f"home_example_{i}").label for i in range(len(EXAMPLE_QUERIES))] == list(EXAMPLE_QUERIES)
    assert at.get("file_uploader")  # the drop zone
    assert not at.metric and not at.dataframe  # the tables moved to About the model


def test_home_warms_the_map_library(app_env, monkeypatch):
    """Home carries the script that imports the installed frontend's plotly chunk when the browser
    is idle (it runs in tests/test_browser.py); CLAC_WARM_MAP=0 leaves it out."""
    import streamlit

    from app_pages.ui.browser_warm import plotly_chunk, warm_script

    chunk = plotly_chunk()
    assert chunk and (Path(streamlit.__file__).parent / "static/static/js" / chunk).is_file()
    script = warm_script()
    assert f'"./{chunk}"' in script and "import(url)" in script
    assert any(chunk in getattr(e.proto, "body", "") for e in _app().get("html"))
    monkeypatch.setenv("CLAC_WARM_MAP", "0")
    assert warm_script() is None
    assert not any(chunk in getattr(e.proto, "body", "") for e in _app().get("html"))


def test_home_example_runs_on_search(app_env):
    at = _app()
    at.button(key="home_example_1").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Search by text"
    assert at.text_input(key="search_query").value == "layered sulfide"
    assert _frames(at) and len(_frames(at)[0]) > 0  # the search ran: result rows


def test_home_query_runs_on_search_and_is_kept(app_env):
    at = _app()
    at.text_input(key="home_query").set_value("an oxide")
    at.button[0].click().run()  # the form's Search button (Enter submits the same form)
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Search by text"
    assert at.text_input(key="search_query").value == "an oxide"
    found = set(_frames(at)[0]["formula"])
    assert found and all("O" in f for f in found)  # the query was read: contains O
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/search.py").run()
    assert at.text_input(key="search_query").value == "an oxide"  # kept over the visit


def test_long_paste_is_cut_and_said(app_env):
    from app_pages.ui.handoff import MAX_QUERY_CHARS

    at = _app()
    long = "a cubic oxide with a wide band gap " * 20  # 700 characters
    at.text_input(key="home_query").set_value(long)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = " ".join(_shown(w.value) for w in at.warning)
    assert f"{len(long):,} characters" in said and f"first {MAX_QUERY_CHARS}" in said
    assert at.text_input(key="search_query").value == long[:MAX_QUERY_CHARS]
    assert _frames(at) and len(_frames(at)[0]) > 0  # not "empty query": the first 500 are searched
    at.text_input(key="search_query").set_value("an oxide " * 80).run()  # pasted in the Search box itself
    assert not at.exception, [e.message for e in at.exception]
    assert "720 characters" in " ".join(_shown(w.value) for w in at.warning)
    assert at.text_input(key="search_query").value == ("an oxide " * 80)[:MAX_QUERY_CHARS]


def test_about_shows_model_tables(app_env):
    at = _app("about.py")
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "About the model"
    assert any(m.value == "12" for m in at.metric)  # the tiny corpus
    model = next(f for f in _frames(at) if list(f.columns) == ["field", "value"])
    assert dict(zip(model["field"], model["value"], strict=True))["checkpoint"] == "model"  # a name, not a path
    corpus = next(f for f in _frames(at) if "source" in f.columns)
    assert dict(zip(corpus["source"], corpus["crystals"], strict=True)) == {"mp_test": 7, "proto_test": 5}


def test_home_and_about_show_no_machine_paths(app_env):
    """The tiny checkpoint lives under /tmp and the shipped results and model card name the
    folder the real model was trained from: no page shows either."""
    import re

    abs_path = re.compile(r"/(work|tmp|home|root|Users|var)/")
    for page in (None, "about.py"):
        text = _texts(_app(page))
        assert not abs_path.search(text), abs_path.search(text).group()
    at = _app("about.py")
    assert not any("![" in m.value for m in at.markdown)  # figures are drawn, not linked (a broken image)


def test_about_shows_eval_numbers_from_results_file(app_env, tmp_path, monkeypatch):
    ret = {d: {"pool_1000": {"R@1": 0.25, "R@5": 0.5, "R@10": 0.625, "MRR": 0.375, "pool_size": 1000}}
           for d in ("text_to_crystal", "crystal_to_text")}
    results = {"retrieval": ret, "zero_shot": {"crystal_system": {"accuracy": 0.875}},
               "baselines": {"ratios": {"text_to_crystal": {"pool_1000": {"R@10": 2.5}}}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    monkeypatch.setenv("CLAC_EVAL_RESULTS", str(path))
    monkeypatch.setenv("CLAC_MODEL_CARD", str(tmp_path / "missing.md"))
    at = _app("about.py")
    values = {m.label: m.value for m in at.metric}
    assert values["text → crystal R@10"] == "0.625"
    assert values["crystal → text R@10"] == "0.625"
    assert values["zero-shot crystal system"] == "0.875"
    assert values["vs best baseline (t→c R@10)"] == "2.500×"


def test_model_card_figures_drawn_or_named(app_env, tmp_path, monkeypatch):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Card\n\nTrained on /work/main/data/full.\n\n![Gone](eval/missing.png)\n\nEnd.\n")
    monkeypatch.setenv("CLAC_MODEL_CARD", str(card))
    monkeypatch.setenv("CLAC_EVAL_RESULTS", str(tmp_path / "eval" / "results.json"))  # none: no figure file
    at = _app("about.py")
    assert not at.exception, [e.message for e in at.exception]
    text = _texts(at)
    assert "Trained on full." in text and "/work/" not in text
    assert "Figure not shipped: Gone" in text and "End." in text


def test_hide_paths_and_split_images():
    from app_pages.ui.display import hide_paths, split_images

    assert hide_paths("data: /work/main/data/full; x") == "data: full; x"
    assert hide_paths("see https://x.org/a/b, 2.3 g/cm³, eV/atom") == "see https://x.org/a/b, 2.3 g/cm³, eV/atom"
    assert hide_paths({"data_dir": "data/full", "n": [r"C:\ck\model", "~/.cache/x"]}) == {"data_dir": "full",
                                                                                           "n": ["model", "x"]}
    assert split_images("a ![T](eval/p.png) b") == ["a ", ("T", "eval/p.png"), " b"]


HEAVY = ("torch", "transformers", "torch_geometric", "umap", "pymatgen")
HOME_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception, [e.message for e in at.exception]
assert at.text_input(key="home_query"), "Home did not render its search box"
at.switch_page("app_pages/about.py").run()
assert not at.exception, [e.message for e in at.exception]
assert any(m.value == "12" for m in at.metric), "About did not render its metrics"
print("HEAVY=" + ",".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_home_does_not_import_torch(app_env):
    """Home, About and the sidebar read JSON files only: a fresh process rendering them imports no torch.

    A subprocess, because this test process has torch loaded already (the tiny assets).
    """
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CLAC_PRELOAD="0")
    res = subprocess.run([sys.executable, "-c", HOME_PROBE, str(REPO / "app.py"), *HEAVY], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    heavy = res.stdout.strip().splitlines()[-1].removeprefix("HEAVY=")
    assert heavy == "", f"the Home page imported {heavy}"


PRELOAD_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception, [e.message for e in at.exception]
import threading
assert any(t.name.startswith("clac-preload") for t in threading.enumerate()), "Home started no background load"
from app_pages.ui import loaders
from clac_core.inference import default_checkpoint
fut = loaders._model_future(str(default_checkpoint()))  # the future app.py's warm_up started
model = fut.result(timeout=300)
at.switch_page("app_pages/search.py").run()
assert not at.exception, [e.message for e in at.exception]
from app_pages.ui.session import current_index_dir
from clac_core.inference import index_stamp
ix = current_index_dir()
points = loaders._map_future(ix, index_stamp(ix)).result(timeout=300)  # the map's points, built beside
assert "hover" in points.columns and len(points) > 0
def no_second_build(*a, **k):
    raise AssertionError("the map page built its points again")
loaders.map_frame = no_second_build
at.switch_page("app_pages/explorer.py").run()
assert not at.exception, [e.message for e in at.exception]
assert at.get("plotly_chart")
print("SAME=" + str(loaders._load_model(str(default_checkpoint())) is model))
"""


def test_app_start_loads_the_model_in_the_background(app_env):
    """After Home's first run the default model and the map's points (with hover text) are
    loading in a background thread; the Search page uses that very model (no second load) and
    the map page those very points (no second build)."""
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("CLAC_PRELOAD", None)
    res = subprocess.run([sys.executable, "-c", PRELOAD_PROBE, str(REPO / "app.py")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1] == "SAME=True"


UPLOAD_WARM_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
at.switch_page("app_pages/search.py").run()
assert not at.exception, [e.message for e in at.exception]
assert "torch_geometric" not in sys.modules, "the text path imported torch-geometric"
from app_pages.ui import loaders
called = []
real = loaders._analyse_a_small_crystal
loaders._analyse_a_small_crystal = lambda ex: called.append(ex) or real(ex)
at.switch_page("app_pages/upload.py").run()
assert not at.exception, [e.message for e in at.exception]
loaders._POOL.submit(lambda: None).result(timeout=300)  # one worker: the warm-up is done
print("WARMED=" + str(len(called) == 1 and "torch_geometric" in sys.modules))
at.switch_page("app_pages/corpus.py").run()
loaders._POOL.submit(lambda: None).result(timeout=300)
print("ONCE=" + str(len(called) == 1))
"""


def test_upload_page_warms_the_crystal_path_in_the_background(app_env):
    """Opening Upload starts, once per process, the imports the first crystal would wait for
    (torch-geometric's graphs, the crystal tower), while the user picks a file; Corpus reuses it."""
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("CLAC_PRELOAD", None)
    res = subprocess.run([sys.executable, "-c", UPLOAD_WARM_PROBE, str(REPO / "app.py")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert "WARMED=True" in lines and "ONCE=True" in lines, res.stdout[-2000:]


def test_search_returns_rows_and_filters_narrow(app_env):
    at = _app("search.py")
    at.toggle(key="search_aware").set_value(False).run()  # the model's ranking alone
    frames = _frames(at)
    assert frames and len(frames[0]) == 7  # hypothetical (decorated) crystals are opt-in
    assert "band gap (eV)" in frames[0].columns  # properties with their unit
    assert at.dataframe[0].proto.placeholder == "—"  # drawn where a property is unknown
    # decimals are column formats the browser applies: the cells stay numbers (sorting, CSV)
    cfg = json.loads(at.dataframe[0].proto.columns)
    assert cfg["band gap (eV)"]["type_config"] == {"type": "number", "format": "%.2f"}
    assert cfg["similarity"]["type_config"]["format"] == "%.3f"
    assert frames[0]["band gap (eV)"].dtype.kind == "f"
    at.checkbox(key="search_hypo").check().run()
    frames = _frames(at)
    assert len(frames[0]) == 12  # k=25 > corpus size
    at.text_input(key="search_query").set_value("an oxide").run()
    at.text_input(key="search_must").set_value("O").run()
    assert not at.exception
    res = _frames(at)[0]
    assert 0 < len(res) < 12
    assert all("O" in f for f in res["formula"])
    assert set(res["formula"]) == {"MgO", "SrTiO3", "TiO2", "ZnO"}
    at.multiselect(key="search_sys").set_value(["hexagonal"]).run()
    assert list(_frames(at)[0]["formula"]) == ["ZnO"]
    from app_pages.ui.viewer3d import js_path

    assert not at.get("iframe") and not at.get("plotly_chart")  # the 3D view is built only when asked
    at.toggle(key="search_show3d").set_value(True).run()
    if js_path() is not None:
        assert at.get("iframe")  # the selected crystal's 3D view
    else:  # no local 3Dmol.js copy (setup.sh not run): the plotly view, and a note saying why
        assert at.get("plotly_chart") and any("3Dmol.js not installed" in i.value for i in at.info)


def test_search_property_aware_says_what_it_understood(app_env):
    at = _app("search.py")
    at.checkbox(key="search_hypo").check().run()
    at.text_input(key="search_query").set_value("a hexagonal oxide without Mg").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(_shown(c.value) for c in at.caption)
    assert "Understood:" in shown and "contains O" in shown and "no Mg" in shown and "hexagonal" in shown
    res = _frames(at)[0]
    assert "score" in res.columns
    assert all("O" in f and "Mg" not in f for f in res["formula"])  # element constraints are hard
    assert res.iloc[0]["crystal system"] == "hexagonal"  # ZnO: the only hexagonal oxide ranks first
    at.toggle(key="search_aware").set_value(False).run()
    off = _frames(at)[0]
    assert "score" not in off.columns and "MgO" in set(off["formula"])  # off: the model alone


def test_upload_good_and_bad(app_env):
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).upload("bad.cif", BAD_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [_shown(e.value) for e in at.error]
    assert len(errors) == 1 and "bad.cif" in errors[0]
    assert "<b>" not in at.error[0].value  # file-derived strings are escaped
    # the good file still has its results: nearest crystals, descriptions, zero-shot tables
    frames = _frames(at)
    assert len(frames) >= 3
    # wraps, not cut; each corpus text names the corpus crystal it is about
    assert at.table and list(at.table[0].value.columns) == ["describes", "similarity", "view", "text"]
    assert "NaCl" in set(_nearest(at)["formula"])  # NaCl itself is in the tiny corpus
    zs = [f for f in frames if list(f.columns) == ["label", "prompt-softmax score"]]
    assert len(zs) == 2 and all(abs(f["prompt-softmax score"].sum() - 1) < 1e-5 for f in zs)
    assert set(zs[0]["label"]) >= {"cubic", "hexagonal"}
    md = _shown(" ".join(m.value for m in at.markdown))
    assert "NaCl" in md and "Fm-3m" in md


def test_uploads_and_paste_survive_other_pages(app_env):
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).run()
    at.text_area(key="upload_paste").set_value(NACL_CIF.replace("data_NaCl", "data_pasted")).run()
    assert not at.exception, [e.message for e in at.exception]
    before = [_shown(h.value) for h in at.subheader]
    assert before == ["nacl.cif", "pasted structure"]
    at.switch_page("app_pages/search.py").run()
    at.switch_page("app_pages/upload.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert [_shown(h.value) for h in at.subheader] == before  # both still here, with their results
    assert at.text_area(key="upload_paste").value.startswith("data_pasted")
    assert "NaCl" in set(_nearest(at)["formula"])
    at.button(key="upload_remove_" + next(k for k in at.session_state["handoff_uploads"] if k.startswith("nacl"))).click().run()
    assert [_shown(h.value) for h in at.subheader] == ["pasted structure"]


def test_files_dropped_on_home_open_on_upload(app_env):
    at = _app()
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Upload crystals"
    assert [_shown(h.value) for h in at.subheader] == ["nacl.cif"]
    assert "NaCl" in set(_nearest(at)["formula"])


def test_viewer_renders_html(app_env):
    at = _app("viewer.py")
    frames = at.get("iframe")
    assert frames, "no iframe element"
    src = frames[0].proto.srcdoc if hasattr(frames[0].proto, "srcdoc") else str(frames[0].proto)
    assert "$3Dmol" in src or "3Dmol" in src


def test_3d_view_loads_the_served_library_not_an_inline_copy(app_env):
    """With the app's static copy present (setup.sh) and static serving on (config.toml), a 3D
    view is a few kB that loads 3Dmol.js by URL; without the copy it inlines the library."""
    from app_pages.ui import structure_view
    from app_pages.ui.viewer3d import js_path, structure_html

    if js_path() is None:
        pytest.skip("no local 3Dmol.js (scripts/setup.sh not run)")
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    inline = structure_html(nacl)
    by_url = structure_html(nacl, script_src="app/static/3Dmol-min.js")
    assert len(inline) > 300_000 and len(by_url) < 50_000
    assert "<script src='app/static/3Dmol-min.js'></script>" in by_url and "$3Dmol.createViewer" in by_url
    at = _app("viewer.py")
    src = at.get("iframe")[0].proto.srcdoc
    if structure_view.STATIC_JS.is_file():
        assert "src='app/static/3Dmol-min.js'" in src and len(src) < 50_000
    else:
        assert len(src) > 300_000  # inlined


def test_explorer_chart(app_env):
    at = _app("explorer.py")
    assert at.get("plotly_chart")
    at.text_input(key="map_query").set_value("a cubic oxide").run()
    assert not at.exception
    assert at.get("plotly_chart")


def test_map_follows_an_index_rebuilt_in_the_same_folder(app_env, tmp_path, monkeypatch):
    """The map, the index and the Explorer are cached by keys Streamlit hashes, one of which
    changes when the index is rebuilt: the same folder with fewer crystals shows the new map."""
    import shutil

    from clac_core.index import CorpusIndex

    ix = tmp_path / "index"
    shutil.copytree(os.environ["CLAC_INDEX"], ix)
    monkeypatch.setenv("CLAC_INDEX", str(ix))
    full = CorpusIndex.load(ix)
    at = _app("explorer.py")
    assert any(f"· {len(full):,} crystals" in c.value for c in at.caption), [c.value for c in at.caption]

    keep = 5
    CorpusIndex(
        embeddings=full.embeddings[:keep],
        metadata=full.metadata.iloc[:keep].reset_index(drop=True),
        desc_embeddings=full.desc_embeddings,
        descriptions=full.descriptions,
        manifest=full.manifest,
    ).save(ix)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(f"· {keep:,} crystals" in c.value for c in at.caption), [c.value for c in at.caption]


def test_map_selection_opens_in_viewer(app_env):
    from app_pages.ui.results import selected_points

    at = _app("explorer.py")
    assert at.get("plotly_chart")
    # what st.plotly_chart reports for a click: customdata = (modality, row); stars have none
    sel = [{"customdata": ["crystal", 6], "hovertext": "SrTiO3"}, {"customdata": ["text", 0]}, {"x": 0.1}]
    import pandas as pd

    pts = pd.DataFrame({"modality": ["crystal"] * 8 + ["text"] * 2, "row": list(range(8)) + [0, 1]})
    picked = selected_points(pts, sel)
    assert list(zip(picked["modality"], picked["row"], strict=True)) == [("crystal", 6), ("text", 0)]
    # the button's effect: the viewer opens on the picked crystal
    from clac_core.index import CorpusIndex

    s = CorpusIndex.load(os.environ["CLAC_INDEX"]).structure(6)
    at.session_state["viewer_structure"] = ("SrTiO3 (t:SrTiO3)", s)
    at.switch_page("app_pages/viewer.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_input(key="viewer_query").value == ""  # no search: the crystal handed over shows
    assert [_shown(m.value) for m in at.subheader] == ["SrTiO3 (t:SrTiO3)"]


def _build(at, name: str, filename: str, csv: str, *, share: bool = False):
    # one form: the settings and the file go to the server with the click, in one run
    at.text_input(key="corpus_name").set_value(name)
    at.get("file_uploader")[0].upload(filename, csv.encode(), "text/csv")
    if share:
        at.checkbox(key="corpus_share").check()
    at.button(key="corpus_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_corpus_builds_index_selected_and_searched(app_env):
    """Issue 12 points 2-3: the new index is selected in the sidebar, Search queries it, its
    source and ids come from the uploaded file's name, and the gap filter uses ind_gap."""
    csv = tiny_csv(3, ind_gap=[1.0, 2.0, 3.0], dir_gap=[1.5, 2.5, 3.5])
    at = _build(_app("corpus.py"), "tiny csv", "perov_demo.csv", csv)
    assert at.selectbox(key="sidebar_index").value == "yours: tiny_csv"
    assert any("now selected in the sidebar" in s.value for s in at.success)
    from clac_core.index import CorpusIndex

    built = [p for p in (app_env / "user" / "sessions").glob("*/tiny_csv")]
    assert len(built) == 1
    idx = CorpusIndex.load(built[0])
    assert len(idx) == 3 and set(idx.metadata["formula"]) == {"NaCl", "MgO", "CsCl"}
    assert set(idx.metadata["source"]) == {"perov_demo"}
    assert all(i.startswith("perov_demo:") for i in idx.metadata["crystal_id"])
    assert "tmp" not in " ".join(idx.manifest["sources"])
    at.switch_page("app_pages/search.py").run()
    at.toggle(key="search_aware").set_value(False).run()  # every crystal, by the model's ranking
    assert not at.exception, [e.message for e in at.exception]
    res = _frames(at)[0]
    assert set(res["formula"]) == {"NaCl", "MgO", "CsCl"}  # the new index, not the default
    assert {"indirect band gap (eV)", "direct band gap (eV)"} <= set(res.columns)
    assert at.selectbox(key="search_gapcol").value == "indirect_gap"
    at.checkbox(key="search_use_indirect_gap").check().run()
    at.slider(key="search_rng_indirect_gap").set_value((1.5, 3.0)).run()
    res = _frames(at)[0]
    assert sorted(res["indirect band gap (eV)"]) == [2.0, 3.0]


def test_corpus_indexes_private_unless_shared_and_never_overwritten(app_env):
    a = _build(_app("corpus.py"), "same", "a.csv", tiny_csv(2))
    a = _build(a, "same", "a.csv", tiny_csv(3))  # same name again in the same session: a new folder
    assert a.selectbox(key="sidebar_index").value == "yours: same_2"
    b = _app("corpus.py")  # another browser session
    assert not any("same" in o for o in b.selectbox(key="sidebar_index").options)
    b = _build(b, "same", "b.csv", tiny_csv(2), share=True)
    assert b.selectbox(key="sidebar_index").value == "shared: same"
    c = _app()
    assert "shared: same" in c.selectbox(key="sidebar_index").options
    assert not any(o.startswith("yours:") for o in c.selectbox(key="sidebar_index").options)


def test_corpus_folder_needs_root_and_gives_one_error(app_env, tmp_path, monkeypatch):
    monkeypatch.delenv("CLAC_CORPUS_ROOT", raising=False)
    at = _app("corpus.py")
    assert at.radio(key="corpus_mode").options == ["Upload a CSV"]  # folders are off by default
    root = tmp_path / "root"
    (root / "cifs").mkdir(parents=True)
    (root / "cifs" / "nacl.cif").write_text(NACL_CIF)
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "x.cif").write_text(NACL_CIF)
    monkeypatch.setenv("CLAC_CORPUS_ROOT", str(root))
    at = _app("corpus.py")
    at.radio(key="corpus_mode").set_value("Folder of CIF files").run()
    errors = []
    for path in (str(secret), str(tmp_path / "missing"), "../private", str(root / "cifs" / "nacl.cif")):
        at.text_input(key="corpus_folder").set_value(path)  # one form: sent with the click
        at.button(key="corpus_build").click().run()
        assert not at.exception
        errors.append([e.value for e in at.error])
    assert all(len(e) == 1 for e in errors) and len({e[0] for e in errors}) == 1  # same words every time
    assert str(tmp_path) not in errors[0][0]
    at.text_input(key="corpus_name").set_value("rooted")
    at.text_input(key="corpus_folder").set_value("cifs")
    at.button(key="corpus_build").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sidebar_index").value == "yours: rooted"




def test_md_escape_leaves_no_link_or_image():
    import re

    from markdown_it import MarkdownIt

    from app_pages.ui.display import md_escape

    for text in (PAYLOAD, "<img src=x onerror=alert(1)>", "**bold** _x_ # head", ":red[x] $x^2$", "a\n# b"):
        out = MarkdownIt("commonmark").render(md_escape(text))
        assert "<a " not in out and "<img" not in out and "<strong>" not in out and "<h1>" not in out
    for text in (PAYLOAD, "see www.evil.example or mail a@evil.example, ftp://x.y"):
        bare = re.sub(r"\\(.)", r"\1", md_escape(text)).replace("\u200b", "|")
        assert "://" not in bare and "www." not in bare and "@e" not in bare  # nothing for GFM's autolinker
        assert _shown(md_escape(text)) == text  # reads the same
    assert MarkdownIt("commonmark").render(md_escape("a*b*c")).strip() == "<p>a*b*c</p>"


def test_injected_material_id_renders_as_text(app_env):
    """Issue 13: a CSV whose material_id is a Markdown image + link, indexed and viewed."""
    from markdown_it import MarkdownIt

    csv = tiny_csv(1)
    csv = csv.replace("3961", '"' + PAYLOAD + '"', 1)
    at = _build(_app("corpus.py"), "evil", "evil.csv", csv, share=True)
    at.switch_page("app_pages/viewer.py").run()
    assert not at.exception, [e.message for e in at.exception]
    heading = at.subheader[0].value
    assert "evil.example" in heading.replace("\\", "")
    html = MarkdownIt("commonmark").render(heading)
    assert "<a " not in html and "<img" not in html
    src = at.get("iframe")[0].proto.srcdoc
    assert "<img" not in src.split("<script>")[0] and "&lt;" not in PAYLOAD


def test_upload_limit_is_one_number():
    import tomllib

    from clac_core import io as cio
    from clac_core.inference import upload_limit_mb

    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == upload_limit_mb() == cio.DEFAULT_MAX_BYTES // 1_000_000


def test_upload_page_states_the_limit_and_accepts_what_the_reader_reads(app_env):
    from clac_core.inference import upload_limit_mb

    at = _app("upload.py")
    up = at.get("file_uploader")[0].proto
    assert up.max_upload_size_mb == upload_limit_mb()
    assert f"{upload_limit_mb()} MB per file" in " ".join(c.value for c in at.caption)
    assert list(up.type) == []  # any name (POSCAR, CONTCAR, .json, .gz): the reader decides
    at.get("file_uploader")[0].upload("empty.cif", b"").run()
    err = " ".join(e.value for e in at.error)
    assert "empty" in err


def test_upload_one_failure_does_not_hide_others(app_env, monkeypatch):
    """An analysis crash on one file shows beside it; the next file still shows its results."""
    from clac_core import inference

    real = inference.Explorer.symmetry

    def flaky(structure):
        if structure.composition.reduced_formula == "CsCl":
            raise ValueError("simulated failure")
        return real(structure)

    monkeypatch.setattr(inference.Explorer, "symmetry", staticmethod(flaky))
    cscl = NACL_CIF.replace("data_NaCl", "data_CsCl").replace("5.64", "4.12")
    cscl = "\n".join(line for line in cscl.splitlines() if not line.strip().startswith(("Na2", "Na3", "Na4", "Cl2", "Cl3", "Cl4")))
    cscl = cscl.replace("Na1  Na", "Cs1  Cs").replace("Cl1  Cl  0.5  0.0  0.0", "Cl1  Cl  0.5  0.5  0.5")
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("cscl.cif", cscl.encode()).upload("nacl.cif", NACL_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [_shown(e.value) for e in at.error]
    assert len(errors) == 1 and "cscl" in errors[0] and "simulated failure" in errors[0]
    frames = _frames(at)
    assert any("NaCl" in set(f.get("formula", [])) for f in frames)  # nacl.cif's nearest crystals


def test_upload_paste_cif(app_env):
    at = _app("upload.py")
    at.text_area(key="upload_paste").set_value(NACL_CIF).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    md = " ".join(m.value for m in at.markdown)
    assert "NaCl" in md and "Fm\\-3m" in md and "Fm-3m" in _shown(md)
    nc = _nearest(at)
    assert "band gap (eV)" in nc.columns and "NaCl" in set(nc["formula"])


def test_viewer_conventional_by_default_primitive_toggle(app_env):
    from clac_core.index import CorpusIndex

    idx = CorpusIndex.load(os.environ["CLAC_INDEX"])
    assert "Cu" in set(idx.metadata["formula"])
    at = _app("viewer.py")
    at.text_input(key="viewer_query").set_value("Cu").run()
    assert [_shown(m.value) for m in at.subheader] == ["Cu (t:Cu)"]
    assert at.radio(key="viewer_cell").value == "conventional"
    sites = at.dataframe[-1].value
    assert len(sites) == 4  # fcc Cu: the 4-atom cube
    at.radio(key="viewer_cell").set_value("primitive").run()
    assert len(at.dataframe[-1].value) == 1


def test_scene_draws_bonds_across_cell_edges():
    from pymatgen.core import Lattice, Structure

    from app_pages.ui.viewer3d import build_scene, poscar_text, symmetrized_cif

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    sc = build_scene(nacl)
    assert sc.inside.sum() == 27  # 14 Na (corners + faces) + 13 Cl (edges + centre)
    assert (~sc.inside).any()  # bond ends outside the cell are drawn
    d = np.linalg.norm(sc.xyz[sc.bonds[:, 0]] - sc.xyz[sc.bonds[:, 1]], axis=1)
    np.testing.assert_allclose(d, 2.82, atol=1e-6)  # Na-Cl only
    degree = np.bincount(sc.bonds.ravel(), minlength=len(sc.elements))
    def at(x, y, z):
        return int(np.argmin(np.linalg.norm(sc.xyz - np.array([x, y, z]), axis=1)))

    assert degree[at(2.82, 2.82, 2.82)] == 6  # the central Cl
    assert degree[at(0, 0, 0)] == 6  # a corner Na: 3 bonds inside the cell, 3 across its faces
    fe = Structure.from_spacegroup("Im-3m", Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]]).get_primitive_structure()
    cif = symmetrized_cif(fe)
    assert "Im-3m" in cif and "229" in cif
    assert poscar_text(nacl).splitlines()[5].split() == ["Na", "Cl"]


def test_map_markers_distinct(app_env):
    at = _app("explorer.py")
    at.checkbox(key="map_text").check()
    at.text_input(key="map_query").set_value("a cubic oxide").run()
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    q, u, t = traces["your query"]["marker"], traces["your upload"]["marker"], traces["description (text)"]["marker"]
    assert q["symbol"] != u["symbol"] and q["color"] != u["color"]
    from app_pages.explorer import SYSTEM_COLOURS  # noqa: F401 - imported by the page run

    systems = {traces[s]["marker"]["color"] for s in traces if s in ("cubic", "hexagonal", "trigonal", "tetragonal",
                                                                      "orthorhombic", "monoclinic", "triclinic")}
    assert systems and t["color"] not in systems
    assert len(spec["data"]) == len(traces)  # one legend entry per name ("text, text" is gone)
    notes = spec["layout"]["annotations"]
    assert {n["text"].split(":")[0] for n in notes} == {"your query", "your upload"}
    assert all(abs(n["ax"]) >= 40 and abs(n["ay"]) >= 40 for n in notes)  # labels sit off the points


def test_search_never_shows_an_empty_page(app_env):
    at = _app("search.py")
    at.checkbox(key="search_hypo").check().run()
    at.text_input(key="search_query").set_value("an oxide with a band gap around 2 eV without Ti or Zn").run()
    shown = " ".join(_shown(c.value) for c in at.caption)
    assert "PBE" in shown  # band gaps: say what they are
    assert re.search(r"\S \(band gaps are DFT", shown), shown  # the note is set off by a space
    at.text_input(key="search_query").set_value("a plutonium compound").run()  # no Pu in the corpus
    assert not at.exception, [e.message for e in at.exception]
    said = " ".join(_shown(w.value) for w in at.warning)
    assert "No crystal in this corpus meets “contains Pu”" in said and "Nearest relaxation: dropped" in said
    assert _frames(at) and len(_frames(at)[0]) > 0  # the relaxation's results, not an empty page
    assert any("relaxed search" in _shown(c.value) for c in at.caption)


def _viewer_search(at, text: str):
    at.text_input(key="viewer_query").set_value(text).run()
    assert not at.exception, [e.message for e in at.exception]
    return [_shown(m.value) for m in at.subheader]


def _matches(at):
    """The viewer's list of matches (its key holds the query), or None."""
    boxes = [b for b in at.selectbox if (b.key or "").startswith("viewer_pick")]
    assert len(boxes) <= 1
    return boxes[0] if boxes else None


def test_viewer_finds_a_crystal_by_id_formula_or_part_of_an_id(app_env):
    """Issue 19, point 5: no list of every crystal; an exact id opens that crystal, a formula
    opens its best match and lists the others, part of an id lists ids and opens none by itself."""
    at = _app("viewer.py")
    assert _matches(at) is None and len(at.subheader) == 1  # nothing searched: the default crystal
    assert _viewer_search(at, "t:Mg") == ["Mg (t:Mg)"]  # the id, though t:MgO starts with it too
    assert list(_matches(at).options) == ["Mg · P6_3/mmc · t:Mg", "MgO · Fm-3m · t:MgO"]  # labels shown
    assert _viewer_search(at, "T:MGO") == ["MgO (t:MgO)"]  # case ignored in ids
    assert _viewer_search(at, "OMg") == ["MgO (t:MgO)"]  # a formula, in any order of elements
    assert _viewer_search(at, "t:M") == []  # no such id: nothing opens silently
    assert "No crystal has the id" in _texts(at)
    pick = _matches(at)
    assert pick.value is None and list(pick.options) == ["Mg · P6_3/mmc · t:Mg", "MgO · Fm-3m · t:MgO"]
    pick.select_index(1).run()
    assert [_shown(m.value) for m in at.subheader] == ["MgO (t:MgO)"]
    assert _viewer_search(at, "Xx9") == [] and "No crystal has the id or formula" in _texts(at)


def test_crystal_finder_orders_matches():
    import pandas as pd

    from app_pages.ui.lookup import CrystalFinder

    md = pd.DataFrame({
        "crystal_id": ["mp-1300", "mp-130", "mp-149", "mp-165", "mp-13"],
        "formula": ["P", "P", "Si", "Si", "Fe"],
        "nsites": [8, 4, 2, 16, 1],
        "formation_energy_per_atom": [0.1, 0.0, 0.0, 0.01, 0.0],
    })
    f = CrystalFinder(md.iloc[:4])  # without mp-13
    m = f.find("mp-13")
    assert not m.certain and m.rows == [1, 0] and m.kinds == ["id prefix", "id prefix"]
    m = CrystalFinder(md).find("mp-13")
    assert m.certain and m.rows[0] == 4 and m.kinds[0] == "id"
    m = f.find("Si")
    assert m.rows == [2, 3] and m.kinds == ["formula", "formula"]  # lowest formation energy first
    assert f.find("mp-1", limit=2).rows == [1, 2] and f.find("mp-1").total == 4
    assert f.find("  ").rows == []


def test_viewer_cif_is_the_cell_shown(app_env, monkeypatch):
    """Issue 19, point 5: the CIF of the primitive cell held the 8-atom conventional Si cell
    while the POSCAR held 2 atoms. Both files are read back with pymatgen."""
    from pymatgen.core import Structure
    from streamlit.delta_generator import DeltaGenerator

    sent: dict[str, tuple[str, bytes]] = {}  # button key -> (label, bytes); AppTest keeps no media
    real = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        sent[kwargs.get("key")] = (label, data)
        return real(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    at = _app("viewer.py")
    assert _viewer_search(at, "t:Si") == ["Si (t:Si)"]
    for cell, n, label in (("conventional", 8, "Download CIF (symmetrized)"),
                           ("primitive", 2, "Download CIF (primitive cell, P1)"),
                           ("as given", 8, "Download CIF (cell as stored, P1)")):
        at.radio(key="viewer_cell").set_value(cell).run()
        assert not at.exception, [e.message for e in at.exception]
        assert sent["viewer_cif"][0] == label
        s_cif = Structure.from_str(sent["viewer_cif"][1].decode(), fmt="cif")
        s_pos = Structure.from_str(sent["viewer_poscar"][1].decode(), fmt="poscar")
        assert len(s_cif) == len(s_pos) == n, cell
        assert s_cif.volume == pytest.approx(s_pos.volume, rel=1e-4)


def _map_traces(at) -> dict[str, dict]:
    assert not at.exception, [e.message for e in at.exception]
    return {t["name"]: t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}


def test_map_colour_scale_is_clipped_and_hover_says_what_a_crystal_is(app_env):
    """Issue 19, point 5: one outlier (He, 16.6 eV) stretched the band-gap scale; the hover
    named only formula and source."""
    import pandas as pd

    from app_pages.explorer import CLIP_PERCENTILES
    from clac_core.index import CorpusIndex

    gaps = pd.to_numeric(CorpusIndex.load(os.environ["CLAC_INDEX"]).metadata["band_gap"], errors="coerce").dropna()
    at = _app("explorer.py")
    at.selectbox(key="map_colour").set_value("band_gap").run()
    marker = _map_traces(at)["band gap (eV)"]["marker"]
    lo, hi = np.percentile(gaps, CLIP_PERCENTILES)
    assert marker["cmin"] == pytest.approx(lo) and marker["cmax"] == pytest.approx(hi)
    assert gaps.max() > marker["cmax"]  # the tiny index's widest gap (CsCl, 5.2 eV) lies beyond
    assert "percentiles 2–98" in marker["colorbar"]["title"]["text"]
    assert any("Colour scale clipped to percentiles 2–98" in _shown(c.value) for c in at.caption)
    hover = "\n".join(_map_traces(at)["band gap (eV)"]["hovertext"])
    assert "cubic · mp_test" in hover and "band gap (eV): 5.2" in hover
    at.selectbox(key="map_colour").set_value("crystal system").run()
    cubic = "\n".join(_map_traces(at)["cubic"]["hovertext"])
    assert "NaCl<br>cubic · mp_test<br>band gap (eV): 5" in cubic


def test_map_hides_descriptions_by_default_and_cuts_a_long_query(app_env):
    at = _app("explorer.py")
    assert "description (text)" not in _map_traces(at)  # crystals only, until asked
    at.checkbox(key="map_text").check().run()
    assert "description (text)" in _map_traces(at)
    at.checkbox(key="map_text").uncheck().run()
    assert "description (text)" not in _map_traces(at)
    at.text_input(key="map_query").set_value("a cubic oxide " * 50).run()  # 700 characters
    assert not at.exception, [e.message for e in at.exception]
    assert any("700 characters long; only the first 500" in _shown(w.value) for w in at.warning)
    assert len(at.text_input(key="map_query").value) == 500
    assert "your query" in _map_traces(at)


def test_search_result_finds_similar_structures(app_env):
    """"Find similar structures" under the selected search result: corpus crystals ranked by the
    crystal embedding, the selected crystal itself left out."""
    at = _app("search.py")
    at.toggle(key="search_aware").set_value(False).run()
    first = _frames(at)[0].iloc[0]
    assert len(at.dataframe) == 1  # only the results table before the button is pressed
    at.button(key="search_similar_find").click().run()
    assert not at.exception, [e.message for e in at.exception]
    frames = _frames(at)
    assert len(frames) == 2
    similar = frames[1]
    assert 0 < len(similar) and first["crystal id"] not in set(similar["crystal id"])
    at.button(key="search_similar_hide").click().run()
    assert len(at.dataframe) == 1


SERVER_START_PROBE = """
import asyncio, importlib, sys, threading
sys.path.insert(0, sys.argv[1])
import streamlit as st
from streamlit.web.server.app_discovery import discover_asgi_app
from pathlib import Path
found = discover_asgi_app(Path(sys.argv[1]) / "app.py")
print("DISCOVERED=" + str(found.is_asgi_app and found.import_string == "app:app"))
served = importlib.import_module("app")  # what `streamlit run app.py` imports to build its server
print("APP=" + str(isinstance(served.app, st.App)))
from app_pages.ui import loaders
loaded = []
loaders.load_model = lambda ck: loaded.append(ck) or "model"
loaders.open_index = lambda ix: loaded.append("index") or "index"
loaders.property_columns = lambda index: None
loaders.map_frame = lambda index, ix: "points"
print("BEFORE=" + str(any(t.name.startswith("clac-preload") for t in threading.enumerate())))
async def start():
    async with served._server_lifespan(served.app):
        pass
asyncio.run(start())  # the server's start: no browser, no script run
loaders._POOL.submit(lambda: None).result(timeout=300)  # one worker: what it was given is done
print("AT_START=" + str(loaded))
from clac_core.inference import default_checkpoint
fut = loaders._model_future(str(default_checkpoint()))  # the same future a page view would wait on
print("RESULT=" + str(fut.result(timeout=300)))
print("LOADED=" + str(loaded))
"""


@pytest.mark.parametrize("preload", ["1", "0"])
def test_server_start_begins_loading_before_any_page_view(app_env, preload):
    """`streamlit run app.py` builds its server from app.py's ``app`` (an ``st.App``), whose
    lifespan submits the model load when the server starts; a page view then finds that load
    (one load in all). CLAC_PRELOAD=0 submits nothing."""
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CLAC_PRELOAD=preload)
    res = subprocess.run([sys.executable, "-c", SERVER_START_PROBE, str(REPO)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert "DISCOVERED=True" in lines and "APP=True" in lines and "BEFORE=False" in lines, lines
    from clac_core.inference import default_checkpoint

    ck = str(default_checkpoint())
    # on: model and index loaded at the server's start, and that model is what a page gets
    # (no second load); off: nothing at start, the model loaded when a page asks
    assert f"AT_START={[ck, 'index'] if preload == '1' else []}" in lines, lines
    assert "RESULT=model" in lines and f"LOADED={[ck, 'index'] if preload == '1' else [ck]}" in lines, lines
