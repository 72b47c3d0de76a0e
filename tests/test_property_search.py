"""Property-aware search: query understanding, constraint matching, fused re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from clac_core.vocab.classes import MAGNETIC


def test_understand_reads_properties_elements_and_symmetry() -> None:
    from clac_core.query.intent import understand

    it = understand("stable cubic oxide with Li but no Co, band gap around 2 eV")
    assert it.include == ["Li", "O"] and it.exclude == ["Co"]
    assert it.crystal_systems == ["cubic"] and it.stable
    (gap,) = it.constraints
    assert gap.prop == "band_gap" and gap.kind == "approx"
    assert "band gap ≈ 2 eV" in it.describe()
    assert understand("cobalt-free cathode").exclude == ["Co"]
    assert understand("magnetic iron oxide").include == ["Fe", "O"]
    assert understand("a crystal").is_empty()
    # "In" / "As" are words, not indium or arsenic, outside an include list
    assert understand("materials used In As-grown films").include == []


def test_constraint_match_inside_outside_and_unknown() -> None:
    from clac_core.query.numbers import Constraint
    from clac_core.query.rerank import constraint_match

    above = Constraint("band_gap", 3.0, 8.0, "above", "gap above 3 eV")
    m = constraint_match(above, np.array([4.0, 3.0, 2.0, np.nan]))
    assert m[0] == m[1] == 1.0 and 0 < m[2] < 1 and m[3] == 0.0
    near = Constraint("band_gap", 1.5, 2.5, "approx", "around 2 eV")
    m = constraint_match(near, np.array([2.0, 2.4, 3.5]))
    assert m[0] > m[1] > m[2]


def test_rerank_prefers_matching_crystals_and_uses_predictions_where_unknown() -> None:
    from clac_core.query import rerank_scores, understand

    model = np.array([0.9, 0.5, 0.4, 0.3])  # the model alone prefers crystal 0
    cols = {
        "band_gap": np.array([0.0, 2.1, np.nan, 5.0]),
        "predicted_band_gap": np.array([0.1, 1.0, 1.9, 4.0]),  # crystal 2 has no DFT value
    }
    fused = rerank_scores(model, understand("band gap around 2 eV"), cols)
    order = np.argsort(-fused)
    assert set(order[:2]) == {1, 2} and order[-1] in (0, 3)
    assert np.array_equal(rerank_scores(model, understand("a crystal"), cols), model)  # nothing understood
    els = [{"Li", "O"}, {"Co", "O"}, {"Li", "Co", "O"}, {"Na", "O"}]
    fused = rerank_scores(model, understand("with Li but no Co"), cols, elements=els)
    assert np.isfinite(fused).tolist() == [True, False, False, False]


def test_a_modulus_query_reads_the_predicted_modulus_where_no_dft_value_is_known() -> None:
    """"hard material with bulk modulus above 250 GPa" on a corpus where only some crystals have
    DFT moduli (2,950 of mp_37k): the others are ranked by the aux head's predicted modulus."""
    from clac_core.query import rerank_scores, understand

    model = np.array([0.9, 0.5, 0.4, 0.3])  # the model alone prefers crystal 0
    cols = {
        "bulk_modulus": np.array([np.nan, 80.0, np.nan, 300.0]),
        "predicted_bulk_modulus": np.array([40.0, 290.0, 280.0, 90.0]),  # ignored where DFT is known
    }
    fused = rerank_scores(model, understand("hard material with bulk modulus above 250 GPa"), cols)
    assert set(np.argsort(-fused)[:2]) == {2, 3}  # predicted 280 (no DFT value), DFT 300


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """A 6-crystal index with band gaps (no model needed: random embeddings)."""
    import pandas as pd

    from clac_core.index import CorpusIndex

    rng = np.random.default_rng(0)
    md = pd.DataFrame(
        {
            "crystal_id": [f"c{i}" for i in range(6)],
            "formula": ["A", "B", "C", "D", "E", "F"],
            "source": ["t"] * 6,
            "hypothetical": [False] * 6,
            "spacegroup_symbol": ["Pm-3m"] * 6,
            "spacegroup_number": [221] * 6,
            "crystal_system": ["cubic", "cubic", "hexagonal", "cubic", "cubic", "cubic"],
            "nsites": [2] * 6,
            "elements": ["Li O", "Co O", "Li O", "Na Cl", "Li O", "Li O"],
            "band_gap": [0.0, 2.0, 2.2, 5.0, np.nan, 1.0],
            "predicted_band_gap": [0.2, 1.8, 2.0, 4.5, 2.05, 1.2],
        }
    )
    emb = rng.normal(size=(6, 8)).astype(np.float32)
    return CorpusIndex(
        embeddings=emb,
        metadata=md,
        desc_embeddings=np.zeros((0, 8), np.float32),
        descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}),
        manifest={},
    )


