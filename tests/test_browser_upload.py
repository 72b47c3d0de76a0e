# ruff: noqa: F811  (the fixtures server and page come from browser_kit)
"""Real browser (issue 19, part 4): an upload shows its own description and values first, then
the corpus crystals and texts labelled as theirs; "Find similar structures" searches the corpus
by the crystal embedding with the Search page's filters.

Uses the server, the page and the helpers of ``browser_kit.py`` (a Streamlit server on the
tiny checkpoint + index, Debian's Chromium through Playwright).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_kit import CHROMIUM, SHOTS, _goto, _grid, _settle, _upload, page, serve, server  # noqa: E402, F401
from helpers import NACL_CIF  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]


def _grids(pg) -> list[tuple[list[str], list[list[str]]]]:
    return [_grid(pg, i) for i in range(pg.locator("[data-testid='stDataFrame']").count())]


def test_upload_describes_itself_first_and_finds_similar_structures(server, page, tmp_path):  # noqa: F811
    _goto(page, server, "upload")
    cif = tmp_path / "nacl.cif"
    cif.write_text(NACL_CIF)
    _upload(page, cif)

    own = page.get_by_text("This upload", exact=False).first
    nearest = page.get_by_text("Nearest corpus crystals", exact=False).first
    texts = page.get_by_text("Nearest corpus descriptions", exact=False).first
    assert own.bounding_box()["y"] < nearest.bounding_box()["y"] < texts.bounding_box()["y"]
    assert page.get_by_text("Composition NaCl", exact=False).count() >= 1  # its own facts
    assert page.get_by_text("(computed from the structure)", exact=False).count() >= 1
    # the run has ended; the tables are drawn once the browser has the grid's code (its first
    # grid on this page) and may come a moment after the text
    page.locator("[data-testid='stDataFrame'] th[role='columnheader']", has_text="quantity").first.wait_for(
        state="attached"
    )
    page.locator("[data-testid='stDataFrame'] th[role='columnheader']", has_text="similarity").first.wait_for(
        state="attached"
    )
    grids = _grids(page)
    props = next(g for g in grids if "quantity" in g[0])
    assert "DFT value of t:NaCl" in props[0]  # the matching corpus crystal's values, named
    table = page.locator("[data-testid='stTable']").first
    describes = table.locator("tbody tr td:first-child, tbody tr th:first-child").all_text_contents()
    assert describes and all("(t:" in d for d in describes), describes
    assert page.get_by_text("prompt-softmax scores", exact=False).count() >= 1
    assert page.get_by_role("button", name="Download the embeddings of 1 uploaded structure(s) (parquet)").count() == 1

    n_grids = len(grids)
    page.get_by_role("button", name="Find similar structures").first.click()
    page.get_by_text("Structures similar to nacl.cif #1", exact=False).first.wait_for()
    _settle(page)
    heads, rows = _grid(page, n_grids)  # the panel's table comes after the others
    assert "formula" in heads and len(rows) == 7  # measured crystals (hypothetical ones are filtered out)
    page.get_by_text("Filters (as on the Search page)").click()
    box = page.get_by_label("Must contain elements").last
    box.fill("Cl")
    box.press("Enter")
    # the run this starts may begin before the key is seen (the box commits on input): wait for
    # the panel's table to change, not for a run after the key press
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid=\"stDataFrame\"]')[{n_grids}]"
        "?.querySelectorAll('tbody tr[role=\"row\"]').length === 2",
        timeout=90_000,
    )
    heads, rows = _grid(page, n_grids)
    assert {r[heads.index("formula")] for r in rows} == {"NaCl", "CsCl"}
    page.screenshot(path=str(SHOTS / "upload_similar.png"), full_page=True)



@pytest.fixture(scope="module")
def aux_server(tmp_path_factory):
    """The app on a tiny random-init model *with* an aux head (the shared tiny model has none),
    so the upload panel shows its estimates beside what the structure fixes."""
    import torch
    from helpers import TINY_MODEL, tiny_records

    from clac_core.config import model_config_from_dict
    from clac_core.index import build
    from clac_core.models import CLaCModel, save_checkpoint

    out = tmp_path_factory.mktemp("browser_aux_assets")
    torch.manual_seed(0)
    cfg = dict(TINY_MODEL, aux_properties=["band_gap", "formation_energy_per_atom", "total_magnetization", "density"])
    ck = out / "model"
    save_checkpoint(CLaCModel(model_config_from_dict(cfg)), ck, step=0, extra={"untrained": True})
    model = CLaCModel.from_checkpoint(ck)
    with torch.no_grad():  # a head far from the truth: bcc Fe estimated at +3 eV/atom, 50 μB, 1 g/cm³
        model.aux_head[-1].weight.zero_()
        model.aux_head[-1].bias.copy_(torch.tensor([0.5, 3.0, 50.0, 1.0]))
    save_checkpoint(model, ck, step=0, extra={"untrained": True})
    ix = build(model, tiny_records(), checkpoint=ck, sources=["tiny"], max_descriptions=40).save(out / "index")
    yield from serve(out, ck, ix)


def test_upload_values_respect_what_the_structure_fixes(aux_server, page, tmp_path):  # noqa: F811
    """Issue 19, part 4, in the browser: for bcc Fe, whatever the model estimates, the formation
    energy is 0 by definition, the density is the structure's own (the value the description
    states too: one value per quantity), and the magnetization stays within 7 μB per atom."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    fe = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cif = tmp_path / "fe_bcc.cif"
    CifWriter(fe).write_file(str(cif))
    _goto(page, aux_server, "upload")
    _upload(page, cif)
    page.locator("[data-testid='stDataFrame'] th[role='columnheader']", has_text="quantity").first.wait_for(
        state="attached"
    )
    heads, rows = next(g for g in _grids(page) if "quantity" in g[0])
    by = {r[heads.index("quantity")].lower(): r for r in rows}
    value, source = heads.index("value"), heads.index("source")
    ef = next(r for q, r in by.items() if q.startswith("formation energy"))
    assert float(ef[value]) == 0.0 and "by definition" in ef[source]
    rho = next(r for q, r in by.items() if q.startswith("density"))
    assert float(rho[value]) == pytest.approx(fe.density, abs=0.01) and "computed" in rho[source]
    mag = next(r for q, r in by.items() if "magnetization" in q)
    assert float(mag[value]) == pytest.approx(7.0 * len(fe)) and "estimate" in mag[source]  # 50 μB bounded
    main = page.locator("[data-testid='stMain']").inner_text()
    assert f"{fe.density:.2f}" in main and f"{1.0:.2f} g/cm" not in main  # one density, the structure's
    page.screenshot(path=str(SHOTS / "upload_fe_values.png"), full_page=True)
