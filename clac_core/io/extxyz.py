"""Extended XYZ: frames walked by their atom-count lines (counts, frames, symbols) before ASE
parses them; each frame must carry a lattice and becomes a pymatgen structure."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from clac_core.io.errors import (
    BadSitesError,
    NoLatticeError,
    ParseError,
    TooManyBlocksError,
    TooManySitesError,
    UnknownElementError,
)
from clac_core.io.limits import _Limits
from clac_core.io.words import _plain, is_element_symbol

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _check_xyz_counts(text: str, name: str, limits: _Limits) -> None:
    """Walk the frames by their atom-count lines (no parsing) and check counts and frames."""
    lines = text.splitlines()
    i = frames = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = lines[i].strip()
        if not re.fullmatch(r"\d+", head):
            raise ParseError(
                f"Could not parse '{name}' as extended XYZ: line {i + 1} should be the number of "
                f"atoms of a frame, but it is '{head[:40]}'.",
                filename=name,
            )
        n = int(head)
        frames += 1
        if n > limits.max_sites:
            raise TooManySitesError(
                f"frame {frames} of '{name}' declares {n} atoms; the limit is {limits.max_sites} "
                "(max_sites). Use a primitive or conventional cell instead of a supercell.",
                filename=name,
            )
        if frames > limits.max_blocks:
            raise TooManyBlocksError(
                f"'{name}' has more than {limits.max_blocks} frames; the limit is "
                f"{limits.max_blocks} structures per file (max_blocks). Split it into several files.",
                filename=name,
            )
        if i + 2 + n > len(lines):
            raise ParseError(
                f"Could not parse '{name}' as extended XYZ: frame {frames} declares {n} atoms "
                f"but the file ends after {max(0, len(lines) - i - 2)} atom lines.",
                filename=name,
            )
        for k in range(i + 2, i + 2 + n):
            sym = lines[k].split()[0] if lines[k].split() else ""
            # species are the first column in every extxyz file we write or have seen; a
            # number there (atomic numbers) is checked after parsing
            if sym and not sym.lstrip("-").isdigit() and not is_element_symbol(sym):
                raise UnknownElementError(
                    f"frame {frames} of '{name}' contains unknown element symbol '{sym[:12]}' "
                    f"(line {k + 1}). Use real element symbols (e.g. Na, Cl).",
                    filename=name,
                )
        i += 2 + n


def _parse_extxyz(text: str, name: str, limits: _Limits) -> list[Structure]:
    import numpy as np
    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    _check_xyz_counts(text, name, limits)
    try:
        frames = ase_read(io.StringIO(text), format="extxyz", index=":")
    except Exception as exc:  # noqa: BLE001
        raise ParseError(
            f"Could not parse '{name}' as extended XYZ: {_plain(exc)}. The first line must be "
            "the atom count and the second a header such as "
            "'Lattice=\"a1 a2 a3 b1 b2 b3 c1 c2 c3\" Properties=species:S:1:pos:R:3'.",
            filename=name,
        ) from exc
    if not frames:
        raise BadSitesError(f"'{name}' contains no atoms.", filename=name)
    out = []
    for i, atoms in enumerate(frames):
        where = f"frame {i + 1} of '{name}'" if len(frames) > 1 else f"'{name}'"
        if len(atoms) == 0:
            raise BadSitesError(f"{where} contains no atoms.", filename=name)
        cell = np.asarray(atoms.cell[:], dtype=float)
        if not np.isfinite(cell).all():
            raise ParseError(
                f"{where} has non-numeric (NaN or infinite) cell parameters or coordinates. "
                "Check the numbers in the file.",
                filename=name,
            )
        volume = abs(float(np.linalg.det(cell)))
        if not atoms.pbc.any() or volume < 1e-6:
            raise NoLatticeError(
                f"{where} is a molecule, not a periodic crystal: the XYZ header has no "
                "Lattice= (or pbc is all false). Add "
                "'Lattice=\"a1 a2 a3 b1 b2 b3 c1 c2 c3\"' to the comment line, or upload a "
                "CIF/POSCAR.",
                filename=name,
            )
        z = np.asarray(atoms.numbers)
        if ((z < 1) | (z > 118)).any():
            raise UnknownElementError(
                f"{where} contains an atom that is not a chemical element (atomic number "
                f"{int(z[(z < 1) | (z > 118)][0])}). Use real element symbols (e.g. Na, Cl).",
                filename=name,
            )
        # A slab with pbc="T T F" and a full cell is treated as a 3D periodic cell.
        atoms = atoms.copy()
        atoms.pbc = True
        try:
            out.append(AseAtomsAdaptor.get_structure(atoms))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not convert {where} to a crystal: {_plain(exc)}.", filename=name
            ) from exc
    return out