def test_index_search_rescore_keeps_model_similarity(small_index) -> None:
    q = np.ones(8, np.float32)
    plain = small_index.search(q, k=6)
    fused = small_index.search(q, k=6, rescore=lambda rows, s: np.where(rows == 3, 10.0, s))
    assert fused.iloc[0]["crystal_id"] == "c3" and "score" in fused.columns
    sim = dict(zip(plain["crystal_id"], plain["similarity"], strict=True))
    assert fused.iloc[0]["similarity"] == pytest.approx(sim["c3"])  # cosine unchanged
    dropped = small_index.search(q, k=6, rescore=lambda rows, s: np.where(rows == 0, -np.inf, s))
    assert "c0" not in set(dropped["crystal_id"]) and len(dropped) == 5


def test_explorer_property_aware_search(small_index) -> None:
    from clac_core.inference import Explorer

    ex = Explorer.__new__(Explorer)  # no model: the query embedding is injected below
    ex.index = small_index
    ex._query_cache = {"Li oxide with a band gap around 2 eV": np.ones(8, np.float32)}
    res = ex.search_text("Li oxide with a band gap around 2 eV", k=3, property_aware=True)
    # Li + O only (c1 has Co, c3 Na Cl); gap near 2 eV: c2 (DFT 2.2), c4 (predicted 2.05)
    assert set(res["crystal_id"][:2]) == {"c2", "c4"}
    assert set(res["crystal_id"]) <= {"c0", "c2", "c4", "c5"}
    off = ex.search_text("Li oxide with a band gap around 2 eV", k=6, property_aware=False)
    assert len(off) == 6 and "score" not in off.columns


def test_results_table_labels_predictions_and_score(small_index) -> None:
    from app_pages.ui.display import predicted_label, results_table, table_formats

    hits = small_index.search(np.ones(8, np.float32), k=3, rescore=lambda rows, s: s + 1.0)
    table = results_table(hits, ["band_gap"])
    assert "score" in table.columns and "band gap (eV)" in table.columns
    assert predicted_label("predicted_band_gap") == "predicted band gap (eV)"
    assert "predicted band gap (eV)" in table.columns  # the model's estimate, never unlabelled
    assert table["predicted band gap (eV)"].dtype.kind == "f"  # numeric: sorts and exports
    assert table_formats(table.columns)["predicted band gap (eV)"] == "{:.2f}"
    cols = list(table.columns)  # the id sits beside the formula, not past the property columns
    assert cols.index("crystal id") == cols.index("formula") + 1 < cols.index("band gap (eV)") < cols.index("source")


def test_explorer_predict_properties_uses_the_aux_head() -> None:
    from pymatgen.core import Lattice, Structure

    from clac_core.config import load_config
    from clac_core.inference import Explorer
    from clac_core.models.clip import CLaCModel

    cfg = load_config("configs/tiny.yaml").model
    cfg.aux_properties = ["band_gap", "density"]
    model = CLaCModel(cfg, load_text_backbone=False).eval()
    model.aux_mean.copy_(__import__("torch").tensor([1.5, 4.0]))
    ex = Explorer.__new__(Explorer)
    ex.model = model
    s = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    pred = ex.predict_properties(s)
    assert list(pred["quantity"]) == ["band gap", "density"] and list(pred["unit"]) == ["eV", "g/cm³"]
    assert pred["value"].iloc[0] >= 0.0  # a band gap is never shown negative
    # density is computed from the structure, never estimated (one value per quantity)
    assert pred["value"].iloc[1] == round(s.density, 2) and pred["source"].iloc[1] == "computed from the structure"
    assert pred["source"].iloc[0] == "model estimate"
    cfg0 = load_config("configs/tiny.yaml").model
    ex.model = CLaCModel(cfg0, load_text_backbone=False)
    assert ex.predict_properties(s).empty  # a model without the head predicts nothing


