"""VASP POSCAR/CONTCAR: the header (scale, lattice, symbols, counts) checked in the raw text,
then pymatgen's reader."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.io.errors import (
    BadLatticeError,
    BadSitesError,
    ParseError,
    TooManySitesError,
    UnknownElementError,
)
from clac_core.io.limits import _Limits
from clac_core.io.words import _finite_number, _plain, is_element_symbol

if TYPE_CHECKING:
    from pymatgen.core import Structure

_POSCAR_HELP = "Expected a comment line, a scale, 3 lattice vectors, element symbols, counts and coordinates."


def _check_poscar_header(text: str, name: str, limits: _Limits) -> list[str] | None:
    """Scale, lattice, symbols and counts of a POSCAR, read before pymatgen builds anything.

    Returns:
        The element symbols of an old (VASP 4) file that has them on its comment line, for
        pymatgen to use (it would otherwise name the species H, He, ...); None otherwise.
    """
    lines = [ln.split("#")[0].split("!")[0].strip() for ln in text.strip("\n").splitlines()]
    bad = f"Could not parse '{name}' as a VASP POSCAR/CONTCAR"
    if len(lines) < 7:
        raise ParseError(f"{bad}: it has only {len(lines)} lines. {_POSCAR_HELP}", filename=name)
    _check_poscar_lattice(lines, name, bad)
    symbols, counts, vasp4 = _poscar_species(lines, name, bad)
    _check_poscar_counts(symbols, counts, name, bad, limits)
    return symbols if vasp4 else None


def _check_poscar_lattice(lines: list[str], name: str, bad: str) -> None:
    """Line 2: one (or three) non-zero scale factors; lines 3-5: three finite numbers each."""
    scale = lines[1].split()
    if len(scale) not in (1, 3):
        raise ParseError(f"{bad}: line 2 must be one scale factor (or three). {_POSCAR_HELP}", filename=name)
    for v in scale:
        f = _finite_number(v, "the scale factor (line 2)", f"'{name}'", name)
        if not f:
            raise BadLatticeError(f"'{name}': the scale factor (line 2) is zero or missing.", filename=name)
    for k in range(2, 5):
        vec = lines[k].split()
        if len(vec) < 3:
            raise ParseError(
                f"{bad}: line {k + 1} must be a lattice vector (3 numbers). {_POSCAR_HELP}", filename=name
            )
        for v in vec[:3]:
            _finite_number(v, f"a lattice vector component (line {k + 1})", f"'{name}'", name)


def _ints(tokens: list[str]) -> list[int] | None:
    try:
        return [int(x) for x in tokens]
    except ValueError:
        return None


def _poscar_species(lines: list[str], name: str, bad: str) -> tuple[list[str], list[int], bool]:
    """(element symbols, atom counts, whether the file is old VASP 4 style with symbols on line 1)."""
    tokens = lines[5].split()
    counts = _ints(tokens)
    vasp4 = counts is not None
    if counts is None:  # VASP 5: a symbols line, then counts
        symbols = [t.split("_")[0].split("/")[0] for t in tokens]
        counts = _ints(lines[6].split())
        if counts is None:
            raise ParseError(
                f"{bad}: line 7 must give the number of atoms of each element. {_POSCAR_HELP}",
                filename=name,
            )
    else:  # VASP 4: symbols may be on the comment line (pymatgen reads them from there)
        symbols = lines[0].split()[: len(counts)]
        if len(symbols) != len(counts) or not all(is_element_symbol(s) for s in symbols):
            raise ParseError(
                f"'{name}' has no element symbols: line 6 gives atom counts directly (old VASP 4 "
                "style). Add a line with the element symbols (e.g. 'Na Cl') above the counts.",
                filename=name,
            )
    return symbols, counts, vasp4


def _check_poscar_counts(symbols: list[str], counts: list[int], name: str, bad: str, limits: _Limits) -> None:
    """Real element symbols, one count per symbol, at least one and at most ``max_sites`` atoms."""
    unknown = [s for s in symbols if not is_element_symbol(s)]
    if unknown:
        raise UnknownElementError(
            f"'{name}' contains unknown element symbol(s) {', '.join(u[:12] for u in unknown[:5])}. "
            "Use real element symbols (e.g. Na, Cl); dummy or placeholder species are not supported.",
            filename=name,
        )
    if len(symbols) != len(counts):
        raise ParseError(
            f"{bad}: {len(symbols)} element symbols but {len(counts)} atom counts. {_POSCAR_HELP}",
            filename=name,
        )
    if any(c < 0 for c in counts):
        raise ParseError(f"{bad}: an atom count is negative.", filename=name)
    total = sum(counts)
    if total == 0:
        raise BadSitesError(
            f"'{name}' contains no atoms (all species counts are zero). Add atoms to the POSCAR.",
            filename=name,
        )
    if total > limits.max_sites:
        raise TooManySitesError(
            f"'{name}' declares {total} atoms; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell.",
            filename=name,
        )


def _parse_poscar(text: str, name: str, limits: _Limits) -> list[Structure]:
    from pymatgen.io.vasp import Poscar

    vasp4_symbols = _check_poscar_header(text, name, limits)
    try:
        poscar = Poscar.from_str(text, default_names=vasp4_symbols, read_velocities=False)
    except Exception as exc:  # noqa: BLE001
        if "at least 1 site" in str(exc):
            raise BadSitesError(
                f"'{name}' contains no atoms (all species counts are zero). Add atoms to the POSCAR.",
                filename=name,
            ) from exc
        raise ParseError(
            f"Could not parse '{name}' as a VASP POSCAR/CONTCAR: {_plain(exc)}. {_POSCAR_HELP}",
            filename=name,
        ) from exc
    return [poscar.structure]
