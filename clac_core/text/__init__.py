"""Synthetic crystal descriptions from crystal facts.

``analyze(structure) -> CrystalFacts`` computes what is known about a crystal;
``describe(record, seed=...) -> list[Description]`` writes one text per view
(composition, structure, properties, caption, optional robocrys).

Modules, one job each: :mod:`~clac_core.text.facts` (``analyze``, ``CrystalFacts``) with
:mod:`~clac_core.text.chemistry` (element families, anions, oxidation states) and
:mod:`~clac_core.text.geometry` (polyhedra, dimensionality); :mod:`~clac_core.text.templates`
(``Picker`` and shared wording); one module per view (:mod:`~clac_core.text.crystal_views`,
:mod:`~clac_core.text.property_views`, :mod:`~clac_core.text.caption`,
:mod:`~clac_core.text.query_views`); :mod:`~clac_core.text.describe` puts them together.

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
