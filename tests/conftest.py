"""Shared pytest fixtures.

Real DFT data lives in ``../shared/data`` beside the repository (never copied into it). The
training tests (``test_train*.py``) share one fixture data dir of small cubic crystals built in
code (:func:`data_dir`) and the helpers of :class:`TrainKit` (fixture ``train_kit``). The
index, inference, app and browser tests share the tiny checkpoint + index of ``helpers.py``
(fixture ``tiny``); no test module imports another.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, also for the test modules
from helpers import shared_tiny_assets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CLAC_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests start Chromium and a Streamlit server: they are slow too, so the fast lane
    ``pytest -m "not slow"`` leaves them out."""
    for item in items:
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder with mp_37k/, perov_5/, carbon_24/ (see ../shared/data/README.md)."""
    if not (SHARED_DATA / "perov_5" / "test.csv").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


# ----------------------------------------------------------------------------------------
# training fixture data dir and helpers
# ----------------------------------------------------------------------------------------
TINY = REPO / "configs" / "tiny.yaml"  # the CPU/CI preset every training test starts from

# the training fixture: small cubic crystals built in code

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

    from clac_core.record import structure_to_arrays

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


@pytest.fixture(scope="session")
def tiny() -> tuple[Path, Path]:
    """(checkpoint, index) of the tiny random-init model over ``helpers.tiny_records()``."""
    return shared_tiny_assets()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training fixture written in the ``clac data build`` layout (shared by the training
    tests; they add caches under ``cache/`` only)."""
    return write_fixture_data_dir(tmp_path_factory.mktemp("train_data") / "data")


TIMING_COLUMNS = {"pairs_per_s", "epoch_seconds"}  # differ between identical runs


class TrainKit:
    """Helpers of the training tests: CLI arguments, run outputs, run comparison."""

    repo = REPO
    tiny = TINY

    @staticmethod
    def args(data_dir: Path, out: Path, *sets: str) -> list[str]:
        """``clac train`` arguments: the tiny preset on ``data_dir`` into ``out``, plus ``--set``s."""
        args = ["train", "--config", str(TINY), "--data", str(data_dir), "--out", str(out)]
        for s in sets:
            args += ["--set", s]
        return args

    @staticmethod
    def cli_cmd() -> list[str]:
        return [sys.executable, "-m", "clac_core.cli"]

    @staticmethod
    def env() -> dict[str, str]:
        """Environment of a ``clac`` subprocess: offline, the repository importable."""
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=path)

    @staticmethod
    def metrics(out: Path) -> list[dict[str, str]]:
        """Rows of ``out/metrics.csv``."""
        with open(out / "metrics.csv", newline="") as fh:
            return list(csv.DictReader(fh))

    @classmethod
    def assert_same_run(cls, a: Path, b: Path, atol: float = 1e-5) -> None:
        """Same ``last/`` weights and the same metrics rows (timings aside)."""
        from safetensors.numpy import load_file

        wa, wb = (load_file(str(r / "last" / "model.safetensors")) for r in (a, b))
        assert wa.keys() == wb.keys()
        for k in wa:
            np.testing.assert_allclose(wa[k], wb[k], atol=atol, rtol=1e-5, err_msg=k)
        ma, mb = cls.metrics(a), cls.metrics(b)
        assert len(ma) == len(mb)
        for ra, rb in zip(ma, mb, strict=True):
            for col in ra:
                if col in TIMING_COLUMNS or ra[col] == "":
                    continue
                assert float(ra[col]) == pytest.approx(float(rb[col]), rel=1e-4, abs=1e-5), col


@pytest.fixture(scope="session")
def train_kit() -> type[TrainKit]:
    return TrainKit
