"""The joint CLaC model: crystal encoder + text encoder + projection heads (CLIP-shaped API).

Shape legend: B crystals or texts, H text backbone width, C crystal encoder width,
D shared embedding width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from clac_core.config import ModelConfig
from clac_core.models.checkpoint import (
    StoredCheckpoint,
    check_state_fits,
    read_checkpoint,
    warn_if_other_text_base,
)
from clac_core.models.crystal import build_crystal_encoder


def projection_head(in_dim: int, out_dim: int, hidden: int) -> nn.Module:
    """Linear (hidden == 0) or Linear-GELU-Linear projection to the shared space."""
    if hidden <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


def aux_mlp(in_dim: int, out_dim: int, hidden: int, layers: int = 2) -> nn.Module:
    """The aux property head: ``layers`` Linear layers with GELU between them, (B, in) -> (B, out).
    Two layers is :func:`projection_head` itself (same parameter names as older checkpoints)."""
    if layers < 2:
        raise ValueError(f"model.aux_layers must be at least 2, got {layers}")
    mods: list[nn.Module] = [nn.Linear(in_dim, hidden)]
    for _ in range(layers - 2):
        mods += [nn.GELU(), nn.Linear(hidden, hidden)]
    return nn.Sequential(*mods, nn.GELU(), nn.Linear(hidden, out_dim))


class AuxEnsemble(nn.Module):
    """``members`` aux heads of one shape, (B, in) -> (B, out) as the mean of their outputs;
    :meth:`member_outputs` gives each one's, (M, B, out), for a fit that trains them apart."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def member_outputs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.member_outputs(x).mean(dim=0)


def build_aux_head(cfg: ModelConfig) -> nn.Module | None:
    """The aux head of ``cfg`` (``None`` without aux properties): one :func:`aux_mlp`, or an
    :class:`AuxEnsemble` of ``cfg.aux_members`` of them."""
    k = len(cfg.aux_properties)
    if not k:
        return None
    if cfg.aux_members < 1:
        raise ValueError(f"model.aux_members must be at least 1, got {cfg.aux_members}")
    heads = [aux_mlp(aux_input_width(cfg), k, cfg.aux_hidden or cfg.crystal.out_dim, cfg.aux_layers) for _ in range(cfg.aux_members)]
    return heads[0] if len(heads) == 1 else AuxEnsemble(heads)


def aux_input_width(cfg: ModelConfig) -> int:
    """Width of the aux head's input: the tower's ``crystal.out_dim`` plus each extra input
    (:func:`clac_core.models.extras.extra_width`; raises ``ValueError`` on a bad name)."""
    from clac_core.models.extras import extra_width

    return cfg.crystal.out_dim + extra_width(cfg, cfg.aux_inputs, "model.aux_inputs")


