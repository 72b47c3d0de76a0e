"""The seeded fuzz cases: one generator per damage class (huge counts, symmetry bombs, bad
cells, occupancies, elements, gzip bombs, garbage, truncations, mutations, valid files) and
:func:`generate`, the same cases for the same seed."""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from clac_core.fuzz.crystals import FORMATS, _serialize, _valid_structures

Expect = Literal["error", "valid", "either"]


@dataclass(frozen=True)
class FuzzCase:
    """One generated input."""

    cls: str  # damage class, e.g. "bad_cell"
    filename: str
    data: bytes
    expect: Expect


def _cif(cell: Iterable[Any], sites: list[tuple[str, str, Any, Any, Any, Any]], *, sg: str | None = None) -> str:
    a, b, c, al, be, ga = cell
    text = (
        f"data_fuzz\n_cell_length_a {a}\n_cell_length_b {b}\n_cell_length_c {c}\n"
        f"_cell_angle_alpha {al}\n_cell_angle_beta {be}\n_cell_angle_gamma {ga}\n"
    )
    if sg:
        text += f"_symmetry_space_group_name_H-M '{sg}'\n"
    text += "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
    text += "".join(f"{lab} {sym} {x} {y} {z} {o}\n" for lab, sym, x, y, z, o in sites)
    return text


def _nacl_sites(occ: Any = 1, na: str = "Na") -> list[tuple[str, str, Any, Any, Any, Any]]:
    return [("Na1", na, 0, 0, 0, occ), ("Cl1", "Cl", 0.5, 0.5, 0.5, 1)]


def _poscar(lattice: str, symbols: str | None, counts: str, coords: str) -> str:
    return f"fuzz\n1.0\n{lattice}\n" + (f"{symbols}\n" if symbols is not None else "") + f"{counts}\nDirect\n{coords}"


def _huge_counts(rng: random.Random) -> FuzzCase:
    n = rng.choice([10**3, 10**4, 10**6, 10**9, 10**12, rng.randint(501, 10**7)])
    if rng.random() < 0.5:
        text = _poscar("4 0 0\n0 4 0\n0 0 4", "Na", str(n), "0 0 0\n")
        return FuzzCase("huge_counts", "POSCAR", text.encode(), "error")
    text = f'{n}\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nNa 0 0 0\n'
    return FuzzCase("huge_counts", "big.extxyz", text.encode(), "error")


_SG_ORDERS = {"F m -3 m": 192, "F d -3 m": 192, "I a -3 d": 96, "P m -3 m": 48, "P 6/m m m": 24, "I 4/m m m": 32}


def _symmetry_bomb(rng: random.Random) -> FuzzCase:
    sg, order = rng.choice(list(_SG_ORDERS.items()))
    n = 4000 // order + rng.randint(1, 300)  # ops x sites > 8 x max_sites = 4000
    sites = [(f"Na{i}", "Na", round(rng.random(), 4), round(rng.random(), 4), round(rng.random(), 4), 1) for i in range(n)]
    a = rng.choice([20, 40, 80])
    return FuzzCase("symmetry_bomb", "sym.cif", _cif((a, a, a, 90, 90, 90), sites, sg=sg).encode(), "error")


def _supercell(rng: random.Random) -> FuzzCase:
    n = rng.choice([501, 1000, 5000, 16000])
    a = round((n * 20) ** (1 / 3), 2)
    sites = [(f"C{i}", "C", round(rng.random(), 4), round(rng.random(), 4), round(rng.random(), 4), 1) for i in range(n)]
    return FuzzCase("supercell", "super.cif", _cif((a, a, a, 90, 90, 90), sites).encode(), "error")


