"""Training loop: end to end through the CLI, metrics, checkpoints, resume, DDP, reproducibility.

The data dir is written here in the exact ``clac data build`` layout (docs/ARCHITECTURE.md)
from small cubic crystals built in code (rocksalt, CsCl, zincblende, fluorite, perovskite,
bcc/fcc metals) with simple composition / prototype / symmetry texts, so these tests do not
depend on the corpus builder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clac_core.corpus.record import structure_to_arrays

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"

CATIONS = [
    "Li",
    "Na",
    "K",
    "Rb",
    "Cs",
    "Mg",
    "Ca",
    "Sr",
    "Ba",
    "Zn",
    "Cd",
    "Ag",
    "Cu",
    "Ni",
    "Co",
    "Fe",
    "Mn",
    "Pb",
]
ANIONS = ["F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N", "P"]
METALS = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Fe", "Cr", "Mo", "W", "V", "Nb", "Ta", "Li", "Na", "K"]
B_SITES = ["Ti", "Zr", "Sn", "Hf", "Nb", "Ta", "Mn", "Fe"]
A_SITES = ["Ca", "Sr", "Ba", "Pb", "K", "Na", "La"]


def _name(el: str) -> str:
    from pymatgen.core import Element

    return Element(el).long_name.lower()


def _crystals() -> list[tuple[object, str, str, int, str]]:
    """(Structure, prototype name, space group symbol, number, crystal id) of every fixture crystal."""
    from pymatgen.core import Element, Lattice, Structure

    def radius(el: str) -> float:
        return float(Element(el).atomic_radius or 1.5)

    out = []
    for c in CATIONS:
        for a in ANIONS:
            d = radius(c) + radius(a)
            out.append(
                (
                    Structure(
                        Lattice.cubic(2 * d),
                        [c] * 4 + [a] * 4,
                        [
                            [0, 0, 0],
                            [0, 0.5, 0.5],
                            [0.5, 0, 0.5],
                            [0.5, 0.5, 0],
                            [0.5, 0.5, 0.5],
                            [0.5, 0, 0],
                            [0, 0.5, 0],
                            [0, 0, 0.5],
                        ],
                    ),
                    "rocksalt",
                    "Fm-3m",
                    225,
                    f"rs:{c}{a}",
                )
            )
            if (CATIONS.index(c) + ANIONS.index(a)) % 2 == 0:
                out.append(
                    (
                        Structure(Lattice.cubic(2 * d / 3**0.5), [c, a], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                        "cesium chloride",
                        "Pm-3m",
                        221,
                        f"cscl:{c}{a}",
                    )
                )
            else:
                out.append(
                    (
                        Structure(
                            Lattice.cubic(4 * d / 3**0.5),
                            [c] * 4 + [a] * 4,
                            [
                                [0, 0, 0],
                                [0, 0.5, 0.5],
                                [0.5, 0, 0.5],
                                [0.5, 0.5, 0],
                                [0.25, 0.25, 0.25],
                                [0.25, 0.75, 0.75],
                                [0.75, 0.25, 0.75],
                                [0.75, 0.75, 0.25],
                            ],
                        ),
                        "zincblende",
                        "F-43m",
                        216,
                        f"zb:{c}{a}",
                    )
                )
    for m in METALS:
        r = radius(m)
        out.append(
            (
                Structure(Lattice.cubic(4 * r / 3**0.5), [m, m], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                "bcc",
                "Im-3m",
                229,
                f"bcc:{m}",
            )
        )
        out.append(
            (
                Structure(
                    Lattice.cubic(2 * 2**0.5 * r),
                    [m] * 4,
                    [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
                ),
                "fcc",
                "Fm-3m",
                225,
                f"fcc:{m}",
            )
        )
    for a_el in A_SITES:
        for b in B_SITES:
            d = radius(b) + radius("O")
            out.append(
                (
                    Structure(
                        Lattice.cubic(2 * d),
                        [a_el, b, "O", "O", "O"],
                        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
                    ),
                    "perovskite",
                    "Pm-3m",
                    221,
                    f"pv:{a_el}{b}",
                )
            )
    return out


def write_fixture_data_dir(out: Path, seed: int = 0) -> Path:
    """Write crystals.parquet / pairs.parquet / manifest.json in the contract's layout."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    crystal_rows, pair_rows = [], []
    for s, proto, sg, sgn, cid in _crystals():
        formula = s.composition.reduced_formula
        h = int(hashlib.sha1(formula.encode()).hexdigest(), 16) % 10  # grouped split by formula
        split = "val" if h < 2 else ("test" if h == 2 else "train")
        arrays = structure_to_arrays(s)
        elements = sorted(
            {el.symbol for el in s.composition}, key=lambda e: s.composition.get_atomic_fraction(e)
        )
        names = " and ".join(_name(e) for e in elements)
        cif = f"data_{cid}"
        crystal_rows.append(
            dict(
                crystal_id=cid,
                formula=formula,
                source="fixture",
                split=split,
                hypothetical=False,
                parent=None,
                spacegroup_symbol=sg,
                spacegroup_number=sgn,
                crystal_system="cubic",
                nsites=len(s),
                cif=cif,
                properties="{}",
                labels=json.dumps({"prototype": proto}),
                **arrays,
            )
        )
        texts = {
            "composition": f"{formula}, a compound of {names}.",
            "prototype": f"{formula} in the {proto} structure type.",
            "caption": f"{formula} ({proto}, {sg}).",
        }
        for view, text in texts.items():
            pair_rows.append(
                dict(
                    crystal_id=cid,
                    text=text,
                    view=view,
                    split=split,
                    formula=formula,
                    source="fixture",
                    cif=cif,
                )
            )
    crystals = pd.DataFrame(crystal_rows)
    pairs = pd.DataFrame(pair_rows)
    crystals.to_parquet(out / "crystals.parquet", index=False)
    pairs.to_parquet(out / "pairs.parquet", index=False)
    (out / "manifest.json").write_text(
        json.dumps(
            {"sources": ["fixture"], "seed": seed, "counts": crystals["split"].value_counts().to_dict()}
        )
    )
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_data_dir(tmp_path_factory.mktemp("train_data") / "data")


