"""The scored systems: the model and its baselines, one registry entry each.

A :class:`System` knows how to score a retrieval pool (query texts x pool crystals) and how to
score free-text queries against every evaluated crystal. Retrieval, free-text search and the
results' ``baselines`` section iterate over :data:`SYSTEMS`, so adding a baseline is one entry
here. Shape legend: N crystals, T texts, P pool crystals (and their P query texts), Q queries.

Importing this module is cheap (numpy only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.evaluation.dataset import EvalSet
    from clac_core.evaluation.embeddings import Embeddings

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (pool crystals (P,), query texts (P,)) -> (P, P)


@dataclass(frozen=True)
class System:
    """One scored system.

    Attributes:
        name: key in ``results.json``.
        description: what it is (written to ``baselines.NAME.description``).
        pool_scorer: (eval set, embeddings) -> scorer of a pool: text rows x crystal columns.
        free_text: (eval set, embeddings, query texts) -> (Q, N) scores over every crystal.
    """

    name: str
    description: str
    pool_scorer: Callable[[EvalSet, Embeddings], Scorer]
    free_text: Callable[[EvalSet, Embeddings, list[str]], np.ndarray]


def _lexical_pool(es: EvalSet, emb: Embeddings) -> Scorer:
    from clac_core.evaluation.lexical import LexicalIndex

    lex = LexicalIndex(es.texts, es.owner, len(es))
    return lambda pool, qt: lex.score_texts(qt, pool, exclude_texts=qt)


def _lexical_free(es: EvalSet, emb: Embeddings, texts: list[str]) -> np.ndarray:
    from clac_core.evaluation.lexical import LexicalIndex

    return LexicalIndex(es.texts, es.owner, len(es)).score_free_text(texts)


def _text_only_pool(es: EvalSet, emb: Embeddings) -> Scorer:
    from clac_core.evaluation.lexical import bank_max_scores

    return lambda pool, qt: bank_max_scores(
        emb.text_base[qt], emb.text_base, es.owner, pool, exclude_texts=qt
    )


def _text_only_free(es: EvalSet, emb: Embeddings, texts: list[str]) -> np.ndarray:
    from clac_core.evaluation.lexical import bank_max_scores

    return bank_max_scores(emb.embed_text_base(texts), emb.text_base, es.owner, np.arange(len(es)))


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System(
            "model",
            "the evaluated CLaC checkpoint",
            lambda es, emb: lambda pool, qt: emb.text[qt] @ emb.crystal[pool].T,
            lambda es, emb, texts: emb.embed_text(texts) @ emb.crystal.T,
        ),
        System(
            "random_init",
            "same architecture and text backbone, crystal encoder + heads at random weights "
            "(torch seed = --seed)",
            lambda es, emb: lambda pool, qt: emb.text_random[qt] @ emb.crystal_random[pool].T,
            lambda es, emb, texts: emb.embed_text_random(texts) @ emb.crystal_random.T,
        ),
        System(
            "lexical",
            "TF-IDF (sublinear tf, IDF over crystals) keyword search over each crystal's own generated "
            "descriptions; the query text is removed from its own crystal's bank",
            _lexical_pool,
            _lexical_free,
        ),
        System(
            "text_encoder_only",
            "pretrained text encoder alone: max cosine between the query and each crystal's other "
            "descriptions (query text removed from its own crystal's bank); no crystal encoder",
            _text_only_pool,
            _text_only_free,
        ),
    )
}
BASELINES: tuple[str, ...] = tuple(n for n in SYSTEMS if n != "model")


def system(name: str) -> System:
    """The registered system ``name``; a clear error for an unknown one."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r} (known: {', '.join(SYSTEMS)})")
    return SYSTEMS[name]


def make_scorers(es: EvalSet, emb: Embeddings | None, names: Sequence[str]) -> dict[str, Scorer]:
    """Pool scorers of the systems ``names``: text rows x crystal columns."""
    return {name: system(name).pool_scorer(es, emb) for name in names}
