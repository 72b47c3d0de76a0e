"""Benchmark helper scripts: their small pure helpers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_zero_shot_subset_labels_space_groups_like_the_facts():
    zs = _load("zero_shot_subset")
    assert [zs.system_of(n) for n in (0, 1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230, 231)] == [
        None, "triclinic", "triclinic", "monoclinic", "monoclinic", "orthorhombic", "orthorhombic",
        "tetragonal", "tetragonal", "trigonal", "trigonal", "hexagonal", "hexagonal", "cubic", "cubic", None,
    ]
