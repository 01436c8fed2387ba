"""BM25 (Okapi) on a sparse term-document matrix, scoring exactly as ``rank_bm25.BM25Okapi``.

Reference formula (rank-bm25 0.2.2): for a query ``q_1..q_n`` (repeated terms count again),
``score(D) = sum_i idf(q_i) * f(q_i, D) * (k1 + 1) / (f(q_i, D) + k1 * (1 - b + b * |D| / avgdl))``
with ``idf(t) = ln(N - n(t) + 0.5) - ln(n(t) + 0.5)``; every term with a negative idf (in more
than half of the documents) gets ``epsilon * mean(idf)`` instead. The per-term weights are
precomputed once into a CSR matrix (terms x documents), so a query costs only the postings of
its terms instead of a Python loop over every document.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import Hit, MetadataFilter, RetrievalWarning, matches

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["STOPWORDS", "BM25Index", "default_tokenize"]

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "can",
    ]
)
_WORD = re.compile(r"\w+")


def default_tokenize(text: str) -> list[str]:
    """Lowercase word tokens (``\\w+``) without common English stopwords."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25Index:
    """A BM25Okapi index over tokenised documents.

    Args:
        corpus: one token list per document.
        ids: document ids (default ``"0"``, ``"1"``, ...).
        metadata: one mapping per document, for filters.
        k1: term-frequency saturation.
        b: length normalisation.
        epsilon: floor factor for negative idf (times the mean idf).
        tokenizer: turns a string query into tokens (must match how the corpus was tokenised).

    Raises:
        ConfigError: ``ids`` or ``metadata`` do not match the corpus length, or ids repeat.
    """

    def __init__(
        self,
        corpus: Sequence[Sequence[str]],
        ids: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        tokenizer: Callable[[str], list[str]] = default_tokenize,
    ) -> None:
        import numpy as np
        import scipy.sparse

        n_docs = len(corpus)
        self.ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n_docs)]
        self._position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        if len(self.ids) != n_docs or len(self._position) != n_docs:
            raise ConfigError("BM25Index: ids must be unique and one per document")
        self.metadata = [dict(m) for m in metadata] if metadata is not None else [{}] * n_docs
        if len(self.metadata) != n_docs:
            raise ConfigError("BM25Index: metadata must have one mapping per document")
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.tokenizer = tokenizer
        # First-occurrence order, as rank-bm25's dict: the idf mean is summed in this order.
        self.vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.zeros(n_docs, dtype=np.int64)
        for d, doc in enumerate(corpus):
            lengths[d] = len(doc)
            setdefault = self.vocabulary.setdefault
            term_ids.extend(setdefault(t, len(self.vocabulary)) for t in doc)
        n_terms = len(self.vocabulary)
        self.doc_len = lengths
        self.avgdl = float(lengths.sum()) / n_docs if n_docs else 0.0
        terms = np.asarray(term_ids, dtype=np.int64)
        docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        keys, tf = np.unique(terms * max(n_docs, 1) + docs, return_counts=True)
        pair_term, pair_doc = keys // max(n_docs, 1), keys % max(n_docs, 1)
        df = np.bincount(pair_term, minlength=n_terms)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        if n_terms:
            average_idf = float(np.cumsum(idf)[-1]) / n_terms  # sequential, like rank-bm25
            idf[idf < 0] = epsilon * average_idf
            self.average_idf = average_idf
        else:
            self.average_idf = 0.0
        self.idf: NDArray[np.float64] = idf
        self.df = df
        tf_f = tf.astype(np.float64)
        dl = lengths[pair_doc]
        # Operation order mirrors rank-bm25's expression so the floats agree bit for bit.
        denom = tf_f + k1 * (1 - b + b * dl / (self.avgdl or 1.0))
        weights = idf[pair_term] * (tf_f * (k1 + 1) / denom)
        self._postings = scipy.sparse.csr_matrix(
            (weights, (pair_term, pair_doc)), shape=(n_terms, n_docs)
        )

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        ids: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        *,
        tokenizer: Callable[[str], list[str]] = default_tokenize,
        **params: float,
    ) -> BM25Index:
        """Tokenise ``texts`` with ``tokenizer`` and index them (``params``: k1, b, epsilon)."""
        return cls([tokenizer(t) for t in texts], ids, metadata, tokenizer=tokenizer, **params)

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, doc_id: str) -> int:
        """Index of ``doc_id`` in :attr:`ids` (``KeyError`` when absent)."""
        return self._position[doc_id]

    def _accumulate(
        self, tokens: Sequence[str]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[Any]]:
        """Scores, which documents hold a query term, and the postings of the rarest term."""
        import numpy as np

        n_docs = len(self.ids)
        indptr, indices, data = self._postings.indptr, self._postings.indices, self._postings.data
        rows = [self.vocabulary[t] for t in tokens if t in self.vocabulary]
        if not rows:
            return np.zeros(n_docs), np.zeros(n_docs, dtype=bool), np.zeros(0, dtype=np.int64)
        idx = np.concatenate([indices[indptr[r] : indptr[r + 1]] for r in rows])
        wts = np.concatenate([data[indptr[r] : indptr[r + 1]] for r in rows])
        # bincount adds in input order, i.e. term by term as rank-bm25 does: bit-identical sums.
        scores = np.bincount(idx, weights=wts, minlength=n_docs).astype(np.float64, copy=False)
        hit = np.zeros(n_docs, dtype=bool)
        hit[idx] = True
        rarest = min(rows, key=lambda r: indptr[r + 1] - indptr[r])
        return scores, hit, indices[indptr[rarest] : indptr[rarest + 1]]

    def get_scores(self, tokens: Sequence[str]) -> NDArray[np.float64]:
        """BM25 score of every document for a tokenised query (as ``BM25Okapi.get_scores``)."""
        return self._accumulate(tokens)[0]

    @staticmethod
    def _top_k(
        scores: NDArray[np.float64], hit: NDArray[np.bool_], seed: NDArray[Any], k: int
    ) -> NDArray[Any]:
        """Positions of the best ``k`` hits, best first, ties by position (exact)."""
        import numpy as np

        seed = seed[hit[seed]][:4096]
        if len(seed) >= k:
            # The k-th best score of any k hits bounds the overall k-th best from below, so
            # only hits at or above it can be in the top k: usually a handful, not every hit.
            bound = np.partition(scores[seed], len(seed) - k)[len(seed) - k]
            candidates = np.flatnonzero(hit & (scores >= bound))
        else:
            candidates = np.flatnonzero(hit)
        if k < len(candidates):
            values = scores[candidates]
            cut = np.partition(values, len(values) - k)[len(values) - k]
            # Ties at the cut: take the boundary score's lowest positions, as a full sort would.
            above = candidates[values > cut]
            at_cut = candidates[values == cut][: k - len(above)]
            candidates = np.concatenate([above, at_cut])
        order = np.lexsort((candidates, -scores[candidates]))
        result: NDArray[Any] = candidates[order][:k]
        return result

    def search(
        self,
        query: str | Sequence[str],
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The best ``k`` documents holding at least one query term, best first.

        Ties keep index order. Documents sharing no term with the query are never returned.

        Args:
            query: a string (tokenised with the index's tokenizer) or a token list.
            k: how many to return.
            where: metadata filter.
            min_score: drop hits scoring below this.
        """
        import numpy as np

        if not self.ids:
            warnings.warn(
                "BM25 search on an empty index: no results", RetrievalWarning, stacklevel=2
            )
            return []
        tokens = self.tokenizer(query) if isinstance(query, str) else list(query)
        scores, hit, seed = self._accumulate(tokens)
        if where is not None:
            hit &= np.fromiter((matches(m, where) for m in self.metadata), bool, len(self.ids))
        if min_score is not None:
            hit &= scores >= min_score
        if k < 1:
            return []
        return [(self.ids[i], float(scores[i])) for i in self._top_k(scores, hit, seed, k)]
