"""Crystals from community CSV tables (the MP-20 / CDVAE / MEGNet benchmark layout).

One row per crystal: an id column (``material_id``), a CIF string column (``cif``) and
property columns. The same loader reads ``perov_5/test.csv``, ``carbon_24/test.csv``,
``mp_37k/structures.csv.gz`` and splits such as MP-20 that users download themselves.

Columns:
- property columns whose name is in :data:`clac_core.properties.COLUMN_ALIASES` become
  canonical ``properties`` (units as in :data:`clac_core.properties.QUANTITIES`: eV for band
  gaps and heats, eV/atom for formation energies, GPa for moduli). NaN cells are left out.
- other numeric columns (e.g. ``volume``, ``heat_ref``) are kept as strings in
  ``provenance`` under their own name, so nothing is silently lost but nothing unknown
  enters text or evaluation. Pure row-index columns (unnamed first column, ``index``,
  ``hash_id``) are ignored.
- ``text_columns`` (optional) are copied into provenance as ``"text:<column>"``; the build
  turns them into extra pairs with view ``"given"``.

Ids: ids that already look global (``mp-149``, ``mvc-12``) are kept, so the same crystal
read from two tables has the same id (the build keeps the first); other ids (perov_5's
integers, carbon_24's ``C-...``) are prefixed with the source: ``"perov_5:3961"``.

A folder path reads ``structures.csv.gz`` (or ``structures.csv``) and left-joins
``elastic.csv.gz`` on ``material_id`` when present (``K_VRH``, ``G_VRH``, ``poisson_ratio``);
elastic rows without a structure row are ignored.

Rows whose CIF cannot be parsed, or that parse to a disordered structure, are skipped; one
warning at the end says how many and why (first reasons listed). Parsing uses pymatgen's
``CifParser`` directly (about 2 ms per CIF here), without symmetrization.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from clac_core.corpus.record import CrystalRecord

_GLOBAL_ID = re.compile(r"^[a-z]+-\d+$")
_INDEX_COLUMNS = {"", "index", "hash_id", "Unnamed: 0"}
_ELASTIC_COLUMNS = ("K_VRH", "G_VRH", "poisson_ratio")


class CsvLayoutError(ValueError):
    """The table lacks the id or CIF column."""


def parse_cif_string(text: str):
    """Parse one CIF string to an ordered pymatgen Structure.

    Raises:
        ValueError: unreadable CIF, no structure, or partial occupancies.
    """
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structures = CifParser.from_str(text).parse_structures(primitive=False)
        except Exception as err:  # pymatgen raises many types for bad CIFs
            raise ValueError(f"unreadable CIF ({type(err).__name__}: {err})") from err
    if not structures:
        raise ValueError("CIF has no structure")
    s = structures[0]
    if not s.is_ordered:
        raise ValueError("partial occupancies (disordered structure)")
    return s


def _resolve(path: Path) -> tuple[Path, Path | None]:
    """Table file and optional elastic file for a file or folder path."""
    if path.is_dir():
        for name in ("structures.csv.gz", "structures.csv"):
            if (path / name).exists():
                table = path / name
                break
        else:
            raise FileNotFoundError(f"{path} has no structures.csv(.gz)")
        elastic = next((path / n for n in ("elastic.csv.gz", "elastic.csv") if (path / n).exists()), None)
        return table, elastic
    if not path.exists():
        raise FileNotFoundError(f"no such table: {path}")
    return path, None


def default_source_name(path: str | Path) -> str:
    """Source name for a table path: the folder name (``mp_37k``, ``perov_5``)."""
    path = Path(path)
    return path.name if path.is_dir() else (path.parent.name or path.stem.split(".")[0])


def iter_csv(
    path: str | Path,
    *,
    source: str | None = None,
    id_column: str = "material_id",
    cif_column: str = "cif",
    text_columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> Iterator[CrystalRecord]:
    """Yield one CrystalRecord per readable row of a CSV table (plain or gzipped).

    Args:
        path: a ``.csv``/``.csv.gz`` file, or a folder with ``structures.csv.gz`` (and
            optionally ``elastic.csv.gz``).
        source: source name; defaults to the parent folder name (``perov_5``).
        id_column: column with the crystal id.
        cif_column: column with the CIF text.
        text_columns: columns with human-written descriptions to carry along.
        limit: read at most this many rows (None reads all).

    Raises:
        FileNotFoundError: no such file/folder.
        CsvLayoutError: the id or CIF column is missing.
    """
    import pandas as pd

    from clac_core.properties import COLUMN_ALIASES

    path = Path(path)
    table, elastic = _resolve(path)
    source = source or default_source_name(path)
    df = pd.read_csv(table, nrows=limit)
    for col in (id_column, cif_column):
        if col not in df.columns:
            raise CsvLayoutError(f"{table}: column {col!r} missing (columns: {list(df.columns)})")
    if elastic is not None:
        el = pd.read_csv(elastic, usecols=lambda c: c == id_column or c in _ELASTIC_COLUMNS)
        el = el.drop_duplicates(id_column)
        df = df.merge(el, on=id_column, how="left", suffixes=("", "_elastic"))
    text_columns = list(text_columns or [])
    missing = [c for c in text_columns if c not in df.columns]
    if missing:
        raise CsvLayoutError(f"{table}: text columns {missing} missing")

    prop_cols = [c for c in df.columns if c in COLUMN_ALIASES]
    skip = {id_column, cif_column, *text_columns, *prop_cols}
    extra_cols = [
        c
        for c in df.columns
        if c not in skip and c not in _INDEX_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
    ]

    n_bad = 0
    reasons: list[str] = []
    columns = list(df.columns)
    for row_no, row in enumerate(df.itertuples(index=False, name=None)):
        values = dict(zip(columns, row, strict=True))
        raw_id = str(values[id_column])
        try:
            structure = parse_cif_string(str(values[cif_column]))
        except ValueError as err:
            n_bad += 1
            if len(reasons) < 3:
                reasons.append(f"row {row_no} ({raw_id}): {err}")
            continue
        properties = {
            COLUMN_ALIASES[c]: float(values[c])
            for c in prop_cols
            if values[c] is not None and not pd.isna(values[c])
        }
        provenance = {"file": str(table), "row": str(row_no), "material_id": raw_id}
        for c in extra_cols:
            if not pd.isna(values[c]):
                provenance[str(c)] = repr(float(values[c]))
        for c in text_columns:
            if isinstance(values[c], str) and values[c].strip():
                provenance[f"text:{c}"] = values[c].strip()
        yield CrystalRecord(
            id=raw_id if _GLOBAL_ID.match(raw_id) else f"{source}:{raw_id}",
            structure=structure,
            source=source,
            provenance=provenance,
            properties=properties,
        )
    if n_bad:
        warnings.warn(
            f"{table}: skipped {n_bad} of {len(df)} rows with unusable CIFs; first: {'; '.join(reasons)}",
            stacklevel=2,
        )
