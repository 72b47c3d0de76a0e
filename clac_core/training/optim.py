"""Optimizer and learning-rate schedule: AdamW with a separate learning rate for trained
text-backbone layers, no weight decay on biases/norms/logit scale, linear warmup then cosine
decay (per optimizer step).
"""

from __future__ import annotations

import math
from typing import Any


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total`` steps."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: Any, tc: Any) -> list[dict[str, Any]]:
    """AdamW groups: (crystal side | text backbone) x (decay | no decay), empty ones dropped."""
    groups: dict[str, list[Any]] = {"decay": [], "no_decay": [], "text_decay": [], "text_no_decay": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        text = name.startswith("text.")
        no_decay = p.dim() < 2 or name == "logit_scale"
        groups[("text_" if text else "") + ("no_decay" if no_decay else "decay")].append(p)
    return [
        {
            "params": params,
            "lr": tc.text_lr if key.startswith("text") else tc.lr,
            "weight_decay": 0.0 if key.endswith("no_decay") else tc.weight_decay,
            "name": key,
        }
        for key, params in groups.items()
        if params
    ]


def build_optimizer(model: Any, tc: Any, total_steps: int) -> tuple[Any, Any, list[Any]]:
    """(AdamW, its LambdaLR schedule, the trained parameters in group order)."""
    import torch

    groups = param_groups(model, tc)
    optimizer = torch.optim.AdamW(groups, lr=tc.lr, betas=(0.9, 0.98), eps=1e-6)
    warm = tc.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warm, total_steps))
    return optimizer, scheduler, [p for g in groups for p in g["params"]]
