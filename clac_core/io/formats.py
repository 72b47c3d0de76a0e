"""The supported formats and how one is picked: from the file name, else sniffed from the text."""

from __future__ import annotations

import os
import re
from typing import Literal

Format = Literal["cif", "poscar", "extxyz", "json"]

SUPPORTED_FORMATS: dict[str, str] = {
    "cif": "CIF (.cif, .mcif; several data_ blocks give several structures)",
    "poscar": "VASP POSCAR/CONTCAR (.vasp, .poscar, POSCAR*, CONTCAR*)",
    "extxyz": "extended XYZ with a Lattice= header (.xyz, .extxyz)",
    "json": "pymatgen Structure JSON (Structure.as_dict(), or a list of them; .json)",
}

_EXTENSIONS: dict[str, Format] = {
    ".cif": "cif",
    ".mcif": "cif",
    ".vasp": "poscar",
    ".poscar": "poscar",
    ".contcar": "poscar",
    ".xyz": "extxyz",
    ".extxyz": "extxyz",
    ".json": "json",
}


def detect_format(filename: str, text: str | None = None) -> Format | None:
    """Guess the format from the file name, else from the content.

    Args:
        filename: File name (only the base name and extension are used). A trailing
            ``.gz`` is ignored.
        text: Decoded content used for sniffing when the name is not conclusive.

    Returns:
        ``"cif"``, ``"poscar"``, ``"extxyz"``, ``"json"``, or ``None`` when neither the name nor
        the content is recognised (the caller then tries POSCAR as a last resort).
    """
    fmt = _format_from_name(filename)
    if fmt is not None or text is None:
        return fmt
    return _sniff(text)


def _format_from_name(filename: str) -> Format | None:
    base = os.path.basename(filename).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    stem, ext = os.path.splitext(base)
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if base.startswith(("poscar", "contcar")):
        return "poscar"
    return None


def _sniff(text: str) -> Format | None:
    head = text.lstrip()[:4096]
    if head.startswith(("{", "[")):
        return "json"
    if re.search(r"^\s*data_\S*", head, flags=re.MULTILINE) and "_cell_length_a" in text:
        return "cif"
    lines = head.splitlines()
    if len(lines) > 1 and "lattice=" in lines[1].lower():
        return "extxyz"
    return None
