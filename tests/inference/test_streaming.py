"""Streaming: the test server's Server-Sent Events (read by the openai SDK as the reference
client), the litellm path's assembled and timed answers through the engine, tool-call deltas
merged, faults inside a stream, cached replays keeping their recorded timings.

Times are asserted only as lower bounds the server's own sleeps imply, never as upper bounds.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.errors import ProviderError
from pytest_mleval.inference import ChatRequest, InferenceEngine, ResponseCache, RetryPolicy
from pytest_mleval.inference.providers.streaming import StreamAssembly, stream_timings
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(find_spec("aiohttp") is None, reason="needs aiohttp")

needs_litellm = pytest.mark.skipif(find_spec("litellm") is None, reason="needs litellm")
needs_openai = pytest.mark.skipif(find_spec("openai") is None, reason="needs the openai SDK")

REPLY = "The refund window is thirty days from delivery."
WORDS = len(REPLY.split())
MODEL = "openai/test-model"
STREAM = {"stream": True}
# asyncio may wake a timer up to its clock resolution early: lower bounds keep a hair of slack.
SLACK_MS = 1.0


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def sse_events(srv: OpenAITestServer, body: dict[str, Any]) -> tuple[int, str, list[str]]:
    """POST a chat request; the status, the content type and the ``data:`` payloads."""
    request = urllib.request.Request(
        srv.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw, status, ctype = resp.read().decode(), resp.status, resp.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], [err.read().decode()]
    assert raw.endswith("\n\n")
    events = [block for block in raw.split("\n\n") if block]
    assert all(e.startswith("data: ") for e in events), events
    return status, ctype, [e[len("data: ") :] for e in events]


def chat_body(text: str = "refund?", **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": [{"role": "user", "content": text}], **extra}


# --------------------------------------------------------------------------- the test server


def test_sse_wire_format_as_openai_streams() -> None:
    with OpenAITestServer(rules=[Rule(reply=REPLY)]) as srv:
        status, ctype, data = sse_events(
            srv, chat_body(stream=True, stream_options={"include_usage": True})
        )
        assert status == 200 and ctype.startswith("text/event-stream")
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
        assert len({c["id"] for c in chunks}) == 1
        first, *content, finish, usage = chunks
        assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        pieces = [c["choices"][0]["delta"]["content"] for c in content]
        assert "".join(pieces) == REPLY and len(pieces) == WORDS  # word-sized deltas
        assert all(c["choices"][0]["finish_reason"] is None for c in [first, *content])
        assert finish["choices"][0] == {
            "index": 0,
            "delta": {},
            "logprobs": None,
            "finish_reason": "stop",
        }
        # As OpenAI: with include_usage every chunk carries `usage: null`, the last one the
        # counts and no choices.
        assert all(c["usage"] is None for c in [first, *content, finish])
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == WORDS
        # Without include_usage: no usage chunk and no usage key.
        _, _, data = sse_events(srv, chat_body(stream=True))
        chunks = [json.loads(d) for d in data[:-1]]
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert all("usage" not in c for c in chunks)


def test_http_faults_come_before_the_stream() -> None:
    faults = [Fault("429", first=1, retry_after=2), Fault("500", first=1)]
    with OpenAITestServer(rules=[Rule(reply=REPLY)], faults=faults) as srv:
        status, ctype, body = sse_events(srv, chat_body(stream=True))
        assert status == 429 and ctype.startswith("application/json")
        assert json.loads(body[0])["error"]["code"] == "rate_limit_exceeded"
        assert sse_events(srv, chat_body(stream=True))[0] == 500
        assert sse_events(srv, chat_body(stream=True))[0] == 200


@needs_openai
def test_openai_sdk_reads_the_stream_and_its_timing() -> None:
    """The openai SDK (the reference client) parses the stream; its chunks arrive no sooner
    than the server's sleeps allow."""
    import openai

    latency, gap = 0.15, 0.02

    async def run(srv: OpenAITestServer) -> tuple[list[Any], float, list[float]]:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        try:
            start = time.perf_counter()
            stream = await client.chat.completions.create(
                model="test-model",
                messages=[{"role": "user", "content": "refund?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks, times = [], []
            async for chunk in stream:
                chunks.append(chunk)
                times.append(time.perf_counter())
            return chunks, start, times
        finally:
            await client.close()

    with OpenAITestServer(rules=[Rule(reply=REPLY)], latency_s=latency, token_latency_s=gap) as srv:
        chunks, start, times = asyncio.run(run(srv))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == WORDS
    assert (times[0] - start) * 1000 >= latency * 1000 - SLACK_MS
    # The last content delta left the server (WORDS - 1) gaps after the first.
    content_times = [
        t for c, t in zip(chunks, times, strict=True) if c.choices and c.choices[0].delta.content
    ]
    assert (content_times[-1] - start) * 1000 >= (latency + gap * (WORDS - 1)) * 1000 - SLACK_MS


@needs_openai
def test_openai_sdk_reads_streamed_tool_calls_and_a_drop_mid_stream() -> None:
    import openai

    rules = [
        Rule(match="weather", tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    ]

    async def run(srv: OpenAITestServer, text: str) -> list[Any]:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        try:
            stream = await client.chat.completions.create(
                model="test-model", messages=[{"role": "user", "content": text}], stream=True
            )
            return [c async for c in stream]
        finally:
            await client.close()

    with OpenAITestServer(rules=rules, faults=[Fault("drop", match="cut")]) as srv:
        chunks = asyncio.run(run(srv, "weather?"))
        deltas = [t for c in chunks for t in (c.choices[0].delta.tool_calls or ())]
        assert deltas[0].id == "call_test_0" and deltas[0].function.name == "get_weather"
        assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Oslo"}
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        with pytest.raises(openai.APIConnectionError):
            asyncio.run(run(srv, "cut"))


def test_token_latency_also_delays_a_non_streamed_answer() -> None:
    gap = 0.03
    with OpenAITestServer(rules=[Rule(reply=REPLY)], token_latency_s=gap) as srv:
        start = time.perf_counter()
        request = urllib.request.Request(
            srv.base_url + "/chat/completions",
            data=json.dumps(chat_body()).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = json.loads(resp.read())
        elapsed_ms = (time.perf_counter() - start) * 1000
    assert body["choices"][0]["message"]["content"] == REPLY
    assert elapsed_ms >= gap * (WORDS - 1) * 1000 - SLACK_MS


def test_cli_takes_token_latency() -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_mleval.inference.testserver", "--token-latency", "0.01"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(15)
    assert proc.returncode == 0


# --------------------------------------------------------------------------- assembling


def test_stream_assembly_merges_indexed_tool_call_deltas() -> None:
    acc = StreamAssembly()
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": None},
        {"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f"}}]},
        {"tool_calls": [{"index": 1, "id": "b", "type": "function", "function": {"name": "g"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"x": '}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        {"tool_calls": [{"index": 0, "type": "function", "function": {"arguments": "1}"}}]},
    ]
    for i, delta in enumerate(deltas):
        acc.add({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}, float(i))
    acc.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}, 9.0)
    acc.add({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}, 9.5)
    assert acc.tool_calls() == (
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    )
    assert acc.text() is None and acc.finish_reason == "tool_calls"
    assert acc.token_times == [1.0, 2.0, 3.0, 4.0, 5.0]  # the role chunk carried nothing
    assert (acc.usage().prompt_tokens, acc.usage().total_tokens) == (3, 8)


def test_stream_assembly_without_indexes_and_with_content_parts() -> None:
    acc = StreamAssembly()
    for i, delta in enumerate(
        [
            {"content": [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {}}]},
            {"content": " there"},
            {"tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{"}}]},
            {"tool_calls": [{"function": {"arguments": "}"}}]},
            {"tool_calls": [{"id": "c2", "function": {"name": "g", "arguments": ""}}]},
        ]
    ):
        acc.add({"choices": [{"delta": delta}]}, float(i))
    assert acc.text() == "Hi there"
    assert [(c["id"], c["function"]["arguments"]) for c in acc.tool_calls()] == [
        ("c1", "{}"),
        ("c2", ""),
    ]
    assert acc.usage().total_tokens == 0  # no usage chunk: zeros, not a guess


