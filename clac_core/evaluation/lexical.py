"""Keyword-search baselines over each crystal's own generated descriptions.

A crystal is represented by a *bank* of its descriptions. For retrieval with generated
queries, the query text itself is taken out of its own crystal's bank (otherwise keyword
search trivially finds the identical string); what is left is an honest keyword search: does
a crystal's *other* descriptions share words with the query?

The TF-IDF document of a crystal is the sum of the word counts of its bank texts,
re-weighted with IDF computed over crystals (scikit-learn ``CountVectorizer`` +
``TfidfTransformer``, sublinear tf, l2 norm); scores are cosine similarities.

Shape legend: T texts, N crystals, Q queries, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Keep chemical symbols and formulas ("O", "SrTiO3"), numbers ("1.5") and words.
TOKEN_PATTERN = r"(?u)\b\w[\w.]*\b"


class LexicalIndex:
    """TF-IDF keyword search over per-crystal description banks.

    Args:
        texts: all T description texts.
        owner: (T,) crystal index of each text (0..N-1).
        n_crystals: N.
    """

    def __init__(self, texts: Sequence[str], owner: Sequence[int], n_crystals: int) -> None:
        from scipy import sparse
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        self.owner = np.asarray(owner, dtype=np.int64)
        if len(self.owner) != len(texts):
            raise ValueError("texts and owner differ in length")
        self.vectorizer = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=True)
        self.counts = self.vectorizer.fit_transform(list(texts)).astype(np.float64).tocsr()  # (T, V)
        t = len(texts)
        # (N, T) membership matrix: bank counts of every crystal = M @ counts.
        self.member = sparse.csr_matrix((np.ones(t), (self.owner, np.arange(t))), shape=(n_crystals, t))
        self.bank_counts = (self.member @ self.counts).tocsr()  # (N, V)
        self.tfidf = TfidfTransformer(sublinear_tf=True).fit(self.bank_counts)

    def _docs(self, crystals: np.ndarray, exclude_texts: np.ndarray | None) -> object:
        counts = self.bank_counts[crystals]
        if exclude_texts is not None:
            counts = counts - self.counts[exclude_texts]
            counts.data = np.maximum(counts.data, 0.0)
            counts.eliminate_zeros()
        return self.tfidf.transform(counts)

    def score_texts(
        self, query_texts: np.ndarray, crystals: np.ndarray, exclude_texts: np.ndarray | None = None
    ) -> np.ndarray:
        """Cosine TF-IDF scores of stored texts (as queries) against crystals' banks.

        Args:
            query_texts: (Q,) indices of stored texts used as queries.
            crystals: (N',) candidate crystal indices.
            exclude_texts: (N',) per candidate, a text index removed from its bank (the
                candidate's own query text), or None.

        Returns:
            (Q, N') scores.
        """
        q = self.tfidf.transform(self.counts[np.asarray(query_texts)])
        d = self._docs(np.asarray(crystals), exclude_texts)
        return np.asarray((q @ d.T).todense(), dtype=np.float64)

    def score_free_text(self, queries: Sequence[str], crystals: np.ndarray | None = None) -> np.ndarray:
        """Scores (Q, N') of new texts against full banks (nothing excluded)."""
        crystals = np.arange(self.bank_counts.shape[0]) if crystals is None else np.asarray(crystals)
        q = self.tfidf.transform(self.vectorizer.transform(list(queries)).astype(np.float64))
        d = self._docs(crystals, None)
        return np.asarray((q @ d.T).todense(), dtype=np.float64)


def bank_max_scores(
    query_emb: np.ndarray,
    bank_emb: np.ndarray,
    bank_owner: np.ndarray,
    crystals: np.ndarray,
    exclude_texts: np.ndarray | None = None,
    query_chunk: int = 512,
) -> np.ndarray:
    """Dense analogue of :class:`LexicalIndex`: max cosine over each crystal's bank.

    Args:
        query_emb: (Q, D) normalized query embeddings.
        bank_emb: (T, D) normalized embeddings of all bank texts.
        bank_owner: (T,) crystal index of each bank text.
        crystals: (N',) candidate crystals.
        exclude_texts: (N',) a bank text index per candidate left out of its bank, or None.
        query_chunk: queries per matrix product (bounds memory).

    Returns:
        (Q, N') scores; -inf for a candidate whose bank is empty after exclusion.
    """
    crystals = np.asarray(crystals)
    pos = {int(c): i for i, c in enumerate(crystals)}
    sel = np.array([i for i, o in enumerate(bank_owner) if int(o) in pos], dtype=np.int64)
    col = np.array([pos[int(bank_owner[i])] for i in sel], dtype=np.int64)
    if exclude_texts is not None:
        excl = {int(t) for t in exclude_texts}
        keep = np.array([int(i) not in excl for i in sel], dtype=bool)
        sel, col = sel[keep], col[keep]
    order = np.argsort(col, kind="stable")
    sel, col = sel[order], col[order]
    out = np.full((len(query_emb), len(crystals)), -np.inf, dtype=np.float64)
    if len(sel) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    present = col[starts]
    bank = np.asarray(bank_emb, dtype=np.float32)[sel]
    for i in range(0, len(query_emb), query_chunk):
        sims = np.asarray(query_emb[i : i + query_chunk], dtype=np.float32) @ bank.T  # (q, |sel|)
        out[i : i + query_chunk, present] = np.maximum.reduceat(sims, starts, axis=1)
    return out