class CLaCModel(nn.Module):
    """Contrastive Language-Crystal model (Park et al. 2025), open_clip-style API.

    Submodules (their names are the checkpoint key prefixes): ``crystal`` (graph encoder),
    ``text`` (:class:`~clac_core.models.text.HFTextEncoder`, or ``None`` when built with
    ``load_text_backbone=False``), ``crystal_proj``, ``crystal_branch``
    (:class:`~clac_core.models.extras.CrystalBranch`, only with ``cfg.crystal_branch``), ``text_proj``, ``token_branch``
    (:class:`~clac_core.models.token_branch.TokenBranch`, only with ``cfg.text.branch_width``
    > 0: it reads the texts themselves, so every text entry point takes them) and the scalar parameter
    ``logit_scale`` (log of the softmax temperature's inverse; started at
    ``cfg.init_logit_scale``, clamped to ``cfg.max_logit_scale`` when used).

    Args:
        cfg: model configuration.
        load_text_backbone: load the Hugging Face text backbone now. With ``False`` only
            the hidden size is read from the model's config (cheap); ``encode_crystal`` and
            ``encode_text_features`` work, ``encode_text`` needs :meth:`attach_text_backbone`.
        checkpoint_meta: the ``config.json`` of the checkpoint the model is loaded from (step,
            extra, ...); empty for a new model (see :meth:`from_checkpoint`).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        *,
        load_text_backbone: bool = True,
        checkpoint_meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.checkpoint_meta: dict[str, Any] = dict(checkpoint_meta or {})
        self.crystal = build_crystal_encoder(cfg.crystal, cfg.graph)
        self.text: nn.Module | None = None
        if load_text_backbone:
            self.attach_text_backbone()
            text_dim = self.text.feature_size
        else:
            from clac_core.models.text import text_feature_size, text_hidden_size

            text_dim = text_feature_size(cfg.text, text_hidden_size(cfg.text.name))
        self.text_hidden_size = int(text_dim)  # F: pooled width (+ quantity features)
        self.crystal_proj = projection_head(cfg.crystal.out_dim, cfg.embed_dim, cfg.proj_hidden)
        # the learned residual over fixed crystal inputs (cfg.crystal_branch), zero at the start
        self.crystal_branch: nn.Module | None = None
        if cfg.crystal_branch:
            from clac_core.models.extras import CrystalBranch, extra_width

            width = extra_width(cfg, cfg.crystal_branch, "model.crystal_branch")
            self.crystal_branch = CrystalBranch(width, cfg.branch_hidden or cfg.proj_hidden or cfg.embed_dim, cfg.embed_dim)
        self.text_proj = projection_head(self.text_hidden_size, cfg.embed_dim, cfg.proj_hidden)
        # the learned token branch beside the frozen text features (cfg.text.branch_width > 0)
        self.token_branch: nn.Module | None = None
        if cfg.text.branch_width > 0:
            from clac_core.models.token_branch import TokenBranch

            vocab = None  # reuse the loaded backbone's tokenizer and word table when there is one
            if self.text is not None:
                vocab = (self.text.tokenizer, self.text.backbone.get_input_embeddings().weight)
            self.token_branch = TokenBranch(cfg.text, cfg.embed_dim, vocab)
        self.logit_scale = nn.Parameter(torch.tensor(float(cfg.init_logit_scale)))
        # multi-task head: standardized properties from the pooled crystal features (K outputs)
        k = len(cfg.aux_properties)
        self.aux_head: nn.Module | None = build_aux_head(cfg)
        extras = set(cfg.crystal_branch) | (set(cfg.aux_inputs) if k else set())
        if "composition" in extras:
            from clac_core.graph import element_features

            # non-persistent: the packaged element table, as the tower's ElementEmbedding reads it
            self.register_buffer("aux_elements", element_features(), persistent=False)  # (119, F)
        if k:  # standardization of the targets (set by the trainer); absent without a head
            self.register_buffer("aux_mean", torch.zeros(k))
            self.register_buffer("aux_std", torch.ones(k))
        if "sites" in extras:  # standardization of the site features (set by the trainer)
            from clac_core.graph.pretrained import SITE_DIM

            self.register_buffer("aux_sites_mean", torch.zeros(SITE_DIM))
            self.register_buffer("aux_sites_std", torch.ones(SITE_DIM))

    # -- text backbone -------------------------------------------------------------------------
    def attach_text_backbone(self) -> None:
        """Load the text backbone (no-op if present); moved to this model's device."""
        if self.text is not None:
            return
        from clac_core.models.text import HFTextEncoder

        device = self.logit_scale.device if hasattr(self, "logit_scale") else torch.device("cpu")
        self.text = HFTextEncoder(self.cfg.text).to(device)
        self.text.train(self.training)

    def _require_text(self) -> nn.Module:
        if self.text is None:
            raise RuntimeError(
                "this CLaCModel was built without its text backbone; call model.attach_text_backbone() "
                "or use encode_text_features() with precomputed pooled features"
            )
        return self.text

    # -- encoders ---------------------------------------------------------------------------
    def logit_scale_value(self) -> torch.Tensor:
        """``exp(clamp(logit_scale, max=cfg.max_logit_scale))``: the multiplier of cosine logits."""
        return self.logit_scale.clamp(max=self.cfg.max_logit_scale).exp()

    def encode_crystal(self, batch: Any, normalize: bool = True) -> torch.Tensor:
        """Batch of B crystal graphs (:func:`clac_core.graph.collate`) -> (B, D)."""
        emb = self.crystal_embedding(self.crystal(batch), batch)  # (B, D)
        return F.normalize(emb, dim=-1) if normalize else emb

    def crystal_embedding(self, h: torch.Tensor, batch: Any, aux: torch.Tensor | None = None) -> torch.Tensor:
        """Tower features ``h`` (B, C) -> unnormalized embedding (B, D): the projection, plus the
        crystal branch over the batch's ``cfg.crystal_branch`` inputs when there is one. ``aux``:
        the standardized aux predictions (B, K) if already computed (the branch may read them)."""
        emb = self.crystal_proj(h)
        if self.crystal_branch is not None:
            from clac_core.models.extras import extra_features

            names = self.cfg.crystal_branch
            if "predicted" in names and aux is None:
                aux = self.aux_head(self.aux_input(h, batch))
            x = torch.cat(extra_features(self, names, batch, h.dtype, predicted=aux), dim=-1)
            emb = emb + self.crystal_branch(x).to(emb.dtype)
        return emb

    def encode_crystal_aux(self, batch: Any, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Crystal embeddings (B, D) and standardized aux-property predictions (B, K)."""
        if self.aux_head is None:
            raise RuntimeError("this model has no aux_properties (ModelConfig.aux_properties is empty)")
        h = self.crystal(batch)  # (B, C)
        aux = self.aux_head(self.aux_input(h, batch))  # (B, K)
        emb = self.crystal_embedding(h, batch, aux)
        return (F.normalize(emb, dim=-1) if normalize else emb), aux

    def aux_input(self, h: torch.Tensor, batch: Any) -> torch.Tensor:
        """The aux head's input: tower features ``h`` (B, C) and the ``cfg.aux_inputs`` of the
        batch's crystals (:func:`clac_core.models.extras.extra_features`) -> (B, C + extras)."""
        if not self.cfg.aux_inputs:
            return h
        from clac_core.models.extras import extra_features

        return torch.cat([h, *extra_features(self, self.cfg.aux_inputs, batch, h.dtype)], dim=-1)

    @torch.no_grad()
    def predict_properties(self, batch: Any) -> torch.Tensor:
        """Aux-head predictions in physical units, (B, K) in ``cfg.aux_properties`` order."""
        _, z = self.encode_crystal_aux(batch)
        return z * self.aux_std + self.aux_mean

    def text_features(self, texts_or_tokens: Sequence[str] | dict[str, torch.Tensor]) -> torch.Tensor:
        """Text features (B, F) of a list of texts or a tokenizer output dict (pooled backbone
        output, plus the number-aware quantity features when ``cfg.text.quantities``)."""
        text = self._require_text()
        if not isinstance(texts_or_tokens, dict):
            return text.features(list(texts_or_tokens) if not isinstance(texts_or_tokens, str) else [texts_or_tokens])
        pooled = text(texts_or_tokens)
        if not self.cfg.text.quantities:
            return pooled
        from clac_core.models.text import append_quantities

        texts = text.tokenizer.batch_decode(texts_or_tokens["input_ids"], skip_special_tokens=True)
        return append_quantities(pooled, texts, self.cfg.text)

    def encode_text(
        self, texts_or_tokens: Sequence[str] | dict[str, torch.Tensor], normalize: bool = True
    ) -> torch.Tensor:
        """List of B texts or tokenizer output (B, L) -> (B, D)."""
        texts: list[str] | None = None
        if self.token_branch is not None:
            if isinstance(texts_or_tokens, dict):
                texts = self._require_text().tokenizer.batch_decode(
                    texts_or_tokens["input_ids"], skip_special_tokens=True
                )
            else:
                texts = [texts_or_tokens] if isinstance(texts_or_tokens, str) else list(texts_or_tokens)
        return self.encode_text_features(self.text_features(texts_or_tokens), normalize=normalize, texts=texts)

    def encode_text_features(
        self, features: torch.Tensor, normalize: bool = True, *, texts: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Cached text features (B, F) (see :meth:`text_features`) of B ``texts`` -> (B, D).

        Raises:
            ValueError: the model has a token branch and ``texts`` is missing or of another length.
        """
        emb = self.text_proj(features.to(self.logit_scale.dtype))  # (B, D)
        if self.token_branch is not None:
            if texts is None or len(texts) != features.shape[0]:
                raise ValueError(
                    "this model's text tower has a token branch (text.branch_width > 0): pass the "
                    f"{features.shape[0]} texts with their features (texts=...)"
                )
            emb = emb + self.token_branch(list(texts)).to(emb.dtype)  # (B, D)
        return F.normalize(emb, dim=-1) if normalize else emb

    def forward(
        self,
        batch: Any,
        text_inputs: Sequence[str] | dict[str, torch.Tensor] | torch.Tensor,
        texts: Sequence[str] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Embed a batch of crystals and their texts.

        Args:
            batch: B crystal graphs.
            text_inputs: list of B texts, a tokenizer dict, or a (B, H) tensor of cached
                pooled text features.
            texts: the B texts of cached features (needed with a token branch).

        Returns:
            {"crystal_emb": (B, D), "text_emb": (B, D) (both L2-normalized),
            "logit_scale": scalar, already exponentiated and clamped (pass to ClacLoss)}.
        """
        crystal_emb = self.encode_crystal(batch)
        if isinstance(text_inputs, torch.Tensor):
            text_emb = self.encode_text_features(text_inputs, texts=texts)
        else:
            text_emb = self.encode_text(text_inputs)
        return {"crystal_emb": crystal_emb, "text_emb": text_emb, "logit_scale": self.logit_scale_value()}

    # -- checkpoints -------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "cpu", *, load_text_backbone: bool = True
    ) -> CLaCModel:
        """Rebuild the model of a checkpoint directory written by
        :func:`~clac_core.models.checkpoint.save_checkpoint` (eval mode).

        Never unpickles: :func:`~clac_core.models.checkpoint.read_checkpoint` reads and checks
        JSON and safetensors; the model is built from the stored config and the stored
        tensors are laid over it.

        Args:
            path: checkpoint directory.
            device: where to put the model.
            load_text_backbone: also load the (base) text backbone; ``False`` gives a
                crystal-only model (stored text backbone layers are then ignored).

        Raises:
            FileNotFoundError: not a checkpoint directory.
            CheckpointError: (a ``ValueError``) damaged or out-of-range config, damaged or
                non-finite weights, stored tensors that do not fit the model, or a missing key
                outside the base text model.
        """
        ckpt = read_checkpoint(path, with_text=load_text_backbone)
        model = cls(ckpt.cfg, load_text_backbone=load_text_backbone, checkpoint_meta=ckpt.meta)
        model.load_stored(ckpt)
        return model.to(device).eval()

    def load_stored(self, ckpt: StoredCheckpoint, *, allow_missing: tuple[str, ...] = ()) -> None:
        """Lay the tensors of a read checkpoint over this model (:meth:`from_checkpoint`, and
        ``train.init_from`` over a model built from another config). Text backbone layers the
        checkpoint does not store keep the base model's weights.

        ``allow_missing``: key prefixes the checkpoint may lack (modules new in a warm start,
        e.g. ``("token_branch.",)``); they keep their initialization.

        Raises:
            CheckpointError: a stored tensor the model does not know or of another shape, or a
                missing key outside the base text model (and ``allow_missing``).
        """
        check_state_fits(ckpt, self.state_dict(), allow_missing=allow_missing)
        warn_if_other_text_base(ckpt, self)
        self.load_state_dict(ckpt.state, strict=False)
