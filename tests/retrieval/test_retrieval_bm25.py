"""BM25Index: score parity with rank_bm25.BM25Okapi, top-k, filters, thresholds."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mleval.errors import ConfigError
from pytest_mleval.retrieval.base import RetrievalWarning
from pytest_mleval.retrieval.bm25 import BM25Index, default_tokenize

rank_bm25 = pytest.importorskip("rank_bm25")


def random_corpus(rng: random.Random, n_docs: int, vocab: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    weights = [1.0 / (i + 1) for i in range(vocab)]  # Zipfian: w0..w2 are in most documents
    corpus = []
    for _ in range(n_docs):
        doc = rng.choices(words, weights, k=rng.randint(0, 30))
        if rng.random() < 0.7:
            doc.append("common")  # in ~70% of documents: a negative raw idf
        corpus.append(doc)
    return corpus


@pytest.mark.parametrize("seed", range(6))
def test_scores_equal_rank_bm25(seed: int) -> None:
    rng = random.Random(seed)
    corpus = random_corpus(rng, rng.randint(1, 120), rng.randint(3, 60))
    ours = BM25Index(corpus)
    reference = rank_bm25.BM25Okapi(corpus)
    assert ours.average_idf == pytest.approx(reference.average_idf, rel=1e-12)
    for _ in range(10):
        query = rng.choices([*ours.vocabulary, "unseen", "common"], k=rng.randint(1, 6))
        expected = reference.get_scores(query)
        got = ours.get_scores(query)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        hits = ours.search(query, k=5)
        # Top-k parity, ties aside: the same scores in the same order.
        matched = [i for i, doc in enumerate(corpus) if set(doc) & set(query)]
        best = sorted((expected[i] for i in matched), reverse=True)[:5]
        np.testing.assert_allclose([s for _, s in hits], best, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefg"), max_size=8), min_size=1, max_size=15),
    st.lists(st.sampled_from("abcdefgz"), min_size=1, max_size=4),
)
def test_scores_equal_rank_bm25_property(corpus: list[list[str]], query: list[str]) -> None:
    if not any(corpus):
        return  # rank-bm25 divides by zero on an all-empty corpus
    expected = rank_bm25.BM25Okapi(corpus).get_scores(query)
    np.testing.assert_allclose(
        BM25Index(corpus).get_scores(query), expected, rtol=1e-12, atol=1e-12
    )


def test_negative_idf_gets_the_epsilon_floor() -> None:
    corpus = [["x", "a"], ["x", "b"], ["x", "c"], ["d"]]
    index = BM25Index(corpus)
    raw = np.log(4 - np.array([3, 1, 1, 1, 1]) + 0.5) - np.log(np.array([3, 1, 1, 1, 1]) + 0.5)
    assert raw[0] < 0
    assert index.idf[index.vocabulary["x"]] == pytest.approx(0.25 * raw.mean())


def test_search_order_filters_threshold_and_ties() -> None:
    texts = [
        "Install the package with pip.",
        "The package supports plugins and the pip installer.",
        "Cats sleep all day.",
        "pip pip pip install install",
    ]
    meta = [{"lang": "en", "part": 1}, {"lang": "en", "part": 2}, {"lang": "en"}, {"lang": "de"}]
    index = BM25Index.from_texts(texts, ids=["a", "b", "c", "d"], metadata=meta)
    hits = index.search("how to install with pip", k=10)
    assert [i for i, _ in hits][:1] == ["d"] and "c" not in [i for i, _ in hits]
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert [i for i, _ in index.search("install pip", k=10, where={"lang": "en"})] == ["a", "b"]
    assert index.search("install pip", k=10, where={"part": [2, 3]})[0][0] == "b"
    top = index.search("install pip", k=10)
    assert index.search("install pip", k=10, min_score=top[1][1]) == top[:2]
    tied = BM25Index([["x"], ["x"], ["x"], ["y"]], ids=["p", "q", "r", "s"])
    assert [i for i, _ in tied.search(["x"], k=2)] == ["p", "q"]


def test_default_tokenizer_and_bad_input() -> None:
    assert default_tokenize("The Cat's hat, and 2 dogs!") == ["cat", "s", "hat", "2", "dogs"]
    with pytest.raises(ConfigError):
        BM25Index([["a"], ["b"]], ids=["same", "same"])
    with pytest.warns(RetrievalWarning, match="empty index"):
        assert BM25Index([]).search("anything") == []


def test_top_k_equals_a_full_sort_on_a_larger_corpus() -> None:
    rng = random.Random(11)
    corpus = random_corpus(rng, 3000, 300)
    index = BM25Index(corpus, metadata=[{"even": i % 2 == 0} for i in range(3000)])
    for trial in range(30):
        query = rng.choices(list(index.vocabulary), k=rng.randint(1, 5))
        k = rng.choice([1, 5, 10, 50])
        where = {"even": True} if trial % 3 == 0 else None
        scores = index.get_scores(query)
        allowed = [
            i
            for i, doc in enumerate(corpus)
            if set(doc) & set(query) and (where is None or i % 2 == 0)
        ]
        expected = sorted(allowed, key=lambda i: (-scores[i], i))[:k]
        assert [int(i) for i, _ in index.search(query, k, where=where)] == expected, trial
