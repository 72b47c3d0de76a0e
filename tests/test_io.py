"""Tests for clac_core.io: reading real structure files and clear, typed errors."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import random
import types
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


# --------------------------------------------------------------------------- issue 13: limits first


def _cif(
    a: object = 4.0,
    b: object = 4.0,
    c: object = 4.0,
    angles: tuple[object, object, object] = (90, 90, 90),
    sites: tuple[tuple[str, object, object], ...] = (("Na", "Na", None), ("Cl", "Cl", None)),
    space_group: str | None = None,
) -> str:
    """A small hand-written CIF; ``sites`` are (label, type symbol, occupancy) at NaCl positions."""
    pos = [(0, 0, 0), (0.5, 0.5, 0.5)] + [(0.25 * (i % 4), 0.25, 0.1 * (i // 4)) for i in range(400)]
    text = (
        f"data_x\n_cell_length_a {a}\n_cell_length_b {b}\n_cell_length_c {c}\n"
        f"_cell_angle_alpha {angles[0]}\n_cell_angle_beta {angles[1]}\n_cell_angle_gamma {angles[2]}\n"
    )
    if space_group:
        text += f"_symmetry_space_group_name_H-M '{space_group}'\n"
    with_occ = any(o is not None for _, _, o in sites)
    text += "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
    text += "_atom_site_fract_z\n" + ("_atom_site_occupancy\n" if with_occ else "")
    for i, (label, symbol, occ) in enumerate(sites):
        x, y, z = pos[i]
        text += (
            f"{label}{i} {symbol} {x} {y} {z}" + (f" {1 if occ is None else occ}" if with_occ else "") + "\n"
        )
    return text


def test_declared_atom_counts_are_refused_before_parsing() -> None:
    poscar = b"big\n1.0\n4 0 0\n0 4 0\n0 0 4\nNa\n1000000000\nDirect\n0 0 0\n"
    with pytest.raises(TooManySitesError, match="declares 1000000000 atoms; the limit is 500"):
        read_structures(poscar, filename="POSCAR")
    xyz = b'1000000000\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nNa 0 0 0\n'
    with pytest.raises(TooManySitesError, match="declares 1000000000 atoms"):
        read_structures(xyz, filename="a.xyz")
    many = _cif(a=40, b=40, c=40, sites=tuple(("Na", "Na", None) for _ in range(400)))
    with pytest.raises(TooManySitesError, match="has 400 sites; the limit is 300"):
        read_structures(many.encode(), filename="big.cif", max_sites=300)


def test_symmetry_expansion_is_estimated_before_expanding() -> None:
    text = _cif(a=20, b=20, c=20, sites=tuple(("Na", "Na", None) for _ in range(40)), space_group="F m -3 m")
    with pytest.raises(
        TooManySitesError, match=r"40 atom sites and 192 symmetry operations.*up to 7680 atoms"
    ):
        read_structures(text.encode(), filename="fm3m.cif")
    # rock salt itself (2 sites x 192 operations, 8 atoms) is well within the allowance
    ok = _cif(a=5.64, b=5.64, c=5.64, space_group="F m -3 m")
    assert len(read_structures(ok.encode(), filename="nacl.cif")[0]) == 8


def test_too_many_blocks_frames_and_items() -> None:
    blocks = "".join(_cif().replace("data_x", f"data_x{i}") for i in range(101))
    with pytest.raises(cio.TooManyBlocksError, match="101 data blocks; the limit is 100"):
        read_structures(blocks.encode(), filename="many.cif")
    frame = '2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nNa 0 0 0\nCl 2 2 2\n'
    with pytest.raises(cio.TooManyBlocksError, match="more than 3 frames"):
        read_structures((frame * 4).encode(), filename="a.extxyz", max_blocks=3)
    items = json.dumps([si().as_dict()] * 4)
    with pytest.raises(cio.TooManyBlocksError, match="holds 4 structures; the limit is 3"):
        read_structures(items.encode(), filename="list.json", max_blocks=3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"a": "1e30"}, "_cell_length_a is 1e30; cell lengths must be positive and at most 500"),
        ({"a": "1e6"}, "_cell_length_a is 1e6"),
        ({"c": "1e308"}, "_cell_length_c is 1e308"),
        ({"a": -4}, "_cell_length_a is -4; cell lengths must be positive"),
        ({"angles": (-90, 90, 90)}, "_cell_angle_alpha is -90; cell angles must be between 0 and 180"),
        ({"angles": (90, 90, 270)}, "_cell_angle_gamma is 270"),
        ({"angles": (120, 120, 120)}, "cannot form a cell"),
    ],
)
def test_bad_cif_cell_parameters_are_refused_not_fixed(kwargs: dict, match: str) -> None:
    with pytest.raises(BadLatticeError, match=match) as err:
        read_structures(_cif(**kwargs).encode(), filename="cell.cif")
    assert "cell.cif" in str(err.value)


def test_bad_cell_in_other_formats() -> None:
    huge = b"x\n1.0\n1e6 0 0\n0 4 0\n0 0 4\nNa\n1\nDirect\n0 0 0\n"
    with pytest.raises(BadLatticeError, match="lattice vector 1e\\+06 Å long; the limit is 500"):
        read_structures(huge, filename="POSCAR")
    inf = b"x\n1.0\n4 0 0\n0 4 0\n0 0 1e308\nNa\n1\nDirect\n0 0 0\n"
    with pytest.raises(BadLatticeError, match="the limit is 500"):
        read_structures(inf, filename="POSCAR")
    xyz = b'1\nLattice="1e6 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nNa 0 0 0\n'
    with pytest.raises(BadLatticeError, match="the limit is 500"):
        read_structures(xyz, filename="a.xyz")
    # nearly flat but not degenerate: refused before the neighbour search, not after a minute
    flat = b"flat\n1.0\n4 0 0\n0 4 0\n4 4 0.01\nNa\n1\nDirect\n0 0 0\n"
    with pytest.raises(BadLatticeError, match="nearly flat cell: it is only 0.01 Å thick"):
        read_structures(flat, filename="POSCAR")


@pytest.mark.parametrize("occ", ["0", "-0.5", "nan", "1.5"])
def test_bad_occupancies_are_refused(occ: str) -> None:
    text = _cif(sites=(("Na", "Na", occ), ("Cl", "Cl", 1)))
    with pytest.raises(ParseError, match="occupancy") as err:
        read_structures(text.encode(), filename="occ.cif")
    assert "occ.cif" in str(err.value)
    d = si().as_dict()
    d["sites"][0]["species"][0]["occu"] = float(occ)
    with pytest.raises(ParseError, match="occupancy"):
        read_structures(json.dumps(d).encode(), filename="occ.json")


@pytest.mark.parametrize("symbol", ["Xx", "123", "*", "Uue", "X", "?"])
def test_unknown_element_symbols_are_refused(symbol: str) -> None:
    text = _cif(sites=((("Na", symbol, None)), ("Cl", "Cl", None)))
    with pytest.raises(cio.UnknownElementError, match="not a chemical element symbol") as err:
        read_structures(text.encode(), filename="el.cif")
    assert "el.cif" in str(err.value)
    d = si().as_dict()
    d["sites"][0]["species"][0]["element"] = symbol
    with pytest.raises(cio.UnknownElementError):
        read_structures(json.dumps(d).encode(), filename="el.json")


def test_unknown_element_symbols_in_poscar_xyz_and_labels() -> None:
    with pytest.raises(cio.UnknownElementError, match="Uue"):
        read_structures(b"x\n1.0\n4 0 0\n0 4 0\n0 0 4\nUue\n1\nDirect\n0 0 0\n", filename="POSCAR")
    xyz = b'1\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nXx 0 0 0\n'
    with pytest.raises(cio.UnknownElementError, match="'Xx'"):
        read_structures(xyz, filename="a.xyz")
    # a label-only CIF (no _atom_site_type_symbol): "Uue1" must not be read as uranium
    text = _cif().replace("_atom_site_type_symbol\n", "").replace("Na0 Na", "Uue1").replace("Cl1 Cl", "Cl1")
    with pytest.raises(cio.UnknownElementError, match="_atom_site_label 'Uue1'"):
        read_structures(text.encode(), filename="label.cif")
    # type symbols with charges are real elements
    charged = _cif(sites=(("Na", "Na1+", None), ("Cl", "Cl1-", None)))
    assert read_structures(charged.encode(), filename="ions.cif")[0].composition.reduced_formula == "NaCl"


def test_poscar_without_element_symbols_is_an_error_not_hydrogen() -> None:
    no_symbols = b"no names\n1.0\n4 0 0\n0 4 0\n0 0 4\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n"
    with pytest.raises(ParseError, match="has no element symbols") as err:
        read_structures(no_symbols, filename="POSCAR")
    assert "POSCAR" in str(err.value)
    # old VASP 4 files with the symbols on the comment line are read with those symbols
    vasp4 = b"Na Cl\n1.0\n4 0 0\n0 4 0\n0 0 4\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n"
    assert read_structures(vasp4, filename="POSCAR")[0].composition.reduced_formula == "NaCl"


def test_json_site_without_species() -> None:
    d = si().as_dict()
    d["sites"][0]["species"] = []
    with pytest.raises(ParseError, match="site 1 has no species") as err:
        read_structures(json.dumps(d).encode(), filename="nospecies.json")
    assert "nospecies.json" in str(err.value)


def test_isolated_atom_is_a_reader_error() -> None:
    lone = _cif(a=20, b=20, c=20, sites=(("Na", "Na", None),))
    with pytest.raises(cio.IsolatedAtomError, match=r"site 0 \(Na\) has no neighbour within 8 Å") as err:
        read_structures(lone.encode(), filename="lone.cif")
    assert "lone.cif" in str(err.value)
    # the cutoff is a parameter (the graph cutoff of another model)
    assert len(read_structures(lone.encode(), filename="lone.cif", neighbor_cutoff=25.0)[0]) == 1
    # a 4 Å cell: the atom's own periodic images are its neighbours
    assert len(read_structures(_cif(sites=(("Na", "Na", None),)).encode(), filename="one.cif")[0]) == 1


def test_time_budget_stops_a_slow_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # 60 sites x 192 operations = 11,520 candidate positions: allowed with a large max_sites.
    # The budget's clock moves 1 s per reading, so the read is over its 0.01 s at the first
    # check, however fast this machine is (no assumption about how long a read takes).
    from clac_core.io import budget

    ticks = itertools.count()
    monkeypatch.setattr(budget, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks))))
    text = _cif(a=30, b=30, c=30, sites=tuple(("Na", "Na", None) for _ in range(60)), space_group="F m -3 m")
    with pytest.raises(cio.ReadTimeoutError, match=r"took longer than 0.01 s \(time_budget\)") as err:
        read_structures(text.encode(), filename="slow.cif", max_sites=20_000, time_budget=0.01)
    assert "slow.cif" in str(err.value)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("loop.cif", _cif().rstrip("\n") + " 0.7\n", "does not fill whole rows"),
        ("num.cif", _cif(a="oops"), "'oops' is not a number"),
        ("POSCAR", "x\n1.0\n4 0 0\n0 4 0\n0 0 4\nNa\n1\nDirect\n0 zero 0\n", None),
    ],
)
def test_messages_are_plain_words(name: str, data: str, words: str | None) -> None:
    with pytest.raises(StructureReadError) as err:
        read_structures(data.encode(), filename=name)
    msg = str(err.value)
    assert name in msg
    if words:
        assert words in msg
    for internal in ("len(", "n=", "items)", "Traceback", "NoneType", "object has no", "could not convert"):
        assert internal not in msg, msg