def _metrics(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------------------
# fast unit tests
# ----------------------------------------------------------------------------------------
def test_sampler_crystals_mode_visits_each_crystal_once_and_is_seeded() -> None:
    from clac_core.data import EpochSampler

    ci = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])
    s = EpochSampler(ci, "crystals", seed=3)
    e0, e0b = s.epoch_order(0), s.epoch_order(0)
    assert sorted(ci[e0].tolist()) == [0, 1, 2, 3]
    assert np.array_equal(e0, e0b)
    draws = {tuple(s.epoch_order(e)) for e in range(20)}
    assert len(draws) > 5  # different texts / orders across epochs
    # pairs mode: every pair once
    p = EpochSampler(ci, "pairs", seed=3)
    assert sorted(p.epoch_order(0).tolist()) == list(range(ci.size))


def test_sampler_ddp_shards_cover_the_epoch_with_equal_lengths() -> None:
    from clac_core.data import EpochSampler

    ci = np.arange(11)
    shards = [EpochSampler(ci, "pairs", seed=0, rank=r, world_size=2).shard(4) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6
    assert set(np.concatenate(shards).tolist()) == set(range(11))
    full = EpochSampler(ci, "pairs", seed=0)
    batches = list(full.batches(0, 4))
    assert [b.size for b in batches] == [4, 4, 3]
    assert np.array_equal(list(full.batches(0, 4, start=1))[0], batches[1])


def test_retrieval_metrics_perfect_and_reversed() -> None:
    import torch

    from clac_core.train import retrieval_metrics

    e = torch.nn.functional.normalize(torch.randn(20, 8), dim=-1)
    m = retrieval_metrics(e, e)
    assert m["t2c_r1"] == 1.0 and m["c2t_mrr"] == 1.0
    shuffled = retrieval_metrics(e, e[torch.roll(torch.arange(20), 1)])
    assert shuffled["t2c_r1"] < 0.5


def test_retrieval_metrics_collapsed_model_scores_chance() -> None:
    """A collapsed model (every embedding equal, all scores tied) must not look perfect:
    best/ is chosen by mean_r10, so counting ties in the query's favour would save it."""
    import torch

    from clac_core.train import retrieval_metrics

    p = 50
    same = torch.nn.functional.normalize(torch.ones(p, 8), dim=-1)
    m = retrieval_metrics(same, same)
    assert m["t2c_r1"] == pytest.approx(1 / p)
    assert m["mean_r10"] == pytest.approx(10 / p)
    good = torch.nn.functional.normalize(torch.randn(p, 8), dim=-1)
    assert retrieval_metrics(good, good)["mean_r10"] > m["mean_r10"]


def test_lr_schedule_warmup_then_cosine() -> None:
    from clac_core.train import lr_factor

    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)


