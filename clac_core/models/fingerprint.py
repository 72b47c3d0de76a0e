"""What identifies a checkpoint: a hash of its files (an index records the one that built it),
and which of its tensors are the crystal side (a text-side run keeps them bit for bit).

No torch import at module level: the app's index loading calls :func:`checkpoint_hash`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from clac_core.models.checkpoint import CheckpointError, read_weights

# checkpoint key prefixes of the text side (text backbone layers, text projection, token
# branch, logit scale); every other key is the crystal side (crystal encoder, crystal
# projection, aux head and their buffers), which a text-side run (train.locked_crystal) keeps
TEXT_SIDE_PREFIXES = ("text.", "text_proj.", "token_branch.", "logit_scale")


def checkpoint_hash(path: str | Path) -> str:
    """Short sha256 over a checkpoint file or every file in a checkpoint directory."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    if not files:
        raise CheckpointError(f"checkpoint {p} has no files")
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def crystal_side_differences(a: str | Path, b: str | Path) -> list[str]:
    """Crystal-side tensors (keys outside :data:`TEXT_SIDE_PREFIXES`) that differ between two
    checkpoint directories, or are stored in only one of them ([] = the same crystal tower)."""
    import torch

    wa, wb = (read_weights(Path(p)) for p in (a, b))
    keys = sorted({k for k in (*wa, *wb) if not k.startswith(TEXT_SIDE_PREFIXES)})
    return [k for k in keys if k not in wa or k not in wb or not torch.equal(wa[k], wb[k])]
