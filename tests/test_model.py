"""Encoders, joint model and checkpoints: invariances, freezing, round trips, sizes."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from safetensors.torch import load_file, save_file

from clac_core.config import ModelConfig
from clac_core.graph import collate, structure_to_graph
from clac_core.models import CLaCModel, HFTextEncoder, save_checkpoint
from clac_core.models.text import encoder_layers, resolve_text_model

TEXTS = [
    "NaCl crystallizes in the cubic rock-salt structure.",
    "Silicon, diamond cubic",
    "a wide band gap oxide",
]


def silicon() -> Structure:
    a = 5.43
    lat = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
    return Structure(lat, ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


@pytest.fixture(scope="module")
def perovskite(shared_data) -> Structure:
    with open(shared_data / "perov_5" / "test.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    return Structure.from_str(row["cif"], fmt="cif")


@pytest.fixture(scope="module")
def crystal_model() -> CLaCModel:
    torch.manual_seed(0)
    return CLaCModel(ModelConfig(), load_text_backbone=False).eval()


@pytest.fixture(scope="module")
def full_model() -> CLaCModel:
    torch.manual_seed(0)
    return CLaCModel(ModelConfig()).eval()


def _embed(model: CLaCModel, structures: list[Structure]) -> torch.Tensor:
    with torch.no_grad():
        return model.encode_crystal(collate([structure_to_graph(s, model.cfg.graph) for s in structures]))


def _variants(s: Structure) -> list[Structure]:
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(s))
    permuted = Structure(s.lattice, [s.species[i] for i in perm], s.frac_coords[perm])
    translated = s.copy()
    translated.translate_sites(list(range(len(s))), [0.37, -1.21, 2.05], frac_coords=False)
    return [permuted, s * (2, 1, 1), s * (2, 2, 2), translated]


@pytest.mark.parametrize("symmetry", [False, True])
@pytest.mark.parametrize("kind", ["cgcnn", "schnet"])
def test_crystal_embedding_invariances(kind, symmetry, perovskite):
    torch.manual_seed(1)
    cfg = ModelConfig()
    cfg.crystal.kind = kind
    cfg.graph.symmetry = symmetry
    model = CLaCModel(cfg, load_text_backbone=False).eval()
    for s in (perovskite, silicon()):
        ref = _embed(model, [s])
        out = _embed(model, _variants(s))
        assert out.shape == (4, cfg.embed_dim)
        assert torch.allclose(out, ref.expand_as(out), atol=1e-4), (kind, s.formula, (out - ref).abs().max())
    # and it is not a constant: different crystals differ
    a, b = _embed(model, [perovskite, silicon()])
    assert (a - b).abs().max() > 1e-3


def test_crystal_embedding_normalized_and_batched(crystal_model, perovskite):
    s = [perovskite, silicon(), perovskite * (1, 1, 2)]
    emb = _embed(crystal_model, s)
    assert emb.shape == (3, 256)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    single = torch.cat([_embed(crystal_model, [x]) for x in s])
    assert torch.allclose(emb, single, atol=1e-5)  # batching does not mix crystals
    raw = crystal_model.encode_crystal(collate([structure_to_graph(perovskite)]), normalize=False)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(1))


def test_crystal_encoder_trains(perovskite):
    torch.manual_seed(2)
    model = CLaCModel(ModelConfig(), load_text_backbone=False).train()
    batch = collate([structure_to_graph(s) for s in (perovskite, silicon())])
    feats = torch.randn(2, model.text_hidden_size)
    out = model(batch, feats)
    assert out["logit_scale"].item() == pytest.approx(1 / 0.07, rel=1e-5)
    loss = -(out["crystal_emb"] * out["text_emb"]).sum()
    loss.backward()
    grads = [p.grad for p in model.crystal.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_logit_scale_clamped():
    model = CLaCModel(ModelConfig(), load_text_backbone=False)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.logit_scale_value().item() == pytest.approx(100.0, rel=1e-5)


def test_text_encoder_reproduces_mean_pooled_minilm(full_model):
    from transformers import AutoModel, AutoTokenizer

    path = resolve_text_model("minilm")
    tok = AutoTokenizer.from_pretrained(path)
    bare = AutoModel.from_pretrained(path).eval()
    enc = tok(TEXTS, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        h = bare(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    ref = (h * m).sum(1) / m.sum(1)
    got = full_model.text.embed(TEXTS, batch_size=2)
    assert got.shape == (3, 384)
    assert torch.allclose(got, ref, atol=1e-5)
    emb = full_model.encode_text(TEXTS)
    assert torch.allclose(emb, full_model.encode_text_features(ref), atol=1e-5)
    assert torch.allclose(emb, full_model.encode_text(full_model.text.tokenize(TEXTS)), atol=1e-6)


def test_frozen_backbone_stays_in_eval_mode(full_model):
    full_model.train()
    try:
        assert not full_model.text.backbone.training
        assert not any(p.requires_grad for p in full_model.text.parameters())
        a = full_model.text.embed(TEXTS[:1])
        b = full_model.text.embed(TEXTS[:1])
        assert torch.equal(a, b)
    finally:
        full_model.eval()


@pytest.mark.parametrize("k", [1, 2])
def test_top_k_freezing(k):
    cfg = ModelConfig().text
    cfg.train_mode, cfg.top_k_layers = "top_k", k
    enc = HFTextEncoder(cfg)
    layers = encoder_layers(enc.backbone)
    trainable = [i for i, layer in enumerate(layers) if any(p.requires_grad for p in layer.parameters())]
    assert trainable == list(range(len(layers) - k, len(layers)))
    for i in trainable:
        assert all(p.requires_grad for p in layers[i].parameters())
    n_trainable = sum(p.numel() for p in enc.parameters() if p.requires_grad)
    assert n_trainable == sum(p.numel() for i in trainable for p in layers[i].parameters())
    enc.train()
    assert enc.backbone.training


def test_unknown_text_model_offline_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = ModelConfig().text
    cfg.name = "no-such-org/no-such-model-xyz"
    with pytest.raises(FileNotFoundError, match="no-such-model-xyz"):
        HFTextEncoder(cfg)


def test_checkpoint_round_trip_cached(full_model, perovskite, tmp_path):
    with torch.no_grad():
        full_model.logit_scale.fill_(3.0)
    path = save_checkpoint(full_model, tmp_path / "ckpt", step=17, extra={"note": "test"})
    files = sorted(os.listdir(path))
    assert files == ["config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["step"] == 17 and meta["extra"] == {"note": "test"}
    assert meta["text_base"]["name"] == "minilm" and meta["stored_text_prefixes"] == []
    assert len(meta["text_base"]["fingerprint"]) == 16
    stored = load_file(str(path / "model.safetensors"))
    assert not any(k.startswith("text.") for k in stored)  # frozen base weights not stored
    assert (path / "model.safetensors").stat().st_size <= 25 * 1024 * 1024
    loaded = CLaCModel.from_checkpoint(path)
    assert not loaded.training
    batch = collate([structure_to_graph(perovskite), structure_to_graph(silicon())])
    with torch.no_grad():
        assert torch.allclose(loaded.encode_crystal(batch), full_model.encode_crystal(batch), atol=1e-6)
        assert torch.allclose(loaded.encode_text(TEXTS), full_model.encode_text(TEXTS), atol=1e-6)
    assert loaded.logit_scale.item() == pytest.approx(3.0)
    # a different base text model is reported
    meta["text_base"]["fingerprint"] = "0" * 16
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="fingerprint"):
        CLaCModel.from_checkpoint(path)
    crystal_only = CLaCModel.from_checkpoint(path, load_text_backbone=False)
    assert crystal_only.text is None
    with torch.no_grad():
        assert torch.allclose(crystal_only.encode_crystal(batch), full_model.encode_crystal(batch), atol=1e-6)


def test_checkpoint_missing_non_text_key_raises(crystal_model, tmp_path):
    path = save_checkpoint(crystal_model, tmp_path / "ckpt", step=0)
    state = load_file(str(path / "model.safetensors"))
    key = next(k for k in state if k.startswith("crystal."))
    value = state.pop(key)
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(ValueError, match="not part of the base text model"):
        CLaCModel.from_checkpoint(path, load_text_backbone=False)
    state[key] = value
    state["crystal.bogus"] = torch.zeros(1)
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(ValueError, match="does not know"):
        CLaCModel.from_checkpoint(path, load_text_backbone=False)


def test_checkpoint_top_k_stores_only_trained_layers(tmp_path):
    torch.manual_seed(3)
    cfg = ModelConfig()
    cfg.text.train_mode, cfg.text.top_k_layers = "top_k", 1
    model = CLaCModel(cfg).eval()
    layers = encoder_layers(model.text.backbone)
    with torch.no_grad():
        for p in layers[-1].parameters():
            p.add_(0.01 * torch.randn_like(p))  # pretend training changed the top layer
    path = save_checkpoint(model, tmp_path / "ckpt", step=1)
    stored = load_file(str(path / "model.safetensors"))
    text_keys = {k for k in stored if k.startswith("text.")}
    n = len(layers)
    assert text_keys and all(k.startswith(f"text.backbone.encoder.layer.{n - 1}.") for k in text_keys)
    loaded = CLaCModel.from_checkpoint(path)
    with torch.no_grad():
        assert torch.allclose(loaded.encode_text(TEXTS), model.encode_text(TEXTS), atol=1e-6)
    # dropping a stored text layer tensor is an error too (it is not the base model's)
    del stored[next(iter(text_keys))]
    save_file(stored, str(path / "model.safetensors"))
    with pytest.raises(ValueError, match="not part of the base text model"):
        CLaCModel.from_checkpoint(path)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        CLaCModel.from_checkpoint(tmp_path)


def test_factorized_cgconv_matches_pyg_cgconv():
    """The plain-PyTorch conv loads PyG CGConv's state dict as it is and gives its output."""
    from torch_geometric.nn import CGConv

    from clac_core.models.crystal import FactorizedCGConv

    torch.manual_seed(5)
    ref = CGConv(16, dim=7, aggr="mean", batch_norm=True)
    fast = FactorizedCGConv(16, dim=7, aggr="mean", batch_norm=True)
    assert sorted(fast.state_dict()) == sorted(ref.state_dict())
    fast.load_state_dict(ref.state_dict())
    x, e = torch.randn(30, 16), torch.rand(200, 7)
    ei = torch.randint(0, 30, (2, 200))
    ei[1, ei[1] == 29] = 0  # atom 29 receives no message: its update is BN(0) + x
    for mode in (True, False):
        ref.train(mode)
        fast.train(mode)
        assert torch.allclose(fast(x, ei, e), ref(x, ei, e), atol=1e-5)


