"""The streamed source kinds ``extxyz:``, ``mpjson:`` and ``alexandria:`` (issue 20, part 2):
records, properties and ids read right from plain and compressed files, bad frames / entries
skipped with a reason or raised in strict mode, ``limit``, missing files, the JSON stream reader
at block boundaries, and one kind through ``clac index build`` and ``clac data build``.

Every fixture file is written in ``tmp_path`` from structures built in code.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import lzma
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from clac_core.corpus.sources import PATH_KINDS, SPEC_HELP, records_from_spec, spec_name
from clac_core.corpus.streamed import SourceFileError
from clac_core.corpus.tables import BadRowError

COMPRESS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def crystals() -> dict[str, Structure]:
    """Si, NaCl, CsCl and ZnO (wurtzite) built from their space groups (fresh copies)."""
    return {name: s.copy() for name, s in _crystals().items()}


@functools.lru_cache(maxsize=1)
def _crystals() -> dict[str, Structure]:
    return {
        "Si": Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]),
        "NaCl": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "CsCl": Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "ZnO": Structure.from_spacegroup(
            "P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]
        ),
    }


def overlapping() -> Structure:
    """Two atoms 0.06 Å apart: the reader refuses it."""
    return Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])


def write_text(path: Path, text: str) -> Path:
    """``text`` to ``path``, compressed when the name ends in .gz / .bz2 / .xz."""
    opener = COMPRESS.get(path.suffix)
    if opener is None:
        path.write_text(text, encoding="utf-8")
    else:
        with opener(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    return path


def same_crystal(rec, s: Structure) -> bool:
    return (
        rec.structure.composition.reduced_formula == s.composition.reduced_formula
        and len(rec.structure) == len(s)
        and rec.structure.lattice.abc == pytest.approx(s.lattice.abc, abs=1e-6)
    )


# ----------------------------------------------------------------------------------------
# extxyz


def extxyz_text(frames: list[tuple[object, dict]]) -> str:
    """Extended XYZ of (Structure or ase.Atoms, info) frames, written by ASE."""
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    out = io.StringIO()
    for obj, info in frames:
        atoms = AseAtomsAdaptor.get_atoms(obj) if isinstance(obj, Structure) else obj
        atoms.info = dict(info)
        write(out, atoms, format="extxyz")
    return out.getvalue()


def molecule():
    from ase import Atoms

    return Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz"])
def test_extxyz_frames_become_records_with_their_properties(tmp_path, suffix):
    c = crystals()
    text = extxyz_text(
        [
            (
                c["Si"],
                {"material_id": "mp-149", "band_gap": 0.61, "formation_energy_per_atom": 0.0, "K_VRH": 88.0},
            ),
            (
                c["NaCl"],
                {
                    "id": 7,
                    "e_fermi": 1.5,
                    "total_magnetization": 0.0,
                    "volume_note": 44.5,
                    "comment": "rock salt",
                },
            ),
            (c["ZnO"], {}),
        ]
    )
    path = write_text(tmp_path / f"train.extxyz{suffix}", text)
    recs = list(records_from_spec(f"extxyz:{path}", skipped=(skipped := [])))
    assert skipped == []
    assert [r.id for r in recs] == ["mp-149", "train:7", "train:2"]  # global id kept, else file stem
    si, nacl, zno = recs
    assert same_crystal(si, c["Si"]) and same_crystal(nacl, c["NaCl"]) and same_crystal(zno, c["ZnO"])
    assert si.properties == pytest.approx(
        {"band_gap": 0.61, "formation_energy_per_atom": 0.0, "bulk_modulus": 88.0}
    )
    assert nacl.properties == pytest.approx({"efermi": 1.5, "total_magnetization": 0.0})
    assert zno.properties == {}
    assert nacl.provenance["volume_note"] == "44.5" and "comment" not in nacl.provenance  # numbers kept aside
    assert nacl.provenance["frame"] == "1" and nacl.provenance["material_id"] == "7"
    assert {r.source for r in recs} == {"extxyz"}
    assert si.structure.properties == {}  # the header lives in the record, not in the structure


def test_extxyz_skips_molecules_bad_frames_and_a_broken_count_line(tmp_path):
    c = crystals()
    good = extxyz_text([(c["Si"], {"id": "mp-1"})])
    text = (
        good
        + extxyz_text([(molecule(), {"id": "water"})])
        + extxyz_text([(c["NaCl"], {"id": "mp-2", "band_gap": "oops"})])
        + extxyz_text([(overlapping(), {"id": "mp-3"})])
        + "this is not an atom count\nnor this\n"
        + extxyz_text([(c["CsCl"], {"id": "mp-4"})])
    )
    path = write_text(tmp_path / "mixed.xyz", text)
    skipped: list[str] = []
    recs = list(records_from_spec(f"extxyz:{path}", skipped=skipped))
    assert [r.id for r in recs] == ["mp-1", "mp-4"]
    assert len(skipped) == 4, skipped
    water, oops, close, garbage = skipped
    assert water.startswith("mixed.xyz") and "frame 1 (water)" in water and "not a periodic crystal" in water
    assert "frame 2 (mp-2)" in oops and "'oops' is not a number" in oops
    assert "frame 3 (mp-3)" in close
    assert "frame 4" in garbage and "should be the atom count" in garbage
    with pytest.raises(BadRowError, match=r"frame 1 \(water\).*not a periodic crystal"):
        list(records_from_spec(f"extxyz:{path}", strict=True))
    with pytest.warns(UserWarning, match="skipped 4 of 6 frames"):
        assert len(list(records_from_spec(f"extxyz:{path}"))) == 2


def test_extxyz_frame_over_the_site_limit_or_cut_short_by_the_end_of_the_file(tmp_path):
    from clac_core.io import DEFAULT_MAX_SITES

    c = crystals()
    n = DEFAULT_MAX_SITES + 1
    big = f'{n}\nLattice="40 0 0 0 40 0 0 0 40" Properties=species:S:1:pos:R:3\n' + "H 0.0 0.0 0.0\n" * n
    text = extxyz_text([(c["Si"], {"id": "mp-1"})]) + big + extxyz_text([(c["NaCl"], {"id": "mp-2"})])
    path = write_text(tmp_path / "cut.extxyz", "\n".join(text.splitlines()[:-3]) + "\n")
    skipped: list[str] = []
    assert [r.id for r in records_from_spec(f"extxyz:{path}", skipped=skipped)] == ["mp-1"]
    assert len(skipped) == 2, skipped
    assert f"frame 1: it declares {n} atoms" in skipped[0] and "(max_sites)" in skipped[0]
    assert "frame 2: it declares 8 atoms" in skipped[1] and "the file ends after 5 atom lines" in skipped[1]


# ----------------------------------------------------------------------------------------
# Materials Project JSON


def mp_docs() -> list[dict]:
    c = crystals()
    return [
        {
            "material_id": "mp-149",
            "structure": c["Si"].as_dict(),
            "formation_energy_per_atom": 0.0,
            "band_gap": 0.61,
            "efermi": 5.9,
            "total_magnetization": 0.0,
            "energy_above_hull": 0.0,
            "density": 2.28,
            "bulk_modulus": {"voigt": 89.0, "reuss": 87.0, "vrh": 88.0},
            "shear_modulus": {"vrh": 61.0},
            "formula_pretty": "Si",
            "is_stable": True,
        },
        {
            "material_id": "mp-22862",
            "structure": c["NaCl"].as_dict(),
            "formation_energy_per_atom": -2.1,
            "band_gap": 5.0,
            "energy_above_hull": 0.02,
            "k_vrh": 25.0,
            "g_vrh": 15.0,
            "band_structure": None,
            "total_magnetization_normalized_formula_units": 0.5,
        },
        {
            "material_id": "42",
            "structure": c["CsCl"].as_dict(),
            "elasticity": {"K_VRH": 18.0, "poisson_ratio": 0.27},
        },
        {"structure": c["ZnO"].as_dict(), "band_gap": 0.73},
    ]


@pytest.mark.parametrize(("suffix", "layout"), [("", "list"), (".gz", "data"), (".bz2", "data")])
def test_mp_json_documents_map_to_the_csv_property_names(tmp_path, suffix, layout):
    docs = mp_docs()
    body = docs if layout == "list" else {"meta": {"total_doc": 4}, "data": docs, "errors": []}
    path = write_text(tmp_path / f"mp_download.json{suffix}", json.dumps(body))
    skipped: list[str] = []
    recs = list(records_from_spec(f"mpjson:{path}", skipped=skipped))
    assert skipped == []
    assert [r.id for r in recs] == ["mp-149", "mp-22862", "mp_download:42", "mp_download:3"]
    si, nacl, cscl, zno = recs
    c = crystals()
    assert same_crystal(si, c["Si"]) and same_crystal(zno, c["ZnO"])
    assert si.properties == pytest.approx(
        {
            "formation_energy_per_atom": 0.0,
            "band_gap": 0.61,
            "efermi": 5.9,
            "total_magnetization": 0.0,
            "bulk_modulus": 88.0,
            "shear_modulus": 61.0,
        }
    )
    assert si.provenance["energy_above_hull"] == "0.0" and si.provenance["density"] == "2.28"
    assert "is_stable" not in si.provenance and si.provenance["material_id"] == "mp-149"
    # per formula unit x 4 formula units in the conventional rock-salt cell
    assert nacl.properties == pytest.approx(
        {
            "formation_energy_per_atom": -2.1,
            "band_gap": 5.0,
            "bulk_modulus": 25.0,
            "shear_modulus": 15.0,
            "total_magnetization": 2.0,
        }
    )
    assert nacl.provenance["energy_above_hull"] == "0.02"
    assert cscl.properties == pytest.approx({"bulk_modulus": 18.0, "poisson_ratio": 0.27})
    assert zno.properties == pytest.approx({"band_gap": 0.73})
    assert {r.source for r in recs} == {"mpjson"}


def test_mp_json_bad_documents_are_skipped_or_raised(tmp_path):
    c = crystals()
    docs = [
        {"material_id": "mp-1", "structure": c["Si"].as_dict()},
        {"material_id": "mp-2", "band_gap": 1.0},
        {"material_id": "mp-3", "structure": overlapping().as_dict()},
        {"material_id": "mp-4", "structure": c["NaCl"].as_dict(), "band_gap": "oops"},
        42,
        {"material_id": "mp-5", "structure": c["CsCl"].as_dict()},
    ]
    path = write_text(tmp_path / "docs.json", json.dumps(docs))
    skipped: list[str] = []
    assert [r.id for r in records_from_spec(f"mpjson:{path}", skipped=skipped)] == ["mp-1", "mp-5"]
    assert len(skipped) == 4, skipped
    no_structure, close, oops, number = skipped
    assert (
        no_structure
        == "docs.json entry 1 (mp-2): it has no 'structure' object (a pymatgen Structure.as_dict())"
    )
    assert "entry 2 (mp-3)" in close
    assert "entry 3 (mp-4)" in oops and "field 'band_gap': 'oops' is not a number" in oops
    assert "entry 4" in number and "not an object" in number
    with pytest.raises(BadRowError, match=r"docs\.json: entry 1 \(mp-2\): it has no 'structure'"):
        list(records_from_spec(f"mpjson:{path}", strict=True))


def test_mp_json_that_is_not_a_list_of_documents(tmp_path):
    for name, text, message in [
        ("obj.json", json.dumps({"results": []}), "has no 'data' list"),
        ("num.json", "3", "expected a JSON list"),
        ("bad.json", '[{"material_id": "mp-1", }]', "not valid JSON"),
    ]:
        with pytest.raises(SourceFileError, match=message):
            list(records_from_spec(f"mpjson:{write_text(tmp_path / name, text)}"))
    (tmp_path / "fake.json.gz").write_bytes(b"not gzip at all")
    with pytest.raises(SourceFileError, match="could not be read"):
        list(records_from_spec(f"mpjson:{tmp_path / 'fake.json.gz'}"))


# ----------------------------------------------------------------------------------------
# Alexandria


def alexandria_entry(s: Structure, mat_id: str | None, **data) -> dict:
    """A ComputedStructureEntry dict as Alexandria's files hold them."""
    d = {"spg": 225, "formula": s.composition.reduced_formula, "stress": [[0.0] * 3] * 3, **data}
    if mat_id is not None:
        d["mat_id"] = mat_id
    return {
        "@module": "pymatgen.entries.computed_entries",
        "@class": "ComputedStructureEntry",
        "energy": -10.0,
        "correction": 0.0,
        "entry_id": None,
        "structure": s.as_dict(),
        "data": d,
    }


