"""The text tower's trainable token branch (``text.branch_width``): zero start, what it can learn
that the frozen features cannot, checkpoints and warm starts."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from clac_core.config import ModelConfig
from clac_core.models import CLaCModel, read_checkpoint, save_checkpoint
from clac_core.models.checkpoint import CheckpointError

TEXTS = ["It is a metal.", "It is not a metal.", "a layered van der Waals telluride"]


def branch_cfg(width: int = 32) -> ModelConfig:
    cfg = ModelConfig()
    cfg.text.branch_width, cfg.text.branch_layers, cfg.text.branch_heads = width, 1, 4
    return cfg


def features(n: int, model: CLaCModel) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(n, model.text_hidden_size)  # (n, F) stand-in cached features


def test_new_branch_adds_nothing_and_needs_the_texts() -> None:
    torch.manual_seed(0)
    plain = CLaCModel(ModelConfig(), load_text_backbone=False).eval()
    with_branch = CLaCModel(branch_cfg(), load_text_backbone=False).eval()
    missing, unexpected = with_branch.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("token_branch.") for k in missing)
    f = features(len(TEXTS), plain)
    with torch.no_grad():
        a = plain.encode_text_features(f)
        b = with_branch.encode_text_features(f, texts=TEXTS)
    assert torch.allclose(a, b, atol=1e-6)  # zero-initialized output: a warm start begins where it was
    with pytest.raises(ValueError, match="token branch"):
        with_branch.encode_text_features(f)
    with pytest.raises(ValueError, match="token branch"):
        with_branch.encode_text_features(f, texts=TEXTS[:2])


def test_branch_width_must_split_into_heads() -> None:
    cfg = branch_cfg(30)
    with pytest.raises(ValueError, match="divisible"):
        CLaCModel(cfg, load_text_backbone=False)


def test_branch_learns_a_negation_the_frozen_features_cannot_tell() -> None:
    """Two texts with *identical* frozen features ("a metal" / "not a metal"): only the branch
    can pull them to different targets."""
    torch.manual_seed(0)
    model = CLaCModel(branch_cfg(), load_text_backbone=False).train()
    texts = TEXTS[:2]
    f = features(1, model).repeat(2, 1)  # (2, F): the same features for both texts
    target = torch.nn.functional.normalize(torch.randn(2, model.cfg.embed_dim), dim=-1)  # (2, D)
    opt = torch.optim.Adam(model.token_branch.parameters(), lr=3e-3)
    model.token_branch.cfg.branch_token_dropout = 0.0
    for _ in range(80):
        emb = model.encode_text_features(f, texts=texts)
        loss = -(emb * target).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        sim = model.encode_text_features(f, texts=texts) @ target.T  # (2, 2)
    assert sim[0, 0] > sim[0, 1] + 0.2 and sim[1, 1] > sim[1, 0] + 0.2
    # the frozen side alone cannot separate them
    with torch.no_grad():
        alone = model.text_proj(f)
    assert torch.allclose(alone[0], alone[1])


def test_checkpoint_stores_the_branch_but_not_the_base_word_table(tmp_path) -> None:
    torch.manual_seed(0)
    model = CLaCModel(branch_cfg(), load_text_backbone=False).eval()
    with torch.no_grad():
        model.token_branch.out.weight.normal_(std=0.1)  # as if trained
    path = save_checkpoint(model, tmp_path / "ckpt", step=3)
    stored = load_file(str(path / "model.safetensors"))
    assert any(k.startswith("token_branch.blocks.") for k in stored)
    assert not any("word_embeddings" in k for k in stored)  # part of the base model, like the backbone
    loaded = CLaCModel.from_checkpoint(path, load_text_backbone=False)
    f = features(len(TEXTS), model)
    with torch.no_grad():
        a = model.encode_text_features(f, texts=TEXTS)
        b = loaded.encode_text_features(f, texts=TEXTS)
        plain = model.text_proj(f)
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, torch.nn.functional.normalize(plain, dim=-1), atol=1e-3)  # the branch counts


def test_encode_text_runs_the_branch_on_raw_texts() -> None:
    torch.manual_seed(0)
    model = CLaCModel(branch_cfg()).eval()
    with torch.no_grad():
        model.token_branch.out.weight.normal_(std=0.1)
        by_text = model.encode_text(TEXTS)
        by_tokens = model.encode_text(model.text.tokenize(TEXTS))
        by_features = model.encode_text_features(model.text_features(TEXTS), texts=TEXTS)
    assert torch.allclose(by_text, by_features, atol=1e-5)
    assert torch.allclose(by_text, by_tokens, atol=1e-5)


def test_warm_start_adds_a_branch_only_when_asked(tmp_path) -> None:
    torch.manual_seed(0)
    plain = CLaCModel(ModelConfig(), load_text_backbone=False).eval()
    path = save_checkpoint(plain, tmp_path / "plain", step=1)
    ckpt = read_checkpoint(path, with_text=False)
    model = CLaCModel(branch_cfg(), load_text_backbone=False).eval()
    with pytest.raises(CheckpointError, match="token_branch"):
        model.load_stored(ckpt)  # from_checkpoint's strictness: a missing module is an error
    model.load_stored(ckpt, allow_missing=("token_branch.",))
    f = features(len(TEXTS), plain)
    with torch.no_grad():
        assert torch.allclose(
            model.encode_text_features(f, texts=TEXTS), plain.encode_text_features(f), atol=1e-6
        )
