"""The explorer: a loaded CLaC model with a corpus index (the app's only entry point).

Shape legend: N crystals, M descriptions, D embedding dims, B queries, C classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.embed import embed_structures
from clac_core.evaluation.prompts import ZeroShotTask
from clac_core.index import CorpusIndex, SearchFilters
from clac_core.index.projection import load_map, umap_key
from clac_core.inference.corpus_map import map_points, project_onto_map
from clac_core.inference.loading import checkpoint_extra, docs_info, engine_summary, load_model, open_index
from clac_core.inference.locations import default_checkpoint, default_index
from clac_core.inference.relax import SearchAnswer, diagnose
from clac_core.inference.search import (
    encode_query_texts,
    property_columns,
    property_rescorer,
    small_batch_threads,
)
from clac_core.inference.zero_shot import prompt_embeddings, zero_shot_frames
from clac_core.models.fingerprint import checkpoint_hash
from clac_core.symmetry import symmetry_info

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure


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
        return cls(load_model(ck), open_index(ix), checkpoint=ck, index_dir=ix)

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
        intent = self.understand(query) if property_aware else None
        return self._ranked(self._query_embedding(query), k, filters, intent)

    def search(
        self, query: str, k: int = 20, filters: SearchFilters | None = None, *, property_aware: bool = False
    ) -> SearchAnswer:
        """:meth:`search_text` with what its wishes mean in this corpus: which no crystal meets,
        which conflict, and (when no crystal meets them all) the nearest relaxation with its hits."""
        from clac_core.query.intent import QueryIntent

        query = (query or "").strip()
        if not query:
            raise ValueError("empty query")
        q = self._query_embedding(query)
        intent = self.understand(query) if property_aware else QueryIntent()
        hits = self._ranked(q, k, filters, intent)
        diag = diagnose(intent, filters, *self._property_columns(), self.index.filter_mask)
        relaxed = None
        if diag.intent is not None:
            relaxed = self._ranked(q, k, diag.filters, diag.intent)
        return SearchAnswer(hits=hits, intent=intent, diagnosis=diag, relaxed_hits=relaxed)

    def _query_embedding(self, query: str) -> np.ndarray:
        """(D,) embedding of a query, cached (app reruns repeat the same query)."""
        q = self._query_cache.get(query)
        if q is None:
            q = self.embed_texts([query])[0]  # (D,)
            if len(self._query_cache) >= 256:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[query] = q
        return q

    def _ranked(self, q: np.ndarray, k: int, filters: SearchFilters | None, intent: Any) -> pd.DataFrame:
        if intent is None or intent.is_empty():
            return self.index.search(q, k, filters)
        rescore = property_rescorer(intent, *self._property_columns())
        return self.index.search(q, k, filters, rescore=rescore)

    @staticmethod
    def understand(query: str) -> Any:
        """The :class:`clac_core.query.intent.QueryIntent` of a query (``.describe()`` for the page)."""
        from clac_core.query.intent import understand

        return understand(query)

    def _property_columns(self) -> tuple[dict[str, np.ndarray], list[frozenset[str]], np.ndarray]:
        """Property arrays (DFT and ``predicted_*``), element sets and crystal systems of the
        index, built once per loaded index (:func:`~clac_core.inference.search.property_columns`)."""
        return property_columns(self.index)

    def nearest_crystals(
        self, structure: Structure, k: int = 10, filters: SearchFilters | None = None
    ) -> pd.DataFrame:
        return self.index.search(self.embed_structures([structure])[0], k, filters)

    def predict_properties(self, structure: Structure) -> pd.DataFrame:
        """One row per aux-head quantity (quantity, value, unit, source, test MAE): computed from
        the structure where it fixes the value, the model's estimate otherwise (see
        :mod:`clac_core.inference.estimates`); an empty frame for a model without the head."""
        import pandas as pd

        from clac_core.embed import embed_and_predict_structures
        from clac_core.inference.estimates import property_rows, test_errors

        names = list(getattr(self.model.cfg, "aux_properties", []) or [])
        if not names:
            return pd.DataFrame(columns=["quantity", "value", "unit", "source", "test MAE"])
        pred = embed_and_predict_structures(self.model, [structure], progress=False)[1][0]
        checkpoint = getattr(self, "checkpoint", None)
        return property_rows(names, pred, structure, test_errors(checkpoint) if checkpoint else {})

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
        """The task's classes and (C, D) class embeddings, embedded once per Explorer."""
        if task.name not in self._prompt_cache:
            self._prompt_cache[task.name] = prompt_embeddings(task, self.embed_texts)
        return self._prompt_cache[task.name]

    def zero_shot(self, structure: Structure | np.ndarray) -> dict[str, pd.DataFrame]:
        """Prompt-based labels of a structure or of its (D,) embedding: task name ->
        DataFrame(label, score) sorted; scores are a softmax over the prompts, summing to 1."""
        x = structure if isinstance(structure, np.ndarray) else self.embed_structures([structure])[0]  # (D,)
        return zero_shot_frames(x, self._logit_scale(), self._task_embeddings)

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
            self._map = load_map(self.index, self.index_dir)
        return self._map

    def umap_coords(self) -> pd.DataFrame:
        """2D map of the corpus: one row per crystal and per description.

        Columns: x, y, modality ("crystal"/"text"), label (formula or text), crystal_system,
        source, row (index row for crystals, description row for texts), plus property columns.
        The map is read from the cache written at index build; without one, a PCA map is used
        (never a UMAP fit on page load).
        """
        return map_points(self.index, self._load_map())

    @property
    def map_key(self) -> str:
        """Changes with the checkpoint and the indexed corpus (keys cached maps)."""
        return umap_key(self.index)

    @property
    def search_engine(self) -> str:
        """How the index is searched, in words (exact, or approximate with its measured recall)."""
        return engine_summary(self.index)

    @property
    def map_method(self) -> str:
        return str(self._load_map()["method"])

    def project(self, emb: np.ndarray, k: int = 10) -> np.ndarray:
        """Place new (B, D) embeddings on the map: similarity-weighted mean of the k nearest
        corpus points' coordinates (UMAP models are not saved without pickle).

        Returns:
            (B, 2) float32.
        """
        return project_onto_map(self.index, self._load_map(), emb, k)

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
