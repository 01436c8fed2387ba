"""External vector stores (Chroma server and local client, LanceDB, Qdrant local mode) behind
the dense index's shape: parity with the exact numpy index, incremental ingestion, metadata
filters passed down, and the errors of a wrong dimension, a wrong URL and a server gone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mleval.errors import ConfigError
from pytest_mleval.retrieval.embedders import HashingEmbedder
from pytest_mleval.retrieval.pipeline import RagConfig, RagPipeline
from pytest_mleval.retrieval.stores import (
    ChromaStore,
    LanceDBStore,
    QdrantStore,
    VectorStore,
    VectorStoreError,
)

pytest.importorskip("chromadb")
pytest.importorskip("lancedb")
pytest.importorskip("qdrant_client")

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "docs_corpus"
QUERIES = [
    "how do I install the plugin",
    "confidence intervals for pass rates",
    "cache model responses on disk",
    "compare a run against the baseline",
    "judge answers with a model",
    "retrieval metrics recall and precision",
    "run tests in parallel with xdist",
    "fine-tune a model on eval data",
]


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording the texts it was asked to embed."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed(texts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``chroma run`` on 127.0.0.1 with a free port, stopped after the module."""
    binary = Path(sys.executable).with_name("chroma")
    if not binary.exists():
        found = shutil.which("chroma")
        if found is None:
            pytest.skip("the chroma CLI (pip install chromadb) is not installed")
        binary = Path(found)
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(binary), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}: see {folder}/server.log")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("chroma run did not answer its heartbeat within 60 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


STORES = ["chroma-local", "chroma-server", "lancedb", "qdrant-local", "qdrant-memory"]


def store_config(
    kind: str, root: Path, request: pytest.FixtureRequest, name: str
) -> dict[str, Any]:
    """The ``retriever.store`` mapping of one store variant (a fresh collection per test)."""
    if kind == "chroma-local":
        return {"kind": "chroma", "path": str(root / "chroma"), "collection": name}
    if kind == "chroma-server":
        url = request.getfixturevalue("chroma_server")
        return {"kind": "chroma", "url": url, "collection": name}
    if kind == "lancedb":
        return {"kind": "lancedb", "path": str(root / "lance"), "collection": name}
    if kind == "qdrant-local":
        return {"kind": "qdrant", "path": str(root / "qdrant"), "collection": name}
    return {"kind": "qdrant", "collection": name}


def pipeline(docs: Path, store: dict[str, Any] | None, embedder: HashingEmbedder) -> RagPipeline:
    retriever: dict[str, Any] = {"kind": "dense", "index": "exact", "max_per_document": None}
    if store is not None:
        retriever["store"] = store
    config = RagConfig.from_mapping(
        {
            "documents": str(docs),
            "chunker": {"kind": "markdown", "size": 200, "overlap": 0},
            "retriever": retriever,
            "embedder": embedder.name,
        }
    )
    return RagPipeline(config, embedder=embedder)


def _collection(request: pytest.FixtureRequest) -> str:
    # Names unique per test (the server's collections outlive one test).
    return "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[-60:].strip("-")


def _same_ranking(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert len(got) == len(want)
    assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)

    # Equal scores may come in either order: compare the ids score by score.
    def groups(hits: list[tuple[str, float]]) -> list[set[str]]:
        out: list[set[str]] = []
        last = None
        for item, score in hits:
            if last is None or abs(score - last) > 1e-5:
                out.append(set())
            out[-1].add(item)
            last = score
        return out

    assert groups(got)[:-1] == groups(want)[:-1]  # the last group may be cut at k