def _many_blocks(rng: random.Random, valid: list[Any]) -> FuzzCase:
    n = rng.choice([101, 200, 2000, 3000])
    kind = rng.choice(["cif", "extxyz", "json"])
    if kind == "cif":
        one = _cif((5.64, 5.64, 5.64, 90, 90, 90), _nacl_sites())
        return FuzzCase("many_blocks", "blocks.cif", "".join(one.replace("data_fuzz", f"data_b{i}") for i in range(n)).encode(), "error")
    if kind == "extxyz":
        one = _serialize(valid[2], "extxyz")[1]
        return FuzzCase("many_blocks", "frames.extxyz", (one * n).encode(), "error")
    return FuzzCase("many_blocks", "list.json", json.dumps([valid[1].as_dict()] * min(n, 1000)).encode(), "error")


_BAD_LENGTHS = ["1e30", "1e308", "1e6", "-4", "0", "nan", "inf", "-inf", "oops", "1e-300", "5e2.1", "600"]
_BAD_ANGLES = ["-90", "270", "0", "180", "360", "nan", "1e308", "-1e-3"]


def _bad_cell(rng: random.Random) -> FuzzCase:
    cell: list[Any] = [4.0, 4.0, 4.0, 90, 90, 90]
    r = rng.random()
    if r < 0.55:
        cell[rng.randrange(3)] = rng.choice(_BAD_LENGTHS)
    elif r < 0.85:
        cell[3 + rng.randrange(3)] = rng.choice(_BAD_ANGLES)
    else:
        cell[3:] = rng.choice([[120, 120, 120], [10, 10, 170], [179.9, 179.9, 179.9], [60, 60, 150]])
    if rng.random() < 0.7:
        return FuzzCase("bad_cell", "cell.cif", _cif(cell, _nacl_sites()).encode(), "error")
    v = rng.choice(["1e308", "1e6", "nan", "inf", "0", "1e30"])
    lat = rng.choice([f"{v} 0 0\n0 4 0\n0 0 4", f"4 0 0\n0 4 0\n0 0 {v}", f"4 0 0\n0 {v} 0\n0 0 4"])
    text = _poscar(lat, "Na Cl", "1 1", "0 0 0\n0.5 0.5 0.5\n")
    return FuzzCase("bad_cell", "POSCAR", text.encode(), "error")


def _flat_cell(rng: random.Random) -> FuzzCase:
    eps = rng.choice([0.0, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.03])
    lat = f"4 0 0\n0 4 0\n{rng.uniform(-4, 4):.4f} {rng.uniform(-4, 4):.4f} {eps}"
    text = _poscar(lat, "Na", "1", "0 0 0\n")
    return FuzzCase("flat_cell", "POSCAR", text.encode(), "error")


_BAD_OCC = ["0", "-0.5", "nan", "1.5", "-1", "inf", "1e308", "x", "0.0"]


def _bad_occupancy(rng: random.Random, valid: list[Any]) -> FuzzCase:
    occ = rng.choice(_BAD_OCC)
    if rng.random() < 0.6:
        return FuzzCase("bad_occupancy", "occ.cif", _cif((5.64, 5.64, 5.64, 90, 90, 90), _nacl_sites(occ)).encode(), "error")
    d = valid[rng.randrange(len(valid))].as_dict()
    try:
        value: Any = float(occ)
    except ValueError:
        value = occ
    d["sites"][0]["species"][0]["occu"] = value
    if rng.random() < 0.3:  # two species on one site adding up to more than 1
        d["sites"][0]["species"] = [{"element": "Na", "occu": 0.7}, {"element": "K", "occu": 0.6}]
    return FuzzCase("bad_occupancy", "occ.json", json.dumps(d).encode(), "error")


_BAD_SYMBOLS = ["Xx", "123", "*", "Uue", "X", "Q", "?", ".", "Zz", "Uuo", "E", "Aa", "D2O", "Na_x"]


