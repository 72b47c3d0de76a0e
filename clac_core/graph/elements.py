"""Element feature table: one-hot binned elemental properties, one row per atomic number.

Computed from pymatgen (:func:`compute_element_table`), frozen into the packaged
``clac_core/resources/element_features.json`` (:func:`write_element_table`) and read from there
(:func:`element_features`), so building a model needs no pymatgen.

Shape legend: F element features.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAX_Z = 118  # element table rows 0..118; row 0 = unknown / padding (all zeros)


def _bins(value: float | None, lo: float, hi: float, n: int) -> list[float]:
    """One-hot of ``value`` over ``n`` equal bins on [lo, hi] (clipped); zeros if unknown."""
    out = [0.0] * n
    if value is None or not math.isfinite(value):
        return out
    idx = int((value - lo) / (hi - lo) * n)
    out[min(max(idx, 0), n - 1)] = 1.0
    return out


def _onehot(index: int | None, n: int, start: int = 1) -> list[float]:
    out = [0.0] * n
    if index is not None and start <= index < start + n:
        out[index - start] = 1.0
    return out


def _safe(fn: Any) -> float | None:
    try:
        v = fn()
    except Exception:  # pymatgen raises KeyError/ValueError/AttributeError for missing data
        return None
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _valence_electrons(el: Any) -> float | None:
    """Electrons in the outermost shell plus open (n-1)d and (n-2)f subshells."""
    try:
        shells = el.full_electronic_structure
    except Exception:
        return None
    n_max = max(n for n, _, _ in shells)
    total = 0
    for n, orb, occ in shells:
        if (
            n == n_max
            or (orb == "d" and n == n_max - 1 and occ < 10)
            or (orb == "f" and n == n_max - 2 and occ < 14)
        ):
            total += occ
    return float(total)


# (name, length) of each one-hot block, in order; see element_features().
ELEMENT_FEATURE_BLOCKS: tuple[tuple[str, int], ...] = (
    ("group", 18),
    ("period", 7),
    ("block", 4),
    ("electronegativity", 10),
    ("covalent_radius", 10),
    ("atomic_radius", 10),
    ("valence_electrons", 12),
    ("first_ionization_energy", 10),
    ("electron_affinity", 10),
    ("atomic_volume", 10),
    ("atomic_mass", 10),
)


ELEMENT_TABLE_RESOURCE = Path(__file__).resolve().parents[1] / "resources" / "element_features.json"


@functools.lru_cache(maxsize=1)
def _element_table_numpy() -> np.ndarray:
    """The packaged table (no pymatgen needed), else computed from pymatgen."""
    if ELEMENT_TABLE_RESOURCE.is_file():
        return read_element_table(ELEMENT_TABLE_RESOURCE)
    return compute_element_table()


def read_element_table(path: str | Path) -> np.ndarray:
    """(119, F) float32 table from the JSON written by :func:`write_element_table`."""
    data = json.loads(Path(path).read_text())
    blocks = [(str(name), int(n)) for name, n in data["blocks"]]
    if tuple(blocks) != ELEMENT_FEATURE_BLOCKS:
        raise ValueError(f"{path}: feature blocks {blocks} differ from {ELEMENT_FEATURE_BLOCKS}")
    table = np.zeros((MAX_Z + 1, sum(n for _, n in blocks)), dtype=np.float32)
    for z, ones in enumerate(data["ones"]):
        table[z, ones] = 1.0
    return table


def write_element_table(path: str | Path = ELEMENT_TABLE_RESOURCE) -> Path:
    """Freeze :func:`compute_element_table` into a JSON resource (row z: indices of its ones).

    Shipping the table pins the crystal tower's input across pymatgen versions and lets a
    model be built where pymatgen is not installed (e.g. a bare GPU machine with a graph cache).
    """
    table = compute_element_table()
    if not np.isin(table, (0.0, 1.0)).all():
        raise ValueError("element table is not one-hot; the JSON format stores only ones")
    payload = {
        "source": "clac_core.graph.compute_element_table (pymatgen periodic table data)",
        "blocks": [list(b) for b in ELEMENT_FEATURE_BLOCKS],
        "ones": [np.flatnonzero(row).tolist() for row in table],
    }
    path = Path(path)
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path


def compute_element_table() -> np.ndarray:
    """Element feature table computed from pymatgen (see :func:`element_features`)."""
    import warnings

    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.core import Element

    avogadro = 6.02214076e23
    rows = [np.zeros(sum(n for _, n in ELEMENT_FEATURE_BLOCKS), dtype=np.float32)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing data for heavy elements
        for z in range(1, MAX_Z + 1):
            el = Element.from_Z(z)
            block = _safe(lambda el=el: "spdf".index(el.block))
            mol_vol = _safe(lambda el=el: el.molar_volume)  # cm^3/mol
            atom_vol = None if mol_vol is None else mol_vol * 1e24 / avogadro  # Å^3/atom
            feats = (
                _onehot(_safe(lambda el=el: el.group) and int(el.group), 18)
                + _onehot(_safe(lambda el=el: el.row) and int(el.row), 7)
                + _onehot(None if block is None else int(block), 4, start=0)
                + _bins(_safe(lambda el=el: el.X), 0.5, 4.0, 10)
                + _bins(CovalentRadius.radius.get(el.symbol), 0.25, 2.5, 10)
                + _bins(_safe(lambda el=el: el.atomic_radius), 0.25, 2.6, 10)
                + _onehot(_valence_electrons(el) and int(_valence_electrons(el)), 12)
                + _bins(_safe(lambda el=el: el.ionization_energy), 3.5, 25.0, 10)
                + _bins(_safe(lambda el=el: el.electron_affinity), -1.0, 3.7, 10)
                + _bins(atom_vol, 1.0, 120.0, 10)
                + _bins(_safe(lambda el=el: el.atomic_mass), 0.0, 300.0, 10)
            )
            rows.append(np.asarray(feats, dtype=np.float32))
    return np.stack(rows)


def element_features() -> torch.Tensor:
    """Fixed table of elemental properties, one-hot binned like CGCNN's ``atom_init.json``.

    Source: pymatgen's periodic table data (``pymatgen.core.Element``: group, row/period,
    block, Pauling electronegativity ``X``, empirical ``atomic_radius``, first
    ``ionization_energy`` (eV), ``electron_affinity`` (eV), ``molar_volume`` converted to
    Å^3/atom, ``atomic_mass``; valence electrons counted from ``full_electronic_structure``)
    and covalent radii from ``pymatgen.analysis.molecule_structure_comparator.CovalentRadius``
    (Cordero et al. 2008). The binning follows Xie & Grossman, PRL 120, 145301 (2018),
    Table S2: each property is one-hot encoded in ~10 equal bins (categorical ones by
    value); see ``ELEMENT_FEATURE_BLOCKS`` for the block order and lengths. A property
    pymatgen does not know for an element leaves its block all zero.

    Read from the packaged ``clac_core/resources/element_features.json`` (written by
    :func:`write_element_table`; a test checks it against a fresh :func:`compute_element_table`),
    so building a model needs no pymatgen; loaded once per process (``functools.lru_cache``).

    Returns:
        (119, F) float32 tensor; row z is element z, row 0 (unknown) is all zeros.
    """
    import torch

    # A module global looked up on every call, so a replacement of
    # ``clac_core.graph.elements._element_table_numpy`` (benchmarks/gpu_entry.py) takes effect.
    return torch.from_numpy(_element_table_numpy().copy())
