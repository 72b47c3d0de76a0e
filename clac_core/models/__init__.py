"""Crystal encoders, the text encoder wrapper and the joint CLaC model.

Public API (imported lazily, so ``import clac_core.models`` is cheap)::

    CLaCModel (CLaCModel.from_checkpoint), save_checkpoint, read_checkpoint,
    read_checkpoint_meta, checkpoint_hash, TEXT_SIDE_PREFIXES, crystal_side_differences,
    CGCNNEncoder, SchNetEncoder, HFTextEncoder
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CLaCModel": "clac_core.models.clip",
    "projection_head": "clac_core.models.clip",
    "save_checkpoint": "clac_core.models.checkpoint",
    "read_checkpoint": "clac_core.models.checkpoint",
    "read_checkpoint_meta": "clac_core.models.checkpoint",
    "TEXT_SIDE_PREFIXES": "clac_core.models.fingerprint",
    "checkpoint_hash": "clac_core.models.fingerprint",
    "crystal_side_differences": "clac_core.models.fingerprint",
    "CGCNNEncoder": "clac_core.models.crystal",
    "SchNetEncoder": "clac_core.models.crystal",
    "build_crystal_encoder": "clac_core.models.crystal",
    "HFTextEncoder": "clac_core.models.text",
    "resolve_text_model": "clac_core.models.text",
    "mean_pool": "clac_core.models.text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clac_core.models' has no attribute {name!r}")