def test_anion_words_inside_longer_words_and_density_words() -> None:
    from clac_core.query.intent import understand

    assert understand("gallium arsenide").include == ["Ga", "As"]
    assert set(understand("titanium dioxide").include) == {"Ti", "O"}
    assert set(understand("an oxynitride").include) == {"N", "O"}
    (dense,) = understand("a dense heavy compound").constraints
    assert dense.prop == "density" and dense.lo >= 5
    (light,) = understand("a lightweight alloy").constraints
    assert light.prop == "density" and light.hi <= 3
    assert understand("a light-emitting material").constraints == []  # light as in photons


def test_families_arity_metals_and_anion_role() -> None:
    from clac_core.query.intent import understand

    it = understand("alkali halide salt")
    fams = dict(it.any_of)
    assert set(fams) == {"an alkali metal", "a halogen"}
    assert "Na" in fams["an alkali metal"] and "Mg" not in fams["an alkali metal"]
    assert set(fams["a halogen"]) >= {"F", "Cl", "Br", "I"} and "O" not in fams["a halogen"]
    earth = dict(understand("alkaline earth fluoride").any_of)
    assert list(earth) == ["an alkaline-earth metal"] and "Ca" in earth["an alkaline-earth metal"]
    assert "Li" not in earth["an alkaline-earth metal"]
    assert set(dict(understand("chalcogenide").any_of)["a chalcogen (S, Se, Te)"]) == {"S", "Se", "Te"}
    assert understand("binary oxide").n_elements == 2
    assert understand("quaternary compound").n_elements == 4
    assert understand("a two-element semiconductor").n_elements == 2
    assert understand("oxide with four elements").n_elements == 4
    assert understand("elemental metal").n_elements == 1
    assert understand("an oxide").n_elements is None
    assert understand("tetragonal alloy").all_metal and understand("rare earth intermetallic").all_metal
    assert not understand("metallic boride").all_metal
    assert understand("orthorhombic sulfide").anions == ["S"]
    assert understand("an oxynitride").anions == []  # mixed anions: no single anion asked for


def test_negations_and_or_lists() -> None:
    from clac_core.query.intent import understand

    (mag,) = understand("manganese compound that is not magnetic").constraints
    assert mag.prop == "total_magnetization" and mag.hi <= 0.05
    gap = {c.prop: c for c in understand("an oxide that is not a metal").constraints}["band_gap"]
    assert gap.lo > 0
    it = understand("a semiconductor that is not an oxide")
    assert it.exclude == ["O"] and "O" not in it.include
    assert understand("not stable at all").constraints[0].lo >= 0  # "not stable" = unstable
    (gap,) = understand("a non-metal").constraints  # not "a metal"
    assert gap.prop == "band_gap" and gap.lo > 0
    it = understand("magnetic manganese or iron compound")
    assert it.include == [] and it.any_of == [("Mn or Fe", ("Mn", "Fe"))]
    assert dict(understand("Co, Ni or Fe oxide").any_of)["Co or Ni or Fe"] == ("Co", "Ni", "Fe")
    assert understand("Co, Ni or Fe oxide").include == ["O"]


def test_composition_wishes_rerank_and_filter() -> None:
    from clac_core.query import rerank_scores, understand

    model = np.array([0.9, 0.5, 0.4, 0.3])
    els = [{"Na", "Cl", "O"}, {"K", "Br"}, {"Mg", "O"}, {"Cu", "Au"}]
    fused = rerank_scores(model, understand("alkali halide"), {}, elements=els)
    assert np.isfinite(fused).tolist() == [True, True, False, False]  # families are hard filters
    fused = rerank_scores(model, understand("binary compound"), {}, elements=els)
    assert np.argsort(-fused)[:3].tolist() == [1, 2, 3]  # the ternary drops below the binaries
    fused = rerank_scores(model, understand("an alloy"), {}, elements=els)
    assert int(np.argmax(fused)) == 3
    fused = rerank_scores(model, understand("an oxide"), {}, elements=els)  # O the anion in both
    assert np.isfinite(fused).tolist() == [True, False, True, False] and fused[0] > fused[2]
    fused = rerank_scores(model, understand("potassium or copper compound"), {}, elements=els)
    assert np.isfinite(fused).tolist() == [False, True, False, True]


