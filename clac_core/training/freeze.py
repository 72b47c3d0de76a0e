"""Which parameters a run trains: a locked crystal side (``train.locked_crystal``), a named
subset (``train.trainable``), and the frozen norm layers that must stay in eval mode.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def train_only(model: Any, prefixes: list[str]) -> int:
    """``train.trainable``: freeze every parameter whose name starts with none of ``prefixes``.
    Returns how many tensors still train.

    Raises:
        ValueError: no parameter matches (a misspelt prefix would otherwise train nothing).
    """
    keep = tuple(prefixes)
    n = 0
    for name, p in model.named_parameters():
        if name.startswith(keep):
            n += int(p.requires_grad)
        else:
            p.requires_grad_(False)
    if n == 0:
        names = sorted({name.split(".")[0] for name, _ in model.named_parameters()})
        raise ValueError(f"train.trainable {list(prefixes)} names no trainable parameter; the model's parts: {names}")
    log.info("train.trainable: %d tensors train (%s), the rest are frozen", n, ", ".join(prefixes))
    return n


def frozen_norm_layers(model: Any) -> list[Any]:
    """Batch-norm layers none of whose parameters train (running statistics included)."""
    import torch

    out = []
    for m in model.modules():
        params = list(m.parameters())
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            out.append(m)
    return out


def freeze_crystal_side(model: Any) -> int:
    """Locked crystal tower (``train.locked_crystal``): every parameter outside the text side
    (crystal encoder, crystal projection, aux head) stops training. Returns how many."""
    from clac_core.models.fingerprint import TEXT_SIDE_PREFIXES

    n = 0
    for name, p in model.named_parameters():
        if not name.startswith(TEXT_SIDE_PREFIXES):
            p.requires_grad_(False)
            n += 1
    log.info("locked crystal tower: %d crystal-side tensors frozen", n)
    return n
