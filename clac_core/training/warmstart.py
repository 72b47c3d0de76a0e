"""Warm start (``train.init_from``): the weights of a checkpoint laid over a freshly built model."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def warm_start(model: Any, path: str | Path, *, refit: str | tuple[str, ...] = ()) -> bool:
    """Lay the weights of checkpoint ``path`` over a freshly built ``model`` (``train.init_from``).

    Every stored tensor must fit the model (same crystal tower, heads, aux properties and text
    width); the text backbone layers the checkpoint does not store keep the base model's weights,
    so a ``cached`` run can be continued with ``top_k`` fine-tuning, and a token branch
    (``text.branch_width``) added to a model trained without one starts at its zero output, as
    does a crystal branch (``model.crystal_branch``).
    ``refit``: key prefixes (e.g. ``"aux_head."``) whose stored tensors are skipped, prefix by
    prefix, when their shapes are not the model's, so that part starts fresh (a head of another
    width or depth, or the aux statistics of other properties).

    Returns:
        whether every ``refit`` part was loaded (True without ``refit``).

    Raises:
        FileNotFoundError: ``path`` is not a checkpoint directory.
        CheckpointError: the stored tensors do not fit the model (message names the first keys).
    """
    from clac_core.models.checkpoint import CheckpointError, read_checkpoint

    ckpt = read_checkpoint(path, with_text=model.text is not None)
    if ckpt.cfg.text.name != model.cfg.text.name:
        raise CheckpointError(
            f"train.init_from={path}: trained with text model {ckpt.cfg.text.name!r}, this run uses "
            f"{model.cfg.text.name!r}; the projection head would read other features"
        )
    # a token branch this run adds to a model trained without one starts from its zero output
    new = ("token_branch.",) if model.token_branch is not None and ckpt.cfg.text.branch_width <= 0 else ()
    # so does a crystal branch (model.crystal_branch), and the site statistics it may bring
    if model.crystal_branch is not None and not ckpt.cfg.crystal_branch:
        new = (*new, "crystal_branch.", "aux_sites_")
    loaded = True
    for prefix in (refit,) if isinstance(refit, str) else refit:
        own = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith(prefix)}
        stored = {k: tuple(v.shape) for k, v in ckpt.state.items() if k.startswith(prefix)}
        if stored != own:
            loaded = False
            ckpt = dataclasses.replace(ckpt, state={k: v for k, v in ckpt.state.items() if not k.startswith(prefix)})
            new = (*new, prefix)
    model.load_stored(ckpt, allow_missing=new)
    log.info("initialized from %s (%d tensors)%s", path, len(ckpt.state), f"; new: {', '.join(new)}" if new else "")
    return loaded
