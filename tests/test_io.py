"""Tests for clac_core.io: reading real structure files and clear, typed errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import warnings
from pathlib import Path

import pytest
from pymatgen.core import Composition, Lattice, Molecule, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

from clac_core import io as cio
from clac_core.io import (
    BadLatticeError,
    BadSitesError,
    DecodeError,
    EmptyFileError,
    FileTooLargeError,
    NoLatticeError,
    ParseError,
    PartialOccupancyError,
    StructureReadError,
    TooManySitesError,
    UnsupportedFormatError,
    read_structures,
    structure_to_cif,
)

FIXTURES = Path(__file__).parent / "data" / "io"


# --------------------------------------------------------------------------- helpers


def nacl() -> Structure:
    """Conventional rock-salt NaCl, 8 sites, a = 5.64 Å."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def si() -> Structure:
    """Diamond Si, primitive cell, 2 sites."""
    return Structure(
        Lattice([[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]]),
        ["Si", "Si"],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    )


def write_cif(path: Path, s: Structure) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path.write_text(str(CifWriter(s)))
    return path


def same_structure(a: Structure, b: Structure) -> bool:
    return a.composition == b.composition and a.matches(b, scale=False)


# --------------------------------------------------------------------------- good inputs


def test_cif_nacl_roundtrip(tmp_path: Path) -> None:
    path = write_cif(tmp_path / "NaCl.cif", nacl())
    (s,) = read_structures(path)
    assert len(s) == 8
    assert s.composition.reduced_formula == "NaCl"
    assert s.lattice.a == pytest.approx(5.64, abs=1e-4)
    assert "clac_note" not in s.properties
    # str paths work too
    (s2,) = read_structures(str(path))
    assert same_structure(s, s2)


