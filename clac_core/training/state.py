"""Checkpoint and RNG state of a training run: save, find, restore, with no pickle.

A run folder (``OUT/last``) holds the model via :func:`clac_core.models.save_checkpoint`,
optimizer state and torch RNG states in ``train_state.safetensors``, and scalars (step, epoch,
batch position, running sums, scheduler, Python/NumPy RNG states) in ``train_state.json``.
Restoring all of it continues bit-for-bit like an uninterrupted CPU run.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Python/NumPy RNG states as JSON, torch (CPU and every CUDA device) states as tensors."""
    import torch

    py = random.getstate()
    np_state = np.random.get_state()
    js = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = st
    return js, tensors


def set_rng_state(js: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`rng_state` (CUDA states only when the device count matches)."""
    import torch

    py = js["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = js["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(tensors["rng.torch"].cpu())
    if torch.cuda.is_available():
        states = [tensors[k].cpu() for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


def optimizer_to_flat(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors tensors + JSON scalars."""
    import torch

    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in state["state"].items():
        for key, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = val.detach().cpu().contiguous().clone()
            else:
                scalars[f"{pid}.{key}"] = val
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, torch.Tensor], js: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_to_flat`: an ``optimizer.load_state_dict`` argument."""
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        if not name.startswith("optim."):
            continue
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = val
    for name, val in js.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    return {"state": state, "param_groups": js["param_groups"]}


def _fresh_tmp(folder: Path) -> Path:
    tmp = folder.with_name(folder.name + ".new")
    if tmp.exists():
        shutil.rmtree(tmp)
    return tmp


def _swap_in(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by ``tmp``; the previous copy survives as ``.old`` until the rename."""
    old = folder.with_name(folder.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


def save_training_state(
    folder: Path,
    model: Any,
    *,
    step: int,
    extra: dict[str, Any],
    optimizer: Any,
    scheduler: Any,
    counters: dict[str, Any],
) -> None:
    """Write ``folder`` = model checkpoint + optimizer, scheduler, RNG and loop ``counters``.

    Replaces the folder atomically-ish (written beside it, then renamed).
    """
    from safetensors.torch import save_file

    from clac_core.models.checkpoint import save_checkpoint

    tmp = _fresh_tmp(folder)
    save_checkpoint(model, tmp, step=step, extra=extra)
    opt_t, opt_js = optimizer_to_flat(optimizer.state_dict())
    rng_js, rng_t = rng_state()
    save_file({**opt_t, **rng_t}, str(tmp / STATE_TENSORS))
    sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    state = {**counters, "optimizer": opt_js, "scheduler": sched, "rng": rng_js}
    (tmp / STATE_JSON).write_text(json.dumps(state), encoding="utf-8")
    _swap_in(tmp, folder)


def save_model_only(folder: Path, model: Any, *, step: int, extra: dict[str, Any]) -> None:
    """Write ``folder`` = model checkpoint only (the ``best/`` copy)."""
    from clac_core.models.checkpoint import save_checkpoint

    tmp = _fresh_tmp(folder)
    save_checkpoint(model, tmp, step=step, extra=extra)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def find_resume_dir(out_dir: Path) -> Path | None:
    """``out_dir/last`` with a saved state, or ``last.old`` when a crash hit mid-swap; else None."""
    last = Path(out_dir) / "last"
    if not (last / STATE_JSON).is_file() and (last.with_name("last.old") / STATE_JSON).is_file():
        last = last.with_name("last.old")
    return last if (last / STATE_JSON).is_file() else None


def load_training_state(folder: Path, model: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load the model weights of ``folder`` into ``model``; return (state JSON, state tensors).

    Raises:
        ValueError: the saved weights do not match the model (base text-backbone tensors may
            be missing: they are not stored).
    """
    from safetensors.torch import load_file

    state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
    weights = load_file(str(folder / "model.safetensors"), device="cpu")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected:
        raise ValueError(f"{folder}: checkpoint tensors the model does not know: {unexpected[:5]}")
    bad = [k for k in missing if not k.startswith("text.backbone.")]
    if bad:
        raise ValueError(f"{folder}: checkpoint lacks model tensors {bad[:5]}")
    return state, load_file(str(folder / STATE_TENSORS), device="cpu")


def restore_optimization(
    state: dict[str, Any], tensors: dict[str, torch.Tensor], optimizer: Any, scheduler: Any
) -> None:
    """Load optimizer and scheduler state saved by :func:`save_training_state`."""
    optimizer.load_state_dict(optimizer_from_flat(tensors, state["optimizer"]))
    sched = dict(state["scheduler"])
    sched["lr_lambdas"] = [None] * len(optimizer.param_groups)
    scheduler.load_state_dict(sched)
