"""Benchmark helper scripts that copy library constants keep them in sync."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_zero_shot_subset_uses_the_evaluation_prompts_and_systems():
    from clac_core.evaluate import ZERO_SHOT_PROMPTS
    from clac_core.models.crystal import _SYSTEM_STARTS

    zs = _load("zero_shot_subset")
    assert {s: zs.prompts(s) for s in zs.SYSTEMS} == ZERO_SHOT_PROMPTS["crystal_system"]
    assert zs.STARTS == _SYSTEM_STARTS
    assert [zs.system_of(n) for n in (0, 1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230, 231)] == [
        None, "triclinic", "triclinic", "monoclinic", "monoclinic", "orthorhombic", "orthorhombic",
        "tetragonal", "tetragonal", "trigonal", "trigonal", "hexagonal", "hexagonal", "cubic", "cubic", None,
    ]
