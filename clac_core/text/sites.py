"""The local environment of one symmetry-distinct site (a record of :func:`~clac_core.text.facts.analyze`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteEnvironment:
    """Local environment of one symmetry-distinct site.

    Attributes:
        element: element symbol of the site.
        multiplicity: number of equivalent sites in the input cell.
        cn: coordination number (bonded neighbours, see module docstring).
        polyhedron: geometry name ("octahedral", "tetrahedral", ...) or None when unnamed.
        neighbors: neighbour element -> count, e.g. {"O": 6}.
    """

    element: str
    multiplicity: int
    cn: int
    polyhedron: str | None
    neighbors: dict[str, int]
