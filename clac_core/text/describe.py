"""Synthetic descriptions of a crystal record, one text per view.

Views (one :class:`Description` each):

- ``composition``: formula, element families, oxidation states (when guessed), space group,
  crystal system, lattice parameters.
- ``structure``: coordination numbers and polyhedra, bond lengths, dimensionality, density,
  atoms per cell, prototype/mineral names from the record's labels.
- ``properties``: only when the record has known properties (or is hypothetical): each
  value in words and in numbers with units from :data:`clac_core.properties.QUANTITIES`.
- ``caption``: a short search-box style phrase, never the formula.
- ``query`` / ``query2``: formula-free property queries with numbers written many ways
  (:mod:`clac_core.text.query_views`).
- ``search``: a search-box request of one to three computed facts
  (:mod:`clac_core.text.search_views`).
- ``statements``: class facts affirmed or negated ("It is not a metal. It is magnetic.";
  :mod:`clac_core.text.statement_views`).
- ``robocrys`` (opt-in): robocrystallographer's full description (slow, ~2 s).

Texts never state a fact that is not known: no gap wording without a band gap, no
oxidation states unless guessed, no mineral or prototype name unless labelled.

Each view is written in its own module: :mod:`~clac_core.text.crystal_views` (composition,
structure), :mod:`~clac_core.text.property_views` (properties), :mod:`~clac_core.text.caption`
:mod:`~clac_core.text.query_views`, :mod:`~clac_core.text.search_views` and
:mod:`~clac_core.text.statement_views`; this module puts them together (:func:`describe`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clac_core.text.caption import caption_text
from clac_core.text.crystal_views import composition_text, structure_text
from clac_core.text.facts import CrystalFacts, analyze
from clac_core.text.property_views import properties_text
from clac_core.text.templates import Picker

if TYPE_CHECKING:
    from clac_core.record import CrystalRecord

__all__ = ["VIEWS", "Description", "describe"]

VIEWS = ("composition", "structure", "properties", "caption", "query", "query2", "search", "statements", "robocrys")


@dataclass(frozen=True)
class Description:
    """One synthetic text about a crystal.

    Attributes:
        view: which aspect the text covers (see module docstring).
        text: the text.
    """

    view: str
    text: str


# --------------------------------------------------------------------------------------
# robocrys


def robocrys_text(structure) -> str:
    """Full robocrystallographer description (slow: seconds per structure)."""
    from robocrys import StructureCondenser, StructureDescriber

    condensed = StructureCondenser().condense_structure(structure)
    return StructureDescriber().describe(condensed)


# --------------------------------------------------------------------------------------
# entry point


def _search_requests(record: CrystalRecord, facts: CrystalFacts, picker: Callable[[str], Picker], n: int) -> list[str]:
    """The ``n`` search-box requests, each from its own phrasing key, duplicates dropped; only the
    extra ones may name the number of elements (the first is what a default build writes)."""
    from clac_core.text.search_views import search_text

    keys = ["search" if k == 0 else f"search#{k}" for k in range(max(1, n))]
    return list(dict.fromkeys(search_text(record, facts, picker(key), arity=k > 0) for k, key in enumerate(keys)))


def describe(
    record: CrystalRecord,
    *,
    seed: int = 0,
    robocrys: bool = False,
    facts: CrystalFacts | None = None,
    query_views: bool = True,
    search_texts: int = 1,
) -> list[Description]:
    """Synthetic descriptions of a crystal, one per view.

    Args:
        record: the crystal and what is known about it.
        seed: phrasing seed; phrasing is a pure function of (seed, record.id, view).
        robocrys: also add a "robocrys" view (slow, seconds per crystal).
        facts: precomputed :func:`analyze` output for ``record.structure`` (saves time).
        query_views: add the formula-free views: property queries (``query``, ``query2``;
            :mod:`clac_core.text.query_views`), the search-box request (``search``) and the
            class statements (``statements``; :mod:`clac_core.text.statement_views`).
        search_texts: how many search-box requests (view ``search``) to write, each from its own
            phrasing key (``search``, ``search#1``, ...); duplicates are dropped. More than one
            gives the short structure and application words ("layered", "van der Waals",
            "chain-like", "cathode") more training pairs: one request names only 1-3 facts.
            The extra requests may also name the number of elements ("ternary oxide").

    Returns:
        Descriptions in view order: composition, structure, [properties], caption,
        [query, query2, search, statements], [robocrys].
    """
    if facts is None:
        facts = analyze(record.structure, labels=record.labels)
    elif record.labels and not facts.labels:
        facts = dataclasses.replace(facts, labels=dict(record.labels))  # never mutate the caller's facts

    def picker(view: str) -> Picker:
        return Picker(seed, f"{record.id}|{view}")

    out = [
        Description("composition", composition_text(facts, picker("composition"))),
        Description("structure", structure_text(facts, picker("structure"))),
    ]
    props = properties_text(record, facts, picker("properties"))
    if props:
        out.append(Description("properties", props))
    out.append(Description("caption", caption_text(record, facts, picker("caption"))))
    if query_views:
        from clac_core.text.query_views import query_texts

        out += [Description(v, t) for v, t in query_texts(record, facts, seed)]
        out += [Description("search", t) for t in _search_requests(record, facts, picker, search_texts)]
        from clac_core.text.chemistry import oxide_type_of
        from clac_core.text.statement_views import statements_text

        oxide = oxide_type_of(record.structure) if "O" in facts.elements else None
        out.append(Description("statements", statements_text(record, facts, picker("statements"), oxide)))
    if robocrys:
        out.append(Description("robocrys", robocrys_text(record.structure)))
    return out
