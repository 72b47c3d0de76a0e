"""A deep ensemble of crystal branches (Lakshminarayanan et al. 2017), stored as one branch.

Runs that train only the crystal branch (``train.trainable: [crystal_branch]``) from one start
differ in nothing else. Their branches, each ``Linear(E, H) -> GELU -> Linear(H, D)``, average
exactly into one branch of hidden width ``n * H``: the first layers stacked, the last layers
side by side and divided by ``n``, their biases averaged. The merged checkpoint is an ordinary
model (``model.branch_hidden`` records the width), whose crystal embedding before
normalization is the start's projection plus the mean of the members' branch outputs. An
ensemble of seeds lowers what one seed's draw moves (the aux head is four members for the same
reason).

Shape legend: E branch input width, H one member's hidden width, D embedding width, n members.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from clac_core.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, read_weights
from clac_core.models.fingerprint import checkpoint_hash

BRANCH = "crystal_branch."


def _check_members(states: list[dict], paths: Sequence[Path]) -> None:
    import torch

    first = states[0]
    if not any(k.startswith(BRANCH) for k in first):
        raise CheckpointError(f"{paths[0]} has no crystal branch (model.crystal_branch)")
    for state, path in zip(states[1:], paths[1:], strict=True):
        if set(state) != set(first):
            raise CheckpointError(f"{path} stores other tensors than {paths[0]}")
        other = [k for k in first if not k.startswith(BRANCH) and not torch.equal(first[k], state[k])]
        if other:
            raise CheckpointError(
                f"{path} differs from {paths[0]} outside the crystal branch ({', '.join(other[:3])} ...): "
                "only runs that trained the branch alone from one start can be merged"
            )
        shapes = [k for k in first if k.startswith(BRANCH) and first[k].shape != state[k].shape]
        if shapes:
            raise CheckpointError(f"{path}: branch shapes differ from {paths[0]} ({', '.join(shapes)})")


def merge_branches(members: Sequence[str | Path], out: str | Path) -> Path:
    """Write ``out``: the first member's checkpoint with its crystal branch replaced by the
    exact average of every member's branch (one branch, hidden width summed).

    Raises:
        CheckpointError: fewer than two members, a member without a branch, or members that
            differ outside the branch (other starts, or runs that trained more than the branch).
    """
    import torch
    from safetensors.torch import save_file

    paths = [Path(m) for m in members]
    if len(paths) < 2:
        raise CheckpointError("a branch ensemble needs at least two member checkpoints")
    states = [read_weights(p) for p in paths]
    _check_members(states, paths)
    n = len(states)
    merged = dict(states[0])
    merged[BRANCH + "net.0.weight"] = torch.cat([s[BRANCH + "net.0.weight"] for s in states], 0)  # (nH, E)
    merged[BRANCH + "net.0.bias"] = torch.cat([s[BRANCH + "net.0.bias"] for s in states], 0)  # (nH,)
    merged[BRANCH + "net.2.weight"] = torch.cat([s[BRANCH + "net.2.weight"] for s in states], 1) / n  # (D, nH)
    merged[BRANCH + "net.2.bias"] = torch.stack([s[BRANCH + "net.2.bias"] for s in states]).mean(0)  # (D,)
    dst = Path(out)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(paths[0], dst)
    save_file({k: v.contiguous() for k, v in merged.items()}, str(dst / WEIGHTS_NAME))
    meta = json.loads((dst / CONFIG_NAME).read_text())
    meta["model_config"]["branch_hidden"] = int(merged[BRANCH + "net.0.weight"].shape[0])
    meta["num_parameters"] = int(sum(v.numel() for v in merged.values()))
    extra = dict(meta.get("extra") or {})
    extra["branch_ensemble"] = {"members": [str(p) for p in paths], "hashes": [checkpoint_hash(p) for p in paths]}
    meta["extra"] = extra
    (dst / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
    return dst
