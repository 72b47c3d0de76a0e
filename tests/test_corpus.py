"""Crystal sources: prototypes, decorated prototypes, CSV tables, CIF folders, splits."""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter

import pytest
from pymatgen.core import Lattice, Structure

from clac_core.corpus import assign_splits, iter_cif_folder, iter_csv, iter_decorated, iter_prototypes
from clac_core.corpus.sources import records_from_spec
from clac_core.properties import QUANTITIES
from clac_core.record import CrystalRecord


@pytest.fixture(scope="module")
def prototypes() -> list[CrystalRecord]:
    return list(iter_prototypes())


@pytest.fixture(scope="module")
def decorated_500() -> list[CrystalRecord]:
    return list(iter_decorated(500, seed=0))


def _valid(rec: CrystalRecord) -> None:
    assert isinstance(rec, CrystalRecord)
    assert rec.id and rec.source
    assert rec.structure.is_ordered and len(rec.structure) > 0
    assert rec.structure.volume > 0
    for k, v in rec.properties.items():
        assert k in QUANTITIES and not math.isnan(v)


def test_prototypes_sane_count_ids_and_labels(prototypes):
    assert 250 <= len(prototypes) <= 500
    ids = [r.id for r in prototypes]
    assert len(set(ids)) == len(ids)
    for r in prototypes:
        _valid(r)
        assert r.source in {"prototype", "mineral"}
        assert r.id.startswith(("aflow:", "mineral:"))
    by_id = {r.id: r for r in prototypes}
    rocksalt = by_id["aflow:AB_cF8_225_a_b"]
    assert "Rock Salt" in rocksalt.labels["mineral"]
    assert rocksalt.labels["strukturbericht"] == "B1"
    assert rocksalt.labels["pearson"] == "cF8"
    assert rocksalt.labels["prototype"] == "NaCl"
    perovskite = by_id["aflow:AB3C_cP5_221_a_c_b"]
    assert "Perovskite" in perovskite.labels["mineral"]
    assert perovskite.formula == "CaTiO3"
    # "None" placeholders of the library never become labels
    assert not any(v.lower() == "none" for r in prototypes for v in r.labels.values())


def test_minerals_merged_into_aflow_entries(prototypes):
    # robocrys's 180 minerals duplicate AFLOW entries; at least one extra name gets merged
    merged = [r for r in prototypes if ";" in r.labels.get("mineral", "")]
    assert merged, "no robocrys mineral name was merged into an AFLOW entry"
    assert not any(r.source == "mineral" and r.labels.get("aflow") == "AB_cF8_225_a_b" for r in prototypes)


def test_decorated_valid_hypothetical_with_parent(decorated_500, prototypes):
    assert len(decorated_500) == 500
    parents = {r.id for r in prototypes}
    keys = set()
    for r in decorated_500:
        _valid(r)
        assert r.source == "decorated" and r.hypothetical
        assert r.provenance["parent_id"] in parents
        assert r.provenance["substitution"]
        assert len(r.structure) <= 20
        keys.add((r.provenance["parent_id"], r.formula))
    assert len(keys) == 500
    assert len({r.id for r in decorated_500}) == 500


def test_decorated_charge_balanced_with_stored_oxidation_states(decorated_500):
    for r in decorated_500:
        oxi = {e: int(v) for e, v in (kv.split(":") for kv in r.provenance["oxidation_states"].split(", "))}
        comp = r.structure.composition
        assert set(oxi) == {el.symbol for el in comp.elements}
        assert sum(oxi[el.symbol] * amt for el, amt in comp.items()) == 0
        if r.provenance["bonding"] == "intermetallic":
            assert all(el.is_metal for el in comp.elements)


def test_decorated_ionic_sample_agrees_with_pymatgen_guesses(decorated_500):
    ionic = [r for r in decorated_500 if r.provenance["bonding"] == "ionic"][:40]
    assert len(ionic) >= 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = sum(bool(r.structure.composition.oxi_state_guesses(max_sites=-20)) for r in ionic)
    assert ok >= 0.9 * len(ionic)


def test_decorated_distances_physical(decorated_500):
    for r in decorated_500[:200]:
        s = r.structure
        if len(s) > 1:
            d = s.distance_matrix[~__import__("numpy").eye(len(s), dtype=bool)].min()
            assert d >= 0.69, (r.id, d)
        assert 2.0 < s.volume / len(s) < 120.0, (r.id, s.volume / len(s))


def test_decorated_deterministic_by_seed(decorated_500):
    again = list(iter_decorated(50, seed=0))
    assert [r.id for r in again] == [r.id for r in decorated_500[:50]]
    assert again[7].structure == decorated_500[7].structure
    other = [r.id for r in iter_decorated(50, seed=1)]
    assert other != [r.id for r in again]


@pytest.mark.slow
def test_decorated_20000_distinct():
    recs = list(iter_decorated(20000, seed=0))
    assert len(recs) == 20000
    assert len({(r.provenance["parent_id"], r.formula) for r in recs}) == 20000
    assert len({r.provenance["parent_id"] for r in recs}) >= 100