def test_stream_assembly_empty_and_null_content_differ() -> None:
    empty, null = StreamAssembly(), StreamAssembly()
    empty.add({"choices": [{"delta": {"role": "assistant", "content": ""}}]}, 0.0)
    null.add({"choices": [{"delta": {"role": "assistant", "content": None}}]}, 0.0)
    assert empty.text() == "" and null.text() is None
    assert not empty.token_times and not null.token_times


def test_stream_timings() -> None:
    assert stream_timings([], 0.0, 5) == (None, None, None)
    assert stream_timings([0.25], 0.0, 1) == (250.0, None, None)
    ttft, itl, speed = stream_timings([0.5, 0.6, 0.7, 0.9], 0.0, 8)
    assert ttft == pytest.approx(500.0) and itl == pytest.approx(400.0 / 3)
    assert speed == pytest.approx(8 / 0.4)  # completion tokens over first-to-last token
    # No usage chunk: the content chunks are the tokens.
    assert stream_timings([1.0, 2.0], 0.0, 0)[2] == pytest.approx(2.0)


# --------------------------------------------------------------------------- litellm path


def fast(max_retries: int = 3) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, base_delay=0.001, max_delay=0.01, seed=0)


def litellm_engine(cache: ResponseCache | None = None, **kw: Any) -> InferenceEngine:
    from pytest_mleval.inference.providers.litellm import LiteLLMProvider

    kw.setdefault("retry", fast())
    return InferenceEngine(LiteLLMProvider(), cache=cache, api_key="sk-test", **kw)