def _bad_element(rng: random.Random, valid: list[Any]) -> FuzzCase:
    sym = rng.choice(_BAD_SYMBOLS)
    kind = rng.choice(["cif", "poscar", "json", "extxyz"])
    if kind == "cif":
        return FuzzCase("bad_element", "el.cif", _cif((5.64, 5.64, 5.64, 90, 90, 90), _nacl_sites(na=sym)).encode(), "error")
    if kind == "poscar":
        # POSCAR symbols may carry a POTCAR suffix ("Na_pv" is sodium), so none here
        sym = sym if re.fullmatch(r"[^\s_]+", sym) and not sym.isdigit() else "Xx"
        return FuzzCase("bad_element", "POSCAR", _poscar("4 0 0\n0 4 0\n0 0 4", f"{sym} Cl", "1 1", "0 0 0\n0.5 0.5 0.5\n").encode(), "error")
    if kind == "json":
        d = valid[0].as_dict()
        d["sites"][0]["species"][0]["element"] = sym
        return FuzzCase("bad_element", "el.json", json.dumps(d).encode(), "error")
    sym = sym if re.fullmatch(r"[A-Za-z*?.]+\S*", sym) else "Xx"
    text = f'2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\n{sym} 0 0 0\nCl 2 2 2\n'
    return FuzzCase("bad_element", "el.extxyz", text.encode(), "error")


def _no_symbols(rng: random.Random) -> FuzzCase:
    counts = " ".join(str(rng.randint(1, 2)) for _ in range(rng.randint(1, 3)))
    n = sum(int(c) for c in counts.split())
    coords = "".join(f"{i / n:.3f} {i / n:.3f} {i / n:.3f}\n" for i in range(n))
    text = _poscar("5 0 0\n0 5 0\n0 0 5", None, counts, coords)
    return FuzzCase("no_symbols", "POSCAR", text.encode(), "error")


def _isolated_atom(rng: random.Random) -> FuzzCase:
    a = rng.choice([8.5, 9, 12, 20, 50, 100, 400])
    if rng.random() < 0.5:
        sites = [("Na1", "Na", 0, 0, 0, 1)]  # its nearest image is a > 8 Å away
    else:  # a pair close together and one atom at the body centre, a·√3/2 > 8 Å from all
        a = max(a, 12)
        sites = [("Na1", "Na", 0, 0, 0, 1), ("Cl1", "Cl", round(2.8 / a, 5), 0, 0, 1), ("K1", "K", 0.5, 0.5, 0.5, 1)]
    return FuzzCase("isolated_atom", "lone.cif", _cif((a, a, a, 90, 90, 90), sites).encode(), "error")


def _overlap(rng: random.Random) -> FuzzCase:
    d = rng.choice([0.0, 0.01, 0.1, 0.3, 0.49])
    a = rng.uniform(3, 6)
    sites = [("Na1", "Na", 0, 0, 0, 1), ("Cl1", "Cl", round(d / a, 6), 0, 0, 1)]
    return FuzzCase("overlap", "overlap.cif", _cif((a, a, a, 90, 90, 90), sites).encode(), "error")


def _json_shapes(rng: random.Random, valid: list[Any]) -> FuzzCase:
    d = valid[rng.randrange(len(valid))].as_dict()
    choice = rng.randrange(10)
    if choice == 0:
        d["sites"][0]["species"] = []
    elif choice == 1:
        d["sites"] = "many"
    elif choice == 2:
        d["lattice"] = "cubic"
    elif choice == 3:
        d["lattice"]["matrix"] = [[1, 0], [0, 1]]
    elif choice == 4:
        d["sites"][0]["abc"] = ["a", "b", "c"]
    elif choice == 5:
        d["sites"][0] = None
    elif choice == 6:
        d = {"sites": [], "lattice": None}
    elif choice == 7:
        return FuzzCase("json_shapes", "deep.json", ("[" * 100_000 + "]" * 100_000).encode(), "error")
    elif choice == 8:
        d["sites"][0]["species"][0] = {"element": None}
    else:
        d["lattice"]["matrix"] = [[float("nan")] * 3] * 3
    return FuzzCase("json_shapes", "shape.json", json.dumps(d).encode(), "error")


_BOMBS: dict[int, bytes] = {}


