"""What every evaluation section shares: the options, the evaluated set, the model, its embeddings.

A *section* is one top-level entry of ``results.json`` (``retrieval``, ``zero_shot``, ...): a
:class:`Section` pairs its key with a function ``EvalContext -> dict``. The list of sections
run by ``clac eval`` is :data:`clac_core.evaluation.pipeline.SECTIONS`; a new section is a module
with such a function plus one entry in that list.

Importing this module is cheap (numpy only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.evaluation.dataset import EvalSet
    from clac_core.evaluation.embeddings import Embeddings


@dataclass(frozen=True)
class EvalOptions:
    """The knobs of one ``clac eval`` run (CLI flags of the same names)."""

    split: str | None = None  # data dir default "test"; specs default: every row
    split_kind: str | None = None  # formula | chemsys; None: the checkpoint's training split, else formula
    text_column: str | None = None  # csv: column whose texts are the queries
    pools: Sequence[int | None] = (100, 1000, None)  # retrieval pool sizes (None = whole split)
    repeats: int = 5  # random pools per size
    seed: int = 0  # pools, query choice, random-init weights, probe split
    limit: int | None = None  # at most this many crystals
    second: str | None = None  # second corpus spec for leakage.second_corpus
    second_limit: int | None = None  # crystals of the second corpus (None: ``limit``)
    probe_epochs: int = 5  # supervised baseline budget (0 skips it)
    device: str = "cpu"  # cpu | cuda | auto
    batch_size: int = 128  # crystals/texts per forward
    queries_path: str | Path | None = None  # free-text queries YAML (None: the packaged one)
    progress: bool = True  # tqdm bars and stage announcements


@dataclass
class EvalContext:
    """Shared state handed to every section, in :data:`~clac_core.evaluation.pipeline.SECTIONS` order.

    Attributes:
        checkpoint: the checkpoint directory evaluated.
        data: the ``--data`` argument.
        options: the run's options.
        es: the evaluated crystals and texts (N crystals, T texts).
        model: the loaded :class:`~clac_core.models.CLaCModel`, on ``device``.
        graphs: (N) crystal graphs of ``es``.
        emb: model, random-init and text-encoder embeddings of ``es``.
        device: the torch device.
        checkpoint_meta: the checkpoint's metadata (step, extra...).
        results: the sections computed so far, by key (a section may read an earlier one).
        shared: intermediate values a section leaves for later ones (e.g. every system's
            retrieval, read by the ``baselines`` section).
    """

    checkpoint: str | Path
    data: str
    options: EvalOptions
    es: EvalSet
    model: Any
    graphs: list[Any]
    emb: Embeddings
    device: Any
    checkpoint_meta: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """One top-level entry of ``results.json``.

    Attributes:
        key: the entry's key (also the key of its time in ``meta.seconds``).
        run: ``EvalContext -> dict``, the entry's value.
        announce: ``EvalContext -> str``, a line logged before a slow section runs; None for a
            quick one.
    """

    key: str
    run: Callable[[EvalContext], dict[str, Any]]
    announce: Callable[[EvalContext], str] | None = None
