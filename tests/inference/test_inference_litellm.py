"""The inference layer end to end, through each client (the native OpenAI-compatible one and
litellm) to the in-process OpenAI-compatible test server, exactly as a real provider is
reached: every test runs once per client, so both meet the same faults with the same error
classes, retries, usage and cost. Nothing may leave the machine (loopback guard)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from pytest_mleval.errors import (
    AuthenticationError,
    BudgetExceededError,
    CacheMissError,
    InferenceError,
    ProviderError,
)
from pytest_mleval.errors import TimeoutError as CallTimeoutError
from pytest_mleval.inference import (
    CacheWarning,
    ChatRequest,
    InferenceEngine,
    ResponseCache,
    RetryPolicy,
    cache_stats,
)
from pytest_mleval.inference.providers.auto import AutoProvider
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

SECRET = "sk-test-SECRET123"
MODEL = "openai/test-model"


_CLIENT = ["native"]


@pytest.fixture(autouse=True, params=["native", "litellm"])
def client(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test of this module runs through each client."""
    _CLIENT[0] = request.param
    yield request.param
    _CLIENT[0] = "native"


def fast(max_retries: int = 3) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, base_delay=0.001, max_delay=0.01, seed=0)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer(rules=[Rule(match="refund", reply="30 days")]) as srv:
        yield srv


def ask(srv: OpenAITestServer, text: str, model: str = MODEL, **kw: object) -> ChatRequest:
    return ChatRequest.from_prompt(model, text, api_base=srv.base_url, **kw)  # type: ignore[arg-type]


def engine(cache: ResponseCache | None = None, **kw: object) -> InferenceEngine:
    kw.setdefault("retry", fast())
    provider = AutoProvider(client=_CLIENT[0])
    return InferenceEngine(provider, cache=cache, api_key=SECRET, **kw)  # type: ignore[arg-type]


def test_answer_through_litellm(server: OpenAITestServer) -> None:
    with engine() as eng:
        resp = eng.complete(ask(server, "What is the refund window?", system="Be brief."))
    assert resp.text == "30 days"
    assert resp.model == MODEL and not resp.cached and resp.attempts == 1
    assert resp.usage.prompt_tokens == 2 + 5 and resp.usage.completion_tokens == 2
    assert resp.cost_usd == 0 and "cost map" in (resp.cost_note or "")
    assert resp.finish_reason == "stop" and resp.latency_ms > 0
    body = server.requests[0]
    assert body["model"] == "test-model"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_cost_from_offline_cost_map(server: OpenAITestServer) -> None:
    with engine() as eng:
        resp = eng.complete(ask(server, "one two three", model="openai/gpt-4o"))
        assert resp.cost_usd > 0 and resp.cost_note is None
        assert eng.summary()["total"]["cost_usd"] == pytest.approx(resp.cost_usd)


def test_unpriced_model_gets_a_zero_price_and_keeps_its_note(
    server: OpenAITestServer, client: str
) -> None:
    model = "openai/unpriced-model-for-this-test"
    with engine() as eng:
        replies = [eng.complete(ask(server, f"question {i}", model=model)) for i in range(3)]
    for resp in replies:
        assert resp.cost_usd == 0 and "not in litellm's cost map" in (resp.cost_note or "")
        assert resp.client == client
    if client == "native":
        return
    import litellm

    from pytest_mleval.inference.providers.litellm import _register_zero_price

    # litellm no longer searches its map (and guesses at similar models) on every call.
    assert litellm.model_cost[model]["input_cost_per_token"] == 0
    # A model litellm can price never gets the zero entry, whatever made a cost fail.
    _register_zero_price(litellm, "openai/gpt-4o")
    assert "openai/gpt-4o" not in litellm.model_cost
    assert litellm.get_model_info("openai/gpt-4o")["input_cost_per_token"] > 0