def _compression(rng: random.Random) -> FuzzCase:
    r = rng.random()
    if r < 0.5:
        mb = rng.choice([6, 10, 20])
        if mb not in _BOMBS:
            _BOMBS[mb] = gzip.compress(b"data_x\n" + b" " * (mb * 1_000_000), compresslevel=6, mtime=0)
        return FuzzCase("compression", "bomb.cif.gz", _BOMBS[mb], "error")
    if r < 0.8:
        return FuzzCase("compression", "fake.cif.gz", bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))), "error")
    good = gzip.compress(_cif((5.64, 5.64, 5.64, 90, 90, 90), _nacl_sites()).encode(), mtime=0)
    return FuzzCase("compression", "cut.cif.gz", good[: rng.randint(1, len(good) - 5)], "error")


def _garbage(rng: random.Random) -> FuzzCase:
    kind = rng.randrange(5)
    name = rng.choice(["x.cif", "POSCAR", "x.extxyz", "x.json", "upload.bin", "noext"])
    if kind == 0:
        data = b""
    elif kind == 1:
        data = b" \n\t\n" * rng.randint(1, 50)
    elif kind == 2:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000)))
    elif kind == 3:
        data = " ".join(rng.choice(["data_", "loop_", "_cell", "1", "0.5", "Na", "'", ";", "{", "["]) for _ in range(300)).encode()
    else:
        data = "\n".join(str(rng.randint(-5, 5)) for _ in range(rng.randint(1, 30))).encode()
    return FuzzCase("garbage", name, data, "error")


def _truncated(rng: random.Random, valid: list[Any]) -> FuzzCase:
    name, text = _serialize(rng.choice(valid), rng.choice(FORMATS))
    cut = rng.randint(0, max(1, len(text) - 1))
    return FuzzCase("truncated", name, text[:cut].encode(), "either")


def _mutated(rng: random.Random, valid: list[Any]) -> FuzzCase:
    name, text = _serialize(rng.choice(valid), rng.choice(FORMATS))
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] = rng.randrange(32, 127)
        elif op == 1:
            del data[i]
        elif op == 2:
            data[i:i] = rng.choice([b"-", b"e308", b"nan", b"9999999", b"\n", b" ", b"Xx", b"'", b"-1"])
        else:
            j = min(len(data), i + rng.randint(1, 40))
            data[i:i] = data[i:j]
    return FuzzCase("mutated", name, bytes(data), "either")


def _valid(rng: random.Random, valid: list[Any]) -> FuzzCase:
    name, text = _serialize(rng.choice(valid), rng.choice(FORMATS))
    return FuzzCase("valid", name, text.encode(), "valid")


GENERATORS: dict[str, Callable[..., FuzzCase]] = {
    "huge_counts": _huge_counts,
    "symmetry_bomb": _symmetry_bomb,
    "supercell": _supercell,
    "many_blocks": _many_blocks,
    "bad_cell": _bad_cell,
    "flat_cell": _flat_cell,
    "bad_occupancy": _bad_occupancy,
    "bad_element": _bad_element,
    "no_symbols": _no_symbols,
    "isolated_atom": _isolated_atom,
    "overlap": _overlap,
    "json_shapes": _json_shapes,
    "compression": _compression,
    "garbage": _garbage,
    "truncated": _truncated,
    "mutated": _mutated,
    "valid": _valid,
}
_NEEDS_VALID = {"many_blocks", "bad_occupancy", "bad_element", "json_shapes", "truncated", "mutated", "valid"}


def generate(seed: int = 0, per_class: int = 60, classes: Iterable[str] | None = None) -> list[FuzzCase]:
    """``per_class`` cases of each class (all classes by default), the same for the same seed."""
    rng = random.Random(seed)
    valid = _valid_structures(random.Random(seed))
    out = []
    for name in classes or GENERATORS:
        gen = GENERATORS[name]
        for _ in range(per_class):
            out.append(gen(rng, valid) if name in _NEEDS_VALID else gen(rng))
    return out