def test_units_other_than_the_canonical_ones_are_converted() -> None:
    from clac_core.query.numbers import parse_constraints, to_canonical

    (gap,) = parse_constraints("band gap of 500 meV")
    assert gap.prop == "band_gap" and abs(0.5 * (gap.lo + gap.hi) - 0.5) < 1e-9
    (fe,) = parse_constraints("formation energy of about -100 kJ/mol")
    assert fe.prop == "formation_energy_per_atom" and abs(0.5 * (fe.lo + fe.hi) + 1.0364) < 1e-3
    (rho,) = parse_constraints("density lower than 2500 kg/m3")
    assert rho.kind == "below" and abs(rho.hi - 2.5) < 1e-9
    (above,) = parse_constraints("a band gap that exceeds 6 eV")
    assert above.kind == "above" and above.lo == 6.0
    assert to_canonical(1.7, "eV", "ev") == 1.7  # canonical units pass through untouched
    assert abs(to_canonical(-23.06, "kcal/mol", "ev_atom") + 1.0) < 1e-3


def test_a_number_is_narrowed_by_a_class_word_of_the_same_property() -> None:
    from clac_core.query.intent import understand

    (gap,) = understand("band gap below 1 eV but not a metal").constraints
    assert (gap.lo, gap.hi) == (0.05, 1.0)
    (gap,) = understand("a metal with a gap below 1 eV").constraints
    assert (gap.lo, gap.hi) == (0.0, 0.0) and gap.describe() == "band gap = 0 eV"
    (gap,) = understand("insulator with band gap 2.5 eV").constraints  # disjoint: the number wins
    assert gap.lo < 2.5 < gap.hi and gap.hi < 3.0


def test_formulas_magnets_transparent_conductors_and_plus_minus() -> None:
    from clac_core.query.intent import understand

    assert understand("ZnO").include == ["Zn", "O"]
    assert understand("LiFePO4-like cathode").include == ["Li", "Fe", "P", "O"]
    assert understand("NO cobalt please").include == []  # capitals, not nitric oxide
    assert understand("DFT study").include == []
    (mag,) = understand("a ferromagnet").constraints
    assert mag.prop == "total_magnetization" and mag.lo == MAGNETIC.lo  # the class-word table
    tco = understand("transparent conducting oxide")  # an application rule, not "conducting" = metal
    assert not tco.constraints and [a.name for a in tco.applications] == ["transparent conducting oxide"]
    (gap,) = understand("band gap of 2.0 ± 0.2 eV").constraints
    assert (round(gap.lo, 6), round(gap.hi, 6), gap.kind) == (1.8, 2.2, "range")


def test_a_formula_in_the_query_ranks_that_formula_first() -> None:
    from clac_core.query import rerank_scores, understand

    it = understand("Zn2O2 polymorphs")
    assert it.formulas == ["ZnO"] and it.include == ["Zn", "O"]
    model = np.array([0.9, 0.5, 0.4])
    els = [{"Zn", "O", "H"}, {"Zn", "O"}, {"Zn", "O"}]
    cols = {"formula": np.array(["Zn(HO)2", "ZnO2", "ZnO"], dtype=object)}
    fused = rerank_scores(model, understand("ZnO"), cols, elements=els)
    assert int(np.argmax(fused)) == 2


