"""Issue 19, parts 4-6: the upload panel (own description first, estimates marked, DFT values of a
matching corpus crystal, labelled corpus texts), "Find similar structures", exports (map HTML /
PNG button, uploads' embeddings as parquet), the Corpus page's reasons for a bad CSV and its
note on leaving mid-build, and no progress bars in the app's load path.

Pages run under streamlit.testing.v1.AppTest against the tiny checkpoint + index of helpers.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from helpers import NACL_CIF, shared_tiny_assets, tiny_csv  # noqa: E402

BAR = re.compile(r"\d+%\|")  # what every tqdm bar prints: "100%|####|"


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    out = tmp_path_factory.mktemp("upload_panel")
    ck, ix = shared_tiny_assets()
    keys = ("CLAC_CHECKPOINT", "CLAC_INDEX", "CLAC_USER_INDEXES")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(CLAC_CHECKPOINT=str(ck), CLAC_INDEX=str(ix), CLAC_USER_INDEXES=str(out / "user"))
    yield out
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def explorer(app_env):
    from clac_core.inference import Explorer

    return Explorer.load(os.environ["CLAC_CHECKPOINT"], os.environ["CLAC_INDEX"])


def _app(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(f"app_pages/{page}")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _shown(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _structure(formula: str):
    from pymatgen.core import Lattice, Structure

    if formula == "NaCl-CsCl-type":  # NaCl in the CsCl structure: same formula, space group 221
        return Structure(Lattice.cubic(3.3), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    if formula == "KCl":  # not in the tiny corpus
        return Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.29), ["K", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    raise ValueError(formula)


# ---------------------------------------------------------------------------- upload panel (library)


def test_estimates_are_marked_and_sit_beside_the_corpus_dft_values() -> None:
    from pymatgen.core import Lattice, Structure

    from clac_core.inference.estimates import (
        ESTIMATE,
        NOT_ESTIMATED,
        beside_corpus,
        dft_column,
        property_rows,
        values_sentence,
    )

    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
    rows = property_rows(["band_gap", "formation_energy_per_atom", "density"], [1.2, 0.28, 1.76], si,
                         {"band_gap": 0.45})
    text = values_sentence(rows)
    assert "Band gap ≈ 1.2 eV (model estimate, not DFT; test MAE 0.45 eV)" in text
    assert "formation energy 0 eV/atom (by definition: one element)" in text
    assert f"density {round(si.density, 2):g} g/cm³ (computed from the structure)" in text
    assert "1.76" not in text  # the model's density is never shown: one value per quantity
    both = beside_corpus(rows, {"band_gap": 0.61, "total_magnetization": 0.0}, "mp-149").set_index("quantity")
    col = dft_column("mp-149")
    assert col == "DFT value of mp-149"
    assert both.loc["band gap", col] == 0.61 and both.loc["band gap", "value"] == 1.2
    assert both.loc["band gap", "source"] == ESTIMATE
    assert np.isnan(both.loc["density", col])  # the corpus crystal's density was not given
    # a quantity the corpus knows but the model does not estimate: its own row, no upload value
    assert both.loc["total magnetization", "source"] == NOT_ESTIMATED
    assert np.isnan(both.loc["total magnetization", "value"]) and both.loc["total magnetization", col] == 0.0


def test_corpus_match_needs_the_same_formula_and_space_group(explorer) -> None:
    from clac_core.inference.upload_panel import corpus_match
    from clac_core.io import read_structures

    nacl = read_structures(NACL_CIF.encode(), filename="nacl.cif")[0]
    x = explorer.embed_structures([nacl])[0]
    m = corpus_match(explorer, nacl, x, 225)
    assert m is not None and m.crystal_id == "t:NaCl" and m.values["band_gap"] == 5.0 and m.others == 0
    cscl_type = _structure("NaCl-CsCl-type")
    assert corpus_match(explorer, cscl_type, explorer.embed_structures([cscl_type])[0], 221) is None
    kcl = _structure("KCl")
    assert corpus_match(explorer, kcl, explorer.embed_structures([kcl])[0], 225) is None


def test_analyse_upload_describes_the_upload_itself(explorer) -> None:
    from clac_core.inference import analyse_upload
    from clac_core.io import read_structures

    nacl = read_structures(NACL_CIF.encode(), filename="nacl.cif")[0]
    a = analyse_upload(explorer, nacl)
    views = [v for v, _ in a.own]
    assert views == ["composition", "structure", "values"]
    assert "NaCl" in a.own[0][1] and "Fm-3m" in a.own[0][1]
    assert f"Density {round(nacl.density, 2):g} g/cm³ (computed from the structure)" in a.own[2][1]
    assert a.match is not None and a.match.crystal_id == "t:NaCl"
    assert a.properties.set_index("quantity").loc["band gap", "DFT value of t:NaCl"] == 5.0
    # every corpus description names the corpus crystal it is about, as "formula (id)"
    md = explorer.index.metadata
    known = {f"{f} ({i})" for f, i in zip(md["formula"], md["crystal_id"], strict=True)}
    assert len(a.descriptions) == 5 and set(a.descriptions["describes"]) <= known
    assert np.allclose(a.embedding, explorer.embed_structures([nacl])[0], atol=1e-5)


# ---------------------------------------------------------------------------- find similar (library)


def test_find_similar_by_row_embedding_or_structure_with_filters(explorer) -> None:
    from clac_core.inference import SearchFilters, find_similar

    md = explorer.index.metadata
    row = int(np.flatnonzero(md["crystal_id"] == "t:NaCl")[0])
    hits = find_similar(explorer, row, 5)
    assert len(hits) == 5 and row not in set(hits["row"])  # the crystal itself is left out
    assert list(hits["rank"]) == [1, 2, 3, 4, 5] and hits["similarity"].is_monotonic_decreasing
    cos = np.asarray(explorer.index.embeddings, dtype=np.float32) @ np.asarray(explorer.index.embeddings[row])
    cos[row] = -np.inf
    assert hits["similarity"].iloc[0] == pytest.approx(cos.max(), abs=1e-5)
    only_cl = find_similar(explorer, row, 20, SearchFilters(must_contain=["Cl"]))
    assert set(only_cl["formula"]) == {"CsCl"}  # NaCl itself is left out; CsCl is the other chloride
    s = explorer.index.structure(row)
    by_structure = find_similar(explorer, s, 3)
    by_embedding = find_similar(explorer, explorer.embed_structures([s])[0], 3)
    assert list(by_structure["row"]) == list(by_embedding["row"])
    with pytest.raises(IndexError):
        find_similar(explorer, len(explorer.index), 3)


def test_embeddings_parquet_round_trips() -> None:
    from clac_core.inference import embeddings_parquet

    rows = [{"file": "a.cif", "structure": 1, "formula": "NaCl", "spacegroup": "Fm-3m", "embedding": np.ones(4) / 2},
            {"file": "b.cif", "structure": 2, "formula": "Si", "spacegroup": "Fd-3m", "embedding": np.arange(4.0)}]
    df = pd.read_parquet(io.BytesIO(embeddings_parquet(rows, checkpoint_hash="abc")))
    assert list(df.columns) == ["file", "structure", "formula", "spacegroup", "embedding", "checkpoint"]
    assert list(df["file"]) == ["a.cif", "b.cif"] and set(df["checkpoint"]) == {"abc"}
    assert np.allclose(np.stack(df["embedding"]), np.stack([np.ones(4) / 2, np.arange(4.0)]))


# ---------------------------------------------------------------------------- upload page


def test_upload_page_shows_the_upload_first_then_labelled_corpus_crystals(app_env) -> None:
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).run()
    assert not at.exception, [e.message for e in at.exception]
    md = [_shown(m.value) for m in at.markdown]
    first = next(i for i, m in enumerate(md) if m.startswith("**This upload**"))
    corpus = next(i for i, m in enumerate(md) if m.startswith("**Nearest corpus crystals**"))
    texts = next(i for i, m in enumerate(md) if m.startswith("**Nearest corpus descriptions**"))
    assert first < corpus < texts
    own = " ".join(md[first + 1 : corpus])
    assert "*composition*: Composition NaCl" in own and "(computed from the structure)" in own
    captions = " ".join(_shown(c.value) for c in at.caption)
    assert "Corpus crystal t:NaCl has the same reduced formula and space group" in captions
    props = next(d.value for d in at.dataframe if "quantity" in d.value.columns)
    assert props.set_index("quantity").loc["band gap", "DFT value of t:NaCl"] == 5.0
    zs = [d.value for d in at.dataframe if "label" in d.value.columns]
    assert len(zs) == 2 and all(list(f.columns) == ["label", "prompt-softmax score"] for f in zs)
    assert any("prompt-softmax scores" in m for m in md)
    table = at.table[0].value
    assert list(table.columns) == ["describes", "similarity", "view", "text"]
    assert all(re.fullmatch(r"\S+ \(t:\S+\)", _shown(v)) for v in table["describes"])
    dl = at.get("download_button")
    assert [d.proto.label for d in dl] == ["Download the embeddings of 1 uploaded structure(s) (parquet)"]


def test_find_similar_from_an_upload_uses_the_search_filters(app_env) -> None:
    at = _app("upload.py")
    at.get("file_uploader")[0].upload("nacl.cif", NACL_CIF.encode()).run()
    before = len(at.dataframe)
    at.button(key="upload_similar_0_0_find").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Structures similar to nacl.cif #1" in _shown(m.value) for m in at.markdown)
    assert len(at.dataframe) == before + 1  # the panel's table, drawn last
    sim = at.dataframe[-1].value
    # the Search page's default filters: hypothetical (decorated) crystals are left out
    assert len(sim) == 7 and set(sim["source"]) == {"mp_test"}
    at.text_input(key="upload_similar_0_0_must").set_value("Cl").run()  # the Search page's filter widgets
    sim = at.dataframe[-1].value
    assert set(sim["formula"]) == {"NaCl", "CsCl"}
    at.button(key="upload_similar_0_0_hide").click().run()
    assert len(at.dataframe) == before and at.button(key="upload_similar_0_0_find")


def test_find_similar_for_a_corpus_crystal_leaves_it_out(app_env) -> None:
    """The panel the map (and any result list) shows for a corpus row."""
    from streamlit.testing.v1 import AppTest

    def page(repo: str) -> None:
        import sys

        sys.path.insert(0, repo)
        from app_pages.ui.loaders import get_explorer
        from app_pages.ui.results import similar_panel

        ex = get_explorer()
        row = int((ex.index.metadata["crystal_id"] == "t:NaCl").to_numpy().argmax())
        similar_panel(ex, row, key="t_sim", title="NaCl (t:NaCl)")

    at = AppTest.from_function(page, args=(str(REPO),), default_timeout=120)
    at.run()
    at.button(key="t_sim_find").click().run()
    assert not at.exception, [e.message for e in at.exception]
    (sim,) = (d.value for d in at.dataframe)
    assert len(sim) == 6 and "t:NaCl" not in set(sim["crystal id"])  # 7 measured crystals less itself


# ---------------------------------------------------------------------------- map exports


def test_map_downloads_as_offline_html_and_sets_up_the_png_button(app_env) -> None:
    import plotly.graph_objects as go

    from app_pages.ui.results import figure_html

    at = _app("explorer.py")
    chart = at.get("plotly_chart")[0].proto
    config = json.loads(chart.config)
    assert config["toImageButtonOptions"]["format"] == "png"
    assert [d.proto.label for d in at.get("download_button")] == ["Download the map (HTML)"]
    assert any("camera icon" in c.value for c in at.caption)
    html = figure_html(go.Figure(go.Scatter(x=[0.5], y=[1.5], name="probe-trace")))
    assert "probe-trace" in html and len(html) > 1_000_000  # plotly.js is inside the file
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)  # nothing fetched from a CDN


# ---------------------------------------------------------------------------- corpus page


def _build(at, filename: str, csv: str):
    at.text_input(key="corpus_name").set_value("bad")  # one form: sent with the click, in one run
    at.get("file_uploader")[0].upload(filename, csv.encode(), "text/csv")
    at.button(key="corpus_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_bad_csv_shows_its_reasons_on_the_page(app_env) -> None:
    bad = pd.read_csv(io.StringIO(tiny_csv(3)))
    bad["cif"] = ["not a cif", "", "data_x\n_cell_length_a 5\n"]
    at = _build(_app("corpus.py"), "broken.csv", bad.to_csv(index=False))
    errors = [_shown(e.value) for e in at.error]
    assert len(errors) == 1 and "No crystal could be read from upload:broken.csv" in errors[0]
    assert "all 3 rows" in errors[0] and "no crystals found in the source" not in errors[0]
    listed = " ".join(_shown(m.value) for m in at.markdown)
    assert "First 3 of 3 left out, and why" in listed
    assert "row 0 (3961)" in listed and "row 1 (3962)" in listed and "'cif' cell is empty" in listed
    assert "/tmp" not in listed + errors[0]  # the upload's temporary folder is never shown
    no_cif = _build(_app("corpus.py"), "nocif.csv", "material_id,structure\n1,x\n")
    err = " ".join(_shown(e.value) for e in no_cif.error)
    assert "column 'cif' missing" in err and "/tmp" not in err


def test_a_partly_bad_csv_builds_and_says_what_it_left_out(app_env) -> None:
    part = pd.read_csv(io.StringIO(tiny_csv(3)))
    part.loc[1, "cif"] = "garbage"
    at = _build(_app("corpus.py"), "part.csv", part.to_csv(index=False))
    assert not at.error, [e.value for e in at.error]
    assert any("1 rows or files could not be read" in w.value for w in at.warning)
    assert any("row 1 (3962)" in _shown(m.value) for m in at.markdown)


def test_bad_rows_become_reasons_not_a_server_warning_with_a_path(tmp_path) -> None:
    import warnings

    from clac_core.inference.uploads import read_source

    part = pd.read_csv(io.StringIO(tiny_csv(3)))
    part.loc[2, "cif"] = "garbage"
    (tmp_path / "upload").mkdir()
    table = tmp_path / "upload" / "mine.csv"
    part.to_csv(table, index=False)
    skipped: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = read_source(f"csv:{table}", "upload:mine.csv", skipped)
    assert len(records) == 2 and len(skipped) == 1 and skipped[0].startswith("mine.csv ")
    assert "row 2 (3963)" in skipped[0] and "data_" in skipped[0]  # which row, and why
    assert not [w for w in caught if str(tmp_path) in str(w.message)]  # nothing for the server log
    assert str(tmp_path) not in skipped[0]


def test_corpus_page_says_a_build_stops_when_you_leave(app_env) -> None:
    at = _app("corpus.py")
    assert any("leaving it stops the build and nothing is saved" in c.value for c in at.caption)
    # the settings, the file and the button are one form: the file reaches the server with the
    # click (the browser keeps the button disabled while the file uploads), and no upload's own
    # rerun can stop a build the click started
    form = at.button(key="corpus_build").proto.form_id
    assert form and at.get("file_uploader")[0].proto.form_id == form
    assert at.text_input(key="corpus_name").proto.form_id == form


def test_an_interrupted_build_saves_nothing(app_env, explorer, tmp_path) -> None:
    """Streamlit stops a run by raising from the next st call (here: the progress callback)."""
    from clac_core.inference import build_user_index, session_index_root

    class Stopped(BaseException):  # like streamlit's StopException: not an Exception
        pass

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "crystals":
            raise Stopped

    table = tmp_path / "t.csv"
    table.write_text(tiny_csv(3))
    with pytest.raises(Stopped):
        build_user_index(explorer, name="halfway", spec=f"csv:{table}", session="session_halfway", progress=progress)
    root = session_index_root("session_halfway")
    assert not root.exists() or not any(root.iterdir())


# ---------------------------------------------------------------------------- log noise


def test_the_app_load_path_prints_no_progress_bar(app_env, capfd) -> None:
    from transformers.utils import logging as hf

    from clac_core.inference import load_model

    capfd.readouterr()
    load_model(os.environ["CLAC_CHECKPOINT"])
    err = capfd.readouterr().err
    assert "Loading weights" not in err and not BAR.search(err), err[-500:]
    assert hf.is_progress_bar_enabled()  # switched off for the load only


def test_an_app_index_build_prints_no_progress_bar(app_env, explorer, capfd) -> None:
    """A caller with a progress callback (the Corpus page) gets no terminal bars, even for a
    bank of descriptions large enough to draw one from the command line."""
    from helpers import tiny_records

    from clac_core.index import build

    recs = tiny_records()
    texts = [(f"a crystal described in words, number {i}", "caption", recs[i % len(recs)].id) for i in range(300)]
    seen: list[str] = []
    capfd.readouterr()
    build(explorer.model, recs, texts=texts, max_descriptions=0, progress=lambda s, d, t: seen.append(s))
    err = capfd.readouterr().err
    assert "descriptions" in seen and not BAR.search(err), err[-500:]


# ---------------------------------------------------------------------------- structure types in search


def test_property_aware_search_reads_the_structure_type_column(explorer) -> None:
    """The re-rank sees the index's structure_type column (built by the index, read here)."""
    from clac_core.inference.search import property_columns

    md = explorer.index.metadata
    cols = property_columns(explorer.index)[0]
    assert list(cols["structure_type"]) == [v if isinstance(v, str) else "" for v in md["structure_type"]]
    rock_salt = set(md.loc[md["structure_type"] == "rock salt", "formula"])
    assert {"NaCl", "MgO"} <= rock_salt
    hits = explorer.search("rock salt structure", 3, property_aware=True).hits
    assert set(hits["formula"]) <= rock_salt, hits[["formula", "structure_type"]]