def alexandria_folder(tmp: Path) -> Path:
    c = crystals()
    folder = tmp / "alexandria"
    folder.mkdir()
    write_text(
        folder / "alexandria_001.json",
        json.dumps(
            {
                "entries": [
                    alexandria_entry(
                        c["ZnO"],
                        "agm000000003",
                        e_form=-1.7,
                        band_gap_ind=0.7,
                        band_gap_dir=0.9,
                        total_mag=0.0,
                    ),
                    alexandria_entry(c["CsCl"], None, e_form=-2.2, e_above_hull=0.01),
                ]
            }
        ),
    )
    write_text(
        folder / "alexandria_000.json.bz2",
        json.dumps(
            {
                "entries": [
                    alexandria_entry(
                        c["Si"],
                        "agm000000001",
                        e_form=0.0,
                        band_gap_ind=0.55,
                        band_gap_dir=2.5,
                        e_above_hull=0.0,
                        total_mag=0.0,
                    ),
                    alexandria_entry(
                        c["NaCl"], "agm000000002", e_form=-2.08, band_gap_ind=4.99, total_mag=0.001
                    ),
                ]
            }
        ),
    )
    (folder / "README.txt").write_text("not a data file")
    return folder


def test_alexandria_folder_read_in_name_order_with_its_properties(tmp_path):
    folder = alexandria_folder(tmp_path)
    skipped: list[str] = []
    recs = list(records_from_spec(f"alexandria:{folder}", skipped=skipped))
    assert skipped == []
    assert [r.id for r in recs] == ["agm000000001", "agm000000002", "agm000000003", "alexandria_001:1"]
    si, nacl, zno, cscl = recs
    c = crystals()
    assert same_crystal(si, c["Si"]) and same_crystal(cscl, c["CsCl"])
    assert si.properties == pytest.approx(
        {"formation_energy_per_atom": 0.0, "band_gap": 0.55, "total_magnetization": 0.0}
    )
    assert nacl.properties == pytest.approx(
        {"formation_energy_per_atom": -2.08, "band_gap": 4.99, "total_magnetization": 0.001}
    )
    assert zno.properties["band_gap"] == pytest.approx(0.7)  # the indirect (fundamental) gap
    assert zno.provenance["band_gap_dir"] == "0.9" and si.provenance["e_above_hull"] == "0.0"
    assert cscl.properties == pytest.approx({"formation_energy_per_atom": -2.2})
    assert {r.source for r in recs} == {"alexandria"}
    assert all("CC BY 4.0" in r.provenance["licence"] for r in recs)
    one = list(records_from_spec(f"alexandria:{folder / 'alexandria_001.json'}"))
    assert [r.id for r in one] == ["agm000000003", "alexandria_001:1"]


