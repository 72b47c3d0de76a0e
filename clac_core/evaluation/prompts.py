"""The zero-shot prompt table: the one home of the prompts ``clac eval`` scores and the app shows.

Each class is described by a few templates whose embeddings are averaged. ``clac eval``
(:mod:`clac_core.evaluation.zero_shot`) scores every task in :data:`ZERO_SHOT_TASKS`; the app's
zero-shot panel (:mod:`clac_core.inference`) shows a selection of the same tasks, so what the
app labels a crystal with is what the model card measured.

Importing this module is cheap (no pymatgen, no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clac_core.symmetry import CRYSTAL_SYSTEMS

SMALL_GAP_SPLIT = 1.5  # eV, "small" vs "large" gap among gapped crystals (task gap_size)


@dataclass(frozen=True)
class ZeroShotTask:
    """A zero-shot classification task: class -> prompt templates (embeddings averaged).

    Attributes:
        key: the task's key in ``results.json`` (``zero_shot.KEY``).
        name: the label the app shows.
        prompts: class -> templates, in class order.
    """

    key: str
    name: str
    prompts: dict[str, tuple[str, ...]]


ZERO_SHOT_TASKS: tuple[ZeroShotTask, ...] = (
    ZeroShotTask(
        "crystal_system",
        "crystal system",
        {
            s: (
                f"a crystal in the {s} crystal system",
                f"a {s} crystal structure",
                f"a material with a {s} lattice",
            )
            for s in CRYSTAL_SYSTEMS
        },
    ),
    # The classes are "no gap" vs "any gap": the prompts use the class-word table's words for
    # exactly those intervals ("metallic", "non-metallic"), not "insulator" (a gap >= 4 eV there)
    ZeroShotTask(
        "metal_vs_insulator",
        "metal / non-metal",
        {
            "metal": ("a metal", "a metallic compound with no band gap", "a metallic conductor"),
            "non-metal": (
                "a non-metallic compound with a band gap",
                "a non-metallic crystal with a band gap",
                "a non-metallic compound",
            ),
        },
    ),
    # The split is a number, so the prompts state the number (no class word has this meaning)
    ZeroShotTask(
        "gap_size",
        f"band gap below / above {SMALL_GAP_SPLIT} eV",
        {
            "small_gap": (f"a semiconductor with a band gap below {SMALL_GAP_SPLIT} eV",
                          f"a compound with a band gap under {SMALL_GAP_SPLIT} eV"),
            "large_gap": (f"a material with a band gap above {SMALL_GAP_SPLIT} eV",
                          f"a compound with a band gap over {SMALL_GAP_SPLIT} eV"),
        },
    ),
)

# key -> class -> templates, for callers that only need the prompts
ZERO_SHOT_PROMPTS: dict[str, dict[str, tuple[str, ...]]] = {t.key: t.prompts for t in ZERO_SHOT_TASKS}


def zero_shot_tasks(*keys: str) -> tuple[ZeroShotTask, ...]:
    """The tasks named by ``keys`` (in that order); every task when none is given."""
    by_key = {t.key: t for t in ZERO_SHOT_TASKS}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise KeyError(f"unknown zero-shot task(s) {unknown}; known: {list(by_key)}")
    return tuple(by_key[k] for k in keys) if keys else ZERO_SHOT_TASKS


def prototype_prompts(classes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Templates for the structure-prototype task, whose classes come from the evaluated data."""
    return {c: (f"a crystal with the {c} structure", f"a {c}-type compound") for c in classes}