def test_long_and_repetitive_queries_are_read_within_bounds() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.numbers import MAX_TEXT_CHARS, parse_constraints

    assert parse_constraints("x" * MAX_TEXT_CHARS + " band gap of 2 eV") == []  # read up to the cap
    assert parse_constraints("1" * 5000 + " eV") == []  # a run of digits is not a quantity here
    assert understand("Mn or " * 2000).any_of == []  # one element repeated is no either-or list
    assert understand("Mn or Fe, Mn or Fe").any_of == [("Mn or Fe", ("Mn", "Fe"))]


def test_upload_values_respect_what_the_structure_fixes(tmp_path) -> None:
    """Elemental formation energy is 0, magnetization is bounded per atom, estimates carry the
    card's test MAE (issue 19, part 4)."""
    import json

    from pymatgen.core import Lattice, Structure

    from clac_core.inference.estimates import MAX_MOMENT_PER_ATOM, property_rows, test_errors

    fe = Structure(Lattice.cubic(2.87), ["Fe"], [[0, 0, 0]])
    names = ["band_gap", "formation_energy_per_atom", "total_magnetization", "density"]
    ckpt = tmp_path / "model"
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text(json.dumps(
        {"property_aware": {"aux_head": {"band_gap": {"MAE": 0.5}, "total_magnetization": {"MAE": 1.4}}}}))  # fmt: skip
    mae = test_errors(ckpt)
    assert mae == {"band_gap": 0.5, "total_magnetization": 1.4}
    rows = property_rows(names, [-0.3, -0.26, 29.33, 1.0], fe, mae).set_index("quantity")
    assert rows.loc["band gap", "value"] == 0.0 and rows.loc["band gap", "test MAE"] == 0.5
    assert rows.loc["formation energy", "value"] == 0.0 and "definition" in rows.loc["formation energy", "source"]
    assert rows.loc["total magnetization", "value"] == MAX_MOMENT_PER_ATOM  # 29.33 μB for one atom is impossible
    assert abs(rows.loc["density", "value"] - fe.density) < 0.01  # 7.88 g/cm³, not the model's 1.0
    assert test_errors(tmp_path / "nowhere" / "model") == {}


def test_property_columns_are_computed_once_per_loaded_index(small_index, monkeypatch) -> None:
    """The app computes them on its preload thread; the first search must reuse them, and a
    new index object (a rebuilt index) must get its own."""
    import copy

    from clac_core.inference import search

    calls = []
    real = search._property_columns
    monkeypatch.setattr(search, "_property_columns", lambda ix: calls.append(1) or real(ix))
    loaded = copy.deepcopy(small_index)  # a fresh object: the session fixture may be cached already
    first = search.property_columns(loaded)
    assert search.property_columns(loaded) is first and len(calls) == 1
    other = copy.deepcopy(small_index)
    assert search.property_columns(other) is not first and len(calls) == 2
    key = id(other)
    del other
    import gc

    gc.collect()
    assert key not in search._COLUMNS  # forgotten with its index


def test_eval_scores_every_property_the_aux_head_predicts_moduli_included() -> None:
    """The card's aux-head errors cover each predicted property, the moduli too (where the
    elastic subset knows them), against the mean predictor over the same crystals."""
    from pymatgen.core import Lattice, Structure

    from clac_core.evaluation.property_aware import aux_head_errors, dft_columns

    s = Structure(Lattice.cubic(3.0), ["Fe"], [[0, 0, 0]])
    props = [{"band_gap": 0.0, "bulk_modulus": 100.0}, {"band_gap": 1.0, "bulk_modulus": 200.0}, {"band_gap": 2.0}]
    dft = dft_columns(props, [s] * 3, ["bulk_modulus", "band_gap"])
    assert list(dft) == ["band_gap", "formation_energy_per_atom", "total_magnetization", "density", "bulk_modulus"]
    assert "bulk_modulus" not in dft_columns(props, [s] * 3)
    pred = {"predicted_band_gap": np.array([0.5, 1.0, 2.0]), "predicted_bulk_modulus": np.array([110.0, 170.0, 5.0])}
    err = aux_head_errors(pred, dft)
    assert err["bulk_modulus"] == {"n": 2, "MAE": 20.0, "MAE_mean_predictor": 50.0}  # the third has no modulus
    assert err["band_gap"]["n"] == 3 and err["band_gap"]["MAE"] == pytest.approx(0.5 / 3)
