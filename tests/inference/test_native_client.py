"""The native OpenAI-compatible client against the litellm path, side by side on the same test
server: the same request body, the same answer, usage, cost and error classes, the same cache
keys (a run recorded through one client replays through the other), and litellm never imported.

The fault-by-fault behaviour (429, 5xx, hangs, drops, 401, 404, malformed replies, budgets,
fallbacks) runs through both clients in test_inference_litellm.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.errors import AuthenticationError, InferenceError, ProviderError, RateLimitError
from pytest_mleval.inference import ChatRequest, InferenceEngine, ResponseCache, RetryPolicy
from pytest_mleval.inference.clients import native_endpoint, native_unsupported, needs_litellm
from pytest_mleval.inference.providers.auto import AutoProvider
from pytest_mleval.inference.providers.costmap import CostMap, cost_map
from pytest_mleval.inference.providers.litellm import LiteLLMProvider
from pytest_mleval.inference.providers.native import NativeProvider, http_error
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find an order",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    }
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
}
REQUESTS = {
    "plain": {},
    "sampling": {"temperature": 0.3, "top_p": 0.9, "max_tokens": 32, "seed": 7, "stop": ["\n"]},
    "json-schema": {"response_format": SCHEMA, "max_completion_tokens": 16},
    "tools": {"tool_choice": "auto", "parallel_tool_calls": False},
    "server-params": {"extra_body": {"top_k": 4, "guided_choice": ["a"]}, "top_k": 2},
    "litellm-keys": {"metadata": {"run": "x"}, "drop_params": True, "temperature": 0},
    "stream": {"stream": True},
}


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def both(srv: OpenAITestServer, req: ChatRequest) -> list[tuple[dict[str, Any], Any]]:
    """The body the server received and the answer, through litellm and then natively."""
    out = []
    for provider in (LiteLLMProvider(), NativeProvider()):

        async def call(p: Any = provider) -> Any:
            try:
                return await p.acomplete(req)
            finally:
                if isinstance(p, NativeProvider):
                    await p.aclose()

        resp = asyncio.run(call())
        out.append((srv.requests[-1], resp))
    return out


@pytest.mark.parametrize("name", list(REQUESTS))
def test_the_same_request_body_and_answer_through_both_clients(name: str) -> None:
    params = REQUESTS[name]
    calls = [{"name": "lookup", "arguments": {"id": "A1"}}] if name == "tools" else ()
    with OpenAITestServer(rules=[Rule(reply="30 days", tool_calls=calls)]) as srv:
        req = ChatRequest.from_prompt(
            "openai/test-model",
            "refund window?",
            system="Be brief.",
            params=params,
            api_base=srv.base_url,
            api_key="sk-test-native",
            tools=TOOLS if name == "tools" else None,
        )
        (body_l, via_litellm), (body_n, native) = both(srv, req)
    assert body_n == body_l, json.dumps([body_l, body_n], indent=1)
    assert native.client == "native"
    for field in ("text", "usage", "cost_usd", "cost_note", "finish_reason", "tool_calls"):
        assert getattr(native, field) == getattr(via_litellm, field), field
    if name == "stream":
        assert native.ttft_ms is not None and via_litellm.ttft_ms is not None
    else:
        assert native.ttft_ms is None


def test_priced_models_cost_the_same_through_both_clients() -> None:
    with OpenAITestServer(rules=[Rule(reply="thirty days from delivery")]) as srv:
        for model in ("openai/gpt-4o-mini", "openai/gpt-4o"):
            req = ChatRequest.from_prompt(model, "a b c d", api_base=srv.base_url, api_key="x")
            (_, via_litellm), (_, native) = both(srv, req)
            assert native.cost_usd > 0 and native.cost_note is None
            assert native.cost_usd == pytest.approx(via_litellm.cost_usd, rel=1e-12)
        # Embeddings too.
        vectors = []
        for provider in (LiteLLMProvider(), NativeProvider()):

            async def embed(p: Any = provider) -> Any:
                try:
                    return await p.aembed(
                        "openai/text-embedding-3-small",
                        ["a b", "c d e"],
                        api_base=srv.base_url,
                        api_key="sk-x",
                    )
                finally:
                    if isinstance(p, NativeProvider):
                        await p.aclose()

            vectors.append(asyncio.run(embed()))
    assert vectors[0] == vectors[1]
    assert vectors[1].prompt_tokens == vectors[0].prompt_tokens > 0
    assert vectors[1].cost_usd == pytest.approx(vectors[0].cost_usd, rel=1e-12)
    assert vectors[1].cost_usd > 0


def test_cost_map_prices_cached_prompt_tokens_and_says_when_unpriced() -> None:
    table = CostMap(
        {
            "m": {
                "litellm_provider": "openai",
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "cache_read_input_token_cost": 1e-7,
            }
        }
    )
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {}}
    assert table.chat_cost("openai/m", usage) == (pytest.approx(100e-6 + 20e-6), None)
    usage["prompt_tokens_details"] = {"cached_tokens": 60}
    assert table.chat_cost("openai/m", usage)[0] == pytest.approx(40e-6 + 6e-6 + 20e-6)
    # Another provider's entry of the same name is not this model's price.
    assert table.entry("anthropic/m") is None
    cost, note = CostMap(None).chat_cost("openai/m", usage)
    assert cost == 0 and "not in litellm's cost map" in (note or "")
    assert cost_map().available  # litellm's bundled file, read without importing litellm


def test_a_run_recorded_through_one_client_replays_through_the_other(tmp_path: Path) -> None:
    retry = RetryPolicy(max_retries=0)
    for record, replay in (("native", "litellm"), ("litellm", "native")):
        path = tmp_path / f"{record}.sqlite"
        with OpenAITestServer(rules=[Rule(reply="thirty days")]) as srv:
            reqs = [
                ChatRequest.from_prompt(
                    "openai/test-model", f"q{i}", api_base=srv.base_url, params={"seed": i}
                )
                for i in range(4)
            ]
            with InferenceEngine(
                AutoProvider(client=record), ResponseCache(path), retry=retry, api_key="sk-x"
            ) as eng:
                recorded = [eng.complete(r) for r in reqs]
            assert srv.count == 4
            with InferenceEngine(
                AutoProvider(client=replay),
                ResponseCache(path, mode="replay"),
                retry=retry,
                api_key="sk-x",
            ) as eng:
                replayed = [eng.complete(r) for r in reqs]
            assert srv.count == 4  # nothing asked again
        assert all(r.cached for r in replayed)
        assert [r.text for r in replayed] == [r.text for r in recorded]
        assert [r.usage for r in replayed] == [r.usage for r in recorded]
        assert {r.client for r in replayed} == {record}  # who recorded it


def test_rate_limits_carry_retry_after_and_auth_errors_hide_the_key() -> None:
    faults = [Fault("429", match="slow", retry_after=0.25), Fault("401", match="deny")]
    with OpenAITestServer(faults=faults) as srv:
        for provider in (LiteLLMProvider(), NativeProvider()):

            async def call(text: str, p: Any = provider) -> Any:
                try:
                    return await p.acomplete(
                        ChatRequest.from_prompt(
                            "openai/test-model", text, api_base=srv.base_url, api_key="sk-SECRET99x"
                        )
                    )
                finally:
                    if isinstance(p, NativeProvider):
                        await p.aclose()

            with pytest.raises(RateLimitError) as limited:
                asyncio.run(call("slow"))
            assert limited.value.retry_after == pytest.approx(0.25)
            with pytest.raises(AuthenticationError) as denied:
                asyncio.run(call("deny"))
            assert "SECRET99x" not in str(denied.value)


@pytest.mark.parametrize(
    ("status", "kind", "retried"),
    [
        (400, InferenceError, False),
        (401, AuthenticationError, False),
        (403, AuthenticationError, False),
        (404, InferenceError, False),
        (408, ProviderError, True),
        (409, ProviderError, True),
        (422, InferenceError, False),
        (429, RateLimitError, True),
        (500, ProviderError, True),
        (502, ProviderError, True),
        (503, ProviderError, True),
    ],
)
def test_http_failures_are_classed_as_the_litellm_path_classes_them(
    status: int, kind: type[Exception], retried: bool
) -> None:
    body = json.dumps({"error": {"message": "nope, key sk-abcdefgh123 rejected"}})
    error = http_error(status, body, {"retry-after": "2"}, "openai/m", ["sk-abcdefgh123"])
    assert type(error) is kind
    # ProviderError (and its RateLimitError) is what the engine's retry policy retries.
    assert isinstance(error, ProviderError) is retried
    assert "sk-abcdefgh123" not in str(error) and "nope" in str(error)
    if status == 429:
        assert isinstance(error, RateLimitError) and error.retry_after == 2.0


@pytest.mark.parametrize(
    ("model", "api_base", "mode", "wire"),
    [
        ("openai/gpt-4o-mini", None, "auto", "gpt-4o-mini"),
        ("openai/m", "http://h:1/v1/", "auto", "m"),
        ("hosted_vllm/org/m", "http://h:1/v1", "auto", "org/m"),
        ("lm_studio/m", "http://h:1/v1", "auto", "m"),
        ("bare-model", "http://h:1/v1", "auto", "bare-model"),
        ("bare-model", None, "auto", None),  # litellm knows bare ids' providers
        ("hosted_vllm/m", None, "auto", None),  # no endpoint: litellm says so
        ("ollama/llama3", "http://h:1/v1", "auto", None),  # its own API by default
        ("ollama/llama3", "http://h:1/v1", "native", "llama3"),
        ("anthropic/claude", None, "native", None),
        ("openai/m", "http://h:1/v1", "litellm", None),
        ("hf:./tiny", None, "native", None),
    ],
)
def test_which_client_serves_which_model(
    model: str, api_base: str | None, mode: str, wire: str | None
) -> None:
    endpoint = native_endpoint(model, api_base, mode, env={})
    assert (endpoint.wire_model if endpoint else None) == wire
    if endpoint is not None and api_base:
        assert endpoint.base_url == api_base.rstrip("/")
    assert needs_litellm(model, mode, api_base) is (wire is None and not model.startswith("hf:"))


def test_openai_base_url_variables_are_the_default_endpoint() -> None:
    endpoint = native_endpoint("openai/m", None, env={"OPENAI_BASE_URL": "http://proxy:8/v1/"})
    assert endpoint is not None and endpoint.base_url == "http://proxy:8/v1"
    default = native_endpoint("openai/m", None, env={})
    assert default is not None and default.base_url == "https://api.openai.com/v1"
    assert default.key_env == "OPENAI_API_KEY"


def test_a_request_with_litellm_only_params_is_served_by_litellm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert native_unsupported({"temperature": 0}) is None
    assert "mock_response" in (native_unsupported({"mock_response": "x"}) or "")
    provider = AutoProvider()
    once = RetryPolicy(max_retries=0)
    with (
        OpenAITestServer(rules=[Rule(reply="served")]) as srv,
        InferenceEngine(provider, api_key="sk-x", retry=once) as eng,
    ):
        odd = eng.complete(
            ChatRequest.from_prompt(
                "openai/m", "hi", api_base=srv.base_url, params={"api_version": "2024-01"}
            )
        )
        plain = eng.complete(ChatRequest.from_prompt("openai/m", "hi", api_base=srv.base_url))
    assert (odd.client, plain.client) == ("litellm", "native")
    assert odd.text == plain.text == "served"
    assert provider.fallbacks == {("openai/m", "litellm-only parameter api_version"): 1}
    assert "litellm serves these requests" in caplog.text


def test_native_calls_never_import_litellm(tmp_path: Path) -> None:
    script = tmp_path / "native_only.py"
    script.write_text(
        "import sys\n"
        "from pytest_mleval.inference import ChatRequest, InferenceEngine\n"
        "from pytest_mleval.inference.testserver import OpenAITestServer, Rule\n"
        "with OpenAITestServer(rules=[Rule(reply='ok')]) as srv, InferenceEngine() as eng:\n"
        "    r = eng.complete(ChatRequest.from_prompt('openai/gpt-4o-mini', 'a b', "
        "api_base=srv.base_url))\n"
        "    v = eng.embed('openai/text-embedding-3-small', ['x'], api_base=srv.base_url)\n"
        "print(r.text, r.client, r.cost_usd > 0, len(v[0]), 'litellm' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["ok", "native", "True", "64", "False"], out.stderr
    assert "Unclosed" not in out.stderr


def test_the_run_says_which_requests_litellm_served_instead(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    with OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        pytester.makefile(
            ".eval.yaml",
            t=f"suite: t\ntarget: model:openai/m\napi_base: {srv.base_url}\n"
            "params: {api_version: '2024-01'}\nmetrics: [{exact: {value: ok}}]\n"
            "cases:\n  - {id: a, input: x}\n  - {id: b, input: y}\n",
        )
        result = pytester.runpytest("--mleval-cache", "off", "--mleval-litellm-inline")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*mleval: litellm served 2 requests of openai/m (litellm-only parameter api_version*"]
    )


def test_a_missing_key_through_litellm_is_an_auth_error_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The OpenAI SDK raises its missing-key error inside litellm, which reports a 500.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with (
        OpenAITestServer() as srv,
        InferenceEngine(AutoProvider(client="litellm"), retry=RetryPolicy(base_delay=0)) as eng,
    ):
        with pytest.raises(AuthenticationError, match="API key"):
            eng.complete(ChatRequest.from_prompt("openai/m", "hi", api_base=srv.base_url))
        assert eng.stats()["openai/m"].calls == 1
