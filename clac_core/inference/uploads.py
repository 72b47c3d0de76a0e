"""The user's own crystals: read an uploaded structure file, build an index of a user's
CSV or CIF folder with the loaded model, and export uploads' embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clac_core.embed import ProgressFn
from clac_core.inference.locations import reserve_index_dir, session_index_root, shared_index_root

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from clac_core.inference.explorer import Explorer
    from clac_core.record import CrystalRecord


SHOW_REASONS = 5  # bad rows / files a page lists; the rest are counted


class CorpusSourceError(ValueError):
    """No index can be built from a user's source: the table or folder is unusable, or none of
    its rows / files could be read.

    Attributes:
        reasons: the first :data:`SHOW_REASONS` bad rows or files, each with why (plain words,
            no server paths).
        bad: how many rows / files were bad in all.
    """

    def __init__(self, message: str, reasons: list[str] | None = None, bad: int = 0) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])[:SHOW_REASONS]
        self.bad = bad


@dataclass
class UploadResult:
    """Outcome of reading one uploaded file.

    Attributes:
        filename: the name as uploaded (not escaped; escape before HTML).
        structures: parsed structures (empty on error).
        error: clear error message, or None.
    """

    filename: str
    structures: list[Structure] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.structures)


def reader_limits() -> dict[str, int]:
    """The structure reader's limits (sites per structure, bytes per file), read from
    ``clac_core.io`` so that the page, the uploader and ``.streamlit/config.toml`` state one
    number (tests/test_app.py checks the config against it)."""
    from clac_core import io as cio

    return {"max_sites": int(cio.DEFAULT_MAX_SITES), "max_bytes": int(cio.DEFAULT_MAX_BYTES)}


def upload_limit_mb() -> int:
    """The reader's byte limit in whole MB, as Streamlit's ``maxUploadSize`` takes it."""
    return max(1, int(reader_limits()["max_bytes"] // 1_000_000))


def read_upload(data: bytes, filename: str) -> UploadResult:
    """Parse an uploaded CIF/POSCAR/extxyz; every failure becomes ``UploadResult.error``."""
    from clac_core.io import StructureReadError, read_structures

    try:
        structures = read_structures(data, filename=filename)
    except StructureReadError as exc:
        return UploadResult(filename, error=str(exc))
    except Exception as exc:  # a parser bug must not take the page down
        return UploadResult(filename, error=f"could not read {filename}: {type(exc).__name__}: {exc}")
    if not structures:
        return UploadResult(filename, error=f"{filename}: no structure found in the file")
    return UploadResult(filename, structures=list(structures))


def read_source(spec: str, source_label: str | None = None, skipped: list[str] | None = None) -> list[CrystalRecord]:
    """The crystals of a user's source spec ("csv:PATH" | "cifs:PATH"); bad rows / files are
    left out, with their reasons appended to ``skipped`` (server paths replaced by file names).

    Raises:
        CorpusSourceError: the table or folder cannot be read, or none of its rows / files can.
    """
    from clac_core.corpus.tables import CsvLayoutError
    from clac_core.index import records_from_specs

    where = Path(spec.partition(":")[2].partition("@")[0])
    shown = source_label or where.name

    def _plain(text: str) -> str:  # a server path (the upload's temporary folder) -> its name
        return text.replace(str(where.parent) + "/", "").replace(str(where), where.name)

    bad: list[str] = []
    try:
        records = records_from_specs([spec], skipped=bad)
    except (CsvLayoutError, OSError) as exc:
        raise CorpusSourceError(f"{shown} cannot be read: {_plain(str(exc))}") from exc
    bad = [_plain(r) for r in bad]
    if skipped is not None:
        skipped.extend(bad)
    if not records:
        what = f"all {len(bad)} rows or files were unusable" if bad else "it holds no rows or structure files"
        raise CorpusSourceError(f"No crystal could be read from {shown}: {what}.", reasons=bad, bad=len(bad))
    return records


def build_user_index(
    explorer: Explorer,
    *,
    name: str,
    spec: str,
    session: str,
    share: bool = False,
    source_label: str | None = None,
    max_descriptions: int = 2000,
    progress: ProgressFn | None = None,
    skipped: list[str] | None = None,
) -> Path:
    """Build an index of ``spec`` ("csv:PATH" | "cifs:PATH") with the loaded model.

    Saved in this session's private folder, or in the shared folder when ``share``; under a
    free name (``name_2`` …) when ``name`` is taken, so no index is ever overwritten. Nothing
    is saved unless the build finishes: an exception raised by ``progress`` (Streamlit stops a
    run that way when the user leaves the page) leaves no folder behind.
    ``source_label`` is what the manifest records instead of ``spec`` (e.g. the uploaded
    file's name rather than a temporary path). ``skipped`` receives one reason per bad row or
    file that was left out (server paths replaced by file names). Returns the index directory.

    Raises:
        CorpusSourceError: the table or folder cannot be read, or no row / file of it can
            (with the first reasons).
    """
    import shutil

    from clac_core.index import build

    records = read_source(spec, source_label, skipped)
    idx = build(
        explorer.model,
        records,
        checkpoint=explorer.checkpoint,
        sources=[source_label or spec],
        max_descriptions=max_descriptions,
        progress=progress,
    )
    root = shared_index_root() if share else session_index_root(session)
    out = reserve_index_dir(root, name)
    try:
        return idx.save(out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def embeddings_parquet(rows: list[dict[str, Any]], *, checkpoint_hash: str) -> bytes:
    """Uploads' crystal embeddings as a parquet file: one row per structure with ``file``,
    ``structure`` (1-based number in its file), ``formula``, ``spacegroup``, ``embedding``
    (list of D float32) and ``checkpoint`` (the model's hash: embeddings of two models are not
    comparable).

    Args:
        rows: dicts with keys file, structure, formula, spacegroup and embedding ((D,) array).
        checkpoint_hash: the model that made the embeddings.
    """
    import io

    import numpy as np
    import pandas as pd

    cols = ["file", "structure", "formula", "spacegroup", "embedding", "checkpoint"]
    df = pd.DataFrame(
        [{**{k: r[k] for k in cols[:4]}, "embedding": np.asarray(r["embedding"], dtype=np.float32).tolist(),
          "checkpoint": checkpoint_hash} for r in rows],
        columns=cols,
    )  # fmt: skip
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
