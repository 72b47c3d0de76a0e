"""Contrastive training: ``fit(cfg, data_dir, out_dir)`` and ``clac train``.

One loop for CPU, one GPU and DDP (``torchrun ... -m clac_core.cli train ...``):

* AdamW with a separate learning rate for trained text-backbone layers, linear warmup then
  cosine decay (per optimizer step), gradient clipping and accumulation, bf16 autocast on
  CUDA (fp32 on CPU).
* DDP: ranks take interleaved shards of the epoch order (:class:`clac_core.data.EpochSampler`);
  embeddings are all-gathered *with gradients* (``torch.distributed.nn.functional.all_gather``)
  so every rank computes the loss over the global batch, and gradients are averaged with one
  all-reduce before each step (no ``DistributedDataParallel`` wrapper: the model is called
  through ``encode_*`` methods, not ``forward``). Rank 0 writes every file.
* Per epoch: retrieval metrics on a fixed validation pool, a row in ``OUT/metrics.csv``,
  ``OUT/last/`` (model + training state) and ``OUT/best/`` (by mean val R@10).
* Intra-modal terms (``loss.intra_text_weight`` / ``loss.intra_crystal_weight`` > 0): each
  batch also carries a second text of the same crystal and/or graphs of augmented copies of
  its crystals (:class:`clac_core.data.PairDataset`), drawn with a generator seeded by
  ``(seed, epoch, batch, rank)`` so a resumed run draws exactly the same views; the named
  terms are logged as extra ``train_*`` columns of ``metrics.csv``. With both weights 0
  nothing extra is drawn, built or logged.
* Checkpoints hold no pickle: model via :func:`clac_core.models.save_checkpoint`, optimizer
  state and torch RNG states in ``train_state.safetensors``, scalars (step, epoch, batch
  position, scheduler, Python/NumPy RNG states) in ``train_state.json``. ``resume=True``
  restores all of it and continues bit-for-bit like an uninterrupted CPU run.

Shape legend: B pairs per batch, W ranks, D embedding dims, H text hidden, P pool size.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.config import ExperimentConfig, load_config, save_config, to_dict

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clac_core.data import PairBatch, PairDataset

STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.safetensors"
METRIC_KEYS = ("t2c_r1", "t2c_r5", "t2c_r10", "t2c_mrr", "c2t_r1", "c2t_r5", "c2t_r10", "c2t_mrr", "mean_r10")
METRICS_COLUMNS = (
    "epoch",
    "step",
    "train_loss",
    "lr",
    "text_lr",
    "logit_scale",
    "pairs_per_s",
    "epoch_seconds",
    "val_pool",
    *(f"val_{k}" for k in METRIC_KEYS),
)
# per-epoch means of the named loss terms, inserted after train_loss when an intra term is on
INTRA_TERMS = ("intra_text", "intra_crystal")
TERM_COLUMNS = ("train_cross", *(f"train_{t}" for t in INTRA_TERMS))


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_from_env() -> DistInfo:
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


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total`` steps."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def retrieval_metrics(text_emb: torch.Tensor, crystal_emb: torch.Tensor) -> dict[str, float]:
    """R@1/5/10 and MRR for text->crystal and crystal->text; row i of both is one pair.

    Delegates to :func:`clac_core.evaluation.metrics.retrieval_metrics`, the one metrics
    function of the project: ties are broken at random in expectation, so a collapsed model
    (all scores equal) scores chance, never 1.0, and cannot be saved as the best checkpoint.

    Args:
        text_emb: (P, D) normalized.
        crystal_emb: (P, D) normalized.

    Returns:
        {"t2c_r1", ..., "c2t_mrr", "mean_r10"}.
    """
    from clac_core.evaluation.metrics import retrieval_metrics as pooled_metrics

    sim = (text_emb.float() @ crystal_emb.float().t()).cpu().numpy()  # (P, P)
    out: dict[str, float] = {}
    for name, s in (("t2c", sim), ("c2t", sim.T)):
        m = pooled_metrics(s, ks=(1, 5, 10))
        for k in (1, 5, 10):
            out[f"{name}_r{k}"] = m[f"R@{k}"]
        out[f"{name}_mrr"] = m["MRR"]
    out["mean_r10"] = 0.5 * (out["t2c_r10"] + out["c2t_r10"])
    return out


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Python/NumPy RNG states as JSON, torch states as tensors."""
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