def ask(srv: OpenAITestServer, text: str = "refund?", model: str = MODEL, **kw: Any) -> ChatRequest:
    params = {**STREAM, **kw.pop("params", {})}
    return ChatRequest.from_prompt(model, text, api_base=srv.base_url, params=params, **kw)


@needs_litellm
def test_litellm_streams_through_the_engine_and_replays_timings(tmp_path: Path) -> None:
    latency, gap = 0.12, 0.01
    path = tmp_path / "cache.sqlite"
    with OpenAITestServer(rules=[Rule(reply=REPLY)], latency_s=latency, token_latency_s=gap) as srv:
        with litellm_engine(ResponseCache(path, "rw")) as eng:
            resp = eng.complete(ask(srv))
            summary = eng.summary()
        body = srv.requests[0]
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert resp.text == REPLY and resp.finish_reason == "stop" and not resp.cached
        assert resp.usage.completion_tokens == WORDS and resp.usage.prompt_tokens == 1
        assert resp.client == "litellm"
        assert resp.ttft_ms is not None and resp.ttft_ms >= latency * 1000 - SLACK_MS
        assert resp.latency_ms >= (latency + gap * (WORDS - 1)) * 1000 - SLACK_MS
        assert resp.itl_ms is not None and resp.itl_ms >= 0
        assert resp.output_tokens_per_s is not None and resp.output_tokens_per_s > 0
        assert "cost map" in (resp.cost_note or "")
        model = summary["models"][MODEL]
        assert model["streamed"] == 1 and model["ttft_ms"]["p50"] == pytest.approx(resp.ttft_ms)
        assert model["output_tokens_per_s"] == pytest.approx(resp.output_tokens_per_s)
        assert summary["total"]["ttft_ms"]["p99"] == pytest.approx(resp.ttft_ms)
        # Replayed from the cache: the recorded timings, marked cached, no new request and no
        # new measurement in the run's statistics.
        with litellm_engine(ResponseCache(path, "replay")) as eng:
            again = eng.complete(ask(srv))
            replay = eng.summary()
        assert srv.count == 1
        assert again.cached and again.attempts == 0 and again.text == REPLY
        assert (again.ttft_ms, again.itl_ms, again.output_tokens_per_s) == (
            resp.ttft_ms,
            resp.itl_ms,
            resp.output_tokens_per_s,
        )
        assert replay["models"][MODEL]["cache_hits"] == 1
        assert replay["models"][MODEL]["streamed"] == 0
        assert replay["models"][MODEL]["ttft_ms"]["p50"] is None


@needs_litellm
def test_stream_is_part_of_the_cache_key(tmp_path: Path) -> None:
    with OpenAITestServer(rules=[Rule(reply=REPLY)]) as srv:
        with litellm_engine(ResponseCache(tmp_path / "c.sqlite", "rw")) as eng:
            streamed = eng.complete(ask(srv))
            plain = eng.complete(ask(srv, params={"stream": False}))
        assert srv.count == 2 and not plain.cached
        assert streamed.text == plain.text == REPLY
        assert plain.ttft_ms is None and streamed.ttft_ms is not None
        assert "stream" not in srv.requests[1] or srv.requests[1]["stream"] is False


