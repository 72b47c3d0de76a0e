"""`clac data build` end to end: parquet columns from the contract, manifest, resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clac_core import cli
from clac_core.corpus.build import CRYSTAL_COLUMNS, PAIR_COLUMNS, BuildOptions, build_dataset

CONTRACT_CRYSTAL = [
    "crystal_id",
    "formula",
    "source",
    "split",
    "hypothetical",
    "parent",
    "spacegroup_symbol",
    "spacegroup_number",
    "crystal_system",
    "nsites",
    "cif",
    "lattice",
    "frac_coords",
    "atomic_numbers",
    "properties",
    "labels",
]
CONTRACT_PAIRS = ["crystal_id", "text", "view", "split", "formula", "source", "cif"]


class Interrupt(KeyboardInterrupt):
    pass


@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("data")
    perov = shared_data / "perov_5" / "test.csv"
    rc = cli.main(
        [
            "data",
            "build",
            "--source",
            "prototypes",
            "--source",
            "decorated",
            "--source",
            f"csv:{perov}",
            "--source",
            f"csv:{perov}",
            "--out",
            str(out),
            "--limit",
            "12",
            "--n-decorated",
            "12",
            "--workers",
            "2",
            "--chunk-size",
            "10",
        ]
    )
    assert rc == 0
    return out


def test_build_writes_contract_columns(built):
    crystals = pd.read_parquet(built / "crystals.parquet")
    pairs = pd.read_parquet(built / "pairs.parquet")
    assert CONTRACT_CRYSTAL == [c for c in crystals.columns if c in CONTRACT_CRYSTAL]
    assert set(CONTRACT_CRYSTAL) <= set(crystals.columns)
    assert list(pairs.columns) == CONTRACT_PAIRS
    # 12 prototypes + 12 decorated + 12 perov_5 (the second perov_5 source only repeats ids)
    assert len(crystals) == 36
    assert crystals.crystal_id.is_unique
    assert set(crystals.source) == {"prototype", "decorated", "perov_5"}
    assert set(crystals.split) <= {"train", "val", "test"}
    # canonical quantity columns: present ones only, NaN when unknown
    assert {"heat_of_formation", "direct_gap", "indirect_gap"} <= set(crystals.columns)
    assert "band_gap" not in crystals.columns
    assert crystals.loc[crystals.source == "perov_5", "direct_gap"].notna().all()
    assert crystals.loc[crystals.source == "prototype", "direct_gap"].isna().all()
    dec = crystals[crystals.source == "decorated"]
    assert dec.hypothetical.all() and dec.parent.str.startswith("aflow:").all()
    assert crystals.loc[crystals.source != "decorated", "parent"].isna().all()
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from clac_core.record import structure_from_arrays

    for _, row in crystals[crystals.source == "prototype"].iterrows():
        s = structure_from_arrays(row.lattice, row.frac_coords, row.atomic_numbers)
        sga = SpacegroupAnalyzer(s, symprec=0.1)
        assert row.spacegroup_number == sga.get_space_group_number(), row.crystal_id
        assert row.crystal_system == sga.get_crystal_system()
        assert row.nsites == len(s) == len(row.atomic_numbers) and len(row.lattice) == 9
        assert row.formula == s.composition.reduced_formula
        assert json.loads(row.labels)["aflow"] == row.crystal_id.split(":")[1].split("-")[0]
        assert "data_" in row.cif
    perov_row = crystals[crystals.source == "perov_5"].iloc[0]
    assert json.loads(perov_row.properties)["direct_gap"] == perov_row.direct_gap
    assert "data_" in row.cif


def test_pairs_consistent_with_crystals(built):
    crystals = pd.read_parquet(built / "crystals.parquet").set_index("crystal_id")
    pairs = pd.read_parquet(built / "pairs.parquet")
    assert set(pairs.crystal_id) == set(crystals.index)
    assert len(pairs) >= 3 * len(crystals)
    assert {"composition", "structure", "caption"} <= set(pairs.view)
    joined = pairs.join(crystals[["split", "formula", "source"]], on="crystal_id", rsuffix="_c")
    assert (joined.split == joined.split_c).all() and (joined.formula == joined.formula_c).all()
    assert (pairs.text.str.len() > 10).all()
    # no formula in two splits, across crystals and pairs
    assert pairs.groupby("formula").split.nunique().max() == 1


def test_manifest_counts(built):
    m = json.loads((built / "manifest.json").read_text())
    crystals = pd.read_parquet(built / "crystals.parquet")
    assert m["seed"] == 0 and len(m["sources"]) == 4
    assert m["counts"]["crystals"] == len(crystals)
    assert m["counts"]["per_split"] == crystals.split.value_counts().to_dict()
    assert m["counts"]["per_source"]["perov_5"] == 12
    assert m["duplicates_dropped"] == 12
    assert m["build_seconds"] > 0 and m["version"]
    assert not (built / ".parts").exists()


def test_build_resumes_after_interruption_identically(tmp_path, shared_data):
    perov = shared_data / "perov_5" / "test.csv"
    opts = BuildOptions(sources=["prototypes", f"csv:{perov}"], limit=9, chunk_size=4)
    ref = tmp_path / "ref"
    build_dataset(opts, ref, workers=1, progress=False)

    out = tmp_path / "interrupted"
    done: list[int] = []

    def stop_after_first(k: int) -> None:
        done.append(k)
        raise Interrupt

    with pytest.raises(KeyboardInterrupt):
        build_dataset(opts, out, workers=1, progress=False, after_chunk=stop_after_first)
    assert done == [0]
    assert (out / ".parts" / "00000.pairs.parquet").exists()
    assert not (out / "crystals.parquet").exists()

    summary = build_dataset(opts, out, workers=1, progress=False)
    assert summary.chunks == 5 and summary.chunks_resumed == 1
    for name in ("crystals.parquet", "pairs.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(ref / name))


def test_changed_arguments_start_over(tmp_path):
    out = tmp_path / "d"
    opts = BuildOptions(sources=["prototypes"], limit=3, chunk_size=2)
    build_dataset(opts, out, workers=1, progress=False, keep_parts=True)
    assert (out / ".parts" / "00001.crystals.parquet").exists()
    s = build_dataset(
        BuildOptions(sources=["prototypes"], limit=3, chunk_size=2, seed=5), out, workers=1, progress=False
    )
    assert s.chunks_resumed == 0 and s.crystals == 3


def test_search_texts_add_search_pairs_and_keep_the_rest(tmp_path):
    """clac data build --search-texts N: up to N search-box pairs per crystal, every other pair
    as a default build writes it; recorded in the manifest (the default leaves it out)."""
    one, four = tmp_path / "one", tmp_path / "four"
    assert cli.main(["data", "build", "--source", "prototypes", "--limit", "6", "--out", str(one), "--workers", "1"]) == 0
    assert cli.main(["data", "build", "--source", "prototypes", "--limit", "6", "--out", str(four),
                     "--workers", "1", "--search-texts", "4"]) == 0  # fmt: skip
    a, b = (pd.read_parquet(d / "pairs.parquet") for d in (one, four))
    sa, sb = a[a.view == "search"], b[b.view == "search"]
    assert sb.groupby("crystal_id").size().max() <= 4 and len(sb) > len(sa)
    assert set(sa.text) <= set(sb.text)
    pd.testing.assert_frame_equal(a[a.view != "search"].reset_index(drop=True), b[b.view != "search"].reset_index(drop=True))
    assert json.loads((four / "manifest.json").read_text())["options"]["search_texts"] == 4
    assert "search_texts" not in json.loads((one / "manifest.json").read_text())["options"]


def test_failed_crystal_is_counted_not_fatal(tmp_path, monkeypatch):
    import clac_core.corpus.build_chunks as build_chunks

    real = build_chunks.process_payload

    def flaky(p, **kw):
        if p["id"] == "aflow:AB_cF8_225_a_b":
            raise RuntimeError("spglib exploded")
        return real(p, **kw)

    monkeypatch.setattr(build_chunks, "process_payload", flaky)
    from clac_core.corpus.prototypes import iter_prototypes

    n = next(i for i, r in enumerate(iter_prototypes()) if r.id == "aflow:AB_cF8_225_a_b") + 1
    s = build_dataset(
        BuildOptions(sources=["prototypes"], limit=n, chunk_size=50), tmp_path, workers=1, progress=False
    )
    assert s.failures == 1 and s.crystals == n - 1
    assert "spglib exploded" in s.failure_examples[0]
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["failures"] == 1


def test_internal_column_lists_cover_contract():
    assert set(CONTRACT_CRYSTAL) <= set(CRYSTAL_COLUMNS)
    assert PAIR_COLUMNS == CONTRACT_PAIRS
