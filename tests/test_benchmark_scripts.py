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


def test_bench_build_prints_every_stage(tiny, capsys):
    import json

    bb = _load("bench_build")
    assert bb.main(["--n", "6", "--checkpoint", str(tiny[0]), "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["n"] == 6 and line["crystal_kind"] == "cgcnn" and line["device"] == "cpu"
    assert set(line["crystals_per_s"]) == {"graphs", "encoder", "embed", "chunk"}  # no CHGNet tower
    assert all(v > 0 for v in line["crystals_per_s"].values())
