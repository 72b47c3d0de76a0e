"""Structure types (issue 19, "search that reads what scientists write"): the rule that names a
crystal's type from its computed facts, the index column, the query words and the re-rank.

The crystals are built in code from textbook coordinates, or taken from pymatgen's AFLOW
prototype library, whose names (Rock Salt, Spinel, Rutile ...) the rule must reproduce."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))


def _type_of(structure) -> str:
    from clac_core.text import analyze
    from clac_core.vocab.structure_types import structure_type_of

    f = analyze(structure)
    return structure_type_of(f.spacegroup_number, f.anions, f.sites)


def _built(name: str):
    from pymatgen.core import Lattice, Structure

    sg = Structure.from_spacegroup
    return {
        # Smyth & Hazen forsterite in Pnma
        "olivine": sg("Pnma", Lattice.orthorhombic(10.19, 5.98, 4.75), ["Mg", "Mg", "Si", "O", "O", "O"],
                      [[0, 0, 0], [0.2774, 0.25, 0.9915], [0.0940, 0.25, 0.4262], [0.0913, 0.25, 0.7657],
                       [0.4474, 0.25, 0.2215], [0.1628, 0.0331, 0.2777]]),
        "garnet": sg("Ia-3d", Lattice.cubic(12.0), ["Y", "Al", "Al", "O"],  # Y3Al5O12
                     [[0.125, 0, 0.25], [0, 0, 0], [0.375, 0, 0.25], [-0.0306, 0.0512, 0.1500]]),
        "delafossite": sg("R-3m", Lattice.hexagonal(3.03, 17.17), ["Cu", "Fe", "O"],  # CuFeO2
                          [[0, 0, 0], [0, 0, 0.5], [0, 0, 0.1066]]),
        "antifluorite": sg("Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]),  # Li2O
        "perovskite": sg("Pm-3m", Lattice.cubic(3.99), ["Ta", "K", "O"],  # KTaO3
                         [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]]),
        # not a type of the table: layered LiCoO2 (both cations octahedral), ilmenite FeTiO3
        # (ABO3, but A octahedral too), 2H-BaNiO3 (a face-sharing "hexagonal perovskite")
        "LiCoO2": sg("R-3m", Lattice.hexagonal(2.82, 14.05), ["Li", "Co", "O"], [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.26]]),
        "ilmenite": sg("R-3", Lattice.hexagonal(5.09, 14.09), ["Fe", "Ti", "O"],
                       [[0, 0, 0.3554], [0, 0, 0.1464], [0.317, 0.02, 0.2466]]),
        "BaNiO3": sg("P6_3/mmc", Lattice.hexagonal(5.63, 4.81), ["Ba", "Ni", "O"],
                     [[1 / 3, 2 / 3, 0.75], [0, 0, 0], [0.15, 0.30, 0.25]]),
    }[name]


@pytest.mark.parametrize("name", ["olivine", "garnet", "delafossite", "antifluorite", "perovskite"])
def test_textbook_crystals_get_their_structure_type(name: str) -> None:
    assert _type_of(_built(name)) == name


@pytest.mark.parametrize("name", ["LiCoO2", "ilmenite", "BaNiO3"])
def test_look_alikes_of_other_types_get_none(name: str) -> None:
    assert _type_of(_built(name)) == ""


def test_a_supercell_keeps_its_type() -> None:
    s = _built("perovskite")
    s.make_supercell([2, 1, 1])
    assert _type_of(s) == "perovskite"


def test_the_rule_names_the_aflow_prototypes_as_the_library_does() -> None:
    """Every AFLOW prototype whose mineral name is a type of the table gets that type, and no
    other prototype of the library gets one."""
    from clac_core.corpus.prototypes import iter_prototypes

    names = {"perovskite": "perovskite", "spinel": "spinel", "hausmannite": "spinel", "rock salt": "rock salt",
             "rutile": "rutile", "wurtzite": "wurtzite", "zincblende": "zinc blende", "fluorite": "fluorite"}
    found: dict[str, str] = {}
    for rec in iter_prototypes(include_minerals=False):
        want = next((t for w, t in names.items() if w in rec.labels.get("mineral", "").lower()), "")
        if rec.id == "aflow:AB_cP2_221_b_a":  # CsCl, unnamed in the library
            want = "CsCl-type"
        found[rec.id] = _type_of(rec.structure)
        assert found[rec.id] == want, (rec.id, rec.labels)
    assert {"perovskite", "spinel", "rock salt", "rutile", "wurtzite", "zinc blende", "fluorite",
            "CsCl-type"} <= set(found.values())


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ("cubic perovskite", ["perovskite"]),
        ("lead-free halide double perovskite", ["perovskite"]),
        ("rocksalt nitride", ["rock salt"]),
        ("NaCl-type oxide", ["rock salt"]),
        ("zincblende semiconductor", ["zinc blende"]),
        ("sphalerite", ["zinc blende"]),
        ("wurtzite nitride", ["wurtzite"]),
        ("rutile-type fluoride", ["rutile"]),
        ("spinel ferrite", ["spinel"]),
        ("fluorite-structured oxide ion conductor", ["fluorite"]),
        ("anti-fluorite Li2O", ["antifluorite"]),
        ("olivine phosphate cathode", ["olivine"]),
        ("CsCl-type intermetallic", ["CsCl-type"]),
        ("delafossite p-type TCO", ["delafossite"]),
        ("garnet solid electrolyte", ["garnet"]),
        ("antiperovskite Li3OCl", []),  # the anion and cation sites swapped: not a perovskite
    ],
)
def test_structure_type_words_are_read(query: str, types: list[str]) -> None:
    from clac_core.query.intent import understand

    assert understand(query).structure_types == types


def test_type_words_are_not_read_as_elements_or_formulas() -> None:
    from clac_core.query.intent import understand

    it = understand("NaCl-type oxide")
    assert it.include == ["O"] and not it.formulas  # not "contains Na, Cl", not "formula NaCl first"
    it = understand("zinc blende semiconductor")
    assert not it.include  # "zinc blende" asks for no zinc
    it = understand("cesium chloride structure intermetallic")
    assert it.structure_types == ["CsCl-type"] and not it.include and not it.anions
    it = understand("cubic perovskite")
    assert it.crystal_systems == ["cubic"] and it.describe() == ["cubic", "perovskite structure"]


def test_rerank_prefers_the_named_type_and_skips_without_the_column() -> None:
    from clac_core.query.intent import understand
    from clac_core.query.rerank import rerank_scores

    it = understand("cubic perovskite")
    kinds = np.array(["perovskite", "", "perovskite", "rock salt"], dtype=object)
    systems = np.array(["cubic", "cubic", "orthorhombic", "cubic"])
    s = rerank_scores(np.zeros(4), it, {"structure_type": kinds}, crystal_systems=systems)
    assert s[0] > s[1] and s[1] == s[2] == s[3]  # both words read: a cubic perovskite meets both
    old = rerank_scores(np.array([0.0, 0.3, 0.0, 0.0]), it, {}, crystal_systems=systems)
    assert old[1] > old[0] and old[0] == old[3]  # no column: the words leave the ranking to the model


def test_structure_columns_hold_the_type() -> None:
    from clac_core.index.build import structure_columns
    from clac_core.text import analyze

    assert structure_columns(analyze(_built("perovskite")))["structure_type"] == "perovskite"
    assert structure_columns(None)["structure_type"] == ""


def test_add_structure_types_updates_an_old_index_in_place(tmp_path: Path) -> None:
    from clac_core.index import CorpusIndex
    from clac_core.index.build import add_structure_types
    from clac_core.query.structure import structure_type_column
    from clac_core.record import structure_to_arrays

    crystals = [_built("perovskite"), _built("antifluorite"), _built("LiCoO2")]
    md = pd.DataFrame([
        {"crystal_id": f"c{i}", "formula": s.composition.reduced_formula, "source": "t", "hypothetical": False,
         "spacegroup_symbol": "", "spacegroup_number": 1, "crystal_system": "", "nsites": len(s),
         "elements": " ".join(sorted(e.symbol for e in s.composition.elements)),
         "dimensionality": 3.0, "cation_polyhedra": "octahedral", **structure_to_arrays(s)}
        for i, s in enumerate(crystals)
    ])
    old = CorpusIndex(embeddings=np.eye(3, 4, dtype=np.float32), metadata=md,
                      desc_embeddings=np.zeros((0, 4), np.float32),
                      descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}), manifest={})
    old.save(tmp_path / "idx")
    assert structure_type_column(CorpusIndex.load(tmp_path / "idx").metadata) is None
    counts = add_structure_types(tmp_path / "idx")
    assert counts == {"perovskite": 1, "antifluorite": 1, "": 1}
    new = CorpusIndex.load(tmp_path / "idx").metadata
    assert list(structure_type_column(new)) == ["perovskite", "antifluorite", ""]
    assert list(new.columns).index("structure_type") == list(new.columns).index("cation_polyhedra") + 1
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.endswith(".tmp")]


def test_add_structure_types_refuses_a_folder_that_is_no_index(tmp_path: Path) -> None:
    from clac_core.index import CorpusIndexError
    from clac_core.index.build import add_structure_types

    with pytest.raises(CorpusIndexError, match="no metadata.parquet"):
        add_structure_types(tmp_path)
