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

Every row's CIF goes through the same checks as an uploaded file
(:func:`clac_core.io.read_structures`: limits, cell, elements, occupancies, overlapping and
isolated atoms; disordered structures are refused), about 3 ms per row. Rows that fail, or
whose property cells are not numbers, are skipped: with ``skipped=`` a list receives one
reason per bad row; without it one warning at the end says how many and why (first reasons).
``strict=True`` raises :class:`BadRowError` at the first bad row instead.

Limits checked before pandas reads the table: at most :data:`MAX_TABLE_BYTES` of CSV text
(counted while streaming through a ``.gz``, so a small archive that inflates to gigabytes is
refused after reading ``MAX_TABLE_BYTES``) and at most :data:`MAX_CSV_ROWS` rows.
"""

from __future__ import annotations

import gzip
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from clac_core.record import CrystalRecord

_GLOBAL_ID = re.compile(r"^[a-z]+-\d+$")
_INDEX_COLUMNS = {"", "index", "hash_id", "Unnamed: 0"}
_ELASTIC_COLUMNS = ("K_VRH", "G_VRH", "poisson_ratio")


MAX_CSV_ROWS: int = 200_000
"""Most rows read from one table (mp_37k has 37,000)."""

MAX_TABLE_BYTES: int = 300_000_000
"""Most bytes of CSV text per table, after decompression (mp_37k: 75 MB)."""


class CsvLayoutError(ValueError):
    """The table lacks the id or CIF column, or is over the size / row limits."""


class BadRowError(ValueError):
    """One row, frame or entry is unusable (raised at the first bad one when ``strict=True``;
    the CSV reader and the streamed sources of :mod:`clac_core.corpus.streamed` raise it)."""


def parse_cif_string(text: str, *, where: str = "CIF"):
    """Parse one CIF string to an ordered pymatgen Structure, with the reader's checks.

    Args:
        text: the CIF text.
        where: how messages name the input (e.g. ``"row 3 (mp-1)"``).

    Raises:
        ValueError: (a :class:`clac_core.io.StructureReadError`) unreadable or invalid CIF,
            partial occupancies, or more than one structure.
    """
    from clac_core.io import read_structures

    structures = read_structures(text.encode("utf-8"), filename=where, fmt="cif", on_partial="reject")
    if len(structures) != 1:
        raise ValueError(f"'{where}' holds {len(structures)} structures; a row must hold one")
    return structures[0]


def _check_table_size(table: Path) -> None:
    """Refuse a table whose CSV text is over MAX_TABLE_BYTES, reading at most that much."""
    if not table.name.lower().endswith(".gz"):
        size = table.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise CsvLayoutError(
                f"{table} is {size / 1e6:.0f} MB; the limit is {MAX_TABLE_BYTES / 1e6:.0f} MB"
            )
        return
    total = 0
    try:
        with gzip.open(table, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if total > MAX_TABLE_BYTES:
                    raise CsvLayoutError(
                        f"{table} decompresses to more than {MAX_TABLE_BYTES / 1e6:.0f} MB (the limit); "
                        "split the table"
                    )
    except (OSError, EOFError) as exc:
        raise CsvLayoutError(f"{table} is not a valid gzip file") from exc


def _read_table(table: Path, limit: int | None):
    import pandas as pd

    _check_table_size(table)
    nrows = MAX_CSV_ROWS + 1 if limit is None else min(limit, MAX_CSV_ROWS + 1)
    try:
        df = pd.read_csv(table, nrows=nrows)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise CsvLayoutError(f"{table} could not be read as a CSV table ({type(exc).__name__})") from exc
    if len(df) > MAX_CSV_ROWS:
        raise CsvLayoutError(f"{table} has more than {MAX_CSV_ROWS} rows (the limit); split the table")
    return df


def as_number(value, column: str, *, what: str = "column") -> float:
    """A property cell (or field) as a float; a plain-words ValueError for text such as "oops"
    (``what`` names the kind of cell in the message: "column", "field", "info key")."""
    if isinstance(value, bool):  # True would silently become 1.0
        raise ValueError(f"{what} {column!r}: {value!r} is not a number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {column!r}: {str(value)[:30]!r} is not a number") from None
    if math.isinf(v):
        raise ValueError(f"{what} {column!r}: {value!r} is not a finite number")
    return v


def global_id(raw_id: str, prefix: str) -> str:
    """A crystal id: ``raw_id`` itself when it already looks global (``mp-149``, ``mvc-12``),
    else ``"<prefix>:<raw_id>"`` (so the same crystal read from two files keeps one id)."""
    return raw_id if _GLOBAL_ID.match(raw_id) else f"{prefix}:{raw_id}"


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
    skipped: list[str] | None = None,
    strict: bool = False,
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
        skipped: if given, one "row N (id): reason" per skipped row is appended (and no
            warning is issued).
        strict: raise :class:`BadRowError` at the first bad row.

    Raises:
        FileNotFoundError: no such file/folder.
        CsvLayoutError: the id or CIF column is missing; the table is over the limits.
        BadRowError: a bad row with ``strict=True``.
    """
    path = Path(path)
    table, elastic = _resolve(path)
    source = source or default_source_name(path)
    text_columns = list(text_columns or [])
    df = _load_frame(table, elastic, limit, id_column, cif_column, text_columns)
    prop_cols, extra_cols = _column_roles(df, id_column, cif_column, text_columns)

    n_bad = 0
    reasons: list[str] = []
    columns = list(df.columns)
    for row_no, row in enumerate(df.itertuples(index=False, name=None)):
        values = dict(zip(columns, row, strict=True))
        raw_id = str(values[id_column])
        where = f"row {row_no} ({raw_id[:40]})"
        try:
            structure, properties = _parse_row(values, cif_column, prop_cols, where)
        except ValueError as err:
            note_bad_row(err, where, table, strict=strict, skipped=skipped, reasons=reasons)
            n_bad += 1
            continue
        rid = global_id(raw_id, source)
        prov = _row_provenance(table, row_no, raw_id, values, extra_cols, text_columns)
        yield CrystalRecord(
            id=rid, structure=structure, source=source, provenance=prov, properties=properties
        )
    if n_bad and skipped is None:
        warnings.warn(
            f"{table}: skipped {n_bad} of {len(df)} rows with unusable CIFs; first: {'; '.join(reasons)}",
            stacklevel=2,
        )