def test_csv_perov5_properties_mapped(shared_data):
    recs = list(iter_csv(shared_data / "perov_5" / "test.csv", limit=20))
    assert len(recs) == 20
    for r in recs:
        _valid(r)
        assert r.source == "perov_5"
        assert r.id.startswith("perov_5:")
        assert len(r.structure) == 5
        assert {"heat_of_formation", "direct_gap", "indirect_gap"} <= set(r.properties)
        assert "heat_ref" in r.provenance  # unknown numeric column kept in provenance
    assert QUANTITIES["direct_gap"].unit == "eV"
    first = recs[0]
    assert first.formula == "TiOsNOF"
    assert first.properties["heat_of_formation"] == pytest.approx(1.16)


def test_csv_carbon24(shared_data):
    recs = list(iter_csv(shared_data / "carbon_24" / "test.csv", limit=10))
    assert len(recs) == 10
    for r in recs:
        _valid(r)
        assert r.source == "carbon_24"
        assert r.formula == "C"
        assert 6 <= len(r.structure) <= 24
        assert r.properties["energy_per_atom"] < -100  # eV/atom, as in the table
    assert QUANTITIES["energy_per_atom"].unit == "eV/atom"


def test_csv_mp37k_folder_gz_with_elastic_join(shared_data):
    recs = list(iter_csv(shared_data / "mp_37k", limit=400))
    assert len(recs) == 400
    assert all(r.source == "mp_37k" and r.id.startswith("mp-") for r in recs)
    assert all("formation_energy_per_atom" in r.properties and "band_gap" in r.properties for r in recs)
    elastic = [r for r in recs if "bulk_modulus" in r.properties]
    assert elastic, "no elastic data joined"
    for r in elastic:
        assert 0 < r.properties["bulk_modulus"] < 1000  # GPa
        assert "shear_modulus" in r.properties
    assert "volume" in recs[0].provenance
    assert float(recs[0].provenance["volume"]) == pytest.approx(recs[0].structure.volume, rel=1e-3)


def test_csv_bad_rows_skipped_with_counted_warning(tmp_path):
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    import pandas as pd

    df = pd.DataFrame(
        {
            "material_id": ["a1", "a2", "a3"],
            "cif": [nacl.to(fmt="cif"), "not a cif at all", nacl.to(fmt="cif")],
            "band_gap": [5.0, 1.0, float("nan")],
        }
    )
    path = tmp_path / "mine" / "table.csv.gz"
    path.parent.mkdir()
    df.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        recs = list(iter_csv(path))
    assert [r.id for r in recs] == ["mine:a1", "mine:a3"]
    assert recs[0].properties == {"band_gap": 5.0}
    assert recs[1].properties == {}


def test_cif_folder_skips_bad_file_and_joins_properties(tmp_path):
    si = Structure(Lattice.cubic(5.43), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    (tmp_path / "si.cif").write_text(si.to(fmt="cif"))
    (tmp_path / "nacl.cif").write_text(nacl.to(fmt="cif"))
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 3\nloop_\n garbage\n")
    props = tmp_path / "props.csv"
    props.write_text("filename,band_gap\nsi.cif,1.1\nnacl.cif,5.0\n")
    with pytest.warns(UserWarning, match="broken.cif"):
        recs = list(iter_cif_folder(tmp_path, props))
    by = {r.id: r for r in recs}
    assert set(by) == {"cifs:nacl.cif", "cifs:si.cif"}
    assert by["cifs:si.cif"].properties == {"band_gap": 1.1}
    assert by["cifs:nacl.cif"].formula == "NaCl"


def test_records_from_spec(shared_data, tmp_path):
    assert len(list(records_from_spec("prototypes", limit=5))) == 5
    dec = list(records_from_spec("decorated", n_decorated=30, seed=3))
    assert len(dec) == 30 and all(r.hypothetical for r in dec)
    csv = list(records_from_spec(f"csv:{shared_data / 'perov_5' / 'test.csv'}", limit=3))
    assert [r.source for r in csv] == ["perov_5"] * 3
    with pytest.raises(ValueError, match="unknown source spec"):
        list(records_from_spec("bogus"))


def test_splits_grouped_by_formula_seeded_and_balanced():
    formulas = [f"X{i}O{j}" for i in range(1, 60) for j in range(1, 30)] * 2  # every formula twice
    splits = assign_splits(formulas, seed=0)
    seen: dict[str, str] = {}
    for f, s in zip(formulas, splits, strict=True):
        assert seen.setdefault(f, s) == s  # no formula in two splits
    counts = Counter(seen.values())
    n = len(seen)
    assert abs(counts["train"] / n - 0.8) < 0.04
    assert abs(counts["val"] / n - 0.1) < 0.03 and abs(counts["test"] / n - 0.1) < 0.03
    assert assign_splits(formulas, seed=0) == splits
    assert assign_splits(formulas, seed=1) != splits
    # a formula's split does not depend on the rest of the corpus
    assert assign_splits(formulas[:10], seed=0) == splits[:10]
    with pytest.raises(ValueError):
        assign_splits(["NaCl"], fractions=(0.5, 0.2, 0.2))


def test_first_records_of_each_source_are_distinct_ids(shared_data):
    recs = itertools.chain(
        records_from_spec("prototypes", limit=20),
        records_from_spec("decorated", n_decorated=20),
        records_from_spec(f"csv:{shared_data / 'carbon_24' / 'test.csv'}", limit=20),
    )
    ids = [r.id for r in recs]
    assert len(ids) == len(set(ids)) == 60
