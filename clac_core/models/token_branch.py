"""The trainable part of the text tower on CPU: a small transformer over frozen word embeddings.

Fine-tuning the BERT-type backbone costs about 15 s per 256-text step on 2 CPU cores (see
``docs/MODEL_NOTES.md``), so the shipped text tower keeps the backbone frozen and its pooled
features cached. That tower cannot learn what the frozen features blur: "a metal" and "not a
metal" get nearly the same pooled vector. The token branch is the learned part beside it:

    texts -> base tokenizer -> ids (B, L) -> frozen base word embeddings (B, L, H)
          -> Linear(H, W) + learned positions -> ``branch_layers`` pre-norm transformer blocks
          -> LayerNorm -> masked mean over tokens (B, W) -> Linear(W, D) (zero-initialized)

Its output is *added* to the projected embedding of the frozen features (before the L2
normalization), so a freshly added branch changes nothing and a warm start from a model
without it begins exactly where that model was. It reads the base model's own vocabulary and
input embeddings (not stored in checkpoints: they are part of the base model, like the frozen
backbone), so words the training texts never used still arrive as pretrained vectors.

Shape legend: B texts, L tokens (<= ``branch_max_length``), H base embedding width,
W branch width, D shared embedding width.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from clac_core.config import TextEncoderConfig


@functools.lru_cache(maxsize=4)
def base_vocabulary(name: str) -> tuple[Any, torch.Tensor]:
    """(tokenizer, frozen (V, H) input word embeddings) of the base text model ``name``.

    Loaded once per process and name (the same tensor serves every model built from it).
    """
    from clac_core.models.text import load_backbone

    tokenizer, backbone = load_backbone(name, frozen=True)
    table = backbone.get_input_embeddings().weight.detach().float().clone()
    del backbone
    table.requires_grad_(False)
    return tokenizer, table


class TokenBranch(nn.Module):
    """Learned token-level text features, added to the frozen tower's projection (see module doc).

    Args:
        cfg: text config (``branch_width`` W > 0, ``branch_layers``, ``branch_heads``,
            ``branch_max_length``, ``branch_token_dropout``).
        out_dim: D, the shared embedding width.
        vocabulary: (tokenizer, (V, H) word embeddings) of an already loaded base model, or
            None to load them (:func:`base_vocabulary`).

    Raises:
        ValueError: ``branch_width`` not positive or not divisible by ``branch_heads``.
    """

    def __init__(
        self, cfg: TextEncoderConfig, out_dim: int, vocabulary: tuple[Any, torch.Tensor] | None = None
    ) -> None:
        super().__init__()
        width, heads = int(cfg.branch_width), int(cfg.branch_heads)
        if width <= 0 or width % heads:
            raise ValueError(
                f"text.branch_width={width} must be positive and divisible by text.branch_heads={heads}"
            )
        self.cfg = cfg
        tokenizer, table = vocabulary if vocabulary is not None else base_vocabulary(cfg.name)
        table = table.detach()
        self.tokenizer = tokenizer
        self.register_buffer("word_embeddings", table, persistent=False)  # (V, H), frozen
        self.inp = nn.Linear(table.shape[1], width)
        self.pos = nn.Embedding(int(cfg.branch_max_length), width)
        nn.init.normal_(self.pos.weight, std=0.02)
        block = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=0.1, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, int(cfg.branch_layers), enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)
        nn.init.zeros_(self.out.weight)  # a new branch adds nothing until it has learned something
        nn.init.zeros_(self.out.bias)

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """B texts -> (ids (B, L) long, mask (B, L) bool, True = real token), on this module's device."""
        enc = self.tokenizer(
            list(texts),
            max_length=int(self.cfg.branch_max_length),
            padding=True,
            truncation=True,
            return_tensors="pt",
        )
        device = self.word_embeddings.device
        return enc["input_ids"].to(device), enc["attention_mask"].to(device).bool()

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """B texts -> (B, D) additive text embedding (not normalized)."""
        if isinstance(texts, str):
            texts = [texts]
        ids, mask = self.tokenize(texts)  # (B, L)
        if self.training and self.cfg.branch_token_dropout > 0:
            drop = torch.rand(mask.shape, device=mask.device) < float(self.cfg.branch_token_dropout)
            drop[:, 0] = False  # [CLS] always stays, so no text is emptied
            mask = mask & ~drop
        x = self.word_embeddings[ids]  # (B, L, H), frozen
        x = self.inp(x.to(self.inp.weight.dtype)) + self.pos.weight[: ids.shape[1]]  # (B, L, W)
        x = self.blocks(x, src_key_padding_mask=~mask)  # (B, L, W)
        x = self.norm(x)
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, W)
        return self.out(pooled)  # (B, D)
