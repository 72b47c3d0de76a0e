"""Train/val/test splits: formula-grouped (as stored) and chemical-system-grouped (on load)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clac_core.corpus.splits import (
    assign_chemsys_splits,
    chemical_system,
    chemsys_split_of,
    split_of,
)


def test_chemsys_split_is_a_pure_function_of_system_and_seed() -> None:
    systems = [f"{a}-O" for a in ("Fe", "Li", "Na", "Mg", "Zn", "Ti", "Cu", "Ni", "Co", "Mn")] * 3
    a = assign_chemsys_splits(systems, seed=0)
    assert a == assign_chemsys_splits(systems, seed=0)  # deterministic
    assert a == [chemsys_split_of(s, seed=0) for s in systems]
    assert len({(s, x) for s, x in zip(systems, a, strict=True)}) == len(set(systems))  # grouped
    many = [f"X{i}-O" for i in range(2000)]
    seeds = [assign_chemsys_splits(many, seed=s) for s in (0, 1)]
    assert seeds[0] != seeds[1]  # the seed moves systems
    frac = seeds[0].count("train") / len(many)
    assert frac == pytest.approx(0.8, abs=0.03)
    # its own hash namespace: not the formula split of the same string
    assert [chemsys_split_of(s) for s in many[:200]] != [split_of(s) for s in many[:200]]
    assert chemical_system(["O", "Fe", "O", "Li"]) == "Fe-Li-O"


def test_unknown_split_kind_is_a_clear_error(data_dir: Path) -> None:
    from clac_core.data.datadir import load_data_dir

    with pytest.raises(ValueError, match="unknown split kind"):
        load_data_dir(data_dir, split="elements")


def test_chemsys_split_on_a_data_dir_is_disjoint_and_seeded(data_dir: Path, tmp_path: Path) -> None:
    from clac_core.data.datadir import load_data_dir, read_crystal_splits

    stored = load_data_dir(data_dir)
    d = load_data_dir(data_dir, split="chemsys")
    assert d.split_kind == "chemsys" and stored.split_kind == "formula"
    c = d.crystals
    by_split = {s: set(c.loc[c["split"] == s, "chemsys"]) for s in ("train", "val", "test")}
    assert by_split["train"] and by_split["test"] and by_split["val"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["val"]
    assert not by_split["val"] & by_split["test"]
    # rocksalt and CsCl/zincblende of the same pair share a system, so they share a split
    assert c.groupby("chemsys")["split"].nunique().max() == 1
    # pairs follow their crystal; the stored (formula) split is untouched by default
    assert (d.pairs["split"].to_numpy() == c["split"].to_numpy()[d.pairs["crystal_index"]]).all()
    assert (stored.crystals["split"] != c["split"]).any()
    assert (load_data_dir(data_dir, split="chemsys").crystals["split"] == c["split"]).all()
    side = read_crystal_splits(data_dir, "chemsys")
    assert list(side["split"]) == list(c["split"]) and list(side["chemsys"]) == list(c["chemsys"])
    # the manifest's seed moves systems between splits
    other = tmp_path / "seed1"
    shutil.copytree(data_dir, other, ignore=shutil.ignore_patterns("cache"))
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "seed": 1}))
    assert (load_data_dir(other, split="chemsys").crystals["split"] != c["split"]).any()


def test_eval_set_and_leakage_under_the_chemsys_split(data_dir: Path) -> None:
    from clac_core.evaluation.dataset import eval_set_from_dir
    from clac_core.evaluation.leakage import leakage_eval

    es = eval_set_from_dir(data_dir, "test", split_kind="chemsys", progress=False)
    assert es.split_kind == "chemsys" and len(es.chemsys) == len(es)
    assert es.train_chemsys and not set(es.chemsys) & es.train_chemsys
    meta = {"extra": {"data_dir": str(data_dir), "split": "chemsys"}}
    lk = leakage_eval(es, meta)
    assert lk["test_chemsys_in_train"] == 0 and lk["checkpoint_train_chemsys_overlap"] == 0
    assert lk["test_formulas_in_train"] == 0 and lk["checkpoint_split_kind"] == "chemsys"
