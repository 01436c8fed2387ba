"""Bad replies are errors, never cache entries.

A reply with ``content: null``, empty content, no choices or no text (an image part) is
retried like a server error, and when the retries run out it is an error of that case. It is
never stored in the cache, so a rerun against a healthy server asks again and passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mleval.errors import ProviderError
from pytest_mleval.inference import ChatRequest, InferenceEngine
from pytest_mleval.inference.cache import ResponseCache
from pytest_mleval.inference.limits import RetryPolicy
from pytest_mleval.inference.providers.base import reply_text, unusable_reply
from pytest_mleval.inference.providers.fake import FakeProvider
from pytest_mleval.inference.providers.litellm import LiteLLMProvider, import_litellm
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, loopback_only
from pytest_mleval.inference.types import ChatResponse, cache_key

# Loaded before the first in-process pytester run (see tests/inference/test_model_targets.py).
import_litellm()

BAD = ["null_content", "empty_content", "no_choices", "non_text"]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-bad-replies")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def suite(server: OpenAITestServer, n: int) -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}, expected: 'Say: w{i}'}}\n" for i in range(n))
    return (
        f"suite: bad\ntarget: model:openai/test-model\napi_base: {server.base_url}\n"
        f"prompt: 'Say: {{{{ input }}}}'\nmetrics: [exact]\ncases:\n{cases}"
    )


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "mleval-results.json").read_text())


@pytest.mark.parametrize(
    ("kind", "inline"),
    [*((k, False) for k in BAD), ("null_content", True)],
    ids=[*(f"{k}-worker" for k in BAD), "null_content-inline"],
)
def test_bad_reply_is_a_case_error_and_a_rerun_asks_again(
    pytester: pytest.Pytester, kind: str, inline: bool
) -> None:
    args = ["--mleval-retry-delay", "0.01", "--mleval-timeout", "10", "--mleval-max-retries", "2"]
    if inline:
        args.append("--mleval-litellm-inline")
    with OpenAITestServer(faults=[Fault(kind, match=r"\bw0\b")]) as srv:  # type: ignore[arg-type]
        pytester.makefile(".eval.yaml", t=suite(srv, 2))
        first = pytester.runpytest(*args)
        first.assert_outcomes(passed=1, errors=1)
        first.stdout.fnmatch_lines(["*bad::c0 errored: ProviderError: *unusable reply*"])
        assert srv.faults_served == 3  # the first attempt and both retries
        assert srv.count == 4
        c0 = next(c for c in results(pytester)["cases"] if c["case_id"] == "c0")
        assert c0["error"] and c0["retries"] == 2 and not c0["passed"]
        assert c0["model"] == "openai/test-model"
        # The server is healthy again: the bad case asks again (nothing was cached), the good
        # one is answered from the cache.
        srv.faults.clear()
        second = pytester.runpytest(*args)
        second.assert_outcomes(passed=2)
        assert srv.count == 5
        cases = {c["case_id"]: c for c in results(pytester)["cases"]}
        assert cases["c0"]["output"] == "Say: w0" and not cases["c0"]["cached"]
        assert cases["c1"]["cached"]


def test_bad_replies_within_the_retries_are_retried_to_an_answer(
    pytester: pytest.Pytester,
) -> None:
    # Case ci meets bad reply BAD[i] on its first two attempts, then a good answer.
    faults = [Fault(k, first=2, match=rf"\bw{i}\b") for i, k in enumerate(BAD)]  # type: ignore[arg-type]
    with OpenAITestServer(faults=faults) as srv:
        pytester.makefile(".eval.yaml", t=suite(srv, len(BAD)))
        result = pytester.runpytest("--mleval-retry-delay", "0.01", "--mleval-max-retries", "3")
        result.assert_outcomes(passed=len(BAD))
        assert srv.faults_served == 2 * len(BAD) and srv.count == 3 * len(BAD)
    for case in results(pytester)["cases"]:
        assert case["output"] == f"Say: {case['input']}" and case["retries"] == 2


def test_empty_answer_recorded_by_an_earlier_version_is_a_cache_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with OpenAITestServer() as srv:
        req = ChatRequest.from_prompt("openai/test-model", "hello", api_base=srv.base_url)
        cache.put(cache_key(req), req.model, ChatResponse(text="", model=req.model).to_cache())
        with InferenceEngine(LiteLLMProvider(), cache, api_key="sk-x") as engine:
            resp = engine.complete(req)
        assert resp.text == "hello" and not resp.cached
        assert srv.count == 1
    # The good answer replaced the empty one.
    stored = ResponseCache(tmp_path / "cache.sqlite", mode="ro").get(cache_key(req))
    assert stored is not None and stored["text"] == "hello"


def test_any_provider_empty_answer_is_retried_then_an_error_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    provider = FakeProvider(reply="  ")
    retry = RetryPolicy(max_retries=2, base_delay=0.0)
    req = ChatRequest.from_prompt("fake/model", "hello")
    with InferenceEngine(provider, cache, retry=retry) as engine:
        with pytest.raises(ProviderError, match="unusable reply: empty content") as info:
            engine.complete(req)
        assert engine.stats()["fake/model"].retries == 2
    assert len(provider.calls) == 3
    assert getattr(info.value, "retries", None) == 2
    assert ResponseCache(tmp_path / "cache.sqlite", mode="ro").get(cache_key(req)) is None


def test_a_reply_with_tool_calls_and_no_text_is_an_answer(tmp_path: Path) -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}

    class ToolProvider(FakeProvider):
        async def acomplete(self, req: ChatRequest) -> ChatResponse:
            self.calls.append(req)
            return ChatResponse(text="", model=req.model, tool_calls=(call,))

    cache = ResponseCache(tmp_path / "cache.sqlite")
    provider = ToolProvider()
    req = ChatRequest.from_prompt("fake/model", "look it up")
    with InferenceEngine(provider, cache) as engine:
        assert engine.complete(req).tool_calls == (call,)
    with InferenceEngine(provider, ResponseCache(tmp_path / "cache.sqlite")) as engine:
        again = engine.complete(req)
    assert again.cached and again.tool_calls == (call,)
    assert len(provider.calls) == 1


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"content": "hi"}, "hi"),
        ({"content": None}, None),
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "ab"),
        ({"content": [{"type": "image_url", "image_url": {"url": "x"}}]}, None),
        ({"content": {"weird": 1}}, None),
        ({"content": None, "refusal": "I cannot help with that."}, "I cannot help with that."),
    ],
)
def test_reply_text(message: dict, text: str | None) -> None:
    assert reply_text(message) == text


def test_unusable_reply_names_the_problem() -> None:
    assert unusable_reply("answer") is None
    assert unusable_reply("", [{"id": "t"}]) is None
    assert unusable_reply(None) == "no text content (content is null or not text)"
    assert unusable_reply(" \n") == "empty content"
    assert unusable_reply("", (), "length") == "empty content (finish_reason 'length')"
