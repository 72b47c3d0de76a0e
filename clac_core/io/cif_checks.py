"""CIF checks on what a block declares (cell, atom-site rows, symmetry operations, symbols,
coordinates, occupancies), run on the tokenized file before pymatgen expands and "fixes" it."""

from __future__ import annotations

import math
import re
from typing import Any

from clac_core.io.errors import BadLatticeError, BadOccupancyError, TooManySitesError, UnknownElementError
from clac_core.io.limits import MAX_CELL_LENGTH, OCCUPANCY_TOLERANCE, SYMMETRY_ALLOWANCE, _Limits
from clac_core.io.words import _finite_number, is_element_symbol

_CIF_SYMOP_KEYS = (
    "_symmetry_equiv_pos_as_xyz",
    "_symmetry_equiv_pos_as_xyz_",
    "_space_group_symop_operation_xyz",
    "_space_group_symop_operation_xyz_",
    "_space_group_symop_magn_operation_xyz",
    "_space_group_symop.magn_operation_xyz",
)
_CIF_CENTERING_KEYS = ("_space_group_symop_magn_centering_xyz", "_space_group_symop.magn_centering_xyz")
_CIF_SG_KEYS = (
    "_symmetry_space_group_name_H-M",
    "_symmetry_space_group_name_H_M",
    "_space_group_name_H-M_alt",
    "_space_group_name_Hall",
    "_symmetry_space_group_name_Hall",
)


def _cif_symop_count(block: Any) -> int:
    """Symmetry operations pymatgen will apply to a CIF block (an upper bound)."""
    data = block.data
    n_ops = 0
    for key in _CIF_SYMOP_KEYS:
        v = data.get(key)
        if v:
            n_ops = len(v) if isinstance(v, list) else 1
            break
    if not n_ops:
        n_ops = 1  # pymatgen falls back to P1 when no symbol is understood
        for key in _CIF_SG_KEYS:
            sym = data.get(key)
            if sym and isinstance(sym, str):
                try:
                    from pymatgen.symmetry.groups import SpaceGroup

                    n_ops = len(SpaceGroup(re.sub(r"[\s_]", "", sym)).symmetry_ops)
                except Exception:  # noqa: BLE001 - unknown symbol: assume the worst case
                    n_ops = 192
                break
    for key in _CIF_CENTERING_KEYS:
        v = data.get(key)
        if v:
            n_ops *= len(v) if isinstance(v, list) else 1
    return n_ops


def _cif_column(block: Any, key: str) -> list[str] | None:
    v = block.data.get(key)
    if v is None:
        return None
    return v if isinstance(v, list) else [v]


def _check_cif_block(block: Any, where: str, name: str, limits: _Limits) -> None:
    """Declared cell, site count, symmetry expansion, symbols and occupancies of one block."""
    _check_cif_cell(block, where, name)
    labels = _cif_column(block, "_atom_site_label")
    types = _cif_column(block, "_atom_site_type_symbol")
    rows = types if types is not None else labels
    if rows is None:
        return  # no atom-site loop: reported with a plain message by the caller
    _check_cif_site_count(block, len(rows), where, name, limits)
    _check_cif_symbols(rows, types is not None, where, name)
    _check_cif_numbers(block, where, name)


def _check_cif_cell(block: Any, where: str, name: str) -> None:
    """Cell lengths in (0, MAX_CELL_LENGTH] Å; angles in (0, 180)° that can form a cell."""
    cell = {}
    for key in ("_cell_length_a", "_cell_length_b", "_cell_length_c"):
        if key in block.data:
            v = _finite_number(block.data[key], key, where, name)
            if v is not None and not 0 < v <= MAX_CELL_LENGTH:
                raise BadLatticeError(
                    f"{where}: {key} is {block.data[key]}; cell lengths must be positive and at "
                    f"most {MAX_CELL_LENGTH:g} Å. Check the cell parameters (in Å).",
                    filename=name,
                )
            cell[key[-1]] = v
    angles = []
    for key in ("_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"):
        if key in block.data:
            v = _finite_number(block.data[key], key, where, name)
            if v is not None and not 0 < v < 180:
                raise BadLatticeError(
                    f"{where}: {key} is {block.data[key]}; cell angles must be between 0 and 180 "
                    "degrees (exclusive). Check the cell parameters (in degrees).",
                    filename=name,
                )
            if v is not None:
                angles.append(math.radians(v))
    if len(angles) == 3:
        ca, cb, cg = (math.cos(x) for x in angles)
        if 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg <= 1e-9:
            raise BadLatticeError(
                f"{where}: the three cell angles cannot form a cell (they give zero or negative "
                "volume). Check _cell_angle_alpha, _beta and _gamma.",
                filename=name,
            )


def _check_cif_site_count(block: Any, n_sites: int, where: str, name: str, limits: _Limits) -> None:
    """The atom-site rows, and the positions symmetry expansion could make of them."""
    if n_sites > limits.max_sites:
        raise TooManySitesError(
            f"{where} has {n_sites} sites; the limit is {limits.max_sites} (max_sites), counted "
            "from its atom-site rows. Use a primitive or conventional cell instead of a supercell.",
            filename=name,
        )
    n_ops = _cif_symop_count(block)
    allowed = SYMMETRY_ALLOWANCE * limits.max_sites
    if n_ops * n_sites > allowed:
        raise TooManySitesError(
            f"{where} has {n_sites} atom sites and {n_ops} symmetry operations: expanding them "
            f"could give up to {n_ops * n_sites} atoms, more than this reader expands "
            f"({allowed} = {SYMMETRY_ALLOWANCE} × max_sites {limits.max_sites}). Upload the "
            "structure in P1 with its atoms listed, or a smaller cell.",
            filename=name,
        )


def _check_cif_symbols(rows: list[str], typed: bool, where: str, name: str) -> None:
    """Each row names a real element (``typed``: rows are ``_atom_site_type_symbol``, else labels)."""
    for i, raw in enumerate(rows):
        sym = str(raw).strip()
        m = re.match(r"[A-Za-z]+", sym)
        letters = m.group(0) if m else ""
        if typed:
            # a type symbol is the element plus an optional charge: Na, Na1+, O2-, Fe3+
            ok = bool(re.fullmatch(r"[A-Za-z]{1,2}(\d*[+-]?|[+-]\d*)?", sym))
        else:
            ok = True  # a label is the element plus any suffix that does not start with a letter
        if not ok or not is_element_symbol(letters[:1].upper() + letters[1:].lower()):
            column = "_atom_site_type_symbol" if typed else "_atom_site_label"
            raise UnknownElementError(
                f"{where}: site {i + 1} has {column} '{sym[:20]}', which is not a chemical "
                "element symbol. Use real element symbols (e.g. Na, Cl, O2-); dummy or "
                "placeholder species are not supported.",
                filename=name,
            )


def _check_cif_numbers(block: Any, where: str, name: str) -> None:
    """Finite coordinates; occupancies in (0, 1]."""
    for key in ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"):
        for v in _cif_column(block, key) or []:
            _finite_number(v, f"a coordinate ({key})", where, name)
    for i, raw in enumerate(_cif_column(block, "_atom_site_occupancy") or []):
        v = _finite_number(raw, f"the occupancy of site {i + 1}", where, name)
        if v is not None and not 0 < v <= 1 + OCCUPANCY_TOLERANCE:
            kind = "above 1" if v > 1 else "zero or negative"
            raise BadOccupancyError(
                f"{where}: a site occupancy is {kind} (site {i + 1}: {raw}). Fix the "
                "_atom_site_occupancy values: each must be above 0 and at most 1.",
                filename=name,
            )
