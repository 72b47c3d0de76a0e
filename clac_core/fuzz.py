"""Seeded malformed-input generator and a watched runner for :func:`clac_core.io.read_structures`.

:func:`generate` makes the cases (deterministic for a seed): each has a class (what kind of
damage), a file name, the bytes and what a correct reader must do with it (``"error"``:
refuse it; ``"valid"``: accept it; ``"either"``: a random mutation that may or may not still
be a crystal). :func:`run_case` reads one case in a forked worker process with an address-space
limit and a wall-clock limit, and classifies the outcome:

* ``clean error``: a :class:`~clac_core.io.StructureReadError` naming the file, in plain words;
* ``unclear message``: a clean error whose message lacks the file name or shows library
  internals (``len(items)=...``, ``NoneType``, ...);
* ``accepted valid``: structures returned, and they pass :func:`sane` (and the case may be
  valid);
* ``nonsense accepted``: structures returned for a case that must be refused, or that fail
  :func:`sane` (an unknown element, a 1e308 Å cell, an isolated atom, ...);
* ``uncaught``: any other exception;
* ``timeout``: over the time limit (the worker is killed);
* ``over memory``: a ``MemoryError`` under the address-space limit, or a peak resident size
  growth over the memory limit.

``scripts/fuzz_io.py`` runs the whole set and prints the classes × outcomes table; the tests
run a sample. Unix only (``os.fork``, ``resource``).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import select
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

Expect = Literal["error", "valid", "either"]
OUTCOMES: tuple[str, ...] = (
    "clean error",
    "accepted valid",
    "unclear message",
    "uncaught",
    "timeout",
    "over memory",
    "nonsense accepted",
)
BAD_OUTCOMES: tuple[str, ...] = ("unclear message", "uncaught", "timeout", "over memory", "nonsense accepted")

# Library internals that must not reach a user (see the issue: "len(items)=47 is not a
# multiple of n=6").
_INTERNALS = re.compile(
    r"Traceback|len\(|\w+=\d|NoneType|object has no|could not convert|invalid literal|"
    r"index out of range|KeyError|TypeError|unsupported operand|not subscriptable"
)


@dataclass(frozen=True)
class FuzzCase:
    """One generated input."""

    cls: str  # damage class, e.g. "bad_cell"
    filename: str
    data: bytes
    expect: Expect


@dataclass
class FuzzResult:
    """What reading one case did."""

    case: FuzzCase
    outcome: str
    seconds: float
    peak_mb: float  # growth of the worker's peak resident size while reading, MB (nan if killed)
    detail: str  # error type and message, or what was accepted


# ----------------------------------------------------------------------------- valid crystals


def _valid_structures(rng: random.Random) -> list[Any]:
    """A few real crystals plus random, well-separated ones."""
    from pymatgen.core import Lattice, Structure

    out = [
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice([[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]]), ["Si", "Si"], [[0, 0, 0], [0.25] * 3]),
        Structure(
            Lattice.cubic(3.905),
            ["Sr", "Ti", "O", "O", "O"],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        ),
        Structure(Lattice.hexagonal(2.46, 6.7), ["C"] * 4, [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]),
    ]
    elements = ["H", "Li", "C", "N", "O", "Na", "Mg", "Al", "Si", "S", "Cl", "K", "Ca", "Ti", "Fe", "Cu", "Zn", "Sr", "Ba", "Pb"]
    while len(out) < 12:
        a, b, c = (rng.uniform(3.5, 8.0) for _ in range(3))
        lat = Lattice.from_parameters(a, b, c, rng.uniform(70, 110), rng.uniform(70, 110), rng.uniform(70, 110))
        coords: list[list[float]] = []
        for _ in range(200):
            if len(coords) >= rng.randint(1, 8):
                break
            p = [rng.random() for _ in range(3)]
            s = Structure(lat, ["H"] * (len(coords) + 1), [*coords, p])
            if len(coords) == 0 or s.distance_matrix[-1, :-1].min() > 1.6:
                coords.append(p)
        out.append(Structure(lat, [rng.choice(elements) for _ in coords], coords))
    return out


def _serialize(s: Any, fmt: str) -> tuple[str, str]:
    """(file name, text) of a structure in one of the four formats."""
    import warnings

    if fmt == "cif":
        from pymatgen.io.cif import CifWriter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "x.cif", str(CifWriter(s))
    if fmt == "poscar":
        from pymatgen.io.vasp import Poscar

        return "POSCAR", Poscar(s).get_str()
    if fmt == "extxyz":
        m = s.lattice.matrix.reshape(-1)
        lines = [str(len(s)), 'Lattice="' + " ".join(f"{v:.6f}" for v in m) + '" Properties=species:S:1:pos:R:3 pbc="T T T"']
        lines += [f"{site.specie.symbol} {x:.6f} {y:.6f} {z:.6f}" for site, (x, y, z) in zip(s, s.cart_coords, strict=True)]
        return "x.extxyz", "\n".join(lines) + "\n"
    return "x.json", json.dumps(s.as_dict())


FORMATS = ("cif", "poscar", "extxyz", "json")


# ----------------------------------------------------------------------------- generators


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


# ----------------------------------------------------------------------------- judging


def sane(structures: list[Any], *, max_sites: int = 500) -> str | None:
    """Why accepted structures are nonsense, or None when they are plausible crystals."""
    import numpy as np

    from clac_core.io import DEFAULT_NEIGHBOR_CUTOFF, MAX_CELL_LENGTH, MIN_DISTANCE

    if not structures:
        return "empty result"
    for s in structures:
        m = s.lattice.matrix
        if not (0 < len(s) <= max_sites):
            return f"{len(s)} sites"
        if not np.isfinite(m).all() or not np.isfinite(s.frac_coords).all():
            return "non-finite numbers"
        lengths = np.linalg.norm(m, axis=1)
        if not ((lengths > 0) & (lengths <= MAX_CELL_LENGTH)).all() or not s.lattice.volume > 0:
            return f"cell lengths {lengths.round(3).tolist()}"
        if not s.is_ordered:
            return "disordered"
        for sp in s.composition:
            if not 1 <= getattr(sp, "Z", 0) <= 118 or type(sp).__name__ == "DummySpecies":
                return f"unknown element {sp}"
        centers, _, _, d = s.get_neighbor_list(r=DEFAULT_NEIGHBOR_CUTOFF)
        if (d < MIN_DISTANCE).any():
            return "overlapping atoms"
        if len(set(centers.tolist())) < len(s):
            return "isolated atom"
    return None


def _judge(case: FuzzCase) -> tuple[str, str]:
    """Read a case in this process: (outcome, detail)."""
    from clac_core.io import StructureReadError, read_structures

    try:
        structures = read_structures(case.data, filename=case.filename)
    except MemoryError as exc:
        return "over memory", f"MemoryError: {exc}"
    except StructureReadError as exc:
        msg = str(exc)
        detail = f"{type(exc).__name__}: {msg}"
        # quoted text is the user's own content ('0.0=000' is not a number), not internals
        unquoted = re.sub(r"'[^']*'", "''", msg)
        if case.filename not in msg or _INTERNALS.search(unquoted) or not msg.strip():
            return "unclear message", detail
        return "clean error", detail
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return "uncaught", f"{type(exc).__name__}: {exc}"
    why = sane(structures)
    formulas = ", ".join(s.composition.reduced_formula for s in structures[:3])
    if why is not None:
        return "nonsense accepted", f"{why} ({formulas})"
    if case.expect == "error":
        return "nonsense accepted", f"should be refused; read as {formulas}"
    return "accepted valid", formulas


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` value in kB (``VmRSS``, ``VmHWM``, ``VmSize``)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_case(case: FuzzCase, *, time_limit: float = 10.0, memory_mb: float = 1024.0) -> FuzzResult:
    """Read one case in a forked worker with an address-space limit; kill it after ``time_limit``.

    The worker may allocate ``memory_mb`` beyond the parent's current address space (the
    limit makes a bigger allocation fail with MemoryError instead of swapping the machine).
    """
    import resource

    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # worker
        try:
            os.close(r)
            hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]
            limit = _status_kb("VmSize") * 1024 + int(memory_mb * 1024 * 1024)
            if hard_as == resource.RLIM_INFINITY or limit < hard_as:
                resource.setrlimit(resource.RLIMIT_AS, (limit, hard_as))
            # growth is measured against the resident size the worker starts with (the
            # parent's pages, shared after fork, count as resident here too)
            _touch = bytearray(1)  # noqa: F841 - make sure the status counters are current
            start_kb = _status_kb("VmRSS")
            outcome, detail = _judge(case)
            grown = max(0, _status_kb("VmHWM") - start_kb) / 1024
            payload = json.dumps({"outcome": outcome, "detail": detail[:500], "peak_mb": grown}).encode()
        except BaseException as exc:  # noqa: BLE001 - report anything, never fall back into the parent's code
            outcome = "over memory" if isinstance(exc, MemoryError) else "uncaught"
            detail = f"{type(exc).__name__}: {exc}"[:500]
            payload = json.dumps({"outcome": outcome, "detail": detail, "peak_mb": float("nan")}).encode()
        try:
            os.write(w, payload)
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    killed = False
    deadline = t0 + time_limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - t0
    peak_mb = float("nan")
    if killed:
        return FuzzResult(case, "timeout", seconds, peak_mb, f"killed after {time_limit:g} s")
    try:
        msg = json.loads(b"".join(chunks).decode())
        outcome, detail, peak_mb = msg["outcome"], msg["detail"], float(msg["peak_mb"])
    except (ValueError, KeyError):
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        outcome, detail = "uncaught", f"worker died (signal {sig}, status {status})"
    if peak_mb > memory_mb and outcome != "over memory":  # (nan compares False)
        outcome, detail = "over memory", f"peak {peak_mb:.0f} MB; {detail}"
    return FuzzResult(case, outcome, seconds, peak_mb, detail)


def warm_up() -> None:
    """Import the parsers once in the parent so that each forked worker starts warm."""
    from clac_core.io import read_structures

    valid = _valid_structures(random.Random(0))
    for fmt in FORMATS:
        name, text = _serialize(valid[0], fmt)
        read_structures(text.encode(), filename=name)
    from pymatgen.symmetry.groups import SpaceGroup  # noqa: F401 - symmetry lookups in CIF checks


def run_all(
    cases: list[FuzzCase],
    *,
    time_limit: float = 10.0,
    memory_mb: float = 1024.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[FuzzResult]:
    """Run every case in its own watched worker, one after the other."""
    warm_up()
    out = []
    for i, case in enumerate(cases):
        out.append(run_case(case, time_limit=time_limit, memory_mb=memory_mb))
        if progress is not None:
            progress(i + 1, len(cases))
    return out


def table(results: list[FuzzResult]) -> str:
    """Markdown table: one row per class, one column per outcome, plus slowest and peak memory."""
    classes = list(dict.fromkeys(r.case.cls for r in results))
    counts = {c: Counter(r.outcome for r in results if r.case.cls == c) for c in classes}
    head = ["class", "n", *OUTCOMES, "max s", "max MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for c in [*classes, "total"]:
        rs = [r for r in results if c == "total" or r.case.cls == c]
        cnt = Counter(r.outcome for r in rs) if c == "total" else counts[c]
        cells = [c, str(len(rs)), *(str(cnt.get(o, 0)) for o in OUTCOMES)]
        peaks = [r.peak_mb for r in rs if not math.isnan(r.peak_mb)]
        cells += [f"{max(r.seconds for r in rs):.2f}", f"{max(peaks):.0f}" if peaks else "n/a"]
        if c == "total":
            cells = [f"**{x}**" for x in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_met(results: list[FuzzResult]) -> bool:
    """0 uncaught, 0 timeouts, 0 over memory, 0 nonsense accepted, 0 unclear messages."""
    return not any(r.outcome in BAD_OUTCOMES for r in results)
