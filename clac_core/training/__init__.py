"""Contrastive training: ``fit(cfg, data_dir, out_dir)`` and ``clac train``.

One loop for CPU, one GPU and DDP (``torchrun ... -m clac_core.cli train ...``), one module per job:

- :mod:`~clac_core.training.loop`: :class:`~clac_core.training.loop.Trainer` (data, model,
  resume, one epoch, validation) and :func:`~clac_core.training.loop.fit`.
- :mod:`~clac_core.training.step`: one optimisation step (gather, forward + loss, backward,
  optimizer step), mixed into ``Trainer``.
- :mod:`~clac_core.training.reporting`: batch log lines, the epoch's ``metrics.csv`` row and
  ``train_info.json``, mixed into ``Trainer``.
- :mod:`~clac_core.training.optim`: AdamW with a separate learning rate for trained
  text-backbone layers, linear warmup then cosine decay (per optimizer step).
- :mod:`~clac_core.training.state`: checkpoint and RNG state (save, find, resume).
- :mod:`~clac_core.training.distributed`: rank/world from ``torchrun``, device choice,
  process group, all-gather with gradients, gradient all-reduce.
- :mod:`~clac_core.training.logger`: ``metrics.csv``, TensorBoard, epoch lines, ``train_info.json``.
- :mod:`~clac_core.training.cli`: the ``clac train`` command.

What a run does:

* Gradient clipping and accumulation, bf16 autocast on CUDA (fp32 on CPU).
* DDP: ranks take interleaved shards of the epoch order (:class:`clac_core.data.EpochSampler`);
  embeddings are all-gathered *with gradients* (``torch.distributed.nn.functional.all_gather``)
  so every rank computes the loss over the global batch, and gradients are averaged with one
  all-reduce before each step (no ``DistributedDataParallel`` wrapper: the model is called
  through ``encode_*`` methods, not ``forward``). Rank 0 writes every file.
* Per epoch: retrieval metrics on a fixed validation pool (the tie-aware
  :func:`clac_core.evaluation.metrics.retrieval_metrics`), a row in ``OUT/metrics.csv``,
  ``OUT/last/`` (model + training state) and ``OUT/best/`` (by mean val R@10).
* Intra-modal terms (``loss.intra_text_weight`` / ``loss.intra_crystal_weight`` > 0): each
  batch also carries a second text of the same crystal and/or graphs of augmented copies of
  its crystals (:class:`clac_core.data.PairDataset`), drawn with a generator seeded by
  ``(seed, epoch, batch, rank)`` so a resumed run draws exactly the same views; the named
  terms are logged as extra ``train_*`` columns of ``metrics.csv``. With both weights 0
  nothing extra is drawn, built or logged.
* Aux property regression (``model.aux_properties`` with ``loss.aux_weight`` > 0): a head on
  the crystal embedding regresses standardized properties (statistics from the training
  crystals, stored in the model's buffers); unknown values are masked out of the MSE.
* Checkpoints hold no pickle: model via :func:`clac_core.models.save_checkpoint`, optimizer
  state and torch RNG states in ``train_state.safetensors``, scalars (step, epoch, batch
  position, scheduler, Python/NumPy RNG states) in ``train_state.json``. ``resume=True``
  restores all of it and continues bit-for-bit like an uninterrupted CPU run.

Shape legend: B pairs per batch, W ranks, D embedding dims, H text hidden, P pool size.
"""

from __future__ import annotations