def _load_frame(
    table: Path, elastic: Path | None, limit: int | None, id_column: str, cif_column: str, text_columns: list[str]
):
    """The table as a DataFrame, checked for its id, CIF and text columns, with the elastic
    table (when there is one) left-joined on the id."""
    import pandas as pd

    df = _read_table(table, limit)
    for col in (id_column, cif_column):
        if col not in df.columns:
            raise CsvLayoutError(f"{table}: column {col!r} missing (columns: {list(df.columns)})")
    if elastic is not None:
        _check_table_size(elastic)
        el = pd.read_csv(elastic, usecols=lambda c: c == id_column or c in _ELASTIC_COLUMNS)
        el = el.drop_duplicates(id_column)
        df = df.merge(el, on=id_column, how="left", suffixes=("", "_elastic"))
    missing = [c for c in text_columns if c not in df.columns]
    if missing:
        raise CsvLayoutError(f"{table}: text columns {missing} missing")
    return df


def _column_roles(df, id_column: str, cif_column: str, text_columns: list[str]) -> tuple[list, list]:
    """(property columns, other numeric columns kept in provenance); row-index columns are
    neither."""
    import pandas as pd

    from clac_core.properties import COLUMN_ALIASES

    prop_cols = [c for c in df.columns if c in COLUMN_ALIASES]
    skip = {id_column, cif_column, *text_columns, *prop_cols}
    extra_cols = [
        c
        for c in df.columns
        if c not in skip and c not in _INDEX_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
    ]
    return prop_cols, extra_cols


def _parse_row(values: dict, cif_column: str, prop_cols: list, where: str):
    """(structure, canonical properties) of one row; ValueError if the row is unusable."""
    import pandas as pd

    from clac_core.properties import COLUMN_ALIASES

    if not isinstance(values[cif_column], str):
        raise ValueError(f"the {cif_column!r} cell is empty")
    structure = parse_cif_string(values[cif_column], where=where)
    properties = {
        COLUMN_ALIASES[c]: as_number(values[c], c)
        for c in prop_cols
        if values[c] is not None and not pd.isna(values[c])
    }
    return structure, properties


def note_bad_row(
    err: ValueError, where: str, table: Path, *, strict: bool, skipped: list[str] | None, reasons: list[str]
) -> None:
    """Raise BadRowError (``strict``) or record why a row (frame, entry) was skipped: in
    ``skipped`` as ``"<file name> <where>: <reason>"`` when given, else among the first three
    ``reasons`` for the closing warning."""
    reason = str(err) if where in str(err) else f"{where}: {err}"
    if strict:
        raise BadRowError(f"{table}: {reason}") from err
    if skipped is not None:
        skipped.append(f"{table.name} {reason}")
    elif len(reasons) < 3:
        reasons.append(reason)


def _row_provenance(
    table: Path, row_no: int, raw_id: str, values: dict, extra_cols: list, text_columns: list[str]
) -> dict[str, str]:
    """File, row and id of a row, its other numeric cells (as repr strings) and its
    non-empty text cells (``"text:<column>"``)."""
    import pandas as pd

    provenance = {"file": str(table), "row": str(row_no), "material_id": raw_id}
    for c in extra_cols:
        if not pd.isna(values[c]):
            provenance[str(c)] = repr(float(values[c]))
    for c in text_columns:
        if isinstance(values[c], str) and values[c].strip():
            provenance[f"text:{c}"] = values[c].strip()
    return provenance