def test_mean_pool_matches_pyg_global_mean_pool():
    from torch_geometric.nn import global_mean_pool

    from clac_core.models.crystal import mean_pool

    torch.manual_seed(1)
    x = torch.randn(12, 5)
    index = torch.tensor([0, 0, 0, 2, 2, 3, 3, 3, 3, 3, 0, 2])  # group 1 is empty, group 4 too
    got = mean_pool(x, index, 5)
    assert torch.allclose(got, global_mean_pool(x, index, size=5), atol=1e-6)
    assert torch.equal(got[1], torch.zeros(5)) and torch.equal(got[4], torch.zeros(5))


def test_text_search_path_imports_neither_torch_geometric_nor_transformers(tmp_path):
    """Loading a CGCNN + CHGNet model with the frozen MiniLM and encoding a query imports
    neither torch_geometric nor transformers (together ~4 s of the app's first Search page on
    2 cores); building crystal graphs still may. Through transformers (CLAC_TEXT_BACKEND), the
    load draws no weight-loading progress bar in the log."""
    import subprocess
    import sys

    from clac_core.models import save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig()
    cfg.crystal.kind = "cgcnn+chgnet"
    cfg.graph.symmetry = True
    save_checkpoint(CLaCModel(cfg), tmp_path / "ck", step=0)
    code = (
        "import sys\n"
        "from clac_core.inference import load_model\n"
        f"m = load_model({str(tmp_path / 'ck')!r})\n"
        "m.encode_text(['band gap around 1.5 eV'])\n"
        "print('torch_geometric' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"
    env = {**os.environ, "CLAC_TEXT_BACKEND": "transformers"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False True"
    assert "Loading weights" not in out.stderr and "%|" not in out.stderr


def test_symmetry_features_separate_cubic_from_strained_twin():
    """Global symmetry input: a 3% tetragonal strain changes the space group, the crystal-system
    embedding and the cell shape, and with them the embedding; without the option the
    encoder only sees nearest-neighbour distances."""
    from clac_core.graph import symmetry_features

    cubic = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    tetra = Structure(Lattice.tetragonal(4.0, 4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    sg_c, lat_c = symmetry_features(cubic)
    sg_t, lat_t = symmetry_features(tetra)
    assert (sg_c, sg_t) == (221, 123)  # Pm-3m, P4/mmm
    assert lat_c[:5] == pytest.approx([0, 0, 0, 0, 0], abs=1e-6)
    assert lat_t[1] == pytest.approx(np.log(4.12 / 4.0), abs=1e-5)

    torch.manual_seed(0)
    cfg = ModelConfig()
    cfg.graph.symmetry = True
    model = CLaCModel(cfg, load_text_backbone=False).eval()
    batch = collate([structure_to_graph(s, cfg.graph) for s in (cubic, tetra)])
    assert batch.sg.tolist() == [221, 123] and batch.lat.shape == (2, 6)
    with torch.no_grad():
        a, b = model.encode_crystal(batch)
        # the same graphs without sg/lat cannot be encoded by this model: clear error
        del batch.sg, batch.lat
        with pytest.raises(ValueError, match="sg/lat"):
            model.encode_crystal(batch)
    assert (a - b).abs().max() > 1e-3


def test_symmetry_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig()
    cfg.graph.symmetry = True
    model = CLaCModel(cfg, load_text_backbone=False).eval()
    save_checkpoint(model, tmp_path / "ck", step=1)
    back = CLaCModel.from_checkpoint(tmp_path / "ck", load_text_backbone=False)
    assert back.cfg.graph.symmetry is True
    s = silicon()
    assert torch.allclose(_embed(model, [s]), _embed(back, [s]), atol=1e-6)
