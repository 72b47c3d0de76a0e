"""Where things live: the default model and index, the app's user-index folders (shared and
per session) and the one corpus root the app may index folders under.

Default locations: ``assets/model`` (checkpoint) and ``assets/index`` (corpus index), overridden
by the ``CLAC_CHECKPOINT`` / ``CLAC_INDEX`` environment variables. Indexes built in the app are
saved under ``CLAC_USER_INDEXES`` (default ``~/.cache/clac_explorer/indexes``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "assets"


def default_checkpoint() -> Path:
    return Path(os.environ.get("CLAC_CHECKPOINT", ASSETS / "model"))


def default_index() -> Path:
    return Path(os.environ.get("CLAC_INDEX", ASSETS / "index"))


def user_index_root() -> Path:
    """Where indexes built in the app live: ``shared/<name>`` (visible to every session) and
    ``sessions/<token>/<name>`` (visible to the session that built them only)."""
    return Path(os.environ.get("CLAC_USER_INDEXES", Path.home() / ".cache" / "clac_explorer" / "indexes"))


def shared_index_root() -> Path:
    return user_index_root() / "shared"


_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")


def session_index_root(session: str) -> Path:
    """Private folder of one app session (``session`` is a random token the app keeps in the
    session state; anything else is refused, so no path can be smuggled in)."""
    if not _TOKEN.fullmatch(str(session)):
        raise ValueError("invalid session token")
    return user_index_root() / "sessions" / session


def index_stamp(index_dir: str | Path) -> str:
    """A string that changes whenever the index in ``index_dir`` is rebuilt ("" if none).

    Every :meth:`CorpusIndex.save` rewrites ``manifest.json`` last, so its mtime and size key
    the app's caches: a rebuilt index in the same folder is loaded again, not served stale.
    """
    try:
        st = (Path(index_dir) / "manifest.json").stat()
    except OSError:
        return ""
    return f"{st.st_mtime_ns}:{st.st_size}"


def is_index_dir(path: Path) -> bool:
    return (path / "manifest.json").is_file() and (path / "embeddings.npy").is_file()


def list_indexes(session: str | None = None) -> dict[str, Path]:
    """Label -> directory: the default, every index under assets/, the shared user indexes and
    the given session's own ones (never another session's)."""
    found: dict[str, Path] = {}
    default = default_index()
    if is_index_dir(default):
        found[f"default ({default.name})"] = default
    roots = [(ASSETS, "assets"), (shared_index_root(), "shared")]
    if session:
        roots.append((session_index_root(session), "yours"))
    for root, tag in roots:
        if not root.is_dir():
            continue
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            if is_index_dir(d) and d.resolve() != default.resolve():
                found[f"{tag}: {d.name}"] = d
    return found


def safe_index_name(name: str) -> str:
    """A folder name from a user's index name (letters, digits, ``_ . -``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._-")[:64] or "index"


def reserve_index_dir(root: Path, name: str) -> Path:
    """Create and return a new, empty folder ``root/name`` (``name_2``, ``name_3``, … when taken).

    ``mkdir`` without ``exist_ok`` is atomic, so two sessions building the same name at once
    get two folders, and an existing index is never overwritten.
    """
    root.mkdir(parents=True, exist_ok=True)
    base = safe_index_name(name)
    for i in range(1, 1000):
        d = root / (base if i == 1 else f"{base}_{i}")
        try:
            d.mkdir()
        except FileExistsError:
            continue
        return d
    raise ValueError(f"too many indexes named {base!r}; choose another name")


def share_index(path: Path, session: str) -> Path:
    """Copy one of this session's indexes into the shared folder (under a free name)."""
    import shutil

    src = Path(path).resolve()
    if not src.is_relative_to(session_index_root(session).resolve()) or not is_index_dir(src):
        raise ValueError("only an index built in this session can be shared")
    dst = reserve_index_dir(shared_index_root(), src.name)
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst


class CorpusFolderError(ValueError):
    """A folder the Corpus page may not read (one message whatever the reason)."""


def corpus_root() -> Path | None:
    """The one folder under which the app may index CIF folders (``CLAC_CORPUS_ROOT``); None
    (the default) turns folder indexing off."""
    root = os.environ.get("CLAC_CORPUS_ROOT", "").strip()
    return Path(root) if root else None


def resolve_corpus_folder(folder: str) -> Path:
    """The real path of ``folder`` (absolute, or relative to the corpus root) when it is a
    folder inside :func:`corpus_root`.

    Raises:
        CorpusFolderError: folder indexing is off, or the folder is not usable. The message is
            the same whether the path does not exist, is a file, or lies outside the root (after
            resolving ``..`` and symbolic links), so the page reveals nothing about the disk.
    """
    root = corpus_root()
    if root is None:
        raise CorpusFolderError("Indexing folders on the server is switched off (CLAC_CORPUS_ROOT is not set).")
    msg = "This folder cannot be indexed. Give a folder of CIF files inside the corpus root."
    try:
        real_root = root.resolve(strict=True)
        p = Path(str(folder).strip())
        p = (p if p.is_absolute() else real_root / p).resolve()
        ok = bool(str(folder).strip()) and p.is_relative_to(real_root) and p.is_dir()
    except (OSError, ValueError, RuntimeError):
        ok = False
    if not ok:
        raise CorpusFolderError(msg)
    return p
