"""Synthetic crystal descriptions from crystal facts.

``analyze(structure) -> CrystalFacts`` computes what is known about a crystal;
``describe(record, seed=...) -> list[Description]`` writes one text per view
(composition, structure, properties, caption, optional robocrys).

Importing this package is cheap (numpy only); pymatgen, spglib and robocrys are imported
inside the functions that use them.
"""

from __future__ import annotations

from clac_core.symmetry import crystal_system_of
from clac_core.text.describe import VIEWS, Description, describe
from clac_core.text.facts import CrystalFacts, SiteEnvironment, analyze

__all__ = [
    "VIEWS",
    "CrystalFacts",
    "Description",
    "SiteEnvironment",
    "analyze",
    "crystal_system_of",
    "describe",
]
