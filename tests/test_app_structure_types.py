"""The Search page and structure types (issue 19): the "Understood" line names the type, the
results show the index's ``structure_type`` column, and an index built before the column says
that it does not record structure types instead of failing."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from helpers import shared_tiny_assets  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return shared_tiny_assets()


def _search(monkeypatch, ck: Path, ix: Path, query: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CLAC_CHECKPOINT", str(ck))
    monkeypatch.setenv("CLAC_INDEX", str(ix))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("app_pages/search.py")
    at.run()
    at.checkbox(key="search_hypo").check().run()
    at.text_input(key="search_query").set_value(query).run()
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(re.sub(r"\\(.)", r"\1", c.value) for c in at.caption)
    return at, shown


def test_search_shows_the_structure_type(tiny, monkeypatch) -> None:
    ck, ix = tiny
    at, shown = _search(monkeypatch, ck, ix, "a rock salt oxide")
    assert "rock salt structure" in shown and "does not record structure types" not in shown
    res = at.dataframe[0].value
    types = dict(zip(res["formula"], res["structure type"], strict=True))
    assert types.get("MgO") == "rock salt"  # the fixture's MgO is NaCl-type


def test_an_index_without_structure_types_says_so(tiny, tmp_path, monkeypatch) -> None:
    import pandas as pd

    ck, ix = tiny
    old = tmp_path / "index"
    shutil.copytree(ix, old)
    md = pd.read_parquet(old / "metadata.parquet").drop(columns=["structure_type"])
    md.to_parquet(old / "metadata.parquet", index=False)
    at, shown = _search(monkeypatch, ck, old, "a cubic perovskite")
    assert "perovskite structure" in shown and "does not record structure types" in shown
    assert "structure type" not in at.dataframe[0].value.columns
