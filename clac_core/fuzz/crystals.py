"""The valid crystals the fuzz cases start from, and their text in each of the four formats."""

from __future__ import annotations

import json
import random
from typing import Any


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
