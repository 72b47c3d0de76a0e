"""Every page under streamlit.testing.v1.AppTest, pointed at a tiny checkpoint + index."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from test_index import shared_tiny_assets, tiny_records  # noqa: E402

NACL_CIF = """data_NaCl
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   5.64
_cell_length_b   5.64
_cell_length_c   5.64
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na1  Na  0.0  0.0  0.0  1
  Na2  Na  0.5  0.5  0.0  1
  Na3  Na  0.5  0.0  0.5  1
  Na4  Na  0.0  0.5  0.5  1
  Cl1  Cl  0.5  0.0  0.0  1
  Cl2  Cl  0.0  0.5  0.0  1
  Cl3  Cl  0.0  0.0  0.5  1
  Cl4  Cl  0.5  0.5  0.5  1
"""
BAD_CIF = "data_<b>broken</b>\n_cell_length_a 5\nthis is not a cif at all\n"


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


def test_home(app_env):
    at = _app()
    text = " ".join(m.value for m in at.markdown) + " ".join(e.value for e in at.error)
    assert "UNTRAINED" in text
    assert any(m.value == "12" for m in at.metric)


def test_home_shows_eval_numbers_from_results_file(app_env, tmp_path, monkeypatch):
    ret = {d: {"pool_1000": {"R@1": 0.25, "R@5": 0.5, "R@10": 0.625, "MRR": 0.375, "pool_size": 1000}}
           for d in ("text_to_crystal", "crystal_to_text")}
    results = {"retrieval": ret, "zero_shot": {"crystal_system": {"accuracy": 0.875}},
               "baselines": {"ratios": {"text_to_crystal": {"pool_1000": {"R@10": 2.5}}}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    monkeypatch.setenv("CLAC_EVAL_RESULTS", str(path))
    monkeypatch.setenv("CLAC_MODEL_CARD", str(tmp_path / "missing.md"))
    at = _app()
    values = {m.label: m.value for m in at.metric}
    assert values["text → crystal R@10"] == "0.625"
    assert values["crystal → text R@10"] == "0.625"
    assert values["zero-shot crystal system"] == "0.875"
    assert values["vs best baseline (t→c R@10)"] == "2.500×"


HEAVY = ("torch", "transformers", "torch_geometric", "umap", "pymatgen")
HOME_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception, [e.message for e in at.exception]
assert any(m.value == "12" for m in at.metric), "Home did not render its metrics"
print("HEAVY=" + ",".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_home_does_not_import_torch(app_env):
    """Home + sidebar read JSON files only: a fresh process rendering them imports no torch.

    A subprocess, because this test process has torch loaded already (the tiny assets).
    """
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    res = subprocess.run([sys.executable, "-c", HOME_PROBE, str(REPO / "app.py"), *HEAVY], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    heavy = res.stdout.strip().splitlines()[-1].removeprefix("HEAVY=")
    assert heavy == "", f"the Home page imported {heavy}"


def test_search_returns_rows_and_filters_narrow(app_env):
    at = _app("search.py")
    frames = _frames(at)
    assert frames and len(frames[0]) == 12  # k=25 > corpus size
    at.text_input(key="search_query").set_value("an oxide").run()
    at.text_input(key="search_must").set_value("O").run()
    assert not at.exception
    res = _frames(at)[0]
    assert 0 < len(res) < 12
    assert all("O" in f for f in res["formula"])
    assert set(res["formula"]) == {"MgO", "SrTiO3", "TiO2", "ZnO"}
    at.multiselect(key="search_sys").set_value(["hexagonal"]).run()
    assert list(_frames(at)[0]["formula"]) == ["ZnO"]
    assert at.get("iframe")  # the selected crystal's 3D view


def test_upload_good_and_bad(app_env):
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).upload("bad.cif", BAD_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "bad.cif" in errors[0]
    assert "<b>" not in errors[0]  # file-derived strings are escaped
    # the good file still has its results: nearest crystals, descriptions, zero-shot tables
    frames = _frames(at)
    assert len(frames) >= 4
    assert "NaCl" in set(frames[0]["formula"])  # NaCl itself is in the tiny corpus
    zs = [f for f in frames if list(f.columns) == ["label", "score"]]
    assert len(zs) == 2 and all(abs(f["score"].sum() - 1) < 1e-5 for f in zs)
    assert set(zs[0]["label"]) >= {"cubic", "hexagonal"}
    md = " ".join(m.value for m in at.markdown)
    assert "NaCl" in md and "Fm-3m" in md


def test_viewer_renders_html(app_env):
    at = _app("viewer.py")
    frames = at.get("iframe")
    assert frames, "no iframe element"
    src = frames[0].proto.srcdoc if hasattr(frames[0].proto, "srcdoc") else str(frames[0].proto)
    assert "$3Dmol" in src or "3Dmol" in src


def test_explorer_chart(app_env):
    at = _app("explorer.py")
    assert at.get("plotly_chart")
    at.text_input(key="map_query").set_value("a cubic oxide").run()
    assert not at.exception
    assert at.get("plotly_chart")


def test_map_selection_opens_in_viewer(app_env):
    from app_pages._shared import selected_points

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
    assert at.selectbox(key="viewer_pick").value == "(last selected)"
    assert any("SrTiO3" in m.value for m in at.subheader)


def test_corpus_builds_index_from_csv(app_env):
    import pandas as pd
    from pymatgen.io.cif import CifWriter

    recs = tiny_records()[:3]
    csv = pd.DataFrame(
        {"material_id": [f"x-{i}" for i in range(3)], "cif": [str(CifWriter(r.structure)) for r in recs],
         "band_gap": [1.0, 2.0, 3.0]}
    ).to_csv(index=False)
    at = _app("corpus.py")
    at.text_input(key="corpus_name").set_value("tiny csv").run()
    at.get("file_uploader")[0].upload("tiny.csv", csv.encode(), "text/csv").run()
    at.button(key="corpus_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    out = app_env / "user" / "tiny_csv"
    assert (out / "manifest.json").exists()
    from clac_core.index import CorpusIndex

    idx = CorpusIndex.load(out)
    assert len(idx) == 3 and set(idx.metadata["formula"]) == {"NaCl", "MgO", "CsCl"}
    assert any("tiny_csv" in m.value for m in at.markdown)