def test_data_dir_graph_and_text_caches(data_dir: Path) -> None:
    from clac_core.config import GraphConfig, TextEncoderConfig
    from clac_core.data import load_data_dir, load_graph_cache, text_cache_dir, text_feature_cache

    data = load_data_dir(data_dir)
    assert len(data.pairs) == 3 * len(data.crystals)
    graphs = load_graph_cache(data, GraphConfig(), num_workers=1, progress=False)
    assert len(graphs) == len(data.crystals)
    assert list(data_dir.joinpath("cache").glob("graphs-*.npz"))
    g = graphs[0]
    assert g.num_nodes == len(data.crystals["atomic_numbers"][0])

    calls: list[int] = []

    def fake_embed(texts: list[str]) -> np.ndarray:  # deterministic stand-in: length features
        calls.append(len(texts))
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)

    cfg = TextEncoderConfig(name="fake-model", max_length=16)
    texts = ["abc", "a", "abc", "xyz", "banana"]
    f = text_feature_cache(data_dir, texts, cfg, embed=fake_embed, chunk_size=2, progress=False)
    assert f.shape == (5, 2) and f[0, 0] == 3 and f[4, 1] == 3
    assert sum(calls) == 4  # unique texts only, in chunks of 2
    assert np.array_equal(f[0], f[2])
    # resumable: a killed build keeps finished chunks; only new texts are embedded later
    chunks = sorted(text_cache_dir(data_dir, cfg).glob("chunk-*.npy"))
    assert len(chunks) == 2
    chunks[-1].unlink()  # simulate an interrupted last chunk
    calls.clear()
    f2 = text_feature_cache(
        data_dir, texts + ["new text"], cfg, embed=fake_embed, chunk_size=2, progress=False
    )
    assert sum(calls) == 2 + 1  # the lost chunk's two texts + the new one
    assert np.array_equal(f2[:5], f)


# ----------------------------------------------------------------------------------------
# end to end
# ----------------------------------------------------------------------------------------
ALLOWED_SUFFIXES = {".json", ".safetensors", ".yaml", ".csv"}
TIMING_COLUMNS = {"pairs_per_s", "epoch_seconds"}
# fast runs: 300 training pairs (the text-feature cache then holds ~400 texts), 3 epochs
FAST = ("train.epochs=3", "train.max_pairs=300")


def _train_args(data_dir: Path, out: Path, *sets: str) -> list[str]:
    args = ["train", "--config", str(TINY), "--data", str(data_dir), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    return args


def _cli_cmd() -> list[str]:
    return [sys.executable, "-m", "clac_core.cli"]


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=path)
    return env


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _assert_same_run(a: Path, b: Path, atol: float = 1e-5) -> None:
    wa, wb = _weights(a / "last"), _weights(b / "last")
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], atol=atol, rtol=1e-5, err_msg=k)
    ma, mb = _metrics(a), _metrics(b)
    assert len(ma) == len(mb)
    for ra, rb in zip(ma, mb, strict=True):
        for col in ra:
            if col in TIMING_COLUMNS or ra[col] == "":
                continue
            assert float(ra[col]) == pytest.approx(float(rb[col]), rel=1e-4, abs=1e-5), col


@pytest.fixture(scope="module")
def tiny_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clac_core.cli import main

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    assert main(_train_args(data_dir, out, *FAST)) == 0
    return out


