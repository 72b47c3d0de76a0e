"""The frozen BERT backbone in plain PyTorch (clac_core.models.plain_bert) against
transformers on the shipped MiniLM: same tokens, same hidden states, same text features."""

from __future__ import annotations

import json

import pytest
import torch

from clac_core.config import TextEncoderConfig
from clac_core.models.plain_bert import PlainBertModel, PlainTokenizer, plain_bert_supported
from clac_core.models.text import HFTextEncoder, resolve_text_model

TEXTS = [
    "band gap around 1.5 eV",
    "Eg ≈ 1.5 eV, ρ close to 5 g cm-3; isn't it a 2D van der Waals material?",
    "",
    "SrTiO3 crystallizes in the cubic Pm-3m space group. " * 30,  # longer than 128 tokens
    "Ünïcödé accents, tabs\tand  double  spaces, CJK 氧化物",
]


@pytest.fixture(scope="module")
def minilm() -> str:
    return resolve_text_model("minilm")


@pytest.fixture(scope="module")
def hf(minilm):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm).eval()


@pytest.mark.parametrize("max_length", [128, 16])
def test_tokens_match_transformers(minilm, hf, max_length):
    plain = PlainTokenizer(minilm)(TEXTS, max_length=max_length, padding=True, truncation=True, return_tensors="pt")
    ref = hf[0](TEXTS, max_length=max_length, padding=True, truncation=True, return_tensors="pt")
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert torch.equal(plain[key], ref[key]), key
    assert plain["input_ids"].shape[1] == max_length  # the long text was cut, [SEP] kept
    assert plain["input_ids"][3, -1].item() == PlainTokenizer(minilm).sep_id


def test_decode_matches_transformers(minilm, hf):
    ids = hf[0](TEXTS[:2], padding=True, return_tensors="pt")["input_ids"]
    assert PlainTokenizer(minilm).batch_decode(ids) == hf[0].batch_decode(ids, skip_special_tokens=True)


def test_hidden_states_match_transformers(minilm, hf):
    tokens = hf[0](TEXTS, max_length=128, padding=True, truncation=True, return_tensors="pt")
    plain = PlainBertModel.from_folder(minilm)
    with torch.no_grad():
        got = plain(**tokens).last_hidden_state
        ref = hf[1](**tokens).last_hidden_state
    keep = tokens["attention_mask"].bool()
    assert got.shape == ref.shape
    assert torch.allclose(got[keep], ref[keep], atol=1e-4)
    assert torch.equal(plain.get_input_embeddings().weight, hf[1].get_input_embeddings().weight)


def test_text_encoder_chooses_backend(monkeypatch):
    cfg = TextEncoderConfig(name="minilm", train_mode="frozen")
    fast = HFTextEncoder(cfg)
    assert isinstance(fast.backbone, PlainBertModel)
    monkeypatch.setenv("CLAC_TEXT_BACKEND", "transformers")
    slow = HFTextEncoder(cfg)
    assert not isinstance(slow.backbone, PlainBertModel)
    with torch.no_grad():
        assert torch.allclose(fast.features(TEXTS), slow.features(TEXTS), atol=1e-5)
    monkeypatch.delenv("CLAC_TEXT_BACKEND")
    # a backbone that trains always goes through transformers
    top = HFTextEncoder(TextEncoderConfig(name="minilm", train_mode="top_k", top_k_layers=1))
    assert not isinstance(top.backbone, PlainBertModel)


def test_supported_only_for_local_bert_folders(minilm, tmp_path):
    assert plain_bert_supported(minilm)
    assert not plain_bert_supported("sentence-transformers/all-MiniLM-L6-v2")  # a hub name
    folder = tmp_path / "roberta"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    assert not plain_bert_supported(str(folder))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "position_embedding_type": "relative_key"}))
    assert not plain_bert_supported(str(folder))


def test_mismatched_weights_are_a_clear_error(minilm, tmp_path):
    import shutil

    from safetensors.torch import save_file

    folder = tmp_path / "bad"
    shutil.copytree(minilm, folder)
    save_file({"embeddings.word_embeddings.weight": torch.zeros(4, 4)}, str(folder / "model.safetensors"))
    with pytest.raises((ValueError, RuntimeError), match="model.safetensors|size mismatch"):
        PlainBertModel.from_folder(folder)
