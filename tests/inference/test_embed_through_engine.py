"""API embedders go through the inference engine (issue 14 item 8).

The litellm embedder used to call litellm in the pytest process, skipping the engine's cache,
limits, retries, cost accounting and worker process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.errors import CacheMissError
from pytest_mleval.inference import InferenceEngine
from pytest_mleval.inference.cache import ResponseCache
from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import (
    Fault,
    OpenAITestServer,
    hashed_embedding,
    loopback_only,
)
from pytest_mleval.retrieval.embedders import LiteLLMEmbedder

import_litellm()  # see tests/inference/test_model_targets.py: loaded before in-process runs

# A priced model (litellm's cost map), so the cost of a call is not 0.
MODEL = "openai/text-embedding-3-small"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-embed")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts


def embedding_requests(srv: OpenAITestServer) -> list[dict]:
    return [r for r in srv.requests if "input" in r]


def test_the_embedder_uses_the_engines_cache_retries_and_accounting(tmp_path: Path) -> None:
    texts = ["refunds within thirty days", "shipping takes a week", "refunds within thirty days"]
    with OpenAITestServer(faults=[Fault("500", first=1)], embedding_dim=32) as srv:
        cache = ResponseCache(tmp_path / "cache.sqlite", "rw")
        with InferenceEngine(cache=cache, api_key="sk-test-embed") as engine:
            engine.retry.base_delay = 0.01
            embedder = LiteLLMEmbedder(MODEL, api_base=srv.base_url, engine=engine)
            vectors = embedder.embed(texts)
            stats = engine.stats()[MODEL]
        for text, vec in zip(texts, vectors, strict=True):
            np.testing.assert_allclose(vec, hashed_embedding(text, 32), atol=1e-6)
        # The 500 was retried: one failed attempt and one answer, duplicates sent once.
        assert [r["input"] for r in embedding_requests(srv)] == [texts[:2], texts[:2]]
        assert stats.calls == 2 and stats.retries == 1 and stats.errors == 0
        assert stats.prompt_tokens == 8  # what the server counted: 4 + 4 words
        assert stats.cost_usd > 0

        # Another engine on the same cache: every vector recorded, no request at all.
        srv.reset()
        cache = ResponseCache(tmp_path / "cache.sqlite", "rw")
        with InferenceEngine(cache=cache, api_key="sk-test-embed") as engine:
            again = LiteLLMEmbedder(MODEL, api_base=srv.base_url, engine=engine).embed(texts)
            assert engine.stats()[MODEL].cache_hits == 1
            assert engine.spent_usd == 0
        assert srv.count == 0
        np.testing.assert_allclose(again, vectors, atol=1e-6)

        # Replay: a text never recorded is a miss, and nothing is sent.
        replay = ResponseCache(tmp_path / "cache.sqlite", "replay")
        with InferenceEngine(cache=replay, api_key="sk-test-embed") as engine:
            embedder = LiteLLMEmbedder(MODEL, api_base=srv.base_url, engine=engine)
            with pytest.raises(CacheMissError, match="replay"):
                embedder.embed(["a text never embedded"])
        assert srv.count == 0


APP = """
def answer(case):
    return "Items can be returned within 30 days of delivery for a refund."
"""

CONFTEST = """
import sys

def pytest_sessionfinish(session):
    print("LITELLM_IN_PYTEST", "litellm" in sys.modules)
"""

DOCS = {
    "returns.md": "# Returns\n\nItems can be returned within 30 days of delivery for a refund.\n",
    "shipping.md": "# Shipping\n\nStandard shipping takes 3 to 5 business days.\n",
}


def project(p: pytest.Pytester, srv: OpenAITestServer) -> None:
    p.makepyfile(app=APP)
    p.makeconftest(CONFTEST)
    docs = p.mkdir("docs")
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    p.makefile(
        ".yaml",
        rag=f"documents: docs\nchunker: {{kind: markdown, size: 400, overlap: 0}}\n"
        f"retriever: {{kind: dense, k: 1}}\nembedder: 'litellm:{MODEL}'\n",
    )
    p.makefile(
        ".eval.yaml",
        sim=f"""
target: python:app:answer
metrics:
  - semantic_similarity: {{embedder: "litellm:{MODEL}", threshold: 0.1}}
cases:
  - {{id: a, input: q, expected: "Returns are accepted within 30 days for a refund."}}
  - {{id: b, input: q, expected: "Refunds for 30 days after delivery."}}
""",
        ret="""
target: rag:rag.yaml
metrics:
  - hit_rate: {k: 1, threshold: 1}
cases:
  - {id: ret, input: "Can items be returned for a refund?", relevant: [returns.md]}
  - {id: ship, input: "How long does standard shipping take?", relevant: [shipping.md]}
""",
    )
    p.makeini("[pytest]\naddopts = -p no:cacheprovider\nmleval_retry_delay = 0.01\n")


def usage(p: pytest.Pytester) -> dict:
    data = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    return data["usage"]["inference"]["models"][MODEL]


def scores(p: pytest.Pytester) -> dict:
    data = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    return {c["case_id"]: {k: s["score"] for k, s in c["scores"].items()} for c in data["cases"]}


def test_embedding_metric_and_rag_retriever_go_through_the_engine(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One 500 on the first embedding request: the engine's retry answers it.
    with OpenAITestServer(faults=[Fault("500", first=1)]) as srv:
        # litellm reads the endpoint of `litellm:MODEL` embedders from the environment.
        monkeypatch.setenv("OPENAI_API_BASE", srv.base_url)
        project(pytester, srv)
        first = pytester.runpytest_subprocess("-s")
        first.assert_outcomes(passed=4)
        first.stdout.fnmatch_lines(["*LITELLM_IN_PYTEST False*"])
        sent = len(embedding_requests(srv))
        assert sent >= 3  # the documents, the queries and the metric's texts (plus the retry)
        recorded, used = scores(pytester), usage(pytester)
        assert used["retries"] == 1 and used["errors"] == 0
        assert used["calls"] == sent  # every request the server saw was one of the engine's
        assert used["prompt_tokens"] > 0 and used["cost_usd"] > 0
        # The metric's and the retriever's embeddings are in the usage people read, on the
        # cases that made them (2 scored, 2 retrieved), and the documents' with the calls no
        # case made: the model's row is every call the engine made.
        shown = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
        model_use = shown["usage"]["models"][MODEL]
        assert model_use["cases"] == 4 and model_use["total_tokens"] > 0
        assert model_use["prompt_tokens"] == used["prompt_tokens"]
        assert model_use["cost_usd"] == pytest.approx(used["cost_usd"])
        first.stdout.fnmatch_lines([f"  model {MODEL}: *"])

        second = pytester.runpytest_subprocess("-s")
        second.assert_outcomes(passed=4)
        assert len(embedding_requests(srv)) == sent  # 0 embedding requests: all from the cache
        assert scores(pytester) == recorded
        again = usage(pytester)
        assert again["calls"] == 0 and again["cache_hits"] > 0 and again["cost_usd"] == 0
