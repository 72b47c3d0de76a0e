"""Query understanding: what a text says about properties, elements and composition.

One package for reading queries and texts, at the base layer (numpy, regex, pint; no model):

- :mod:`~clac_core.query.numbers`: stated values, ranges, bounds and class words ->
  :class:`Constraint`s and the number-aware text features of the model (``quantity_features``);
- :mod:`~clac_core.query.words`: element families, arity, negations and formulas in a query;
- :mod:`~clac_core.query.intent`: :func:`understand` -> :class:`QueryIntent`;
- :mod:`~clac_core.query.rerank`: a crystal's match to an intent and the property-aware re-rank.

The words themselves live in :mod:`clac_core.vocab` (element table, class-word table).
"""

from __future__ import annotations

from clac_core.query.intent import QueryIntent, understand
from clac_core.query.numbers import FEATURE_DIM, Constraint, parse_constraints, quantity_features
from clac_core.query.rerank import composition_columns, rerank_scores

__all__ = [
    "FEATURE_DIM",
    "Constraint",
    "QueryIntent",
    "composition_columns",
    "parse_constraints",
    "quantity_features",
    "rerank_scores",
    "understand",
]