@pytest.mark.parametrize("kind", STORES)
def test_store_returns_the_exact_index_top_k(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    embedder = HashingEmbedder(256)
    exact = pipeline(CORPUS, None, embedder)
    exact.ingest()
    store = pipeline(CORPUS, store_config(kind, tmp_path, request, _collection(request)), embedder)
    stats = store.ingest()
    try:
        assert isinstance(store.dense_index, VectorStore)
        assert len(store.dense_index) == stats.chunks == len(exact.chunks) > 30
        assert stats.embedded == stats.chunks
        assert exact.retriever is not None and store.retriever is not None
        for query in QUERIES:
            want = exact.retriever.search(query, 10)
            got = store.retriever.search(query, 10)
            _same_ranking(got, want)
            assert got[0][0] == want[0][0]
        # A filter is answered by the store: the same top-k among the allowed chunks only.
        allowed = ["install.md", "cache.md", "xdist.md"]
        for where in ({"doc_id": allowed}, {"doc_id": "cache.md"}, {"doc_id": "nope.md"}):
            for query in QUERIES[:3]:
                want = exact.retriever.search(query, 5, where=where)
                got = store.retriever.search(query, 5, where=where)
                _same_ranking(got, want)
        hits = store.retriever.search(QUERIES[0], 10, where={"doc_id": allowed})
        assert hits and {h[0].split("#")[0] for h in hits} <= set(allowed)
        floor = store.retriever.search(QUERIES[1], 10, min_score=0.2)
        assert floor and all(score >= 0.2 for _, score in floor)
        with pytest.raises(ConfigError, match="callable"):
            store.retriever.search(QUERIES[0], 3, where=lambda m: True)
    finally:
        store.close()


@pytest.mark.parametrize("kind", STORES)
def test_second_ingest_embeds_only_the_changed_document_and_drops_removed_ones(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    config = store_config(kind, tmp_path, request, _collection(request))
    if kind == "qdrant-memory":
        pytest.skip("an in-memory collection does not outlive its client")

    first = pipeline(docs, config, CountingEmbedder())
    stats = first.ingest()
    first.close()
    assert stats.embedded == stats.chunks

    again_embedder = CountingEmbedder()
    again = pipeline(docs, config, again_embedder)
    assert again.ingest().embedded == 0 and again_embedder.texts == []
    again.close()

    (docs / "cache.md").write_text(
        (docs / "cache.md").read_text() + "\n\n## Zebra section\n\nZebras cache nothing here.\n"
    )
    (docs / "xdist.md").unlink()
    third_embedder = CountingEmbedder()
    third = pipeline(docs, config, third_embedder)
    try:
        third_stats = third.ingest()
        changed = [c.text for c in third.chunks if c.metadata["doc_id"] == "cache.md"]
        assert 0 < third_stats.embedded <= len(changed)
        assert set(third_embedder.texts) <= set(changed)
        assert any("Zebra" in t for t in third_embedder.texts)
        assert third_stats.reused == third_stats.chunks - third_stats.embedded
        assert isinstance(third.dense_index, VectorStore)
        assert len(third.dense_index) == third_stats.chunks == len(third.chunks)
        assert third.retriever is not None
        assert third.retriever.search("zebras", 10, where={"doc_id": "xdist.md"}) == []
        found = third.retriever.search("xdist workers parallel", 50)
        assert found and all(not item.startswith("xdist.md#") for item, _ in found)
        top = third.retrieve("Zebras cache nothing", k=1)
        assert top[0].id == "cache.md" and "Zebra" in top[0].text
    finally:
        third.close()


@pytest.mark.parametrize("kind", ["chroma-local", "chroma-server", "lancedb", "qdrant-local"])
def test_a_collection_with_another_dimension_is_one_clear_error(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    name = _collection(request)
    config = store_config(kind, tmp_path, request, name)
    first = pipeline(CORPUS, config, HashingEmbedder(128))
    first.ingest()
    first.close()
    other = pipeline(CORPUS, config, HashingEmbedder(64))
    with pytest.raises(VectorStoreError) as err:
        other.ingest()
    message = str(err.value)
    assert name in message and "128" in message and "64" in message
    assert config["kind"] in message


def test_a_wrong_url_names_the_store() -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(VectorStoreError, match=r"chroma store at http://127\.0\.0\.1"):
        ChromaStore("docs", 8, url=f"http://127.0.0.1:{port}")
    with pytest.raises(VectorStoreError, match=r"qdrant store at http://127\.0\.0\.1"):
        QdrantStore("docs", 8, url=f"http://127.0.0.1:{port}")


def test_a_server_gone_mid_run_is_a_clear_error(tmp_path: Path) -> None:
    binary = Path(sys.executable).with_name("chroma")
    port = _free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(binary), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "chroma run did not start within 60 s"
                time.sleep(0.2)
        store = ChromaStore("gone", 4, url=f"http://127.0.0.1:{port}")
        store.add(["a", "b"], np.eye(4, dtype=np.float32)[:2])
        assert store.search(np.eye(4)[0], 1)[0][0] == "a"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(VectorStoreError, match=r"chroma store .* cannot search"):
        store.search(np.eye(4)[0], 1)


def test_a_locked_qdrant_folder_is_a_clear_error(tmp_path: Path) -> None:
    holder = QdrantStore("docs", 4, path=tmp_path / "q")
    try:
        with pytest.raises(VectorStoreError, match="qdrant store"):
            QdrantStore("docs", 4, path=tmp_path / "q")
    finally:
        holder.close()


def test_store_add_and_search_follow_the_index_protocol(tmp_path: Path) -> None:
    vectors = np.random.default_rng(1).normal(size=(40, 16)).astype(np.float32)
    ids = [f"v{i}" for i in range(40)]
    metas = [{"group": i % 3, "name": f"n{i}", "ok": i % 2 == 0, "w": i / 4} for i in range(40)]
    from pytest_mleval.retrieval.dense import ExactIndex

    exact = ExactIndex(16)
    exact.add(ids, vectors, metas)
    stores: list[VectorStore] = [
        LanceDBStore("proto", 16, path=tmp_path / "lance"),
        QdrantStore("proto", 16),
        ChromaStore("proto", 16, path=tmp_path / "chroma"),
    ]
    for store in stores:
        assert len(store) == 0 and store.search(vectors[0], 3) == []
        store.add(ids, vectors, metas)
        assert len(store) == 40
        for where in (None, {"group": [0, 2]}, {"ok": True}, {"w": 2.5}, {"name": "n7"}):
            want = exact.search(vectors[5], 7, where=where)
            _same_ranking(store.search(vectors[5], 7, where=where), want)
        with pytest.raises(VectorStoreError, match="16-dimensional"):
            store.add(["x"], np.ones((1, 8), np.float32))
        store.close()


def test_store_config_is_validated_and_paths_resolved(tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "rag.yaml"
    conf.parent.mkdir()
    conf.write_text(
        "documents: ../docs\nretriever: {kind: dense, store: {kind: lancedb, path: ../db}}\n"
    )
    store = RagConfig.from_yaml(conf).retriever.store
    assert store is not None and store.path == (tmp_path / "db").resolve()
    assert store.collection == "mleval"
    bad = [
        ({"kind": "bm25", "store": {"kind": "qdrant"}}, "kind dense or hybrid"),
        ({"kind": "dense", "store": {"kind": "chroma"}}, "url .* or path"),
        ({"kind": "dense", "store": {"kind": "qdrant", "url": "u", "path": "p"}}, "not both"),
        ({"kind": "dense", "store": {"kind": "milvus"}}, "retriever.store.kind"),
    ]
    for retriever, message in bad:
        with pytest.raises(ConfigError, match=message):
            RagConfig.from_mapping({"documents": "d", "retriever": retriever})
