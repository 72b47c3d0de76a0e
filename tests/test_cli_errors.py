"""``clac embed`` and ``clac index build`` on bad inputs: keep the good ones, report the bad,
exit non-zero with plain lines, never a traceback (issue 13)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Lattice, Structure

from clac_core.cli import main
from clac_core.config import model_config_from_dict
from clac_core.corpus import tables
from clac_core.io import structure_to_cif
from clac_core.models import CLaCModel, save_checkpoint

TINY_MODEL = {"crystal": {"hidden_dim": 16, "num_layers": 1, "out_dim": 32}, "embed_dim": 32, "proj_hidden": 0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(CLaCModel(model_config_from_dict(TINY_MODEL)), tmp_path_factory.mktemp("ck") / "m", step=0)


def nacl() -> Structure:
    return Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def si() -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


LONE_ATOM = structure_to_cif(Structure(Lattice.cubic(20.0), ["Na"], [[0, 0, 0]]))
UNKNOWN_ELEMENT = structure_to_cif(nacl()).replace(" Na ", " Xx ")
BIG = structure_to_cif(Structure(Lattice.cubic(60.0), ["C"] * 2000, np.random.default_rng(0).random((2000, 3))))


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and 'File "' not in err, err


# ----------------------------------------------------------------------------- clac embed


@pytest.fixture()
def mixed_folder(tmp_path: Path) -> Path:
    d = tmp_path / "cifs"
    d.mkdir()
    (d / "a_nacl.cif").write_text(structure_to_cif(nacl()))
    (d / "b_lone.cif").write_text(LONE_ATOM)
    (d / "c_xx.cif").write_text(UNKNOWN_ELEMENT)
    (d / "d_si.cif").write_text(structure_to_cif(si()))
    return d


def test_embed_folder_keeps_good_files_and_reports_bad(checkpoint, mixed_folder, tmp_path, capsys) -> None:
    out = tmp_path / "e.parquet"
    rc = main(["embed", "--checkpoint", str(checkpoint), "--structures", str(mixed_folder), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert pd.read_parquet(out)["id"].tolist() == ["a_nacl.cif#0", "d_si.cif#0"]
    assert "skipped 2 bad structure files" in err
    assert "b_lone.cif" in err and "isolated atom" in err
    assert "c_xx.cif" in err and "not a chemical element" in err
    _no_traceback(err)


def test_embed_strict_stops_at_first_bad_file(checkpoint, mixed_folder, tmp_path, capsys) -> None:
    out = tmp_path / "e.npy"
    args = ["embed", "--checkpoint", str(checkpoint), "--structures", str(mixed_folder), "--out", str(out)]
    rc = main([*args, "--strict", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and not out.exists()
    assert err.count("\n") == 1 and "b_lone.cif" in err
    _no_traceback(err)


def test_embed_missing_path_is_reported_not_fatal(checkpoint, mixed_folder, tmp_path, capsys) -> None:
    out = tmp_path / "e.npy"
    good = mixed_folder / "a_nacl.cif"
    rc = main(["embed", "--checkpoint", str(checkpoint), "--structures", str(good), str(tmp_path / "nope.cif"),
               "--out", str(out), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and np.load(out).shape == (1, 32)
    assert "nope.cif: no such file or folder" in err
    _no_traceback(err)


# ----------------------------------------------------------------------------- clac index build


def _csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _index(checkpoint: Path, spec: str, out: Path, *extra: str) -> int:
    return main(["index", "build", "--checkpoint", str(checkpoint), "--source", spec, "--out", str(out),
                 "--max-descriptions", "8", *extra])  # fmt: skip


def test_index_build_keeps_good_rows_and_reports_bad_ones(checkpoint, tmp_path, capsys) -> None:
    csv = _csv(
        tmp_path / "t.csv",
        [
            {"material_id": "mp-1", "cif": structure_to_cif(nacl()), "band_gap": "4.1"},
            {"material_id": "mp-2", "cif": LONE_ATOM, "band_gap": "1.0"},
            {"material_id": "mp-3", "cif": UNKNOWN_ELEMENT, "band_gap": "1.0"},
            {"material_id": "mp-4", "cif": structure_to_cif(si()), "band_gap": "oops"},
            {"material_id": "mp-5", "cif": BIG, "band_gap": "0"},
            {"material_id": "mp-6", "cif": structure_to_cif(si()), "band_gap": "1.1"},
        ],
    )
    rc = _index(checkpoint, f"csv:{csv}", tmp_path / "ix")
    captured = capsys.readouterr()
    assert rc == 1
    from clac_core.index import CorpusIndex

    idx = CorpusIndex.load(tmp_path / "ix")
    assert sorted(idx.metadata["crystal_id"]) == ["mp-1", "mp-6"]
    err = captured.err
    assert "skipped 4 bad rows/files" in err
    assert "row 1 (mp-2)" in err and "isolated atom" in err
    assert "row 2 (mp-3)" in err and "not a chemical element" in err
    assert "row 3 (mp-4)" in err and "'oops' is not a number" in err
    assert "row 4 (mp-5)" in err and "2000 sites; the limit is 500" in err
    _no_traceback(err)


def test_index_build_strict_stops_at_first_bad_row(checkpoint, tmp_path, capsys) -> None:
    csv = _csv(tmp_path / "t.csv", [{"material_id": "mp-1", "cif": structure_to_cif(nacl())},
                                    {"material_id": "mp-2", "cif": LONE_ATOM}])  # fmt: skip
    rc = _index(checkpoint, f"csv:{csv}", tmp_path / "ix", "--strict")
    err = capsys.readouterr().err
    assert rc == 1 and not (tmp_path / "ix").exists()
    assert err.count("\n") == 1 and "row 1 (mp-2)" in err
    _no_traceback(err)


@pytest.mark.parametrize("drop", ["cif", "material_id"])
def test_index_build_missing_column_is_one_line(checkpoint, tmp_path, capsys, drop) -> None:
    row = {"material_id": "mp-1", "cif": structure_to_cif(nacl())}
    del row[drop]
    rc = _index(checkpoint, f"csv:{_csv(tmp_path / 't.csv', [row])}", tmp_path / "ix")
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    assert f"column '{drop}' missing" in err
    _no_traceback(err)


def test_index_build_missing_file_is_one_line(checkpoint, tmp_path, capsys) -> None:
    rc = _index(checkpoint, f"csv:{tmp_path / 'nope.csv'}", tmp_path / "ix")
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "nope.csv" in err
    _no_traceback(err)


def test_gzip_table_bomb_is_refused_cheaply(checkpoint, tmp_path, capsys, monkeypatch) -> None:
    # the same shape as a 1 MB .csv.gz inflating to 1 GB, scaled down: the limit is lowered
    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", 1_000_000)
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b"material_id,cif\n" + b"x" * 20_000_000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(tables.CsvLayoutError, match="decompresses to more than 1 MB"):
        list(tables.iter_csv(bomb))
    rc = _index(checkpoint, f"csv:{bomb}", tmp_path / "ix")
    err = capsys.readouterr().err
    assert rc == 1 and "decompresses to more than" in err
    _no_traceback(err)


def test_rows_per_table_limit(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "MAX_CSV_ROWS", 3)
    csv = _csv(tmp_path / "t.csv", [{"material_id": f"mp-{i}", "cif": structure_to_cif(si())} for i in range(5)])
    with pytest.raises(tables.CsvLayoutError, match="more than 3 rows"):
        list(tables.iter_csv(csv))


def test_index_build_cif_folder_keeps_good_files(checkpoint, mixed_folder, tmp_path, capsys) -> None:
    rc = _index(checkpoint, f"cifs:{mixed_folder}", tmp_path / "ix")
    err = capsys.readouterr().err
    assert rc == 1
    from clac_core.index import CorpusIndex

    assert len(CorpusIndex.load(tmp_path / "ix")) == 2
    assert "skipped 2 bad" in err and "b_lone.cif" in err
    _no_traceback(err)