def test_tiny_trains_end_to_end_via_cli(tiny_run: Path) -> None:
    from clac_core.train import METRICS_COLUMNS

    rows = _metrics(tiny_run)
    assert list(rows[0].keys()) == list(METRICS_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    pool = int(rows[-1]["val_pool"])
    assert pool >= 40
    chance_r10 = 10 / pool
    best_r10 = max(float(r["val_t2c_r10"]) for r in rows)
    assert best_r10 > max(0.6, 4 * chance_r10), (best_r10, chance_r10)
    for sub in ("best", "last"):
        files = [p for p in (tiny_run / sub).rglob("*") if p.is_file()]
        assert files and {p.suffix for p in files} <= ALLOWED_SUFFIXES, files
    assert (tiny_run / "last" / "train_state.safetensors").is_file()
    info = json.loads((tiny_run / "train_info.json").read_text())
    assert info["train_pairs"] == 300 and info["seconds"] > 0 and "hardware" in info
    assert (tiny_run / "config.yaml").is_file()


def test_best_checkpoint_loads_and_retrieves(tiny_run: Path, data_dir: Path) -> None:
    import torch

    from clac_core.config import load_config
    from clac_core.data import load_data_dir, load_graph_cache
    from clac_core.models.clip import CLaCModel

    model = CLaCModel.from_checkpoint(tiny_run / "best", load_text_backbone=True)
    meta = model.checkpoint_meta
    assert meta["extra"]["metrics"]["t2c_r10"] > 0.5
    data = load_data_dir(data_dir)
    graphs = load_graph_cache(data, load_config(TINY).model.graph, progress=False)
    ids = data.crystals.index[data.crystals["crystal_id"].isin(["rs:NaCl", "bcc:Fe", "pv:SrTi"])].tolist()
    texts = [
        f"{data.crystals['formula'][i]} in the {json.loads(data.crystals['labels'][i])['prototype']} structure type."
        for i in ids
    ]
    with torch.no_grad():
        c = model.encode_crystal(graphs.batch(ids))
        t = model.encode_text(texts)
    sim = t @ c.t()
    assert torch.equal(sim.argmax(1), torch.arange(len(ids)))  # each text finds its crystal


@pytest.mark.slow
def test_same_seed_gives_same_metrics(tiny_run: Path, data_dir: Path, tmp_path: Path) -> None:
    from clac_core.cli import main

    out = tmp_path / "again"
    assert main(_train_args(data_dir, out, *FAST)) == 0
    _assert_same_run(tiny_run, out, atol=1e-6)
    # a different seed changes the result (the comparison can fail)
    out2 = tmp_path / "other_seed"
    assert main(_train_args(data_dir, out2, *FAST, "train.epochs=1", "train.seed=1")) == 0
    assert _metrics(out2)[0]["train_loss"] != _metrics(tiny_run)[0]["train_loss"]


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(data_dir: Path, tmp_path: Path) -> None:
    from clac_core.cli import main

    sets = (*FAST, "train.epochs=4", "train.save_every_steps=4")  # 10 batches/epoch: saves mid-epoch
    ref = tmp_path / "ref"
    assert main(_train_args(data_dir, ref, *sets)) == 0

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli_cmd() + _train_args(data_dir, out, *sets),
        env=_env(),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = out / "last" / "train_state.json"
    deadline = time.time() + 240
    while not state.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = json.loads(state.read_text())
    total_steps = json.loads((ref / "train_info.json").read_text())["steps"]
    assert saved["step"] < total_steps  # really interrupted
    # resume with `--resume DIR` (config and data dir are taken from the run)
    assert main(["train", "--resume", str(out)]) == 0
    _assert_same_run(ref, out)
    assert [int(r["epoch"]) for r in _metrics(out)] == [1, 2, 3, 4]


@pytest.mark.slow
def test_ddp_two_cpu_processes_with_gloo(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "clac_core.cli",
    ] + _train_args(data_dir, out, *FAST, "train.epochs=1", "train.device=cpu")
    res = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=170)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((out / "train_info.json").read_text())
    assert info["hardware"]["world_size"] == 2
    assert (out / "last" / "model.safetensors").is_file() and (out / "best" / "model.safetensors").is_file()
    rows = _metrics(out)
    assert len(rows) == 1 and float(rows[0]["val_t2c_r10"]) > 10 / int(rows[0]["val_pool"])


@pytest.mark.slow
def test_tiny_trains_on_clac_data_build_prototypes(tmp_path: Path) -> None:
    """The real pipeline: `clac data build --source prototypes` then `clac train` (tiny)."""
    from clac_core.cli import main

    data = tmp_path / "proto"
    assert main(["data", "build", "--source", "prototypes", "--out", str(data), "--workers", "1"]) == 0
    out = tmp_path / "run"
    assert main(_train_args(data, out, "train.epochs=4", "train.sampling=crystals")) == 0
    rows = _metrics(out)
    pool = int(rows[-1]["val_pool"])
    assert pool >= 10
    best = max(float(r["val_t2c_r10"]) for r in rows)
    assert best > 10 / pool + 0.2, (best, pool)  # text -> crystal well above chance
    assert {p.suffix for p in (out / "best").rglob("*") if p.is_file()} <= ALLOWED_SUFFIXES
