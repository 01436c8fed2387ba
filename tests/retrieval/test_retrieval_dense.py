"""Dense indexes (exact, HNSW) and hybrid fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.errors import ConfigError, IndexCorruptError
from pytest_mleval.retrieval.bm25 import BM25Index
from pytest_mleval.retrieval.dense import ExactIndex, HNSWIndex, load_index
from pytest_mleval.retrieval.embedders import HashingEmbedder
from pytest_mleval.retrieval.hybrid import (
    DenseRetriever,
    HybridRetriever,
    min_max_normalise,
    reciprocal_rank_fusion,
    weighted_fusion,
)

pytest.importorskip("hnswlib")


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n // 50, 1), dim))
    points = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim))
    return points.astype(np.float32)


def brute_force(data: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def test_exact_index_matches_brute_force() -> None:
    data = clustered(500, 24)
    index = ExactIndex(24)
    index.add([f"v{i}" for i in range(500)], data)
    for q in clustered(10, 24, seed=1):
        hits = index.search(q, 10)
        assert [h[0] for h in hits] == [f"v{i}" for i in brute_force(data, q, 10)]
        assert hits[0][1] <= 1.0 + 1e-6


def test_hnsw_recall_grows_and_persists(tmp_path: Path) -> None:
    data = clustered(3000, 32)
    index = HNSWIndex(32, M=16, ef_construction=100, ef=100, capacity=100)  # forces resizes
    ids = [f"v{i}" for i in range(3000)]
    # One build thread: hnswlib's multi-threaded insertion order (and so recall) varies run to run.
    index.add(ids[:1000], data[:1000], num_threads=1)
    index.add(ids[1000:], data[1000:], num_threads=1)  # incremental
    queries = clustered(50, 32, seed=2)
    found = 0
    for q in queries:
        truth = {f"v{i}" for i in brute_force(data, q, 10)}
        found += len(truth & {h[0] for h in index.search(q, 10)})
    assert found / 500 >= 0.95
    index.save(tmp_path / "hnsw")
    loaded = load_index(tmp_path / "hnsw")
    assert isinstance(loaded, HNSWIndex) and len(loaded) == 3000 and loaded.M == 16
    assert loaded.search(queries[0], 5) == index.search(queries[0], 5)
    extra = clustered(10, 32, seed=3)
    loaded.add([f"new{i}" for i in range(10)], extra)
    assert loaded.search(extra[4], 1)[0][0] == "new4"


def test_filters_threshold_and_narrow_filters() -> None:
    data = clustered(400, 16)
    meta = [{"shard": i % 4, "rare": i == 123} for i in range(400)]
    ids = [str(i) for i in range(400)]
    for index in (ExactIndex(16), HNSWIndex(16, ef=20)):
        index.add(ids, data, meta)
        hits = index.search(data[7], 20, where={"shard": [1, 2]})
        assert len(hits) == 20 and all(int(i) % 4 in (1, 2) for i, _ in hits)
        assert index.search(data[7], 5, where={"rare": True}) == [
            (
                "123",
                pytest.approx(
                    float(
                        data[7] @ data[123] / np.linalg.norm(data[7]) / np.linalg.norm(data[123])
                    ),
                    abs=1e-5,
                ),
            )
        ]
        assert index.search(data[7], 5, where=lambda m: m["shard"] == 9) == []
        above = index.search(data[7], 400, min_score=0.9)
        assert above and all(s >= 0.9 for _, s in above) and above[0][0] == "7"


def test_exact_save_load_and_bad_input(tmp_path: Path) -> None:
    index = ExactIndex(8)
    assert index.search(np.ones(8), 3) == []
    index.add(["a", "b"], np.eye(8)[:2], [{"x": 1}, {"x": 2}])
    with pytest.raises(ConfigError, match="unique"):
        index.add(["a"], np.eye(8)[:1])
    with pytest.raises(ConfigError, match="dimension"):
        index.add(["c"], np.ones((1, 4)))
    index.save(tmp_path / "exact")
    loaded = load_index(tmp_path / "exact")
    assert isinstance(loaded, ExactIndex) and loaded.search(np.eye(8)[1], 1)[0][0] == "b"
    assert loaded.metadata == [{"x": 1}, {"x": 2}]


def test_corrupt_indexes_raise_index_corrupt_error(tmp_path: Path) -> None:
    hnsw = HNSWIndex(8)
    hnsw.add([str(i) for i in range(50)], clustered(50, 8))
    hnsw.save(tmp_path / "h")
    graph = tmp_path / "h" / "hnsw.bin"
    graph.write_bytes(graph.read_bytes()[:100])
    with pytest.raises(IndexCorruptError):
        HNSWIndex.load(tmp_path / "h")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "index.json").write_text("{not json")
    with pytest.raises(IndexCorruptError):
        load_index(tmp_path / "e")
    with pytest.raises(IndexCorruptError):
        load_index(tmp_path / "missing")


def test_rrf_hand_computed() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    sparse = [("c", 12.0), ("a", 3.0)]
    fused = dict(reciprocal_rank_fusion([dense, sparse], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [i for i, _ in reciprocal_rank_fusion([dense, sparse])] == ["a", "c", "b"]


def test_weighted_fusion_hand_computed() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    sparse = [("c", 10.0), ("b", 5.0)]
    assert min_max_normalise(dense) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    fused = dict(weighted_fusion(dense, sparse, alpha=0.25))
    assert fused == pytest.approx({"a": 0.25, "b": 0.125, "c": 0.75})
    assert weighted_fusion(dense, sparse, alpha=1.0)[0][0] == "a"
    with pytest.raises(ConfigError):
        weighted_fusion(dense, sparse, alpha=1.5)


def test_hybrid_retriever_over_both_indexes() -> None:
    texts = [
        "reset your password from the account settings page",
        "the password must contain twelve characters",
        "shipping takes five business days",
        "returns are accepted within thirty days",
    ]
    ids = ["pw-reset", "pw-rules", "shipping", "returns"]
    embedder = HashingEmbedder(128)
    dense_index = ExactIndex(embedder.dim)
    dense_index.add(ids, embedder.embed(texts))
    sparse = BM25Index.from_texts(texts, ids)
    dense = DenseRetriever(dense_index, embedder)
    for fusion in ("rrf", "weighted"):
        hybrid = HybridRetriever(sparse, dense, fusion=fusion, alpha=0.5)
        hits = hybrid.search("how do I reset my password", k=2)
        assert [i for i, _ in hits] == ["pw-reset", "pw-rules"]
        assert hybrid.search("how do I reset my password", k=4, min_score=hits[0][1]) == hits[:1]
    with pytest.raises(ConfigError):
        HybridRetriever(sparse, dense, fusion="max")