@needs_litellm
def test_litellm_merges_streamed_tool_calls_like_the_unstreamed_reply() -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"tz": "Europe/Oslo"}, "id": "call_t"},
    ]
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "get_time")
    ]
    server = OpenAITestServer(rules=[Rule(match="weather", tool_calls=calls)], latency_s=0.05)
    with server as srv, litellm_engine() as eng:
        streamed = eng.complete(ask(srv, "weather and time?", tools=tools))
        plain = eng.complete(ask(srv, "weather and time?", tools=tools, params={"stream": False}))
    assert streamed.finish_reason == plain.finish_reason == "tool_calls"
    assert [dict(t) for t in streamed.tool_calls] == [dict(t) for t in plain.tool_calls]
    assert [t["function"]["name"] for t in streamed.tool_calls] == ["get_weather", "get_time"]
    assert [t["id"] for t in streamed.tool_calls] == ["call_test_0", "call_t"]
    assert json.loads(streamed.tool_calls[0]["function"]["arguments"]) == {
        "city": "Oslo",
        "unit": "celsius",
    }
    # A tool-call answer's first token is its first tool-call delta.
    assert streamed.ttft_ms is not None and streamed.ttft_ms >= 50 - SLACK_MS


@needs_litellm
@pytest.mark.parametrize("kind", ["drop", "malformed", "500", "429"])
def test_faults_in_and_before_a_stream_are_retried(kind: str) -> None:
    server = OpenAITestServer(rules=[Rule(reply=REPLY)], faults=[Fault(kind, first=1)])  # type: ignore[arg-type]
    with server as srv, litellm_engine() as eng:
        resp = eng.complete(ask(srv))
    assert resp.text == REPLY and resp.retries == 1 and srv.count == 2


@needs_litellm
def test_mid_stream_error_maps_to_a_provider_error() -> None:
    server = OpenAITestServer(rules=[Rule(reply=REPLY)], faults=[Fault("drop")])
    engine = litellm_engine(retry=fast(max_retries=1))
    with server as srv, engine as eng, pytest.raises(ProviderError) as info:
        eng.complete(ask(srv))
    assert "sk-test" not in str(info.value)
    assert getattr(info.value, "attempts", None) == 2


@needs_litellm
@pytest.mark.parametrize("kind", ["empty_content", "null_content", "no_choices", "non_text"])
def test_unusable_streamed_replies_are_provider_errors(kind: str) -> None:
    server = OpenAITestServer(faults=[Fault(kind)])  # type: ignore[arg-type]
    engine = litellm_engine(retry=fast(max_retries=0))
    with server as srv, engine as eng, pytest.raises(ProviderError):
        eng.complete(ask(srv))


@needs_litellm
def test_streamed_cost_matches_the_unstreamed_one() -> None:
    with OpenAITestServer(rules=[Rule(reply=REPLY)]) as srv, litellm_engine() as eng:
        streamed = eng.complete(ask(srv, model="openai/gpt-4o-mini"))
        plain = eng.complete(ask(srv, model="openai/gpt-4o-mini", params={"stream": False}))
    assert streamed.usage == plain.usage
    assert streamed.cost_usd > 0 and streamed.cost_note is None
    assert streamed.cost_usd == pytest.approx(plain.cost_usd)


def test_model_target_streams_when_the_suite_says_and_params_win() -> None:
    from pytest_mleval.cases.case import EvalCase
    from pytest_mleval.inference.targets import ModelTarget

    def params(stream: bool, case_params: dict[str, Any]) -> dict[str, Any]:
        target = ModelTarget(MODEL, None, stream=stream)  # type: ignore[arg-type]
        ec = EvalCase(id="a", suite="s", input="q", params=case_params)
        return dict(target.request(ec).params)

    assert params(True, {"temperature": 0}) == {"temperature": 0, "stream": True}
    assert params(True, {"stream": False}) == {"stream": False}
    assert params(False, {"temperature": 0}) == {"temperature": 0}


def test_to_output_carries_the_timings_in_the_metadata() -> None:
    import dataclasses

    from pytest_mleval.inference import ChatResponse
    from pytest_mleval.inference.targets import to_output

    resp = ChatResponse(text="x", model=MODEL, ttft_ms=12.0, itl_ms=3.0, output_tokens_per_s=50.0)
    assert {
        k: to_output(resp).metadata[k] for k in ("ttft_ms", "itl_ms", "output_tokens_per_s")
    } == {
        "ttft_ms": 12.0,
        "itl_ms": 3.0,
        "output_tokens_per_s": 50.0,
    }
    cached = to_output(dataclasses.replace(resp, cached=True))
    assert cached.cached and cached.metadata["ttft_ms"] == 12.0
    assert "ttft_ms" not in to_output(ChatResponse(text="x", model=MODEL)).metadata
