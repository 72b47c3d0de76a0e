"""What the app loads and shows about it: the model of a checkpoint, and facts read from files
only (checkpoint ``config.json``, index ``manifest.json``, model card, ``clac eval`` results).

``CLAC_MODEL_CARD`` / ``CLAC_EVAL_RESULTS`` override the model card and the ``clac eval``
results shown on Home. ``CLAC_EXACT_MAX_ROWS`` sets the size above which an index is searched
approximately and ``CLAC_SUBSET_EXACT_MAX`` the filtered-subset size searched exactly (defaults:
:class:`~clac_core.index.EngineConfig`'s; 0 forces the approximate path, as the 20k-row browser
test does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.index import CorpusIndex, EngineConfig
from clac_core.inference.locations import ASSETS, default_checkpoint, default_index, is_index_dir
from clac_core.models.fingerprint import checkpoint_hash


def _missing_checkpoint(ck: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"checkpoint {ck} not found; run `python scripts/make_assets.py --random-init --out assets/` "
        "or set CLAC_CHECKPOINT"
    )


def load_model(checkpoint_dir: str | Path) -> Any:
    """The CLaC model of a checkpoint on CPU in eval mode (imports torch + transformers), loaded
    without Hugging Face's progress bars (they are noise in a server log)."""
    from clac_core.logs import quiet_progress_bars
    from clac_core.models import CLaCModel

    ck = Path(checkpoint_dir)
    if not ck.exists():
        raise _missing_checkpoint(ck)
    with quiet_progress_bars():
        model = CLaCModel.from_checkpoint(ck)
    model.eval()
    return model


ENGINE_ENV = {"CLAC_EXACT_MAX_ROWS": "exact_max_rows", "CLAC_SUBSET_EXACT_MAX": "subset_exact_max"}


def engine_config() -> EngineConfig:
    """How the app searches its indexes: the default :class:`EngineConfig`, with
    ``exact_max_rows`` from ``CLAC_EXACT_MAX_ROWS`` and ``subset_exact_max`` from
    ``CLAC_SUBSET_EXACT_MAX`` where set (whole numbers >= 0; 0 forces the approximate path)."""
    kw: dict[str, int] = {}
    for var, field_name in ENGINE_ENV.items():
        raw = os.environ.get(var, "").strip()
        if not raw:
            continue
        try:
            kw[field_name] = int(raw)
        except ValueError:
            kw[field_name] = -1
        if kw[field_name] < 0:
            raise ValueError(f"{var} must be a whole number >= 0, got {raw!r}")
    return EngineConfig(**kw)


def open_index(index_dir: str | Path) -> CorpusIndex:
    """The corpus index in ``index_dir`` with the app's search engine (:func:`engine_config`)."""
    return CorpusIndex.load(index_dir, config=engine_config())


def engine_summary(index: CorpusIndex) -> str:
    """One line for the user on how ``index`` is searched: exact, or approximate with the
    recall measured when its approximate index was built."""
    eng = index.engine
    where = f" (unfiltered on {eng.gpus} GPU{'s' if eng.gpus > 1 else ''})" if eng.gpus else ""
    if not eng.approximate or eng.info is None:
        return f"exact search over {len(index):,} crystals{where}"
    kind = "HNSW graph" if eng.info.kind.startswith("hnsw") else "IVF lists"
    return (f"approximate search over {len(index):,} crystals ({kind}; recall@10 "
            f"{eng.info.recall_at_10:.3f} against exact search on {eng.info.recall_queries} held-out queries){where}")


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


def eval_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What Home shows of ``clac eval`` results: ``headline`` numbers, the ``comparison`` rows
    (model against baselines) and the ``inverse_design`` rows (empty without that section)."""
    from clac_core.evaluation.inverse_design import headline_rows
    from clac_core.evaluation.report import comparison_rows, headline

    return {
        "headline": headline(results),
        "comparison": comparison_rows(results),
        "inverse_design": headline_rows(results),
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
