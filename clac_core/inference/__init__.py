"""The one API the app uses: load a CLaC model + corpus index, embed, search, describe, label.

Pages call :class:`Explorer` and render; nothing here imports streamlit. Heavy imports (torch,
transformers, umap) happen inside functions.

Default locations: ``assets/model`` (checkpoint) and ``assets/index`` (corpus index), overridden
by the ``CLAC_CHECKPOINT`` / ``CLAC_INDEX`` environment variables (``CLAC_MODEL_CARD`` /
``CLAC_EVAL_RESULTS`` for the model card and ``clac eval`` results shown on Home). Indexes built in the app are
saved under ``CLAC_USER_INDEXES`` (default ``~/.cache/clac_explorer/indexes``).
Modules, one job each (every name below is importable from ``clac_core.inference``):

- :mod:`~clac_core.inference.explorer`: :class:`Explorer` (embed, search, describe, zero-shot, 2D map, info).
- :mod:`~clac_core.inference.locations`: default model/index, user-index folders, the corpus root.
- :mod:`~clac_core.inference.loading`: ``load_model`` and what is loaded, read from files only.
- :mod:`~clac_core.inference.relax`: what a search's wishes mean in the corpus, the nearest relaxation.
- :mod:`~clac_core.inference.search`: the query path (small-batch threads, property-aware re-rank).
- :mod:`~clac_core.inference.zero_shot`: zero-shot labels from clac eval's prompt table.
- :mod:`~clac_core.inference.corpus_map`: the 2D map (cached UMAP or PCA) and projection onto it.
- :mod:`~clac_core.inference.uploads`: uploaded structure files, indexes of a user's crystals,
  uploads' embeddings as parquet.
- :mod:`~clac_core.inference.upload_panel`: what the Upload page shows about one crystal.
- :mod:`~clac_core.inference.similar`: find similar structures by the crystal embedding.

The package also passes on the few names of lower layers the pages need (``CorpusIndex``,
``SearchFilters``, ``embed_structures``, ``structure_to_cif``, ``symmetry_info``, ...), so that a
page imports ``clac_core.inference`` and the base layer only (``tests/test_architecture.py``).

Shape legend: N crystals, M descriptions, D embedding dims, B queries.
"""

from __future__ import annotations

from clac_core.embed import ProgressFn, embed_structures, embed_texts
from clac_core.evaluation.prompts import ZeroShotTask, zero_shot_tasks
from clac_core.index import CorpusIndex, SearchFilters
from clac_core.inference.corpus_map import corpus_map_points
from clac_core.inference.explorer import Explorer
from clac_core.inference.loading import (
    checkpoint_extra,
    docs_info,
    engine_config,
    engine_summary,
    eval_summary,
    load_model,
    loaded_info,
    open_index,
)
from clac_core.inference.locations import (
    ASSETS,
    REPO,
    CorpusFolderError,
    corpus_root,
    default_checkpoint,
    default_index,
    index_stamp,
    is_index_dir,
    list_indexes,
    reserve_index_dir,
    resolve_corpus_folder,
    safe_index_name,
    session_index_root,
    share_index,
    shared_index_root,
    user_index_root,
)
from clac_core.inference.relax import Diagnosis, SearchAnswer, diagnose
from clac_core.inference.search import SMALL_BATCH, encode_query_texts, property_columns, small_batch_threads
from clac_core.inference.similar import find_similar
from clac_core.inference.upload_panel import CorpusMatch, UploadPanel, analyse_upload
from clac_core.inference.uploads import (
    CorpusSourceError,
    UploadResult,
    build_user_index,
    embeddings_parquet,
    read_upload,
    reader_limits,
    upload_limit_mb,
)
from clac_core.inference.zero_shot import ZERO_SHOT_TASKS
from clac_core.io import structure_to_cif
from clac_core.symmetry import symmetry_info

__all__ = [
    "Diagnosis",
    "SearchAnswer",
    "diagnose",
    "ASSETS",
    "REPO",
    "SMALL_BATCH",
    "ZERO_SHOT_TASKS",
    "CorpusFolderError",
    "CorpusIndex",
    "CorpusMatch",
    "CorpusSourceError",
    "Explorer",
    "ProgressFn",
    "SearchFilters",
    "UploadPanel",
    "UploadResult",
    "analyse_upload",
    "ZeroShotTask",
    "build_user_index",
    "checkpoint_extra",
    "corpus_map_points",
    "corpus_root",
    "default_checkpoint",
    "default_index",
    "docs_info",
    "embed_structures",
    "embed_texts",
    "embeddings_parquet",
    "engine_config",
    "engine_summary",
    "eval_summary",
    "encode_query_texts",
    "find_similar",
    "index_stamp",
    "is_index_dir",
    "list_indexes",
    "load_model",
    "loaded_info",
    "open_index",
    "property_columns",
    "read_upload",
    "reader_limits",
    "reserve_index_dir",
    "resolve_corpus_folder",
    "safe_index_name",
    "session_index_root",
    "share_index",
    "shared_index_root",
    "small_batch_threads",
    "structure_to_cif",
    "symmetry_info",
    "upload_limit_mb",
    "user_index_root",
    "zero_shot_tasks",
]
