"""A call's latency runs from when its request is sent to when its answer is back: never the
client's start-up (litellm's import, the worker's start) that the first calls wait on.

Each test gives the client a deliberate start-up delay (``START_S``) far longer than the call
itself, and checks that the recorded latency stays far below it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from importlib.util import find_spec

import pytest

from pytest_mleval.errors import TimeoutError as CallTimeoutError
from pytest_mleval.inference import (
    AutoProvider,
    ChatRequest,
    ChatResponse,
    InferenceEngine,
    RetryPolicy,
    Usage,
)
from pytest_mleval.inference.testserver import loopback_only

START_S = 1.0
"""The deliberate start-up: every call here takes a few milliseconds, 20 times less or more."""
LIMIT_MS = START_S * 1000 / 3
"""Below this a latency cannot hold the start-up (a loaded machine still leaves a wide margin)."""

NO_RETRY = RetryPolicy(max_retries=0)
MODEL = "openai/gpt-4o-mini"


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def answer(req: ChatRequest, latency_ms: float = 0.0) -> ChatResponse:
    return ChatResponse("yes indeed", req.model, Usage(3, 2, 5), latency_ms=latency_ms)


class SlowStart:
    """A client that, like litellm (inline or in its worker), needs seconds of start-up: done
    by ``prepare`` ahead of the call, or else by the first call itself. Its calls leave their
    timing to the engine (``latency_ms`` 0)."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.prepared = 0

    def prepare(self, model: str) -> None:
        self.prepared += 1
        time.sleep(START_S)
        self.ready.set()

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        if not self.ready.is_set():
            await asyncio.sleep(START_S)  # waits on the start-up, as a call to the worker does
            self.ready.set()
        return answer(req)


class Native:
    """The native client: cheap to prepare; it must not serve these requests."""

    def __init__(self) -> None:
        self.calls = 0

    def prepare(self, model: str) -> None:
        pass

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        self.calls += 1
        return answer(req)

    async def aclose(self) -> None:
        pass


def mock_request(text: str = "question") -> ChatRequest:
    # `mock_response` is litellm's own: litellm serves this openai/ id, not the native client.
    return ChatRequest.from_prompt(
        MODEL, text, params={"mock_response": "yes indeed", "max_tokens": 10}
    )


def test_litellm_served_request_excludes_litellm_start_up() -> None:
    litellm, native = SlowStart(), Native()
    provider = AutoProvider(litellm, native_provider=native)
    with InferenceEngine(provider, retry=NO_RETRY) as eng:
        futures = eng.prefetch(mock_request(f"q{i}") for i in range(6))
        responses = [f.result(30) for f in futures]
        stats = eng.stats()[MODEL]
    assert native.calls == 0 and litellm.prepared == 1
    latencies = [r.latency_ms for r in responses]
    assert max(latencies) < LIMIT_MS, latencies
    assert max(stats.latencies_ms) < LIMIT_MS, stats.latencies_ms


def test_start_up_does_not_count_against_the_call_timeout() -> None:
    provider = AutoProvider(SlowStart(), native_provider=Native())
    with InferenceEngine(provider, retry=NO_RETRY, timeout=START_S / 3) as eng:
        try:
            resp = eng.complete(mock_request(), timeout=30)
        except CallTimeoutError as exc:
            pytest.fail(f"the client's start-up timed the call out: {exc}")
    assert resp.text == "yes indeed"


class SlowClientBuild:
    """A provider that builds its client inside the call before sending (a lazy import or
    set-up), and reports its own latency from the moment it sent the request."""

    def __init__(self) -> None:
        self.built = False

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        if not self.built:
            await asyncio.sleep(START_S)
            self.built = True
        sent = time.perf_counter()
        await asyncio.sleep(0.01)
        return answer(req, (time.perf_counter() - sent) * 1000.0)

    async def aembed(self, model: str, texts: object, **kw: object) -> list[list[float]]:
        raise NotImplementedError


def test_engine_takes_the_providers_latency_from_send() -> None:
    with InferenceEngine(SlowClientBuild(), retry=NO_RETRY) as eng:  # type: ignore[arg-type]
        resp = eng.complete(ChatRequest.from_prompt("fake/m", "hi"), timeout=30)
        stats = eng.stats()["fake/m"]
    assert 5 <= resp.latency_ms < LIMIT_MS, resp.latency_ms
    assert stats.latencies_ms == [resp.latency_ms]


needs_litellm = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)


@needs_litellm
def test_worker_start_up_is_not_the_first_calls_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported run: litellm's worker still importing litellm (seconds) when the first
    mock calls are made; each records its own few milliseconds."""
    from pytest_mleval.inference import worker as worker_module
    from pytest_mleval.inference.providers.litellm_worker import LiteLLMWorkerProvider

    # A worker of its own that imports litellm itself (no warm server): the start-up to miss.
    monkeypatch.setattr(worker_module, "_USE_SERVER", False)
    worker = worker_module.LiteLLMWorker()
    try:
        provider = AutoProvider(LiteLLMWorkerProvider(api_key="sk-fake", worker=worker))
        with InferenceEngine(provider, retry=NO_RETRY) as eng:
            futures = eng.prefetch(mock_request(f"q{i}") for i in range(6))
            latencies = [f.result(120).latency_ms for f in futures]
        assert worker.import_seconds is not None
        limit = worker.import_seconds * 1000 / 3
        assert max(latencies) < limit, (latencies, worker.import_seconds)
    finally:
        worker.close()


@needs_litellm
def test_inline_litellm_start_up_is_not_in_latency_ms(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, litellm in this process: a slow first import of litellm (deliberate) is in
    no case's ``latency_ms`` nor in the run's usage percentiles."""
    from pytest_mleval.inference.providers import litellm as module

    imported = module.import_litellm()
    slow: list[float] = []

    def slow_import() -> object:
        if not slow:
            slow.append(START_S)
            time.sleep(START_S)
        return imported

    monkeypatch.setattr(module, "import_litellm", slow_import)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    cases = "".join(f"  - {{id: c{i}, input: question {i}}}\n" for i in range(6))
    pytester.makefile(
        ".eval.yaml",
        mod=(
            f"suite: mod\ntarget: model:{MODEL}\nprompt: '{{{{ input }}}}'\n"
            "params: {mock_response: yes indeed, max_tokens: 10}\n"
            "metrics: [latency_ms]\n"
            f"cases:\n{cases}"
        ),
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--mleval-cache", "off", "--mleval-litellm-inline"
    )
    result.assert_outcomes(passed=6)
    assert slow, "the deliberate start-up never ran"
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    latencies = [c["latency_ms"] for c in data["cases"]]
    assert len(latencies) == 6 and max(latencies) < LIMIT_MS, latencies
    p99 = data["usage"]["total"]["latency_ms"]["p99"]
    assert p99 < LIMIT_MS, data["usage"]["total"]
