"""The one API the app uses: load a CLaC model + corpus index, embed, search, describe, label.

Pages call :class:`Explorer` and render; nothing here imports streamlit. Heavy imports (torch,
transformers, umap) happen inside functions.

Default locations: ``assets/model`` (checkpoint) and ``assets/index`` (corpus index), overridden
by the ``CLAC_CHECKPOINT`` / ``CLAC_INDEX`` environment variables (``CLAC_MODEL_CARD`` /
``CLAC_EVAL_RESULTS`` for the model card and ``clac eval`` results shown on Home). Indexes built in the app are
saved under ``CLAC_USER_INDEXES`` (default ``~/.cache/clac_explorer/indexes``).
Shape legend: N crystals, M descriptions, D embedding dims, B queries.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.embed import ProgressFn, embed_structures, embed_texts
from clac_core.evaluation.prompts import ZeroShotTask, zero_shot_tasks
from clac_core.index import CorpusIndex, SearchFilters, checkpoint_hash
from clac_core.index.projection import (  # noqa: F401 - compute_umap: scripts/make_assets.py imports it from here
    compute_umap,
    pca_xy,
    umap_cache_path,
    umap_key,
)
from clac_core.symmetry import symmetry_info

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

REPO = Path(__file__).resolve().parents[1]
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


# ---------------------------------------------------------------------- small-batch threading

SMALL_BATCH = 8


@contextmanager
def small_batch_threads(n: int) -> Iterator[None]:
    """Run a small batch (n <= SMALL_BATCH) on one intra-op thread.

    Why: a single query is latency-bound; on a shared 2-core machine under load (load average
    ~10) one MiniLM query took 27-41 ms with 1 torch thread but 760-1260 ms with 2 threads
    (thread spin/contention). Large batches keep the default thread count.
    """
    import torch

    if n > SMALL_BATCH:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def encode_query_texts(model: Any, texts: Sequence[str]) -> np.ndarray:
    """(B, D) normalized text embeddings with the small-batch threading policy."""
    texts = list(texts)
    with small_batch_threads(len(texts)):
        return embed_texts(model, texts, 128, len(texts) >= 256, desc="descriptions")


# ---------------------------------------------------------------------- zero-shot prompts


# The tasks shown are clac eval's own (one prompt table, clac_core.evaluation.prompts).
ZERO_SHOT_TASKS: tuple[ZeroShotTask, ...] = zero_shot_tasks("crystal_system", "metal_vs_insulator")


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


# ---------------------------------------------------------------------- 2D map


# ---------------------------------------------------------------------- what is loaded (files only)


def _missing_checkpoint(ck: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"checkpoint {ck} not found; run `python scripts/make_assets.py --random-init --out assets/` "
        "or set CLAC_CHECKPOINT"
    )


def load_model(checkpoint_dir: str | Path) -> Any:
    """The CLaC model of a checkpoint on CPU in eval mode (imports torch + transformers)."""
    from clac_core.models import CLaCModel

    ck = Path(checkpoint_dir)
    if not ck.exists():
        raise _missing_checkpoint(ck)
    model = CLaCModel.from_checkpoint(ck)
    model.eval()
    return model


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def docs_info() -> dict[str, Any]:
    """The shipped model card and evaluation results, when present."""
    card = Path(os.environ.get("CLAC_MODEL_CARD", ASSETS / "MODEL_CARD.md"))
    results = Path(os.environ.get("CLAC_EVAL_RESULTS", ASSETS / "eval" / "results.json"))
    plot = results.with_name("inverse_design.png")
    return {
        "model_card": card.read_text(encoding="utf-8") if card.is_file() else None,
        "eval_results": _read_json(results),
        "inverse_design_png": str(plot) if plot.is_file() else None,
    }


def loaded_info(checkpoint_dir: str | Path | None = None, index_dir: str | Path | None = None) -> dict[str, Any]:
    """What the app has loaded, read from files only: checkpoint ``config.json``, index
    ``manifest.json`` (counts), model card and eval results. No torch, no model, no parquet,
    so the Home page and the sidebar render in well under a second.

    Returns:
        the keys of :meth:`Explorer.model_info`.

    Raises:
        FileNotFoundError: no checkpoint or no index at the given paths.
    """
    ck = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint()
    ix = Path(index_dir) if index_dir else default_index()
    if not ck.exists():
        raise _missing_checkpoint(ck)
    if not is_index_dir(ix):
        raise FileNotFoundError(f"{ix} is not a CLaC index (needs manifest.json and embeddings.npy)")
    manifest = _read_json(ix / "manifest.json") or {}
    counts = manifest.get("counts") or {}
    emb = np.load(ix / "embeddings.npy", mmap_mode="r", allow_pickle=False)  # header only: (N, D)
    n_desc = counts.get("descriptions")
    if n_desc is None:
        demb = ix / "description_embeddings.npy"
        n_desc = np.load(demb, mmap_mode="r", allow_pickle=False).shape[0] if demb.is_file() else 0
    ck_hash = checkpoint_hash(ck)
    ih = manifest.get("checkpoint_hash")
    extra = checkpoint_extra(ck)
    return {
        "checkpoint": str(ck),
        "checkpoint_hash": ck_hash,
        "index_dir": str(ix),
        "index": manifest,
        "index_matches_model": ih is None or ih == ck_hash,
        "crystals": int(emb.shape[0]),
        "descriptions": int(n_desc),
        "by_source": {str(k): int(v) for k, v in (counts.get("by_source") or {}).items()},
        "embed_dim": int(emb.shape[1]) if emb.ndim == 2 else int(manifest.get("dim", 0)),
        "extra": extra,
        "untrained": bool(extra.get("untrained", False)),
        **docs_info(),
    }


# ---------------------------------------------------------------------- the explorer


class Explorer:
    """A loaded CLaC model with a corpus index (the app's only entry point)."""

    def __init__(self, model: Any, index: CorpusIndex, *, checkpoint: Path, index_dir: Path) -> None:
        self.model = model
        self.index = index
        self.checkpoint = Path(checkpoint)
        self.index_dir = Path(index_dir)
        self._prompt_cache: dict[str, tuple[list[str], np.ndarray]] = {}
        self._map: dict[str, Any] | None = None
        self._query_cache: dict[str, np.ndarray] = {}  # app reruns repeat the same query
        self.checkpoint_hash = checkpoint_hash(self.checkpoint)
        ih = index.manifest.get("checkpoint_hash")
        self.index_matches_model = ih is None or ih == self.checkpoint_hash

    @classmethod
    def load(cls, checkpoint_dir: str | Path | None = None, index_dir: str | Path | None = None) -> Explorer:
        """Load the model (CPU) and the index; defaults as in :func:`default_checkpoint`."""
        ck = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint()
        ix = Path(index_dir) if index_dir else default_index()
        return cls(load_model(ck), CorpusIndex.load(ix), checkpoint=ck, index_dir=ix)

    # ------------------------------------------------------------------ embedding
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(B, D) float32 normalized text embeddings."""
        return encode_query_texts(self.model, texts)

    def embed_structures(self, structures: Sequence[Structure]) -> np.ndarray:
        """(B, D) float32 normalized crystal embeddings."""
        structures = list(structures)
        with small_batch_threads(len(structures)):
            return embed_structures(self.model, structures, 64, len(structures) >= 256)

    # ------------------------------------------------------------------ search
    def search_text(
        self,
        query: str,
        k: int = 20,
        filters: SearchFilters | None = None,
        *,
        property_aware: bool = False,
    ) -> pd.DataFrame:
        """Crystals ranked by similarity to a free-text query, after hard filters.

        With ``property_aware`` the constraints the query states (:meth:`understand`) re-rank
        the hits: fused score = match to the constraints (known DFT values, else the model's
        predicted values) + the model's cosine; the result gains a ``score`` column."""
        query = (query or "").strip()
        if not query:
            raise ValueError("empty query")
        q = self._query_cache.get(query)
        if q is None:
            q = self.embed_texts([query])[0]  # (D,)
            if len(self._query_cache) >= 256:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[query] = q
        intent = self.understand(query) if property_aware else None
        if intent is None or intent.is_empty():
            return self.index.search(q, k, filters)
        from clac_core.property_search import rerank_scores

        cols, elements, systems = self._property_columns()

        def rescore(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
            sub = {c: v[rows] for c, v in cols.items()}
            return rerank_scores(
                scores, intent, sub, elements=[elements[i] for i in rows], crystal_systems=systems[rows]
            )

        return self.index.search(q, k, filters, rescore=rescore)

    @staticmethod
    def understand(query: str) -> Any:
        """The :class:`clac_core.property_search.QueryIntent` of a query (``.describe()`` for the page)."""
        from clac_core.property_search import understand

        return understand(query)

    def _property_columns(self) -> tuple[dict[str, np.ndarray], list[set[str]], np.ndarray]:
        """Property arrays (DFT and ``predicted_*``), element sets and crystal systems of the
        index, built once per Explorer."""
        if getattr(self, "_prop_cache", None) is None:
            md = self.index.metadata
            cols = {
                c: self.index.property_array(c)
                for c in md.columns
                if c in ("band_gap", "direct_gap", "indirect_gap", "formation_energy_per_atom", "total_magnetization", "density")
                or c.startswith("predicted_")
            }
            elements = [set(str(e).split()) for e in md.get("elements", [""] * len(md))]
            systems = np.asarray(md.get("crystal_system", [""] * len(md))).astype(str)
            self._prop_cache = (cols, elements, systems)
        return self._prop_cache

    def nearest_crystals(
        self, structure: Structure, k: int = 10, filters: SearchFilters | None = None
    ) -> pd.DataFrame:
        return self.index.search(self.embed_structures([structure])[0], k, filters)

    def predict_properties(self, structure: Structure) -> pd.DataFrame:
        """The model's aux-head estimates for one structure: quantity, value, unit (empty frame
        for a model without the head). Estimates, not DFT; their test error is in the model card."""
        import pandas as pd

        from clac_core.embed import embed_and_predict_structures
        from clac_core.properties import QUANTITIES

        names = list(getattr(self.model.cfg, "aux_properties", []) or [])
        if not names:
            return pd.DataFrame(columns=["quantity", "predicted", "unit"])
        pred = embed_and_predict_structures(self.model, [structure], progress=False)[1][0]
        rows = []
        for n, v in zip(names, pred, strict=True):
            q = QUANTITIES.get(n)
            if n == "band_gap":
                v = max(float(v), 0.0)
            rows.append({"quantity": q.label if q else n, "predicted": round(float(v), q.decimals if q else 2),
                         "unit": q.unit if q else ""})
        return pd.DataFrame(rows)

    def nearest_descriptions(self, structure: Structure, k: int = 5) -> pd.DataFrame:
        return self.index.nearest_descriptions(self.embed_structures([structure])[0], k)

    # ------------------------------------------------------------------ zero-shot
    def _logit_scale(self) -> float:
        """exp(logit_scale), clamped as in training (1/0.07 when the model has none)."""
        fn = getattr(self.model, "logit_scale_value", None)
        if callable(fn):
            return float(fn().detach().item())
        return 1 / 0.07

    def _task_embeddings(self, task: ZeroShotTask) -> tuple[list[str], np.ndarray]:
        if task.name not in self._prompt_cache:
            classes = list(task.prompts)
            texts = [p for c in classes for p in task.prompts[c]]
            emb = self.embed_texts(texts)  # (sum prompts, D)
            out, i = [], 0
            for c in classes:
                n = len(task.prompts[c])
                m = emb[i : i + n].mean(0)
                out.append(m / max(np.linalg.norm(m), 1e-12))
                i += n
            self._prompt_cache[task.name] = (classes, np.stack(out))  # (C, D)
        return self._prompt_cache[task.name]

    def zero_shot(self, structure: Structure) -> dict[str, pd.DataFrame]:
        """Prompt-based labels: task name -> DataFrame(label, score) sorted, scores sum to 1."""
        import pandas as pd

        x = self.embed_structures([structure])[0]  # (D,)
        scale = self._logit_scale()
        out = {}
        for task in ZERO_SHOT_TASKS:
            classes, emb = self._task_embeddings(task)
            logits = scale * (emb @ x)  # (C,)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            out[task.name] = (
                pd.DataFrame({"label": classes, "score": p.astype(float)})
                .sort_values("score", ascending=False)
                .reset_index(drop=True)
            )
        return out

    # ------------------------------------------------------------------ describe
    def describe(self, structure: Structure, seed: int = 0) -> list[Any]:
        """Generated descriptions (clac_core.text ``Description(view, text)``) of a structure."""
        from clac_core.record import CrystalRecord
        from clac_core.text import describe

        rec = CrystalRecord(id="upload", structure=structure, source="upload")
        return list(describe(rec, seed=seed))

    @staticmethod
    def symmetry(structure: Structure) -> dict[str, Any]:
        return symmetry_info(structure)

    # ------------------------------------------------------------------ 2D map
    def _load_map(self) -> dict[str, Any]:
        if self._map is None:
            path = umap_cache_path(self.index, self.index_dir)
            if path.exists():
                with np.load(path, allow_pickle=False) as z:
                    self._map = {"crystal_xy": z["crystal_xy"], "desc_xy": z["desc_xy"], "method": "UMAP"}
            else:
                xy = pca_xy(np.concatenate([self.index.embeddings, self.index.desc_embeddings]))
                n = len(self.index)
                self._map = {
                    "crystal_xy": xy[:n],
                    "desc_xy": xy[n:],
                    "method": "PCA (no precomputed UMAP for this index)",
                }
        return self._map

    def umap_coords(self) -> pd.DataFrame:
        """2D map of the corpus: one row per crystal and per description.

        Columns: x, y, modality ("crystal"/"text"), label (formula or text), crystal_system,
        source, row (index row for crystals, description row for texts), plus property columns.
        The map is read from the cache written at index build; without one, a PCA map is used
        (never a UMAP fit on page load).
        """
        import pandas as pd

        m = self._load_map()
        md = self.index.metadata
        cr = pd.DataFrame(
            {
                "x": m["crystal_xy"][:, 0],
                "y": m["crystal_xy"][:, 1],
                "modality": "crystal",
                "label": md["formula"].to_numpy(),
                "crystal_system": md["crystal_system"].to_numpy(),
                "source": md["source"].to_numpy(),
                "row": np.arange(len(md)),
            }
        )
        for c in self.index.property_columns():
            cr[c] = md[c].to_numpy()
        d = self.index.descriptions
        tx = pd.DataFrame(
            {
                "x": m["desc_xy"][:, 0],
                "y": m["desc_xy"][:, 1],
                "modality": "text",
                "label": d["text"].to_numpy() if len(d) else [],
                "crystal_system": "text",
                "source": d["view"].to_numpy() if len(d) else [],
                "row": np.arange(len(d)),
            }
        )
        return pd.concat([cr, tx], ignore_index=True)

    @property
    def map_key(self) -> str:
        """Changes with the checkpoint and the indexed corpus (keys cached maps)."""
        return umap_key(self.index)

    @property
    def map_method(self) -> str:
        return str(self._load_map()["method"])

    def project(self, emb: np.ndarray, k: int = 10) -> np.ndarray:
        """Place new (B, D) embeddings on the map: similarity-weighted mean of the k nearest
        corpus points' coordinates (UMAP models are not saved without pickle).

        Returns:
            (B, 2) float32.
        """
        m = self._load_map()
        ref = np.concatenate([self.index.embeddings, self.index.desc_embeddings])  # (N+M, D)
        xy = np.concatenate([m["crystal_xy"], m["desc_xy"]])  # (N+M, 2)
        emb = np.atleast_2d(np.asarray(emb, dtype=np.float32))
        sims = emb @ ref.T  # (B, N+M)
        k = min(k, ref.shape[0])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (B, k)
        s = np.take_along_axis(sims, idx, 1)
        w = np.exp(20.0 * (s - s.max(1, keepdims=True)))
        w /= w.sum(1, keepdims=True)
        return np.einsum("bk,bkc->bc", w, xy[idx]).astype(np.float32)

    # ------------------------------------------------------------------ info
    def model_info(self) -> dict[str, Any]:
        """What is loaded: checkpoint meta (extra: training data, metrics, untrained flag),
        index manifest, and the model card / eval results files when they exist."""
        info: dict[str, Any] = {
            "checkpoint": str(self.checkpoint),
            "checkpoint_hash": self.checkpoint_hash,
            "index_dir": str(self.index_dir),
            "index": self.index.manifest,
            "index_matches_model": self.index_matches_model,
            "crystals": len(self.index),
            "descriptions": len(self.index.descriptions),
            "by_source": self.index.metadata["source"].value_counts().to_dict(),
            "embed_dim": self.index.dim,
        }
        extra = checkpoint_extra(self.checkpoint, self.model)
        info["extra"] = extra
        info["untrained"] = bool(extra.get("untrained", False))
        info.update(docs_info())
        return info


def checkpoint_extra(checkpoint: Path, model: Any = None) -> dict[str, Any]:
    """The ``extra`` dict saved with a checkpoint (training data, metrics, untrained flag)."""
    for attr in ("extra", "checkpoint_extra"):
        val = getattr(model, attr, None)
        if isinstance(val, dict):
            return val
    ck = Path(checkpoint)
    files = sorted(ck.glob("*.json")) if ck.is_dir() else [ck.with_suffix(".json")]
    for f in files:
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("extra"), dict):
            return data["extra"]
    return {}


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
