"""Named physical quantities that crystals may carry, with units.

Every property column read from a table is mapped onto one of these canonical names, so
that text generation, evaluation and the app speak about the same quantity in the same unit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    """A named scalar property of a crystal.

    Attributes:
        name: canonical key used in records and parquet columns.
        label: human wording ("band gap").
        unit: unit string used in text and UI ("eV", "eV/atom").
        decimals: decimals used when the value is written in text.
    """

    name: str
    label: str
    unit: str
    decimals: int = 2


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in [
        Quantity("band_gap", "band gap", "eV", 2),
        Quantity("formation_energy_per_atom", "formation energy", "eV/atom", 3),
        Quantity("efermi", "Fermi energy", "eV", 2),
        Quantity("total_magnetization", "total magnetization", "μB per cell", 2),
        Quantity("energy_per_atom", "energy", "eV/atom", 3),
        Quantity("heat_of_formation", "heat of formation", "eV", 3),
        Quantity("direct_gap", "direct band gap", "eV", 2),
        Quantity("indirect_gap", "indirect band gap", "eV", 2),
        Quantity("bulk_modulus", "bulk modulus (VRH)", "GPa", 1),
        Quantity("shear_modulus", "shear modulus (VRH)", "GPa", 1),
        Quantity("poisson_ratio", "Poisson's ratio", "", 3),
        Quantity("density", "density", "g/cm³", 2),
        # computed over the index's own crystals at build time (clac_core.index.hull), not read
        # from a table: no column alias maps onto it
        Quantity("energy_above_hull", "energy above this corpus's hull", "eV/atom", 3),
    ]
}
HULL_COLUMN = "energy_above_hull"  # index metadata column (eV/atom; NaN: no formation energy)

# Column names in community CSV layouts -> canonical quantity names.
# mp_37k (MEGNet benchmark), perov_5 / carbon_24 (CDVAE), MP-20 (CDVAE), elastic subset.
COLUMN_ALIASES: dict[str, str] = {
    "band_gap": "band_gap",
    "formation_energy_per_atom": "formation_energy_per_atom",
    "efermi": "efermi",
    "e_fermi": "efermi",
    "total_magnetization": "total_magnetization",
    "energy_per_atom": "energy_per_atom",
    "heat_all": "heat_of_formation",
    "dir_gap": "direct_gap",
    "ind_gap": "indirect_gap",
    "K_VRH": "bulk_modulus",
    "G_VRH": "shear_modulus",
    "poisson_ratio": "poisson_ratio",
}

# Index metadata column of the model's aux-head estimate of a quantity: predicted_<quantity>.
PREDICTED_PREFIX = "predicted_"


def band_gap_of(props: dict[str, float]) -> float | None:
    """A record's band gap: ``band_gap`` when known, else the smaller of ``direct_gap`` /
    ``indirect_gap`` (perov_5-style tables); None when no gap is known."""
    if "band_gap" in props:
        return float(props["band_gap"])
    gaps = [float(props[k]) for k in ("direct_gap", "indirect_gap") if k in props]
    return min(gaps) if gaps else None
