"""The one record every crystal source yields, and its compact tabular form.

A base module (below `text`, `corpus`, `graph`): the text package describes records and the
corpus package yields them, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure


@dataclass
class CrystalRecord:
    """A crystal with where it came from and what is known about it.

    Attributes:
        id: unique id within a corpus (e.g. "mp-1234", "proto:A_cF8_225_a_b", "dec:...:0003").
        structure: ordered pymatgen Structure.
        source: source name: "prototype", "mineral", "decorated", "mp_37k", "perov_5",
            "carbon_24", "csv", "cifs", "extxyz", "mpjson", "alexandria".
        provenance: free-form strings: file, row, parent prototype, substitution, licence.
        properties: canonical quantity name (see clac_core.properties.QUANTITIES) -> value.
            Only known values are present; never NaN.
        labels: names known for this crystal: "mineral", "prototype", "pearson",
            "strukturbericht", "aflow" (only keys that are known).
        hypothetical: True for generated (decorated) crystals that were never computed.
    """

    id: str
    structure: Structure
    source: str
    provenance: dict[str, str] = field(default_factory=dict)
    properties: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    hypothetical: bool = False

    @property
    def formula(self) -> str:
        """Reduced formula, e.g. "SrTiO3"."""
        return self.structure.composition.reduced_formula


def structure_to_arrays(structure: Structure) -> dict[str, Any]:
    """Compact, exact, pickle-free form of an ordered structure for parquet columns.

    Returns:
        dict with "lattice" (9 floats, row-major Å), "frac_coords" (3N floats),
        "atomic_numbers" (N ints).
    """
    return {
        "lattice": structure.lattice.matrix.reshape(-1).astype(float).tolist(),
        "frac_coords": structure.frac_coords.reshape(-1).astype(float).tolist(),
        "atomic_numbers": [int(z) for z in structure.atomic_numbers],
    }


def structure_from_arrays(lattice: Any, frac_coords: Any, atomic_numbers: Any) -> Structure:
    """Inverse of :func:`structure_to_arrays` (about 20x faster than parsing a CIF)."""
    lat = Lattice(np.asarray(lattice, dtype=float).reshape(3, 3))
    z = [int(v) for v in atomic_numbers]
    fc = np.asarray(frac_coords, dtype=float).reshape(len(z), 3)
    return Structure(lat, z, fc)