def test_alexandria_bad_entries_and_layout(tmp_path):
    c = crystals()
    entries = [
        alexandria_entry(c["Si"], "agm1"),
        alexandria_entry(overlapping(), "agm2"),
        {**alexandria_entry(c["NaCl"], "agm3"), "data": "oops"},
        alexandria_entry(c["CsCl"], "agm4"),
    ]
    path = write_text(tmp_path / "alexandria_009.json.gz", json.dumps({"entries": entries}))
    skipped: list[str] = []
    assert [r.id for r in records_from_spec(f"alexandria:{path}", skipped=skipped)] == ["agm1", "agm4"]
    assert (
        len(skipped) == 2 and "entry 1 (agm2)" in skipped[0] and "'data' is not a JSON object" in skipped[1]
    )
    with pytest.raises(BadRowError, match=r"entry 1 \(agm2\)"):
        list(records_from_spec(f"alexandria:{path}", strict=True))
    with pytest.raises(SourceFileError, match="has no 'entries' list"):
        list(records_from_spec(f"alexandria:{write_text(tmp_path / 'x.json', json.dumps({'data': []}))}"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="has no Alexandria JSON files"):
        list(records_from_spec(f"alexandria:{empty}"))


# ----------------------------------------------------------------------------------------
# all three: limit, streaming, missing files, specs


def test_limit_stops_reading_before_a_broken_tail(tmp_path):
    """``limit`` records come out of a file whose end is broken: the file is read as a stream."""
    c = crystals()
    docs = json.dumps([{"material_id": f"mp-{i}", "structure": c["NaCl"].as_dict()} for i in range(4)])
    mp = write_text(tmp_path / "cut.json.gz", docs[: len(docs) * 3 // 4])  # the last documents are cut off
    assert [r.id for r in records_from_spec(f"mpjson:{mp}", limit=2)] == ["mp-0", "mp-1"]
    with pytest.raises(SourceFileError):
        list(records_from_spec(f"mpjson:{mp}"))
    xyz = write_text(tmp_path / "f.extxyz.bz2", extxyz_text([(c["Si"], {"id": f"mp-{i}"}) for i in range(5)]))
    assert [r.id for r in records_from_spec(f"extxyz:{xyz}", limit=3)] == ["mp-0", "mp-1", "mp-2"]
    alex = alexandria_folder(tmp_path)
    assert len(list(records_from_spec(f"alexandria:{alex}", limit=3))) == 3


@pytest.mark.parametrize("kind", ["extxyz", "mpjson", "alexandria"])
def test_missing_file_is_a_clear_error(tmp_path, kind):
    with pytest.raises(FileNotFoundError, match=r"no such .*nothing\.json"):
        list(records_from_spec(f"{kind}:{tmp_path / 'nothing.json'}"))


def test_specs_name_and_list_the_new_kinds(tmp_path):
    from clac_core.evaluation.dataset import is_spec

    for kind in ("extxyz", "mpjson", "alexandria"):
        assert f"{kind}:" in SPEC_HELP and kind in PATH_KINDS and is_spec(f"{kind}:x")
    (tmp_path / "alex").mkdir()
    assert spec_name(f"alexandria:{tmp_path / 'alex'}") == "alexandria:alex"
    assert spec_name("extxyz:/data/we@ird/t.extxyz") == "extxyz:we@ird"  # '@' only splits cifs specs
    with pytest.raises(ValueError, match="expected prototypes"):
        records_from_spec("alexandria")


def test_json_stream_reads_items_across_block_boundaries(monkeypatch):
    from clac_core.corpus import json_stream

    # 3.14159 and 1e-07 are cut after one character at block size 1: "3" and "1" must not be taken whole
    items = [{"a": [1, 2.5e-3, -7], "s": 'x"y\\u00e9', "t": True}, 125, 3.14159, 1e-07, "text", None, [], {}]
    for block in (1, 2, 3, 5, 64):
        monkeypatch.setattr(json_stream, "BLOCK_CHARS", block)
        for doc in (items, {"head": {"n": 12345}, "entries": items, "tail": 1}):
            text = json.dumps(doc, indent=1)
            got = list(json_stream.iter_json_array(io.StringIO(text), keys=("entries",), name="t"))
            assert got == items, (block, text)


# ----------------------------------------------------------------------------------------
# through the commands


def test_clac_index_build_from_alexandria_and_data_build_from_extxyz(tiny, tmp_path, capsys):
    import pandas as pd

    from clac_core.cli import main
    from clac_core.index import CorpusIndex

    folder = alexandria_folder(tmp_path)
    out = tmp_path / "ix"
    rc = main(
        [
            "index",
            "build",
            "--checkpoint",
            str(tiny[0]),
            "--source",
            f"alexandria:{folder}",
            "--out",
            str(out),
            "--max-descriptions",
            "10",
            "--chunk-size",
            "2",
        ]
    )
    assert rc == 0
    idx = CorpusIndex.load(out)
    meta = idx.metadata.set_index("crystal_id")
    assert list(idx.metadata["crystal_id"]) == [
        "agm000000001",
        "agm000000002",
        "agm000000003",
        "alexandria_001:1",
    ]
    assert meta.loc["agm000000002", "band_gap"] == pytest.approx(4.99)
    assert set(meta["source"]) == {"alexandria"}
    missing = tmp_path / "none.json"
    assert (
        main(
            [
                "index",
                "build",
                "--checkpoint",
                str(tiny[0]),
                "--source",
                f"mpjson:{missing}",
                "--out",
                str(tmp_path / "ix2"),
            ]
        )
        == 1
    )  # a user error: one line, no traceback
    assert f"no such Materials Project JSON file: {missing}" in capsys.readouterr().err

    c = crystals()
    xyz = write_text(
        tmp_path / "frames.extxyz.gz",
        extxyz_text(
            [(c["Si"], {"id": "mp-149", "band_gap": 0.61}), (molecule(), {}), (c["NaCl"], {"band_gap": 5.0})]
        ),
    )
    data = tmp_path / "data"
    with pytest.warns(UserWarning, match="skipped 1 of 3 frames"):  # the molecule
        assert main(["data", "build", "--source", f"extxyz:{xyz}", "--out", str(data), "--workers", "1"]) == 0
    crystals_table = pd.read_parquet(data / "crystals.parquet").set_index("crystal_id")
    assert sorted(crystals_table.index) == ["frames:2", "mp-149"]
    assert json.loads(crystals_table.loc["mp-149", "properties"]) == {"band_gap": 0.61}
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["sources"][0]["spec"] == f"extxyz:{xyz}"