def _set_rng_state(js: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
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


def _optimizer_to_flat(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
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


def _optimizer_from_flat(tensors: dict[str, torch.Tensor], js: dict[str, Any]) -> dict[str, Any]:
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


def _hardware(device: torch.device, world: int) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": str(device),
        "world_size": world,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


# --------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------
class Trainer:
    """Holds model, optimizer, data and bookkeeping for one run (see :func:`fit`)."""

    def __init__(
        self, cfg: ExperimentConfig, data_dir: str | Path, out_dir: str | Path, dist: DistInfo
    ) -> None:
        import torch

        self.cfg = cfg
        self.tc = cfg.train
        self.data_dir = Path(data_dir)
        self.out = Path(out_dir)
        self.dist = dist
        self.device = resolve_device(self.tc.device, dist.local_rank)
        if self.device.type == "cpu" and self.tc.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.amp = bool(self.tc.amp and self.device.type == "cuda")
        self.cached = cfg.model.text.train_mode == "cached"
        self.intra_text = cfg.loss.intra_text_weight > 0
        self.intra_crystal = cfg.loss.intra_crystal_weight > 0
        self.t0 = time.time()

    # -- setup ---------------------------------------------------------------------------
    def _barrier(self) -> None:
        if self.dist.enabled:
            import torch.distributed as tdist

            tdist.barrier()

    def setup(self) -> None:
        from clac_core.data import EpochSampler, eval_pool, load_data_dir, load_graph_cache, select_pairs
        from clac_core.data import PairDataset as _PairDataset

        tc = self.tc
        _seed_everything(tc.seed)
        data = load_data_dir(self.data_dir)
        train_pairs = select_pairs(data.pairs, "train", max_pairs=tc.max_pairs, seed=tc.seed)
        if len(train_pairs) < 2:
            raise ValueError(f"{self.data_dir} has {len(train_pairs)} training pairs; need at least 2")
        pool = eval_pool(data.pairs, "val", max_crystals=tc.max_eval, seed=tc.seed)
        # rank 0 builds the caches (all cores), the others load them after the barrier
        if self.dist.main:
            graphs = load_graph_cache(data, self.cfg.model.graph)
        self._barrier()
        if not self.dist.main:
            graphs = load_graph_cache(data, self.cfg.model.graph, progress=False)
        train_feats = pool_feats = None
        if self.cached:
            from clac_core.data import text_feature_cache

            texts = list(train_pairs["text"]) + list(pool["text"])
            kw = dict(batch_size=tc.text_cache_batch)
            if self.dist.main:
                feats = text_feature_cache(self.data_dir, texts, self.cfg.model.text, **kw)
            self._barrier()
            if not self.dist.main:
                feats = text_feature_cache(self.data_dir, texts, self.cfg.model.text, progress=False, **kw)
            train_feats, pool_feats = feats[: len(train_pairs)], feats[len(train_pairs) :]
        self.data = data
        self.train_pairs = train_pairs
        targets = self._aux_targets(data, train_pairs)
        # second texts are drawn among the training pairs, so cached mode already has
        # their features; augmented crystals are rebuilt from the stored arrays per batch
        self.dataset: PairDataset = _PairDataset(
            graphs,
            train_pairs["crystal_index"].to_numpy(),
            list(train_pairs["text"]),
            train_feats,
            second_text=self.intra_text,
            structures=data.structures if self.intra_crystal else None,
            targets=targets,
        )
        self.pool = pool
        self.pool_dataset = _PairDataset(
            graphs, pool["crystal_index"].to_numpy(), list(pool["text"]), pool_feats
        )
        self.sampler = EpochSampler(
            self.dataset.crystal_index,
            tc.sampling,
            seed=tc.seed,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        self.batches_per_epoch = self.sampler.num_batches(tc.batch_size)
        if self.batches_per_epoch == 0:
            raise ValueError("no training batch: fewer than 2 training pairs per rank")
        self.steps_per_epoch = -(-self.batches_per_epoch // max(1, tc.grad_accum))
        self.total_steps = self.steps_per_epoch * tc.epochs
        self._build_model()

    def _aux_targets(self, data: Any, train_pairs: Any) -> np.ndarray | None:
        """(C, K) standardized aux targets (NaN = unknown), statistics from training crystals
        only (kept in ``self.aux_stats`` and written into the model's buffers)."""
        names = list(self.cfg.model.aux_properties)
        self.aux_stats: tuple[np.ndarray, np.ndarray] | None = None
        if not names:
            return None
        from clac_core.data import crystal_targets

        raw = crystal_targets(data, names)  # (C, K)
        rows = np.unique(train_pairs["crystal_index"].to_numpy())
        mean = np.nanmean(raw[rows], axis=0)
        std = np.nanstd(raw[rows], axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        self.aux_stats = (mean.astype(np.float32), std.astype(np.float32))
        return ((raw - mean) / std).astype(np.float32)

    def _build_model(self) -> None:
        import torch

        from clac_core.loss import ClacLoss
        from clac_core.models.clip import CLaCModel

        tc = self.tc
        torch.manual_seed(tc.seed)  # identical initial weights on every rank
        self.model = CLaCModel(self.cfg.model, load_text_backbone=not self.cached).to(self.device)
        if getattr(self, "aux_stats", None) is not None:
            self.model.aux_mean.copy_(torch.from_numpy(self.aux_stats[0]))
            self.model.aux_std.copy_(torch.from_numpy(self.aux_stats[1]))
        torch.manual_seed(tc.seed + 1000 * self.dist.rank)  # per-rank dropout streams
        self.loss_fn = ClacLoss(self.cfg.loss)
        groups: dict[str, list[torch.nn.Parameter]] = {
            "decay": [],
            "no_decay": [],
            "text_decay": [],
            "text_no_decay": [],
        }
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            text = name.startswith("text.")
            no_decay = p.dim() < 2 or name == "logit_scale"
            groups[("text_" if text else "") + ("no_decay" if no_decay else "decay")].append(p)
        param_groups = []
        for key, params in groups.items():
            if not params:
                continue
            param_groups.append(
                {
                    "params": params,
                    "lr": tc.text_lr if key.startswith("text") else tc.lr,
                    "weight_decay": 0.0 if key.endswith("no_decay") else tc.weight_decay,
                    "name": key,
                }
            )
        self.params = [p for g in param_groups for p in g["params"]]
        self.optimizer = torch.optim.AdamW(param_groups, lr=tc.lr, betas=(0.9, 0.98), eps=1e-6)
        warm, total = tc.warmup_steps, self.total_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, warm, total)
        )
        self.step = 0
        self.epoch = 0  # next epoch to run
        self.batch_in_epoch = 0  # next batch of self.epoch (resume inside an epoch)
        self.loss_sum = 0.0  # running sums of the current epoch (restored on resume)
        self.loss_count = 0
        self.term_sums: dict[str, float] = {}  # named loss terms, summed like loss_sum
        self.epoch_pairs = 0
        self.epoch_seconds = 0.0
        self.best = -1.0
        self.best_epoch = -1

    # -- checkpoints ---------------------------------------------------------------------
    def _save_state(self, folder: Path, metrics: dict[str, float] | None) -> None:
        """Write ``folder`` = model checkpoint + training state, replacing it atomically-ish."""
        from safetensors.torch import save_file

        from clac_core.models.checkpoint import save_checkpoint

        tmp = folder.with_name(folder.name + ".new")
        if tmp.exists():
            shutil.rmtree(tmp)
        extra = {
            "epoch": self.epoch,
            "metrics": metrics or {},
            "data_dir": str(self.data_dir),
            "train_pairs": len(self.train_pairs),
            "train_crystals": self.sampler.num_crystals,
        }
        save_checkpoint(self.model, tmp, step=self.step, extra=extra)
        opt_t, opt_js = _optimizer_to_flat(self.optimizer.state_dict())
        rng_js, rng_t = _rng_state()
        save_file({**opt_t, **rng_t}, str(tmp / STATE_TENSORS))
        sched = {k: v for k, v in self.scheduler.state_dict().items() if k != "lr_lambdas"}
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "term_sums": self.term_sums,
            "epoch_pairs": self.epoch_pairs,
            "epoch_seconds": self.epoch_seconds,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "world_size": self.dist.world_size,
            "optimizer": opt_js,
            "scheduler": sched,
            "rng": rng_js,
        }
        (tmp / STATE_JSON).write_text(json.dumps(state), encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        if old.exists():
            shutil.rmtree(old)

    def _save_model_only(self, folder: Path, metrics: dict[str, float]) -> None:
        from clac_core.models.checkpoint import save_checkpoint

        tmp = folder.with_name(folder.name + ".new")
        if tmp.exists():
            shutil.rmtree(tmp)
        save_checkpoint(
            self.model,
            tmp,
            step=self.step,
            extra={"epoch": self.epoch, "metrics": metrics, "data_dir": str(self.data_dir)},
        )
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)

    def resume_from(self, folder: Path) -> None:
        """Restore model, optimizer, scheduler, RNG and loop position from ``folder``."""
        from safetensors.torch import load_file

        state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
        if int(state.get("world_size", 1)) != self.dist.world_size:
            print(
                f"note: resuming a run saved with world_size={state.get('world_size')} on "
                f"world_size={self.dist.world_size}; the data order restarts at the saved epoch",
                file=sys.stderr,
            )
            state["batch_in_epoch"] = 0
        weights = load_file(str(folder / "model.safetensors"), device="cpu")
        missing, unexpected = self.model.load_state_dict(weights, strict=False)
        if unexpected:
            raise ValueError(f"{folder}: checkpoint tensors the model does not know: {unexpected[:5]}")
        bad = [k for k in missing if not k.startswith("text.backbone.")]
        if bad:
            raise ValueError(f"{folder}: checkpoint lacks model tensors {bad[:5]}")
        tensors = load_file(str(folder / STATE_TENSORS), device="cpu")
        self.optimizer.load_state_dict(_optimizer_from_flat(tensors, state["optimizer"]))
        sched = dict(state["scheduler"])
        sched["lr_lambdas"] = [None] * len(self.optimizer.param_groups)
        self.scheduler.load_state_dict(sched)
        for key in ("step", "epoch", "batch_in_epoch", "loss_count", "epoch_pairs", "best_epoch"):
            setattr(self, key, int(state[key]))
        for key in ("loss_sum", "epoch_seconds", "best"):
            setattr(self, key, float(state[key]))
        self.term_sums = {k: float(v) for k, v in state.get("term_sums", {}).items()}
        _set_rng_state(state["rng"], tensors)
        if self.dist.enabled:
            import torch

            # per-rank dropout streams: rank 0's state was saved; derive the others from it
            torch.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) + self.dist.rank)

    # -- one step ------------------------------------------------------------------------
    def _gather(self, x: torch.Tensor, with_grad: bool) -> torch.Tensor:
        import torch
        import torch.distributed as tdist

        if not self.dist.enabled:
            return x
        if with_grad:
            from torch.distributed.nn.functional import all_gather

            return torch.cat(list(all_gather(x)), 0)
        parts = [torch.empty_like(x) for _ in range(self.dist.world_size)]
        tdist.all_gather(parts, x)
        return torch.cat(parts, 0)

    def _collate_rng(self, epoch: int, b_idx: int) -> np.random.Generator | None:
        """Generator for a batch's second texts / augmentations, a pure function of
        ``(seed, epoch, batch, rank)`` (nothing to save for resume); None when both are off."""
        if not self.dataset.has_views:
            return None
        return np.random.default_rng([self.tc.seed, 2, int(epoch), int(b_idx), self.dist.rank])

    def _encode_texts(self, texts: list[str] | None, features: torch.Tensor | None) -> torch.Tensor:
        if features is not None:
            return self.model.encode_text_features(features)  # (B, D)
        return self.model.encode_text(texts)  # (B, D)

    def _forward_terms(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        """Named loss terms of one batch (``"loss"`` = weighted sum), over the global batch."""
        import torch

        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()
        crystal_emb2 = text_emb2 = aux_pred = None
        with ctx:
            if self.cfg.loss.aux_weight > 0:
                crystal_emb, aux_pred = self.model.encode_crystal_aux(batch.graphs)  # (B, D), (B, K)
            else:
                crystal_emb = self.model.encode_crystal(batch.graphs)  # (B, D)
            text_emb = self._encode_texts(batch.texts, batch.text_features)  # (B, D)
            if self.intra_text:
                text_emb2 = self._encode_texts(batch.texts2, batch.text_features2)  # (B, D)
            if self.intra_crystal:
                crystal_emb2 = self.model.encode_crystal(batch.graphs2)  # (B, D)
        crystal_emb = self._gather(crystal_emb.float(), True)  # (W*B, D)
        text_emb = self._gather(text_emb.float(), True)
        if text_emb2 is not None:
            text_emb2 = self._gather(text_emb2.float(), True)
        if crystal_emb2 is not None:
            crystal_emb2 = self._gather(crystal_emb2.float(), True)
        ids = self._gather(batch.crystal_index, False)
        return self.loss_fn(
            crystal_emb,
            text_emb,
            self.model.logit_scale_value(),
            ids,
            crystal_emb2=crystal_emb2,
            text_emb2=text_emb2,
            aux_pred=None if aux_pred is None else aux_pred.float(),  # per rank: a local regression term
            aux_target=batch.targets,
        )

    def _forward_loss(self, batch: PairBatch) -> torch.Tensor:
        return self._forward_terms(batch)["loss"]

    def _all_reduce_grads(self) -> None:
        if not self.dist.enabled:
            return
        import torch
        import torch.distributed as tdist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        tdist.all_reduce(flat)
        flat /= self.dist.world_size
        offset = 0
        for p in self.params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def _optimizer_step(self) -> None:
        import torch

        self._all_reduce_grads()
        if self.tc.grad_clip and self.tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.tc.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Retrieval metrics on the validation pool (one text per crystal); {} if no pool."""
        import torch

        if len(self.pool_dataset) < 2:
            return {}
        self.model.eval()
        bs = max(2, self.tc.eval_batch_size)
        cr, tx = [], []
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()
        with torch.no_grad(), ctx:
            for lo in range(0, len(self.pool_dataset), bs):
                b = self.pool_dataset.collate(np.arange(lo, min(lo + bs, len(self.pool_dataset)))).to(
                    self.device
                )
                cr.append(self.model.encode_crystal(b.graphs).float())
                if b.text_features is not None:
                    tx.append(self.model.encode_text_features(b.text_features).float())
                else:
                    tx.append(self.model.encode_text(b.texts).float())
        self.model.train()
        return retrieval_metrics(torch.cat(tx), torch.cat(cr))

    # -- logging -------------------------------------------------------------------------
    def _metrics_path(self) -> Path:
        return self.out / "metrics.csv"

    def _truncate_metrics(self) -> None:
        """Drop rows of epochs after the resumed state (written before a crash)."""
        path = self._metrics_path()
        if not path.is_file():
            return
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= self.epoch]
        self._write_metrics_rows(rows, mode="w")

    @property
    def metrics_columns(self) -> tuple[str, ...]:
        """``METRICS_COLUMNS``, plus ``TERM_COLUMNS`` after train_loss when an intra term is on."""
        if not (self.intra_text or self.intra_crystal):
            return METRICS_COLUMNS
        at = METRICS_COLUMNS.index("train_loss") + 1
        return (*METRICS_COLUMNS[:at], *TERM_COLUMNS, *METRICS_COLUMNS[at:])

    def _write_metrics_rows(self, rows: list[dict[str, Any]], mode: str = "a") -> None:
        path = self._metrics_path()
        new = mode == "w" or not path.is_file()
        columns = self.metrics_columns
        with open(path, mode if not new else "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(columns))
            if new:
                w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in columns})

    # -- the loop ------------------------------------------------------------------------
    def train(self) -> Path:
        from tqdm.auto import tqdm

        tc = self.tc
        writer = None
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.out / "config.yaml")
            self._truncate_metrics()
            try:
                from torch.utils.tensorboard import SummaryWriter

                writer = SummaryWriter(str(self.out / "tb"))
            except Exception:  # tensorboard not installed: metrics.csv only
                writer = None
        self.model.train()
        accum = max(1, tc.grad_accum)
        try:
            while self.epoch < tc.epochs:
                epoch = self.epoch
                bar = tqdm(
                    total=self.batches_per_epoch,
                    initial=self.batch_in_epoch,
                    desc=f"epoch {epoch + 1}/{tc.epochs}",
                    unit="batch",
                    disable=not self.dist.main,
                    dynamic_ncols=True,
                )
                t_start = time.time()
                seconds_before = self.epoch_seconds
                micro = 0
                for b_idx, positions in enumerate(
                    self.sampler.batches(epoch, tc.batch_size, start=self.batch_in_epoch),
                    start=self.batch_in_epoch,
                ):
                    rng = self._collate_rng(epoch, b_idx)
                    batch = self.dataset.collate(positions, rng=rng).to(self.device)
                    terms = self._forward_terms(batch)
                    loss = terms["loss"]
                    (loss / accum).backward()
                    micro += 1
                    self.loss_sum += float(loss.detach())
                    self.loss_count += 1
                    if len(terms) > 2:  # intra terms on: keep per-term sums ("cross" included)
                        for name, val in terms.items():
                            if name != "loss":
                                self.term_sums[name] = self.term_sums.get(name, 0.0) + float(val.detach())
                    self.epoch_pairs += len(batch) * self.dist.world_size
                    last_batch = b_idx + 1 == self.batches_per_epoch
                    if micro == accum or last_batch:
                        self._optimizer_step()
                        micro = 0
                        self.batch_in_epoch = b_idx + 1
                        if (
                            tc.save_every_steps
                            and self.step % tc.save_every_steps == 0
                            and not last_batch
                            and self.dist.main
                        ):
                            self.epoch_seconds = seconds_before + time.time() - t_start
                            self._save_state(self.out / "last", None)
                    elapsed = seconds_before + time.time() - t_start
                    bar.update(1)
                    if self.dist.main and (b_idx % max(1, tc.log_every) == 0 or last_batch):
                        n = max(1, self.loss_count)
                        bar.set_postfix(
                            loss=f"{self.loss_sum / n:.4f}",
                            **{t: f"{v / n:.4f}" for t, v in self.term_sums.items() if t in INTRA_TERMS},
                            pairs_s=f"{self.epoch_pairs / max(elapsed, 1e-9):.0f}",
                            scale=f"{float(self.model.logit_scale_value().detach()):.1f}",
                        )
                    if writer is not None and self.step % max(1, tc.log_every) == 0 and micro == 0:
                        writer.add_scalar("train/loss", float(loss.detach()), self.step)
                        if len(terms) > 2:
                            for name, val in terms.items():
                                if name != "loss":
                                    writer.add_scalar(f"train/{name}", float(val.detach()), self.step)
                        writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], self.step)
                bar.close()
                self.epoch_seconds = seconds_before + time.time() - t_start
                self._end_epoch(writer)
        finally:
            if writer is not None:
                writer.close()
        self._barrier()
        best = self.out / "best"
        return best if best.is_dir() else self.out / "last"

    def _end_epoch(self, writer: Any) -> None:
        metrics = self.evaluate() if self.dist.main else {}
        row: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "step": self.step,
            "train_loss": self.loss_sum / max(1, self.loss_count),
            **{f"train_{k}": v / max(1, self.loss_count) for k, v in self.term_sums.items()},
            "lr": self.optimizer.param_groups[0]["lr"],
            "text_lr": next(
                (g["lr"] for g in self.optimizer.param_groups if g["name"].startswith("text")), ""
            ),
            "logit_scale": float(self.model.logit_scale_value().detach()),
            "pairs_per_s": self.epoch_pairs / max(self.epoch_seconds, 1e-9),
            "epoch_seconds": self.epoch_seconds,
            "val_pool": len(self.pool_dataset),
            **{f"val_{k}": v for k, v in metrics.items()},
        }
        self.epoch += 1
        self.batch_in_epoch = 0
        self.loss_sum, self.loss_count, self.epoch_pairs, self.epoch_seconds = 0.0, 0, 0, 0.0
        self.term_sums = {}
        if self.dist.main:
            self._write_metrics_rows([row])
            if writer is not None:
                for k, v in row.items():
                    if k.startswith("val_") and isinstance(v, float):
                        writer.add_scalar(f"val/{k[4:]}", v, self.step)
            score = metrics.get("mean_r10", -1.0) if metrics else float(-row["train_loss"])
            if score > self.best:
                self.best, self.best_epoch = score, self.epoch
                self._save_model_only(self.out / "best", {**metrics, "epoch": self.epoch})
            self._save_state(self.out / "last", metrics)
            print(
                f"epoch {self.epoch}: loss {row['train_loss']:.4f}, {row['pairs_per_s']:.0f} pairs/s"
                + (
                    f", val t2c R@10 {metrics['t2c_r10']:.3f} c2t R@10 {metrics['c2t_r10']:.3f} "
                    f"(pool {len(self.pool_dataset)})"
                    if metrics
                    else ""
                ),
                file=sys.stderr,
            )
        self._barrier()

    def write_info(self) -> None:
        if not self.dist.main:
            return
        info = {
            "data_dir": str(self.data_dir.resolve()),
            "out_dir": str(self.out.resolve()),
            "train_pairs": len(self.train_pairs),
            "train_crystals": self.sampler.num_crystals,
            "val_pool": len(self.pool_dataset),
            "sampling": self.tc.sampling,
            "epochs": self.tc.epochs,
            "steps": self.step,
            "batches_per_epoch": self.batches_per_epoch,
            "best_epoch": self.best_epoch,
            "best_val_mean_r10": self.best,
            "hardware": _hardware(self.device, self.dist.world_size),
            "seconds": time.time() - self.t0,
        }
        prev = self.out / "train_info.json"
        if prev.is_file():  # a resumed run adds up the wall time of its parts
            try:
                info["seconds_previous_parts"] = json.loads(prev.read_text())["seconds"] + json.loads(
                    prev.read_text()
                ).get("seconds_previous_parts", 0.0)
            except (ValueError, KeyError):
                pass
        (self.out / "train_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def fit(cfg: ExperimentConfig, data_dir: str | Path, out_dir: str | Path, *, resume: bool = False) -> Path:
    """Train a CLaC model contrastively on a ``clac data build`` directory.

    Under ``torchrun`` (env ``WORLD_SIZE`` > 1) the process group is set up here
    (nccl on CUDA, gloo on CPU) and torn down at the end.

    Args:
        cfg: experiment config (model, loss, train).
        data_dir: directory with crystals.parquet and pairs.parquet.
        out_dir: run directory (config.yaml, metrics.csv, train_info.json, best/, last/).
        resume: continue from ``out_dir/last`` if it exists (else start fresh).

    Returns:
        the best checkpoint directory (``out_dir/best``; ``out_dir/last`` if none).
    """
    import torch

    dist = _dist_from_env()
    started_pg = False
    if dist.enabled:
        import torch.distributed as tdist

        if not tdist.is_initialized():
            use_cuda = (
                torch.cuda.is_available()
                and cfg.train.device in ("auto", "cuda")
                or cfg.train.device.startswith("cuda")
            )
            if use_cuda:
                torch.cuda.set_device(dist.local_rank)
            tdist.init_process_group(backend="nccl" if use_cuda else "gloo")
            started_pg = True
        if not torch.cuda.is_available():
            torch.set_num_threads(
                max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", dist.world_size)))
            )
    try:
        trainer = Trainer(cfg, data_dir, out_dir, dist)
        trainer.setup()
        last = Path(out_dir) / "last"
        if resume:
            if not (last / STATE_JSON).is_file() and (last.with_name("last.old") / STATE_JSON).is_file():
                last = last.with_name("last.old")
            if (last / STATE_JSON).is_file():
                trainer.resume_from(last)
                if dist.main:
                    print(
                        f"resuming {out_dir} at epoch {trainer.epoch + 1}, step {trainer.step}",
                        file=sys.stderr,
                    )
            elif dist.main:
                print(
                    f"nothing to resume in {out_dir} (no last/{STATE_JSON}); starting fresh", file=sys.stderr
                )
        result = trainer.train()
        trainer.write_info()
        return result
    finally:
        if started_pg:
            import torch.distributed as tdist

            tdist.destroy_process_group()


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------
def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=Path, default=None, help="YAML config (configs/tiny.yaml, configs/default.yaml, ...)"
    )
    p.add_argument("--data", type=Path, default=None, help="data directory from `clac data build`")
    p.add_argument("--out", type=Path, default=None, help="run directory to write")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="DIR",
        help="continue the run in DIR (or in --out when given without DIR) from its last/ checkpoint",
    )


def run(args: argparse.Namespace) -> int:
    out = args.out
    resume = args.resume
    if isinstance(resume, str):
        out = Path(resume) if out is None else out
        if args.out is not None and Path(resume).resolve() != Path(args.out).resolve():
            print("error: --resume DIR and --out name different directories", file=sys.stderr)
            return 2
        resume = True
    if out is None:
        print("error: --out DIR is required (or --resume DIR)", file=sys.stderr)
        return 2
    out = Path(out)
    config_path = args.config
    data_dir = args.data
    if resume:
        if config_path is None and (out / "config.yaml").is_file():
            config_path = out / "config.yaml"
        if data_dir is None and (out / "last" / "config.json").is_file():
            meta = json.loads((out / "last" / "config.json").read_text(encoding="utf-8"))
            data_dir = meta.get("extra", {}).get("data_dir")
    if data_dir is None:
        print("error: --data DIR is required", file=sys.stderr)
        return 2
    try:
        cfg = load_config(config_path, args.overrides)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best = fit(cfg, data_dir, out, resume=bool(resume))
    if _dist_from_env().main:
        print(json.dumps({"best": str(best), "out": str(out), "config": to_dict(cfg)["train"]}))
    return 0
