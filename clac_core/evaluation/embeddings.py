"""Embeddings of an :class:`~clac_core.evaluation.dataset.EvalSet` for every scored system.

The model, a random-init twin (same architecture and text backbone, crystal encoder and heads
at random weights) and the pretrained text encoder alone. Shape legend: N crystals, T texts,
Q queries, D embedding dims, H text backbone width.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.evaluation.dataset import EvalSet
from clac_core.evaluation.metrics import l2_normalize


@dataclass
class Embeddings:
    """Everything scored: model and random-init embeddings, pretrained text features.

    Attributes:
        crystal: (N, D) model crystal embeddings; ``crystal_random`` the random-init ones.
        text: (T, D) model text embeddings; ``text_random`` random-init ones.
        text_base: (T, H) normalized pretrained text-encoder features.
        embed_text: model texts -> (Q, D); ``embed_text_random``, ``embed_text_base`` likewise.
    """

    crystal: np.ndarray
    crystal_random: np.ndarray
    text: np.ndarray
    text_random: np.ndarray
    text_base: np.ndarray
    embed_text: Callable[[Sequence[str]], np.ndarray]
    embed_text_random: Callable[[Sequence[str]], np.ndarray]
    embed_text_base: Callable[[Sequence[str]], np.ndarray]
    seconds: float = 0.0


def build_graphs(
    structures: Sequence[Any], model_cfg: Any, progress: bool = True, *, cache_root: Path | None = None
) -> list[Any]:
    """Graphs of ``structures`` for a model (:class:`~clac_core.config.ModelConfig`), with the
    frozen pretrained features its crystal encoder reads: from the cache under ``cache_root``
    (a data dir's ``cache/``, filled where missing) or computed now."""
    from tqdm.auto import tqdm

    from clac_core.graph.pretrained import feature_kind, structures_to_graphs

    kind = feature_kind(model_cfg.crystal)
    feats = None
    if kind is not None and cache_root is not None:
        from clac_core.data.crystal_features import cached_pretrained_features

        feats = cached_pretrained_features(cache_root, structures, kind, progress=progress)
    structures = list(tqdm(structures, desc="graphs", disable=not progress))
    return structures_to_graphs(structures, model_cfg, features=feats)


class _TextFeatures:
    """Pooled text-backbone features, computed once per (encoder, text): prompts are reused.

    A ``clac data build`` dir keeps pooled features of the frozen backbone (see
    :func:`clac_core.data.text_feature_cache`): the model's own backbone reuses them there, and
    caches what is missing for re-runs.
    """

    def __init__(self, model: Any, data_name: str, *, batch_size: int, progress: bool) -> None:
        self.model_text = model.text
        self.text_cfg = model.cfg.text
        self.data_dir = Path(data_name)
        frozen = model.cfg.text.train_mode in ("frozen", "cached")
        self.shared_cache = (self.data_dir / "pairs.parquet").is_file() and frozen
        self.batch_size = batch_size
        self.progress = progress
        self.cache: dict[tuple[int, str], Any] = {}  # (encoder id, text) -> (H,) tensor

    def __call__(self, encoder: Any, texts: Sequence[str]) -> Any:
        """(T, H) features of ``texts`` under ``encoder`` (a torch tensor)."""
        import torch

        texts = list(texts)
        if self.shared_cache and encoder is self.model_text and texts:
            from clac_core.data import text_feature_cache

            f = text_feature_cache(
                self.data_dir, texts, self.text_cfg, batch_size=self.batch_size, progress=self.progress
            )
            return torch.from_numpy(f)
        todo = list(dict.fromkeys(t for t in texts if (id(encoder), t) not in self.cache))
        if todo:
            f = encoder.embed(
                todo, batch_size=self.batch_size, progress=self.progress and len(todo) > self.batch_size
            )
            self.cache.update({(id(encoder), t): row for t, row in zip(todo, f, strict=True)})
        if not texts:
            return torch.zeros(0, encoder.hidden_size)
        return torch.stack([self.cache[(id(encoder), t)] for t in texts])


def compute_embeddings(
    model: Any, es: EvalSet, graphs: Sequence[Any], *, seed: int, batch_size: int, progress: bool
) -> tuple[Embeddings, Any]:
    """Embed every crystal and text with the model, a random-init twin and the base text encoder.

    Returns:
        (embeddings, random_model).
    """
    import torch

    from clac_core.embed import embed_graphs
    from clac_core.models import CLaCModel, HFTextEncoder

    t0 = time.time()
    device = next(model.parameters()).device
    model.attach_text_backbone()
    model_text = model.text
    base_text = (
        model_text
        if model.cfg.text.train_mode in ("frozen", "cached")
        else HFTextEncoder(model.cfg.text).to(device)
    )
    torch.manual_seed(seed)
    random_model = CLaCModel(model.cfg, load_text_backbone=False).to(device).eval()
    feats = _TextFeatures(model, es.name, batch_size=batch_size, progress=progress)

    def proj(m: Any, f: Any, texts: Sequence[str]) -> np.ndarray:
        """(T, F) features of T texts -> (T, D) embeddings, in batches (a token branch reads the texts)."""
        texts = list(texts)
        out = [np.zeros((0, m.cfg.embed_dim), dtype=np.float32)]
        with torch.no_grad():
            for i in range(0, len(texts), 1024):
                e = m.encode_text_features(f[i : i + 1024].to(device), texts=texts[i : i + 1024])
                out.append(e.float().cpu().numpy())
        return np.concatenate(out)

    h = int(base_text.hidden_size)  # H: backbone width (features may carry quantities after it)
    f_model = feats(model_text, es.texts)
    f_base = f_model if base_text is model_text else feats(base_text, es.texts)
    emb = Embeddings(
        crystal=embed_graphs(model, graphs, batch_size, progress, desc="crystals (model)"),
        crystal_random=embed_graphs(
            random_model, graphs, batch_size, progress, desc="crystals (random init)"
        ),
        text=proj(model, f_model, es.texts),
        text_random=proj(random_model, f_base, es.texts),
        # the pretrained encoder alone: pooled backbone features, without the model's own
        # number-aware quantity features (model.text.quantities), which are part of CLaC, not the baseline
        text_base=l2_normalize(f_base.numpy()[:, :h]),
        embed_text=lambda t: proj(model, feats(model_text, t), t),
        embed_text_random=lambda t: proj(random_model, feats(base_text, t), t),
        embed_text_base=lambda t: l2_normalize(feats(base_text, t).numpy()[:, :h]),
    )
    emb.seconds = time.time() - t0
    return emb, random_model
