"""What identifies a checkpoint: a hash of its files (an index records the one that built it),
and which of its tensors are the crystal side (a text-side run keeps them bit for bit).

No torch import at module level: the app's index loading calls :func:`checkpoint_hash`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from clac_core.models.checkpoint import CheckpointError, read_weights

if TYPE_CHECKING:  # pragma: no cover
    import torch

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
    return differing_crystal_keys(read_weights(Path(a)), read_weights(Path(b)))


def differing_crystal_keys(wa: dict[str, torch.Tensor], wb: dict[str, torch.Tensor]) -> list[str]:
    """:func:`crystal_side_differences` of two state dicts already read."""
    import torch

    keys = sorted({k for k in (*wa, *wb) if not k.startswith(TEXT_SIDE_PREFIXES)})
    return [k for k in keys if k not in wa or k not in wb or not torch.equal(wa[k], wb[k])]
