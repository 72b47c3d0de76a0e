"""Self-describing, pickle-free checkpoints: a directory with ``config.json`` + ``model.safetensors``.

Only what differs from the base text model is stored: the crystal encoder, both
projection heads and the logit scale always; text backbone weights only for the layers that
were trained (``top_k``: the top k blocks; ``full``: all of it; ``frozen``/``cached``: none).
This module is I/O only: it writes a checkpoint of a model (:func:`save_checkpoint`) and
reads one back without building a model (:func:`read_checkpoint`: config, weights, meta,
checks). :meth:`clac_core.models.clip.CLaCModel.from_checkpoint` builds the model from the
stored config (which loads the base text model by name) and overlays the stored tensors;
every key that is *not* stored must belong to the untouched base text model
(:func:`check_state_fits`), otherwise loading fails loudly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clac_core.config import ModelConfig, model_config_from_dict, to_dict

if TYPE_CHECKING:  # pragma: no cover
    import torch

class CheckpointError(ValueError):
    """A checkpoint directory exists but its config or weights are unusable (damaged, edited,
    out of range); the message says which file and what is wrong."""


# Accepted ranges of model-config values, checked before anything is allocated (a cutoff of
# 1e4 Å made graph building take over 4 GB). (section, field) -> (type, low, high); None = open.
CONFIG_RANGES: dict[tuple[str, str], tuple[type, float | None, float | None]] = {
    ("graph", "cutoff"): (float, 0.5, 20.0),
    ("graph", "max_neighbors"): (int, 1, 128),
    ("graph", "num_gaussians"): (int, 1, 1024),
    ("graph", "gaussian_width"): (float, 1e-3, 10.0),
    ("graph", "symprec"): (float, 1e-5, 1.0),
    ("crystal", "hidden_dim"): (int, 1, 4096),
    ("crystal", "num_layers"): (int, 1, 64),
    ("crystal", "out_dim"): (int, 1, 8192),
    ("crystal", "dropout"): (float, 0.0, 0.99),
    ("text", "max_length"): (int, 1, 8192),
    ("text", "top_k_layers"): (int, 0, 256),
    ("text", "branch_width"): (int, 0, 4096),
    ("text", "branch_layers"): (int, 0, 64),
    ("text", "branch_heads"): (int, 1, 64),
    ("text", "branch_max_length"): (int, 2, 8192),
    ("text", "branch_token_dropout"): (float, 0.0, 0.9),
    ("", "embed_dim"): (int, 1, 8192),
    ("", "proj_hidden"): (int, 0, 16384),
    ("", "branch_hidden"): (int, 0, 65536),
    ("", "init_logit_scale"): (float, -20.0, 20.0),
    ("", "max_logit_scale"): (float, -20.0, 20.0),
}
CONFIG_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("crystal", "kind"): ("cgcnn", "schnet", "chgnet", "cgcnn+chgnet"),
    ("text", "train_mode"): ("frozen", "cached", "top_k", "full"),
}
MAX_CONFIG_BYTES = 10_000_000  # a config.json is a few kB


def check_model_config(data: Any, *, where: str = "model_config") -> None:
    """Types and ranges of a stored model config (a dict), before the model is built.

    Raises:
        CheckpointError: a section is not a mapping, a value has the wrong type (a dimension
            given as a string) or is out of range (see :data:`CONFIG_RANGES`).
    """
    import math

    if not isinstance(data, dict):
        raise CheckpointError(f"{where} must be a mapping of settings, not {_kind(data)}")
    for section in ("graph", "crystal", "text"):
        if section in data and not isinstance(data[section], dict):
            raise CheckpointError(
                f"{where}.{section} must be a mapping of settings, not {_kind(data[section])}"
            )
    for (section, key), (typ, low, high) in CONFIG_RANGES.items():
        node = data.get(section, {}) if section else data
        if key not in node:
            continue
        value, name = node[key], f"{where}.{section + '.' if section else ''}{key}"
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not numeric or (typ is int and not float(value).is_integer()):
            want = "a whole number" if typ is int else "a number"
            raise CheckpointError(f"{name} must be {want}, not {value!r}")
        if (
            not math.isfinite(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            raise CheckpointError(f"{name} is {value!r}; it must be between {low:g} and {high:g}")
    for (section, key), choices in CONFIG_CHOICES.items():
        node = data.get(section, {})
        if key in node and node[key] not in choices:
            raise CheckpointError(
                f"{where}.{section}.{key} is {node[key]!r}; it must be one of {', '.join(choices)}"
            )


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "null"}.get(type(value), f"a {type(value).__name__}")


CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "clac-checkpoint"
FORMAT_VERSION = 1
TEXT_PREFIX = "text.backbone."


def _clac_version() -> str:
    try:
        from importlib.metadata import version

        return version("clac-explorer")
    except Exception:  # not installed as a distribution (e.g. running from a checkout)
        return "unknown"


def stored_text_prefixes(model: Any) -> list[str]:
    """State-dict prefixes of the text backbone that a checkpoint of ``model`` stores.

    ``[]`` for frozen/cached, ``["text.backbone."]`` for full, one prefix per trained block
    for top_k (e.g. ``"text.backbone.encoder.layer.5."``).
    """
    mode = model.cfg.text.train_mode
    if mode in ("frozen", "cached"):
        return []
    if model.text is None:
        raise ValueError(
            f"text train_mode={mode!r} needs the text backbone, but the model was built without it"
        )
    if mode == "full":
        return [TEXT_PREFIX]
    from clac_core.models.text import encoder_layers

    layers = encoder_layers(model.text.backbone)
    layer_path = next(name for name, mod in model.text.backbone.named_modules() if mod is layers)
    return [f"{TEXT_PREFIX}{layer_path}.{i}." for i in model.text.trainable_layer_indices()]


def text_base_fingerprint(model: Any) -> str | None:
    """Short hash of a few base text weights (word embeddings, last block) or None.

    Stored in config.json so that loading on a machine whose base text model differs
    (other version of the same name) is reported instead of silently giving other vectors.
    Only tensors a checkpoint never overwrites in frozen/cached mode matter, but the
    embeddings are never trained in top_k mode either, so they identify the base model.
    """
    import hashlib

    if model.text is None:
        return None
    emb = model.text.backbone.get_input_embeddings().weight.detach().float().cpu()
    h = hashlib.sha256(emb[:: max(1, emb.shape[0] // 512)].contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _is_stored(key: str, text_prefixes: list[str]) -> bool:
    if not key.startswith(TEXT_PREFIX):
        return True
    return any(key.startswith(p) for p in text_prefixes)


def save_checkpoint(model: Any, path: str | Path, *, step: int, extra: dict[str, Any] | None = None) -> Path:
    """Write ``path/config.json`` and ``path/model.safetensors``.

    Args:
        model: a :class:`~clac_core.models.CLaCModel`.
        path: output directory (created).
        step: training step (stored in config.json).
        extra: JSON-able extras (metrics, training data description, ...).

    Returns:
        the checkpoint directory.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    prefixes = stored_text_prefixes(model)
    state = {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in model.state_dict().items()
        if _is_stored(k, prefixes)
    }
    from clac_core.models.text import text_model_source

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "clac_version": _clac_version(),
        "step": int(step),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_config": to_dict(model.cfg),
        "text_base": {
            "name": model.cfg.text.name,
            "source": text_model_source(model.cfg.text.name),  # never a path of this machine
            "train_mode": model.cfg.text.train_mode,
            "fingerprint": text_base_fingerprint(model),
        },
        "stored_text_prefixes": prefixes,
        "stored_groups": sorted(
            {k.split(".")[0] for k in state} | ({"text.backbone"} if prefixes else set())
        ),
        "num_tensors": len(state),
        "num_parameters": int(sum(v.numel() for v in state.values())),
        "extra": extra or {},
    }
    tmp = path / (WEIGHTS_NAME + ".tmp")
    save_file(state, str(tmp), metadata={"format": FORMAT, "step": str(int(step))})
    tmp.replace(path / WEIGHTS_NAME)
    (path / CONFIG_NAME).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return path


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The parsed, checked ``config.json`` of a checkpoint directory.

    Raises:
        FileNotFoundError: not a checkpoint directory.
        CheckpointError: the config is not valid JSON, not a CLaC checkpoint config, lacks
            ``model_config`` or has a value of the wrong type or out of range.
    """
    path = Path(path)
    cfg_file = path / CONFIG_NAME
    if not cfg_file.is_file() or not (path / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(f"{path} is not a CLaC checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    if cfg_file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{cfg_file} is too large to be a checkpoint config")
    try:
        meta = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{cfg_file} is damaged: it is not valid JSON text") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{cfg_file} must hold a JSON object, not {_kind(meta)}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_file} is not a CLaC checkpoint config (format={meta.get('format')!r})")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{cfg_file}: format_version must be a whole number, not {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {meta['format_version']}, newer than this code ({FORMAT_VERSION})"
        )
    if "model_config" not in meta:
        raise CheckpointError(f"{cfg_file} has no model_config: the model cannot be rebuilt from it")
    check_model_config(meta["model_config"], where=f"{cfg_file.name}: model_config")
    prefixes = meta.get("stored_text_prefixes", [])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise CheckpointError(f"{cfg_file}: stored_text_prefixes must be a list of strings")
    if not isinstance(meta.get("text_base") or {}, dict):
        raise CheckpointError(f"{cfg_file}: text_base must be a mapping")
    return meta


@dataclass(frozen=True)
class StoredCheckpoint:
    """What a checkpoint directory holds, read and checked, before any model is built.

    Attributes:
        path: the checkpoint directory.
        meta: the parsed ``config.json`` (:func:`read_checkpoint_meta`).
        cfg: the model config rebuilt from ``meta["model_config"]``.
        state: the stored tensors (CPU, all finite); without the text backbone's when read
            with ``with_text=False``.
        text_prefixes: state-dict prefixes of the text backbone that ``state`` holds.
    """

    path: Path
    meta: dict[str, Any]
    cfg: ModelConfig
    state: dict[str, torch.Tensor]
    text_prefixes: list[str]

    @property
    def text_fingerprint(self) -> str | None:
        """Fingerprint of the base text model the checkpoint was trained on (or None)."""
        return (self.meta.get("text_base") or {}).get("fingerprint")


def read_checkpoint(path: str | Path, *, with_text: bool = True) -> StoredCheckpoint:
    """Read and check a checkpoint directory: config, model config, weights (no model built).

    Never unpickles: reads JSON and safetensors only. The weights are read and checked here,
    before a model is allocated, so a damaged file fails fast.

    Args:
        path: checkpoint directory.
        with_text: keep the stored text backbone tensors; ``False`` drops them (for a
            crystal-only model).

    Raises:
        FileNotFoundError: not a checkpoint directory.
        CheckpointError: (a ``ValueError``) damaged or out-of-range config, damaged or
            non-finite weights.
    """
    path = Path(path)
    meta = read_checkpoint_meta(path)
    try:
        cfg = model_config_from_dict(meta["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path / CONFIG_NAME}: model_config is invalid: {exc}") from exc
    state = read_weights(path)
    prefixes = list(meta.get("stored_text_prefixes", []))
    if not with_text:
        state = {k: v for k, v in state.items() if not k.startswith(TEXT_PREFIX)}
        prefixes = []
    return StoredCheckpoint(path=path, meta=meta, cfg=cfg, state=state, text_prefixes=prefixes)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The stored tensors of ``path/model.safetensors`` (on CPU), all finite.

    Raises:
        CheckpointError: the file is damaged, or a floating tensor holds NaN or inf.
    """
    from safetensors.torch import load_file

    try:
        state = load_file(str(path / WEIGHTS_NAME), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(
            f"{path / WEIGHTS_NAME} is damaged or not a safetensors file (truncated copy or "
            "download?); save or download the checkpoint again"
        ) from exc
    import torch

    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise CheckpointError(
            f"{path / WEIGHTS_NAME} has NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]}: "
            "the training run diverged or the file is damaged; use an earlier checkpoint"
        )
    return state


def check_state_fits(
    ckpt: StoredCheckpoint, expected: dict[str, torch.Tensor], *, allow_missing: tuple[str, ...] = ()
) -> None:
    """The stored tensors of ``ckpt`` against a freshly built model's ``expected`` state dict.

    ``allow_missing``: key prefixes of modules the model has and the checkpoint may lack (a warm
    start that adds a module keeps that module's initialization).

    Raises:
        CheckpointError: an unknown key, a missing key outside the base text model, or a
            shape that differs from the model's.
    """
    path, state, prefixes, text_name = ckpt.path, ckpt.state, ckpt.text_prefixes, ckpt.cfg.text.name
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise CheckpointError(
            f"checkpoint {path} has {len(unexpected)} tensors the model does not know: {unexpected[:5]}"
        )
    bad_missing = sorted(
        k
        for k in set(expected) - set(state)
        if _is_stored(k, prefixes) and not any(k.startswith(p) for p in allow_missing)
    )
    if bad_missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {len(bad_missing)} tensors that are not part of the base text model "
            f"{text_name!r}: {bad_missing[:5]}"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(
                f"checkpoint {path}: {k} has shape {tuple(v.shape)}, model expects {tuple(expected[k].shape)}"
            )


def warn_if_other_text_base(ckpt: StoredCheckpoint, model: Any) -> None:
    """Warn (at the caller of :meth:`CLaCModel.from_checkpoint`, through ``load_stored``) when the
    base text model loaded into ``model`` is not the one the checkpoint was trained on."""
    stored_fp = ckpt.text_fingerprint
    if not stored_fp or model.text is None or ckpt.cfg.text.train_mode == "full":
        return
    found = text_base_fingerprint(model)
    if found != stored_fp:
        import warnings

        warnings.warn(
            f"checkpoint {ckpt.path} was trained on a base text model {ckpt.cfg.text.name!r} with "
            f"fingerprint {stored_fp}, but the one loaded here has {found}; text embeddings will differ",
            stacklevel=4,  # -> load_stored -> from_checkpoint -> its caller
        )
