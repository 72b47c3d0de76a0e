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


def test_concept_queries_judge_by_the_index_columns(tiny, capsys):
    """Each concept query's rule reads the fact it names; the script prints one line per checkpoint."""
    import json

    import pandas as pd

    cq = _load("concept_queries")
    rows = pd.DataFrame({
        "elements": ["V Se", "Na Cl", "Li Co O", "Cd Te", "Zn O", "Cu"],
        "dimensionality": [2.0, 3.0, 3.0, 3.0, 3.0, 3.0],
        "structure_type": ["", "rock salt", "", "zinc blende", "wurtzite", ""],
        "crystal_system": ["hexagonal", "cubic", "trigonal", "cubic", "hexagonal", "cubic"],
        "band_gap": [0.0, 5.0, 1.0, 1.4, 3.2, 0.0],
        "energy_above_hull": [0.0, 0.0, 0.1, 0.0, 0.0, 0.0],
    })  # fmt: skip
    judge = {q: rule(rows).tolist() for q, (_, rule) in cq.QUERIES.items()}
    assert judge["2D van der Waals material"] == [True, False, False, False, False, False]
    assert judge["rock salt compound"] == [False, True, False, False, False, False]
    assert judge["Li-ion battery cathode"] == [False, False, True, False, False, False]
    assert judge["photovoltaic absorber"] == [False, False, False, True, False, False]
    assert judge["transparent conducting oxide"] == [False, False, False, False, True, False]
    assert judge["a metal"] == [True, False, False, False, False, True]
    assert judge["stable compound"] == [True, True, False, True, True, True]
    ckpt, index = tiny
    assert cq.main(["--checkpoint", str(ckpt), "--index", str(index), "--k", "3"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["set"].startswith("development") and set(line["queries"]) | set(line["skipped"]) == set(cq.QUERIES)
    assert line["queries"] and all("no" in why for why in line["skipped"].values())
    assert all(0.0 <= r["share"] <= 1.0 and len(r["top3"]) == 3 for r in line["queries"].values())
