"""Crystal property targets of the auxiliary regression head (and their inverse transform).

Shape legend: C crystals, K properties, B rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.data.datadir import DataDir

# Heavy-tailed targets are regressed in a transformed space (and mapped back on prediction).
# Elastic moduli span two orders of magnitude (4-400 GPa in mp_37k); matbench regresses them
# as log10 (log_kvrh, log_gvrh), and log1p of a positive modulus is the same shape.
AUX_TRANSFORMS: dict[str, str] = {
    "total_magnetization": "log1p_abs", "bulk_modulus": "log1p_abs", "shear_modulus": "log1p_abs",
}


def _atomic_masses() -> np.ndarray:
    """(119,) atomic masses in u by atomic number (index 0 unused)."""
    from pymatgen.core.periodic_table import Element

    table = np.full(119, np.nan)
    for z in range(1, 119):
        try:
            table[z] = float(Element.from_Z(z).atomic_mass)
        except (ValueError, TypeError):  # pragma: no cover - superheavy elements without a mass
            pass
    return table


def crystal_density(lattice: Any, atomic_numbers: Any, masses: np.ndarray | None = None) -> float:
    """Mass density in g/cm³ from a (3, 3) lattice in Å (rows, possibly stored as a list of
    arrays) and the atomic numbers."""
    masses = _atomic_masses() if masses is None else masses
    lat = np.vstack([np.ravel(np.asarray(r, dtype=float)) for r in lattice]).reshape(3, 3)
    mass = float(masses[np.asarray(atomic_numbers, dtype=np.int64)].sum())
    return mass * 1.66053906660 / abs(float(np.linalg.det(lat)))


def crystal_targets(data: DataDir, names: Sequence[str]) -> np.ndarray:
    """(C, K) float32 property values of every crystal in ``names`` order, NaN where unknown,
    in the regression space of :data:`AUX_TRANSFORMS`. ``"density"`` is computed from the
    structure when the record does not state it."""
    column = data.crystals.get("properties", [None] * len(data.crystals))
    props = [json.loads(p) if isinstance(p, str) else {} for p in column]
    out = np.full((len(data.crystals), len(names)), np.nan, dtype=np.float32)
    for k, name in enumerate(names):
        if name == "density":
            masses = _atomic_masses()
            for i, (lat, z, p) in enumerate(zip(data.crystals["lattice"], data.crystals["atomic_numbers"], props, strict=True)):
                out[i, k] = p["density"] if "density" in p else crystal_density(lat, z, masses)
            continue
        vals = np.array([p.get(name, np.nan) for p in props], dtype=np.float64)
        if AUX_TRANSFORMS.get(name) == "log1p_abs":
            vals = np.log1p(np.abs(vals))
        out[:, k] = vals
    return out


def inverse_aux_transform(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Map (B, K) values from the regression space back to physical units."""
    out = np.array(values, dtype=np.float64, copy=True)
    for k, name in enumerate(names):
        if AUX_TRANSFORMS.get(name) == "log1p_abs":
            out[:, k] = np.expm1(np.clip(out[:, k], 0, None))
    return out
