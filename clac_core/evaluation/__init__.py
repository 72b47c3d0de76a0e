"""Evaluation building blocks used by :mod:`clac_core.evaluate` (``clac eval``).

- :mod:`~clac_core.evaluation.metrics`: retrieval ranks/metrics with honest tie handling,
  pool sampling, classification metrics (pure numpy; no model needed).
- :mod:`~clac_core.evaluation.lexical`: TF-IDF keyword-search baseline.
- :mod:`~clac_core.evaluation.queries`: hand-written free-text queries with relevance rules
  (``clac_core/resources/queries.yaml``) and precision@k.

Importing this package is cheap (numpy only).
"""

from __future__ import annotations
