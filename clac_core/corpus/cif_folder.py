"""Crystals from a folder of structure files (CIF, POSCAR, ...), read with :mod:`clac_core.io`.

``properties_csv`` (optional) is keyed by file name: a ``filename`` or ``file`` column (with
or without the folder; matched on the base name), other columns mapped through
:data:`clac_core.properties.COLUMN_ALIASES` like :mod:`clac_core.corpus.tables`.
Unreadable files are skipped: with ``skipped=`` a list receives "file: reason" for each;
without it one warning lists them. ``strict=True`` raises at the first unreadable file. A file
holding several structures yields ``<name>#<k>`` ids for k >= 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from clac_core.record import CrystalRecord

STRUCTURE_SUFFIXES = {".cif", ".mcif", ".vasp", ".poscar", ".json", ".xyz", ".xsf", ".cssr"}


def _is_structure_file(p: Path) -> bool:
    name = p.name.lower()
    return p.is_file() and (
        p.suffix.lower() in STRUCTURE_SUFFIXES
        or name.startswith(("poscar", "contcar"))
        or name.endswith(".cif.gz")
    )


def _read_properties(path: Path) -> dict[str, dict[str, float]]:
    import pandas as pd

    from clac_core.properties import COLUMN_ALIASES

    df = pd.read_csv(path)
    key = next((c for c in ("filename", "file") if c in df.columns), None)
    if key is None:
        raise ValueError(f"{path}: needs a 'filename' or 'file' column (columns: {list(df.columns)})")
    cols = [c for c in df.columns if c in COLUMN_ALIASES]
    out: dict[str, dict[str, float]] = {}
    for row in df.itertuples(index=False, name=None):
        values = dict(zip(df.columns, row, strict=True))
        out[Path(str(values[key])).name] = {
            COLUMN_ALIASES[c]: float(values[c]) for c in cols if not pd.isna(values[c])
        }
    return out


def iter_cif_folder(
    path: str | Path,
    properties_csv: str | Path | None = None,
    *,
    source: str = "cifs",
    skipped: list[str] | None = None,
    strict: bool = False,
) -> Iterator[CrystalRecord]:
    """Yield a CrystalRecord per readable structure file in a folder (not recursive).

    Args:
        path: folder with structure files.
        properties_csv: optional CSV with a filename column and property columns.
        source: source name for the records.
        skipped: if given, "file: reason" is appended per unreadable file (no warning).
        strict: raise the reader's error at the first unreadable file.

    Raises:
        NotADirectoryError: ``path`` is not a folder.
        clac_core.io.StructureReadError: an unreadable file with ``strict=True``.
    """
    from clac_core.io import StructureReadError, read_structures

    folder = Path(path)
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder of structure files: {folder}")
    props = _read_properties(Path(properties_csv)) if properties_csv else {}
    bad: list[str] = []
    for file in sorted(p for p in folder.iterdir() if _is_structure_file(p)):
        try:
            structures = read_structures(file)
        except (StructureReadError, OSError, ValueError) as err:
            if strict:
                raise
            reason = str(err) if file.name in str(err) else f"{file.name}: {err}"
            bad.append(reason)
            if skipped is not None:
                skipped.append(reason)
            continue
        for k, s in enumerate(structures):
            yield CrystalRecord(
                id=f"{source}:{file.name}" + (f"#{k}" if k else ""),
                structure=s,
                source=source,
                provenance={"file": str(file)},
                properties=dict(props.get(file.name, {})),
            )
    if bad and skipped is None:
        warnings.warn(f"{folder}: skipped {len(bad)} unreadable files: " + "; ".join(bad), stacklevel=2)