def test_cif_real_perovskite(shared_data: Path) -> None:
    with open(shared_data / "perov_5" / "test.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    (s,) = read_structures(row["cif"].encode(), filename=f"{row['material_id']}.cif")
    assert len(s) == 5  # perov_5 cells have 5 atoms
    assert s.composition.reduced_formula == Composition(row["formula"]).reduced_formula
    assert s.lattice.volume == pytest.approx(
        Structure.from_str(row["cif"], fmt="cif").lattice.volume, rel=1e-6
    )
    assert s.is_ordered


def test_multiblock_cif_gives_two_structures(tmp_path: Path) -> None:
    text = structure_to_cif(nacl()) + "\n" + structure_to_cif(si())
    path = tmp_path / "two.cif"
    path.write_text(text)
    structures = read_structures(path)
    assert [x.composition.reduced_formula for x in structures] == ["NaCl", "Si"]
    assert [len(x) for x in structures] == [8, 2]


def test_poscar_and_contcar_names(tmp_path: Path) -> None:
    text = Poscar(si()).get_str()
    for name in ("POSCAR", "CONTCAR", "CONTCAR_relaxed", "Si.vasp", "POSCAR.gz"):
        path = tmp_path / name
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        (s,) = read_structures(path)
        assert same_structure(s, si()), name


def test_extxyz_from_ase(tmp_path: Path) -> None:
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / "si.extxyz"
    write(path, bulk("Si", "diamond", a=5.43), format="extxyz")
    assert "Lattice=" in path.read_text()
    (s,) = read_structures(path)
    assert len(s) == 2 and s.composition.reduced_formula == "Si"
    assert s.volume == pytest.approx(5.43**3 / 4, rel=1e-6)
    # .xyz name with the same content works, and multi-frame files give several structures
    xyz = tmp_path / "two.xyz"
    write(xyz, [bulk("Si", "diamond", a=5.43), bulk("Cu", "fcc", a=3.6)], format="extxyz")
    assert [x.composition.reduced_formula for x in read_structures(xyz)] == ["Si", "Cu"]


def test_pymatgen_json_single_and_list(tmp_path: Path) -> None:
    one = tmp_path / "nacl.json"
    one.write_text(json.dumps(nacl().as_dict()))
    (s,) = read_structures(one)
    assert same_structure(s, nacl())
    many = tmp_path / "many.json"
    many.write_text(json.dumps([nacl().as_dict(), si().as_dict()]))
    assert [len(x) for x in read_structures(many)] == [8, 2]


def test_bytes_and_filelike_input(tmp_path: Path) -> None:
    data = structure_to_cif(nacl()).encode()
    (s,) = read_structures(data, filename="upload.cif")
    assert s.composition.reduced_formula == "NaCl"
    with pytest.raises(TypeError, match="filename"):
        read_structures(data)
    # file-like with .name (like Streamlit's UploadedFile)
    fh = io.BytesIO(Poscar(si()).get_str().encode())
    fh.name = "POSCAR"
    (s2,) = read_structures(fh)
    assert same_structure(s2, si())


def test_unknown_name_is_sniffed(tmp_path: Path) -> None:
    cif = tmp_path / "structure.txt"
    cif.write_text(structure_to_cif(nacl()))
    assert read_structures(cif)[0].composition.reduced_formula == "NaCl"
    js = read_structures(json.dumps(si().as_dict()).encode(), filename="upload")
    assert same_structure(js[0], si())
    pos = read_structures(Poscar(si()).get_str().encode(), filename="si.dat")  # POSCAR fallback
    assert same_structure(pos[0], si())
    assert cio.detect_format("x.bin", "data_x\n_cell_length_a 3\n") == "cif"
    assert cio.detect_format("x.bin", "hello") is None


def test_structure_to_cif_roundtrip() -> None:
    text = structure_to_cif(si())
    assert text.lstrip().startswith("# generated using pymatgen") or "data_" in text
    (s,) = read_structures(text.encode(), filename="si.cif")
    assert same_structure(s, si())


def test_limits_are_exposed() -> None:
    assert cio.DEFAULT_MAX_SITES == 500 and cio.DEFAULT_MAX_BYTES == 5_000_000
    text = cio.describe_limits()
    assert "500 sites" in text and "5.0 MB" in text
    assert "120 sites" in cio.describe_limits(max_sites=120)


# --------------------------------------------------------------------------- errors


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.cif"
    path.write_text("")
    with pytest.raises(EmptyFileError, match="'empty.cif' is empty"):
        read_structures(path)
    with pytest.raises(EmptyFileError, match="is empty"):
        read_structures(b"  \n\t\n", filename="blank.vasp")


def test_undecodable_bytes() -> None:
    rng = random.Random(0)
    binary = bytes(rng.randrange(256) for _ in range(2000))
    with pytest.raises(DecodeError, match="not a text file") as err:
        read_structures(binary, filename="random.cif")
    assert "random.cif" in str(err.value)
    latin = "data_é\n".encode("latin-1") + bytes(range(0xC0, 0xFF)) * 20
    with pytest.raises(DecodeError, match="could not be decoded as UTF-8"):
        read_structures(latin, filename="garbage.cif")
    # a lone Latin-1 Å in a comment of an otherwise valid CIF is tolerated
    ok = ("# cell in \u00c5\n" + structure_to_cif(nacl())).encode("latin-1")
    assert read_structures(ok, filename="old.cif")[0].composition.reduced_formula == "NaCl"


def test_unparsable_cif(tmp_path: Path) -> None:
    path = tmp_path / "bad.cif"
    path.write_text("this is not a crystal\njust words\n")
    with pytest.raises(ParseError, match="no 'data_' block") as err:
        read_structures(path)
    assert "bad.cif" in str(err.value)
    # a cell length that is not a number, with a complete atom loop
    path.write_text(
        "data_broken\n_cell_length_a 4.0\n_cell_length_b oops\n_cell_length_c 4\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
        "_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\n"
    )
    with pytest.raises(ParseError, match="Could not parse") as err2:
        read_structures(path)
    assert "bad.cif" in str(err2.value)
    assert not isinstance(err2.value.__cause__, StructureReadError)


def test_unparsable_cif_fixture() -> None:
    with pytest.raises(ParseError, match="Could not parse") as err:
        read_structures(FIXTURES / "truncated.cif")
    assert "truncated.cif" in str(err.value)


def test_occupancy_above_one(tmp_path: Path) -> None:
    text = structure_to_cif(si())
    lines = text.rstrip("\n").splitlines()
    lines[-1] = lines[-1].rsplit(None, 1)[0] + "  1.3"
    path = tmp_path / "over.cif"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match="occupancy is above 1"):
        read_structures(path)


def test_molecule_plain_xyz(tmp_path: Path) -> None:
    path = tmp_path / "water.xyz"
    path.write_text("3\nwater\nO 0.0 0.0 0.0\nH 0.76 0.59 0.0\nH -0.76 0.59 0.0\n")
    with pytest.raises(NoLatticeError, match="molecule, not a periodic crystal"):
        read_structures(path)


def test_molecule_json(tmp_path: Path) -> None:
    mol = Molecule(["O", "H", "H"], [[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]])
    path = tmp_path / "water.json"
    path.write_text(json.dumps(mol.as_dict()))
    with pytest.raises(NoLatticeError, match="molecule, not a periodic crystal"):
        read_structures(path)


def test_zero_atoms(tmp_path: Path) -> None:
    d = nacl().as_dict()
    d["sites"] = []
    path = tmp_path / "empty_sites.json"
    path.write_text(json.dumps(d))
    with pytest.raises(BadSitesError, match="contains no atoms"):
        read_structures(path)
    cif = tmp_path / "cell_only.cif"
    cif.write_text(
        "data_cell\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
    )
    with pytest.raises(BadSitesError, match="contains no atoms"):
        read_structures(cif)
    poscar = b"empty\n1.0\n4 0 0\n0 4 0\n0 0 4\nNa\n0\nDirect\n"
    with pytest.raises(BadSitesError, match="contains no atoms"):
        read_structures(poscar, filename="POSCAR")


