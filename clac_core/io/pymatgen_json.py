"""pymatgen Structure JSON (one ``Structure.as_dict()`` or a list of them): each item's shape,
lattice, site count, species and occupancies checked before ``Structure.from_dict``."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from clac_core.io.errors import (
    BadOccupancyError,
    BadSitesError,
    NoLatticeError,
    ParseError,
    TooManyBlocksError,
    TooManySitesError,
    UnknownElementError,
)
from clac_core.io.limits import OCCUPANCY_TOLERANCE, _Limits
from clac_core.io.words import _plain, is_element_symbol

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _check_json_item(d: dict[str, Any], where: str, name: str, limits: _Limits) -> None:
    """Lattice, site count, species and occupancies of a Structure dict, before from_dict."""
    sites = d["sites"]
    if not isinstance(sites, list):
        raise ParseError(f"{where}: 'sites' must be a list of sites.", filename=name)
    if len(sites) > limits.max_sites:
        raise TooManySitesError(
            f"{where} has {len(sites)} sites; the limit is {limits.max_sites} (max_sites). Use a "
            "primitive or conventional cell instead of a supercell, or raise max_sites.",
            filename=name,
        )
    _check_json_lattice(d["lattice"], where, name)
    for i, site in enumerate(sites):
        _check_json_site(site, f"{where}, site {i + 1}", name)


def _check_json_lattice(lattice: Any, where: str, name: str) -> None:
    """A 3 × 3 matrix of finite numbers (``lattice.matrix``, or the lattice itself)."""
    import numpy as np

    matrix = lattice.get("matrix") if isinstance(lattice, dict) else lattice
    try:
        m = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != (3, 3):
        raise ParseError(
            f"{where}: the lattice must be a 3 × 3 matrix of numbers (lattice.matrix).", filename=name
        )
    if not np.isfinite(m).all():
        raise ParseError(
            f"{where} has non-numeric (NaN or infinite) cell parameters or coordinates. "
            "Check the numbers in the file.",
            filename=name,
        )


def _check_json_site(site: Any, at: str, name: str) -> None:
    """Species that are real elements with occupancies in (0, 1] adding up to at most 1; 3 coordinates."""
    import numpy as np

    species = site.get("species") if isinstance(site, dict) else None
    if not isinstance(species, list) or not species:
        raise ParseError(
            f"{at} has no species: 'species' must be a non-empty list such as "
            '[{"element": "Na", "occu": 1}].',
            filename=name,
        )
    total = 0.0
    for sp in species:
        el = sp.get("element") if isinstance(sp, dict) else None
        if not isinstance(el, str) or not is_element_symbol(el):
            raise UnknownElementError(
                f"{at} has species {str(el)[:12]!r}, which is not a chemical element symbol. "
                "Use real element symbols (e.g. Na, Cl).",
                filename=name,
            )
        occu = sp.get("occu", 1)
        if isinstance(occu, bool) or not isinstance(occu, (int, float)) or not math.isfinite(occu):
            raise BadOccupancyError(f"{at}: the occupancy of {el} is not a number.", filename=name)
        if not 0 < occu <= 1 + OCCUPANCY_TOLERANCE:
            raise BadOccupancyError(
                f"{at}: the occupancy of {el} is {occu}; occupancies must be above 0 and at most 1.",
                filename=name,
            )
        total += occu
    if total > 1 + OCCUPANCY_TOLERANCE:
        raise BadOccupancyError(
            f"{at}: the occupancies add up to {total:.3g}, more than 1.", filename=name
        )
    coords = site.get("abc")
    try:
        c = np.asarray(coords, dtype=float)
    except (TypeError, ValueError):
        c = None
    if c is None or c.shape != (3,):
        raise ParseError(f"{at}: 'abc' must be 3 fractional coordinates.", filename=name)


def _parse_json(text: str, name: str, limits: _Limits) -> list[Structure]:
    from pymatgen.core import Structure

    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"Could not parse '{name}' as JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            filename=name,
        ) from exc
    items = obj if isinstance(obj, list) else [obj]
    if not items:
        raise BadSitesError(f"'{name}' is an empty JSON list: it contains no structure.", filename=name)
    if len(items) > limits.max_blocks:
        raise TooManyBlocksError(
            f"'{name}' holds {len(items)} structures; the limit is {limits.max_blocks} per file "
            "(max_blocks). Split it into several files.",
            filename=name,
        )
    out = []
    for i, d in enumerate(items):
        where = f"item {i + 1} of '{name}'" if len(items) > 1 else f"'{name}'"
        if not isinstance(d, dict) or "sites" not in d:
            raise ParseError(
                f"{where} is not a pymatgen Structure: expected an object with 'lattice' and "
                "'sites' (as written by json.dumps(structure.as_dict())).",
                filename=name,
            )
        if d.get("@class") == "Molecule" or "lattice" not in d:
            raise NoLatticeError(
                f"{where} is a molecule, not a periodic crystal (it has no lattice). "
                "Upload a periodic Structure (with a 'lattice'), a CIF or a POSCAR.",
                filename=name,
            )
        if not d["sites"]:
            raise BadSitesError(f"{where} contains no atoms (its 'sites' list is empty).", filename=name)
        _check_json_item(d, where, name, limits)
        try:
            out.append(Structure.from_dict(d))
        except Exception as exc:  # noqa: BLE001
            raise ParseError(
                f"Could not build a structure from {where}: {_plain(exc)}.", filename=name
            ) from exc
    return out