def test_cache_hit_replay_and_ro(server: OpenAITestServer, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with engine(ResponseCache(path, "rw")) as eng:
        first = eng.complete(ask(server, "refund?"))
    assert server.count == 1 and not first.cached
    with engine(ResponseCache(path, "rw")) as eng:
        again = eng.complete(ask(server, "refund?"))
        assert eng.stats()[MODEL].cache_hits == 1
    assert server.count == 1 and again.cached and again.text == "30 days"
    assert again.usage == first.usage
    with engine(ResponseCache(path, "replay")) as eng:
        assert eng.complete(ask(server, "refund?")).cached
        with pytest.raises(CacheMissError):
            eng.complete(ask(server, "never recorded"))
    assert server.count == 1
    with engine(ResponseCache(path, "ro")) as eng:
        assert eng.complete(ask(server, "new question")).text == "new question"
    assert server.count == 2
    assert cache_stats(path)["entries"] == 1  # ro never writes


def test_corrupt_cache_file_is_reported_and_bypassed(
    server: OpenAITestServer, tmp_path: Path
) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.warns(CacheWarning), engine(ResponseCache(path, "rw")) as eng:
        assert eng.complete(ask(server, "refund")).text == "30 days"
        assert eng.complete(ask(server, "other")).text == "other"
    assert server.count == 2


def test_concurrency_bound_seen_by_server() -> None:
    with OpenAITestServer(latency_s=0.5) as srv, engine(concurrency=32) as eng:
        futures = eng.prefetch(ask(srv, f"q{i}") for i in range(64))
        assert [f.result(60).text for f in futures] == [f"q{i}" for i in range(64)]
        assert srv.count == 64
        # Never above the bound, and truly concurrent (litellm's per-call CPU staggers starts).
        assert 16 <= srv.max_in_flight <= 32


def test_quarter_of_requests_faulted_all_complete() -> None:
    faults = [
        Fault("429", rate=0.125, seed=1, retry_after=0.01),
        Fault("500", rate=0.15, seed=2),
    ]
    with OpenAITestServer(faults=faults) as srv, engine(concurrency=16, retry=fast(10)) as eng:
        futures = eng.prefetch(ask(srv, f"answer {i}") for i in range(60))
        responses = [f.result(60) for f in futures]
        assert [r.text for r in responses] == [f"answer {i}" for i in range(60)]
        faulted = srv.count - 60
        assert faulted >= 5  # the faults really fired
        assert sum(r.retries for r in responses) == faulted
        assert eng.stats()[MODEL].retries == faulted


def test_server_down_errors_after_bounded_retries() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    req = ChatRequest.from_prompt(MODEL, "hi", api_base=f"http://127.0.0.1:{port}/v1")
    with engine(retry=fast(2)) as eng:
        with pytest.raises(ProviderError, match="test-model"):
            eng.complete(req)
        stats = eng.stats()[MODEL]
    assert (stats.calls, stats.retries, stats.errors) == (3, 2, 1)


def test_unknown_model_id_is_a_clear_error(server: OpenAITestServer) -> None:
    with engine() as eng:
        with pytest.raises(InferenceError, match="unknown model id 'no-such-model-xyz'"):
            eng.complete(ChatRequest.from_prompt("no-such-model-xyz", "hi"))
        assert eng.stats()["no-such-model-xyz"].calls == 1  # not retried


def test_model_unknown_to_server_is_not_retried() -> None:
    with OpenAITestServer(models=["real"]) as srv, engine() as eng:
        with pytest.raises(InferenceError, match="404") as info:
            eng.complete(ask(srv, "hi", model="openai/missing"))
        assert not isinstance(info.value, ProviderError)
        assert srv.count == 1


def test_malformed_json_is_an_error() -> None:
    with OpenAITestServer(faults=[Fault("malformed")]) as srv, engine(retry=fast(1)) as eng:
        with pytest.raises(ProviderError):
            eng.complete(ask(srv, "hi"))
        assert srv.count == 2


def test_dropped_connection_is_retried() -> None:
    with OpenAITestServer(faults=[Fault("drop", first=1)]) as srv, engine() as eng:
        resp = eng.complete(ask(srv, "hello"))
        assert resp.text == "hello" and resp.retries == 1
        assert srv.count == 2


def test_hang_past_timeout() -> None:
    with OpenAITestServer(faults=[Fault("hang", hang_s=20)]) as srv:
        with engine(retry=fast(1), timeout=0.3) as eng, pytest.raises(CallTimeoutError):
            eng.complete(ask(srv, "hi"))
        assert srv.count == 2


def test_auth_error_not_retried_and_key_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    with OpenAITestServer(faults=[Fault("401")]) as srv, engine() as eng:
        with pytest.raises(AuthenticationError) as info:
            eng.complete(ask(srv, "hi"))
        assert srv.count == 1
    assert "authentication failed" in str(info.value)
    assert SECRET not in str(info.value) and "SECRET123" not in repr(info.value)


def test_fake_key_never_reaches_cache_logs_or_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "cache.sqlite"
    faults = [Fault("500", first=1), Fault("401", match="deny")]
    messages = []
    with OpenAITestServer(faults=faults) as srv, engine(ResponseCache(path, "rw")) as eng:
        assert eng.complete(ask(srv, "ok one")).text == "ok one"
        assert eng.complete(ask(srv, "ok two")).text == "ok two"
        with pytest.raises(AuthenticationError) as info:
            eng.complete(ask(srv, "deny me"))
        messages.append(str(info.value))
        assert srv.count == 4
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"ok one" in written and cache_stats(path)["entries"] == 2
    assert b"SECRET123" not in written
    assert "SECRET123" not in caplog.text
    assert not any("SECRET123" in m for m in messages)


def test_budget_stops_new_calls(server: OpenAITestServer) -> None:
    with engine(concurrency=1) as eng:
        cost = eng.complete(ask(server, "a b c", model="openai/gpt-4o")).cost_usd
        assert cost > 0
        eng.max_cost_usd = 1.5 * cost
        eng.complete(ask(server, "d e f", model="openai/gpt-4o"))  # spent c < 1.5c: allowed
        with pytest.raises(BudgetExceededError, match="budget of"):
            eng.complete(ask(server, "g h i", model="openai/gpt-4o"))
    assert server.count == 2


def test_fallback_used_and_recorded() -> None:
    with OpenAITestServer(models=["good"]) as srv, engine() as eng:
        resp = eng.complete(ask(srv, "hi", model="openai/bad", fallbacks=("openai/good",)))
        assert resp.text == "hi"
        assert resp.model == "openai/good" and resp.fallback_used == "openai/good"
        assert eng.stats()["openai/bad"].fallbacks == 1
        assert [r["model"] for r in srv.requests] == ["bad", "good"]


def test_identical_requests_share_one_call() -> None:
    with OpenAITestServer(latency_s=0.1) as srv, engine() as eng:
        futures = [eng.submit(ask(srv, "same")) for _ in range(8)]
        assert {f.result(30).text for f in futures} == {"same"}
        assert eng.complete(ask(srv, "same")).text == "same"
        assert srv.count == 1


def test_embeddings_through_litellm() -> None:
    with OpenAITestServer() as srv, engine() as eng:
        vectors = eng.embed("openai/test-embed", ["a b", "a b", "c d"], api_base=srv.base_url)
    assert len(vectors) == 3 and len(vectors[0]) == 64
    assert vectors[0] == vectors[1] != vectors[2]