def test_overlapping_atoms(tmp_path: Path) -> None:
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]])  # 0.2 Å apart
    path = write_cif(tmp_path / "overlap.cif", s)
    with pytest.raises(BadSitesError, match="overlapping atoms") as err:
        read_structures(path)
    assert "0.20 Å" in str(err.value)
    # across the periodic boundary: 0.01 and 0.98 are 0.12 Å apart through the cell face
    s2 = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0.01, 0, 0], [0.98, 0, 0]])
    with pytest.raises(BadSitesError, match="overlapping atoms"):
        read_structures(json.dumps(s2.as_dict()).encode(), filename="pbc.json")
    # 0.6 Å apart is allowed (above the 0.5 Å threshold)
    s3 = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.15, 0, 0]])
    assert len(read_structures(json.dumps(s3.as_dict()).encode(), filename="ok.json")[0]) == 2


def test_unknown_element_and_nan() -> None:
    dummy = b"X\n1.0\n4 0 0\n0 4 0\n0 0 4\nXx\n1\nDirect\n0 0 0\n"
    with pytest.raises(ParseError, match="unknown element symbol"):
        read_structures(dummy, filename="POSCAR")
    nan = b"X\n1.0\n4 0 0\n0 nan 0\n0 0 4\nSi\n1\nDirect\n0 0 0\n"
    with pytest.raises(ParseError, match="NaN or infinite"):
        read_structures(nan, filename="POSCAR")


def test_degenerate_lattice() -> None:
    poscar = b"flat\n1.0\n4 0 0\n0 4 0\n4 4 0\nNa\n1\nDirect\n0 0 0\n"
    with pytest.raises(BadLatticeError, match="degenerate cell"):
        read_structures(poscar, filename="POSCAR")


def _disordered() -> Structure:
    return Structure(
        Lattice.cubic(4.2),
        [{"Na": 0.6, "K": 0.4}, "Cl", {"Cl": 0.3}],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]],
    )


def test_partial_occupancy_most_probable(tmp_path: Path) -> None:
    path = write_cif(tmp_path / "disordered.cif", _disordered())
    (s,) = read_structures(path)  # default on_partial="most_probable"
    assert s.is_ordered
    # Na wins on the mixed site; the 30 %-occupied Cl site is vacancy-dominated and dropped
    assert sorted(x.species_string for x in s) == ["Cl", "Na"]
    assert s.properties["clac_note"] == cio.PARTIAL_NOTE


def test_partial_occupancy_reject(tmp_path: Path) -> None:
    path = write_cif(tmp_path / "disordered.cif", _disordered())
    with pytest.raises(PartialOccupancyError, match="2 partially occupied site") as err:
        read_structures(path, on_partial="reject")
    assert "on_partial='most_probable'" in str(err.value)


def test_too_many_sites(tmp_path: Path) -> None:
    big = nacl() * (5, 5, 5)  # 1000 sites
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big.as_dict()))
    with pytest.raises(TooManySitesError, match=r"has 1000 sites; the limit is 500 \(max_sites\)"):
        read_structures(path)
    with pytest.raises(TooManySitesError, match=r"has 8 sites; the limit is 4 \(max_sites\)"):
        read_structures(write_cif(tmp_path / "nacl.cif", nacl()), max_sites=4)
    assert len(read_structures(path, max_sites=1000)[0]) == 1000


def test_file_too_large(tmp_path: Path) -> None:
    path = write_cif(tmp_path / "nacl.cif", nacl())
    size = path.stat().st_size
    with pytest.raises(FileTooLargeError, match=r"the limit is 100 bytes \(max_bytes\)") as err:
        read_structures(path, max_bytes=100)
    assert "nacl.cif" in str(err.value)
    with pytest.raises(FileTooLargeError, match="max_bytes"):
        read_structures(path.read_bytes(), filename="nacl.cif", max_bytes=size - 1)
    with pytest.raises(FileTooLargeError, match="max_bytes"):
        read_structures(io.BytesIO(path.read_bytes()), filename="nacl.cif", max_bytes=size - 1)
    assert len(read_structures(path, max_bytes=size)) == 1


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_text("Meeting notes\nbring coffee\n")
    with pytest.raises(UnsupportedFormatError, match="Could not recognise the format") as err:
        read_structures(path)
    assert "notes.docx" in str(err.value) and "CIF" in str(err.value)


def test_no_raw_library_exception_escapes(tmp_path: Path) -> None:
    """Every broken input yields a StructureReadError whose message names the file."""
    cases = {
        "a.cif": b"data_x\nloop_\n_atom_site_label\n",
        "POSCAR": b"Si\n1.0\n1 2\n",
        "a.extxyz": b'2\nLattice="1 0 0 0 1 0"\nSi 0 0 0\n',
        "a.json": b"{not json",
        "b.json": b"[1, 2]",
        "c.vasp": b"\n\n\n",
    }
    for name, data in cases.items():
        with pytest.raises(StructureReadError) as err:
            read_structures(data, filename=name)
        assert name in str(err.value), (name, str(err.value))
