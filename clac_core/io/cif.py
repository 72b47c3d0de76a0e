"""CIF in and out: :func:`_parse_cif` (count the blocks, check what they declare, then let
pymatgen parse, turning its per-block warnings into plain errors) and :func:`structure_to_cif`."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, NoReturn

from clac_core.io.cif_checks import _check_cif_block
from clac_core.io.errors import BadOccupancyError, BadSitesError, ParseError, TooManyBlocksError
from clac_core.io.limits import _Limits
from clac_core.io.words import _plain, _warning_text

if TYPE_CHECKING:
    from pymatgen.core import Structure


def _parse_cif(text: str, name: str, limits: _Limits) -> list[Structure]:
    from pymatgen.io.cif import CifFile

    n_blocks = _count_cif_blocks(text, name, limits)
    # Tokenize once (linear in the text) and check what the blocks declare before pymatgen's
    # parser sanitizes, expands symmetry and merges sites (the expensive, forgiving part).
    try:
        cif = CifFile.from_str(text)
    except Exception as exc:  # noqa: BLE001
        raise ParseError(
            f"Could not parse '{name}' as CIF: {_plain(exc)}. Check that it is a complete CIF "
            "with cell lengths, angles and an atom-site loop.",
            filename=name,
        ) from exc
    blocks = list(cif.data.values())
    for k, block in enumerate(blocks):
        where = f"data block {k + 1} of '{name}'" if len(blocks) > 1 else f"'{name}'"
        _check_cif_block(block, where, name, limits)

    structures, cause, caught = _run_cif_parser(text, name)
    failed = [str(w.message) for w in caught if "No structure parsed" in str(w.message)]
    if failed or not structures:
        _raise_cif_failure(text, name, n_blocks, failed, caught, cause)
    return list(structures)


def _count_cif_blocks(text: str, name: str, limits: _Limits) -> int:
    """The number of ``data_`` blocks: at least one, at most ``max_blocks``."""
    n_blocks = len(re.findall(r"^\s*data_", text, flags=re.MULTILINE))
    if not n_blocks:
        raise ParseError(
            f"Could not parse '{name}' as CIF: there is no 'data_' block. "
            "A CIF starts with a line such as 'data_NaCl'.",
            filename=name,
        )
    if n_blocks > limits.max_blocks:
        raise TooManyBlocksError(
            f"'{name}' has {n_blocks} data blocks; the limit is {limits.max_blocks} structures "
            "per file (max_blocks). Split it into several files.",
            filename=name,
        )
    return n_blocks


def _run_cif_parser(
    text: str, name: str
) -> tuple[list[Structure], Exception | None, list[warnings.WarningMessage]]:
    """pymatgen's parse: (structures, the exception it raised or None, the warnings it gave)."""
    from pymatgen.io.cif import CifParser

    # on_error="warn" keeps the good blocks of a multi-block file; failed blocks are recorded
    # as warnings (the only place pymatgen says why), turned into an error by the caller.
    structures: list[Structure] = []
    cause: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser.from_str(text)
            structures = parser.parse_structures(primitive=False, on_error="warn", check_occu=True)
        except Exception as exc:  # noqa: BLE001
            cause = exc
            if not any("No structure parsed" in str(w.message) for w in caught):
                if not _has_atom_sites(text):
                    raise _no_atom_sites(name) from exc
                raise ParseError(
                    f"Could not parse '{name}' as CIF: {_plain(exc)}. Check that it is a "
                    "complete CIF with cell lengths, angles and an atom-site loop.",
                    filename=name,
                ) from exc
    return structures, cause, caught


def _raise_cif_failure(
    text: str,
    name: str,
    n_blocks: int,
    failed: list[str],
    caught: list[warnings.WarningMessage],
    cause: Exception | None,
) -> NoReturn:
    """Say why pymatgen parsed no structure (or failed some blocks), in plain words."""
    reason = " ".join((failed[0] if failed else _warning_text(caught)).split())
    if not _has_atom_sites(text):
        raise _no_atom_sites(name) from cause
    if re.search(r"occupancy .* exceeded tolerance", reason, flags=re.IGNORECASE):
        raise BadOccupancyError(
            f"Could not parse '{name}': a site occupancy is above 1 (the occupancies on "
            "one position add up to more than 1). Fix the _atom_site_occupancy values "
            "(they must be between 0 and 1).",
            filename=name,
        ) from cause
    detail = re.sub(r"^.*?No structure parsed for section \d+ in CIF\.?\s*", "", reason)
    detail = _plain(ValueError(detail)) if detail else "the cell or the atom sites are incomplete"
    which = f"{len(failed)} of {n_blocks} crystal blocks" if n_blocks > 1 else "the crystal block"
    raise ParseError(
        f"Could not parse {which} in '{name}' as CIF ({detail}). Check the cell "
        "parameters and the atom-site loop.",
        filename=name,
    )


def _no_atom_sites(name: str) -> BadSitesError:
    return BadSitesError(
        f"'{name}' contains no atoms: the CIF has no _atom_site loop with "
        "coordinates. Add the atom sites (_atom_site_fract_x/y/z) to the file.",
        filename=name,
    )


def _has_atom_sites(text: str) -> bool:
    return bool(re.search(r"_atom_site_(fract|cartn)_x", text, flags=re.IGNORECASE))


def structure_to_cif(structure: Structure, *, symprec: float | None = None) -> str:
    """Serialize a structure to CIF text (for downloads).

    Args:
        structure: Any pymatgen ``Structure``.
        symprec: If given, write the symmetrized cell found with this tolerance (Å);
            by default the cell is written as is, in P1.

    Returns:
        The CIF as a string; :func:`read_structures` reads it back.
    """
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(CifWriter(structure, symprec=symprec))
