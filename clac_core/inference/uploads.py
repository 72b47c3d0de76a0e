"""The user's own crystals: read an uploaded structure file, and build an index of a user's
CSV or CIF folder with the loaded model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clac_core.embed import ProgressFn
from clac_core.inference.locations import reserve_index_dir, session_index_root, shared_index_root

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from clac_core.inference.explorer import Explorer


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
) -> Path:
    """Build an index of ``spec`` ("csv:PATH" | "cifs:PATH") with the loaded model.

    Saved in this session's private folder, or in the shared folder when ``share``; under a
    free name (``name_2`` …) when ``name`` is taken, so no index is ever overwritten.
    ``source_label`` is what the manifest records instead of ``spec`` (e.g. the uploaded
    file's name rather than a temporary path). Returns the index directory.
    """
    import shutil

    from clac_core.index import build, records_from_specs

    records = records_from_specs([spec])
    if not records:
        raise ValueError("no crystals found in the source")
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
