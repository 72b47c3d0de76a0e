"""Distributed set-up: rank/world from the ``torchrun`` environment, device choice, collectives.

No ``DistributedDataParallel`` wrapper: the model is called through ``encode_*`` methods, not
``forward``, so embeddings are all-gathered *with gradients*
(``torch.distributed.nn.functional.all_gather``) and every rank computes the loss over the
global batch; gradients are averaged with one flat all-reduce before each step. Rank 0 writes
every file. Shape legend: B items per rank, W ranks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class DistInfo:
    """This process's place in the job (one process per device)."""

    rank: int = 0  # global rank
    world_size: int = 1  # processes in the job
    local_rank: int = 0  # rank on this machine (the CUDA device index)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def dist_from_env() -> DistInfo:
    """``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` as ``torchrun`` sets them (defaults: one process)."""
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``."""
    import torch

    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={spec!r} but CUDA is not available")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


@contextmanager
def process_group(dist: DistInfo, device_spec: str) -> Iterator[None]:
    """Set up the process group under ``torchrun`` (nccl on CUDA, gloo on CPU), tear it down after.

    Does nothing for a single process or when a group already exists (then its owner tears it
    down). On CPU the cores are shared out between the local ranks.
    """
    if not dist.enabled:
        yield
        return
    import torch
    import torch.distributed as tdist

    started = False
    if not tdist.is_initialized():
        use_cuda = (
            torch.cuda.is_available() and device_spec in ("auto", "cuda") or device_spec.startswith("cuda")
        )
        if use_cuda:
            torch.cuda.set_device(dist.local_rank)
        tdist.init_process_group(backend="nccl" if use_cuda else "gloo")
        started = True
    if not torch.cuda.is_available():
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", dist.world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    try:
        yield
    finally:
        if started:
            tdist.destroy_process_group()


def barrier(dist: DistInfo) -> None:
    if dist.enabled:
        import torch.distributed as tdist

        tdist.barrier()


def gather(x: torch.Tensor, dist: DistInfo, with_grad: bool) -> torch.Tensor:
    """(B, ...) per rank -> (W*B, ...) in rank order; ``with_grad`` keeps the autograd graph."""
    import torch
    import torch.distributed as tdist

    if not dist.enabled:
        return x
    if with_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.cat(list(all_gather(x)), 0)
    parts = [torch.empty_like(x) for _ in range(dist.world_size)]
    tdist.all_gather(parts, x)
    return torch.cat(parts, 0)


def all_reduce_grads(params: Sequence[torch.nn.Parameter], dist: DistInfo) -> None:
    """Average the gradients of ``params`` over ranks with one flat all-reduce."""
    if not dist.enabled:
        return
    import torch
    import torch.distributed as tdist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    tdist.all_reduce(flat)
    flat /= dist.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n
