"""Structure words in a query: the bonded network's dimensionality and the cation polyhedra.

These are facts the text layer computes for every crystal (:func:`clac_core.text.analyze`:
``dimensionality`` 0-3 and each site's polyhedron) and the index stores as columns
(``dimensionality``, ``cation_polyhedra``; see :mod:`clac_core.index.build`). The words follow
materials usage: "layered", "2D", "van der Waals", "lamellar" and "exfoliable" name a
two-dimensional bonded network (layers held by weaker forces); "chain"/"1D" one dimension;
"framework"/"3D" a network bonded in all three; "molecular"/"0D" isolated units. Polyhedra are
read as the cation's coordination ("octahedral", "corner-sharing octahedra", "tetrahedrally
coordinated"), as the text writers name them. The phrase tables live in
:mod:`clac_core.vocab.structure_words`. Plain Python; no model.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from clac_core.vocab.structure_words import DIMENSION_PHRASES, POLYHEDRON_WORDS

_DIMENSION_RE = [
    (re.compile("|".join(phrases), re.IGNORECASE), d, label) for d, (phrases, label) in DIMENSION_PHRASES.items()
]
_POLYHEDRON_RE = [(re.compile(p, re.IGNORECASE), name) for p, name in POLYHEDRON_WORDS]
DIMENSION_LABELS = {d: label for d, (_, label) in DIMENSION_PHRASES.items()}
# The known van der Waals crystals, as the "2D materials library" of Geim & Grigorieva
# (Nature 499, 419 (2013), fig. 1) lists the layered parents of the 2D crystals (graphite's
# graphene, h-BN, the transition-metal dichalcogenides, the layered III-VI and V-VI
# semiconductors, the layered oxides), plus the layered crystals since exfoliated to monolayers
# in most reviews (black phosphorus, SnS2, PtSe2, ReS2, CrI3, Fe3GeTe2, PbI2). A layered query
# ("2D van der Waals material", "layered sulfide") ranks a crystal first when it is one of these
# *and* its own bonded network is 2D (so rutile TiO2 or diamond do not count): the materials a
# scientist means by the words, before the many layered crystals only the analysis calls so.
VDW_FAMILY: tuple[str, ...] = (
    "C", "BN", "MoS2", "WS2", "MoSe2", "WSe2", "MoTe2", "WTe2", "ZrS2", "ZrSe2", "HfS2", "NbSe2", "NbS2",
    "TaS2", "TaSe2", "TiS2", "TiSe2", "SnS2", "SnSe2", "PtSe2", "ReS2", "GaSe", "GaS", "GaTe", "InSe",
    "In2Se3", "Bi2Se3", "Bi2Te3", "Sb2Te3", "P", "CrI3", "CrBr3", "Fe3GeTe2", "CrGeTe3", "CrSiTe3",
    "FePS3", "MnPS3", "NiPS3", "PbI2", "CdI2", "MoO3", "V2O5", "WO3", "TiO2", "MnO2",
)
# one word per dimensionality, as CrystalFacts.dimensionality_word writes it (results, viewer)
DIMENSION_NAMES = {0: "molecular", 1: "chain", 2: "layered", 3: "framework"}


def structure_words(dimensionality: object, cation_polyhedra: object, structure_type: object = None) -> str:
    """"perovskite · framework · octahedral" from the index's structure columns ("" when unknown;
    an index built before ``structure_type`` passes None)."""
    try:
        d = DIMENSION_NAMES.get(int(float(dimensionality)), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):  # NaN, None: unknown
        d = ""
    polys = [p for p in str(cation_polyhedra or "").split(";") if p and p != "nan"]
    kind = str(structure_type) if isinstance(structure_type, str) else ""
    return " · ".join([w for w in (kind, d, *polys) if w])


def structure_type_column(metadata: Any) -> np.ndarray | None:
    """(N,) the index's ``structure_type`` values as an object array for the re-rank
    (:func:`clac_core.query.rerank.structure_parts`), or None for an index built before the column."""
    if "structure_type" not in metadata:
        return None
    out = np.empty(len(metadata), dtype=object)
    out[:] = [v if isinstance(v, str) else "" for v in metadata["structure_type"]]
    return out


def dimensionalities_in(query: str) -> list[int]:
    """Dimensionalities of the bonded network a query names ("layered" -> [2])."""
    return [d for rx, d, _ in _DIMENSION_RE if rx.search(query)]


def polyhedra_in(query: str) -> list[str]:
    """Cation polyhedra a query names ("octahedral" -> ["octahedral"])."""
    return [name for rx, name in _POLYHEDRON_RE if rx.search(query)]


def polyhedra_sets(column: object) -> list[frozenset[str]]:
    """The index's ``cation_polyhedra`` strings ("octahedral;tetrahedral") as sets."""
    return [frozenset(p for p in str(v).split(";") if p and p != "nan") for v in column]  # type: ignore[attr-defined]
