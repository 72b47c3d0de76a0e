"""Weight-space ensembling of a start checkpoint and its fine-tuned text side (WiSE-FT:
Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022).

A text-side run (``train.locked_crystal``) learns the statements and words it trains on, and
drifts on what it does not (number phrasings). Averaging the two checkpoints' weights,
``(1 - alpha) * start + alpha * tuned``, keeps part of each: both come from one initialization
and one loss basin, so the midpoint is itself a good model (the paper's finding for CLIP).
Only the text side is averaged; the crystal side must be identical in both, so an index of the
start checkpoint stays valid (``clac index refresh-text``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from clac_core.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, read_weights
from clac_core.models.fingerprint import TEXT_SIDE_PREFIXES, checkpoint_hash, differing_crystal_keys


def interpolate_text_side(start: str | Path, tuned: str | Path, alpha: float, out: str | Path) -> Path:
    """Write ``out``: ``tuned``'s checkpoint with every text-side tensor replaced by
    ``(1 - alpha) * start + alpha * tuned`` (alpha 0 = start's text side, 1 = tuned's).

    Raises:
        CheckpointError: alpha outside [0, 1], the crystal sides differ, or the text-side
            tensors differ in names or shapes.
    """
    from safetensors.torch import save_file

    if not 0.0 <= alpha <= 1.0:
        raise CheckpointError(f"alpha must be in [0, 1], got {alpha}")
    a, b = read_weights(Path(start)), read_weights(Path(tuned))
    diff = differing_crystal_keys(a, b)
    if diff:
        raise CheckpointError(f"{start} and {tuned} have different crystal sides ({', '.join(diff[:3])} ...)")
    text = [k for k in b if k.startswith(TEXT_SIDE_PREFIXES)]
    bad = [k for k in text if k not in a or a[k].shape != b[k].shape]
    if bad or set(k for k in a if k.startswith(TEXT_SIDE_PREFIXES)) != set(text):
        raise CheckpointError(f"{start} and {tuned} have different text sides ({', '.join(bad[:3])} ...)")
    merged = dict(b)
    for k in text:
        if b[k].is_floating_point():
            merged[k] = ((1.0 - alpha) * a[k].double() + alpha * b[k].double()).to(b[k].dtype)
    dst = Path(out)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(tuned, dst)
    save_file({k: v.contiguous() for k, v in merged.items()}, str(dst / WEIGHTS_NAME))
    meta = json.loads((dst / CONFIG_NAME).read_text())
    extra = dict(meta.get("extra") or {})
    extra["wise_ft"] = {"alpha": alpha, "start_hash": checkpoint_hash(start), "tuned_hash": checkpoint_hash(tuned)}
    meta["extra"] = extra
    (dst / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
    return dst
