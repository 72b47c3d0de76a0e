"""A frozen BERT text backbone in plain PyTorch + ``tokenizers``, for inference without
importing ``transformers``.

Why: on 2 CPU cores ``transformers``' BERT import costs ~4 s (it pulls in ``torch._dynamo`` and
``torch.distributed.tensor``), about two thirds of the app's model load, while the forward pass
of a frozen BERT is a few lines of PyTorch. :class:`~clac_core.models.text.HFTextEncoder` uses
this module when the backbone is frozen (``train_mode`` ``frozen`` / ``cached``) and the model
is a local folder this module can read exactly (:func:`plain_bert_supported`): a
``BertModel`` (``model_type: bert``, absolute positions, GELU) with ``tokenizer.json`` and
``model.safetensors``, such as the shipped MiniLM or a downloaded MatSciBERT folder. Anything
else (hub names, other architectures, a backbone that trains) goes through ``transformers``.
``CLAC_TEXT_BACKEND=transformers`` forces that path everywhere.

The modules carry Hugging Face's parameter names (``embeddings.word_embeddings``,
``encoder.layer.{i}.attention.self.query`` ...), so the folder's ``model.safetensors`` loads
as it is, and the output equals ``transformers.BertModel``'s up to float rounding (tested).

Shape legend: B texts, L tokens, H hidden size, A attention heads, V vocabulary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

BACKEND_ENV = "CLAC_TEXT_BACKEND"


def _read_config(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None


def plain_bert_supported(resolved: str) -> bool:
    """True when ``resolved`` is a local BERT folder this module reproduces exactly and
    ``CLAC_TEXT_BACKEND`` does not ask for ``transformers``."""
    if os.environ.get(BACKEND_ENV, "").strip().lower() in ("transformers", "hf"):
        return False
    folder = Path(resolved)
    if not folder.is_dir():
        return False
    cfg = _read_config(folder)
    if cfg is None or cfg.get("model_type") != "bert":
        return False
    if cfg.get("position_embedding_type", "absolute") != "absolute" or cfg.get("hidden_act", "gelu") != "gelu":
        return False
    if cfg.get("is_decoder") or cfg.get("add_cross_attention"):
        return False
    return (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file()


class PlainTokenizer:
    """The folder's ``tokenizer.json`` through ``tokenizers``, called like a Hugging Face fast
    tokenizer for single sequences: ``tok(texts, max_length=, padding=True, truncation=True,
    return_tensors="pt")`` -> ``input_ids`` / ``token_type_ids`` / ``attention_mask`` (B, L),
    and ``batch_decode(ids, skip_special_tokens=True)``.

    Truncation keeps the first ``max_length - 1`` tokens and the closing ``[SEP]``, as BERT's
    template ``[CLS] $A [SEP]`` truncated longest-first does; nothing here mutates the shared
    tokenizer per call, so threads may encode at once.
    """

    def __init__(self, folder: str | Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        special = {}
        for name in ("[CLS]", "[SEP]", "[PAD]"):
            tid = self._tok.token_to_id(name)
            if tid is None:
                raise ValueError(f"tokenizer.json of {folder} has no {name} token")
            special[name] = tid
        self.cls_id, self.sep_id, self.pad_id = special["[CLS]"], special["[SEP]"], special["[PAD]"]
        probe = self._tok.encode("a").ids
        if probe[0] != self.cls_id or probe[-1] != self.sep_id:
            raise ValueError(f"tokenizer.json of {folder} does not wrap a text in [CLS] ... [SEP]")

    def __call__(
        self,
        texts: Sequence[str] | str,
        max_length: int = 512,
        padding: bool = True,
        truncation: bool = True,
        return_tensors: str = "pt",
    ) -> dict[str, torch.Tensor]:
        if return_tensors != "pt" or not padding:
            raise ValueError("PlainTokenizer returns padded PyTorch tensors only")
        texts = [texts] if isinstance(texts, str) else list(texts)
        rows = [enc.ids for enc in self._tok.encode_batch(texts)]
        if truncation:
            rows = [r if len(r) <= max_length else r[: max_length - 1] + [self.sep_id] for r in rows]
        width = max((len(r) for r in rows), default=0)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)  # (B, L)
        mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, L)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": mask}

    def batch_decode(self, ids: torch.Tensor | Sequence[Sequence[int]], skip_special_tokens: bool = True) -> list[str]:
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else [list(r) for r in ids]
        return self._tok.decode_batch(rows, skip_special_tokens=skip_special_tokens)


class _Embeddings(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))

    def forward(self, ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        """ids, token types (B, L) -> (B, L, H)."""
        pos = self.position_embeddings.weight[: ids.shape[1]]  # (L, H)
        x = self.word_embeddings(ids) + self.token_type_embeddings(token_type_ids) + pos
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, h: int) -> None:
        super().__init__()
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)


class _DenseNorm(nn.Module):
    def __init__(self, d_in: int, h: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, h: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(h)
        self.output = _DenseNorm(h, h, eps)


class _Dense(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class _Layer(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        h, eps = c["hidden_size"], c.get("layer_norm_eps", 1e-12)
        self.heads = c["num_attention_heads"]
        self.attention = _Attention(h, eps)
        self.intermediate = _Dense(h, c["intermediate_size"])
        self.output = _DenseNorm(c["intermediate_size"], h, eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x (B, L, H), keep (B, 1, 1, L) bool -> (B, L, H)."""
        b, n, h = x.shape
        sa = self.attention.self

        def heads(t: torch.Tensor) -> torch.Tensor:  # (B, L, H) -> (B, A, L, H / A)
            return t.view(b, n, self.heads, h // self.heads).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(heads(sa.query(x)), heads(sa.key(x)), heads(sa.value(x)), attn_mask=keep)
        ctx = ctx.transpose(1, 2).reshape(b, n, h)  # (B, L, H)
        x = self.attention.output(ctx, x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class _Encoder(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.ModuleList([_Layer(c) for _ in range(c["num_hidden_layers"])])


class PlainBertModel(nn.Module):
    """``transformers.BertModel`` (without its pooler) for inference: ``forward(input_ids,
    attention_mask, token_type_ids=None)`` -> an object with ``last_hidden_state`` (B, L, H).
    ``config.hidden_size`` and ``get_input_embeddings()`` as in Hugging Face."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = SimpleNamespace(**config)
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    @classmethod
    def from_folder(cls, folder: str | Path) -> PlainBertModel:
        """Build from ``config.json`` and load ``model.safetensors`` (every encoder weight must be
        present; a pooler or ``bert.`` prefix in the file is handled)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg = _read_config(folder)
        if cfg is None:
            raise FileNotFoundError(f"no readable config.json in {folder}")
        model = cls(cfg)
        stored = load_file(str(folder / "model.safetensors"))
        if any(k.startswith("bert.") for k in stored):
            stored = {k[len("bert."):]: v for k, v in stored.items() if k.startswith("bert.")}
        stored = {k: v for k, v in stored.items() if not k.startswith("pooler.")}
        stored.pop("embeddings.position_ids", None)
        missing, unexpected = model.load_state_dict(stored, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"model.safetensors of {folder} does not match a BertModel: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        return model.eval().requires_grad_(False)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> SimpleNamespace:
        """ids, mask (B, L) -> ``last_hidden_state`` (B, L, H)."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)  # (B, L, H)
        keep = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, L)
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return SimpleNamespace(last_hidden_state=x)

