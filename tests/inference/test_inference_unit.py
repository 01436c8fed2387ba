"""Unit tests of the inference layer without litellm: records, cache, limits, engine."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_mleval.errors import (
    AuthenticationError,
    BudgetExceededError,
    CacheMissError,
    ConfigError,
    InferenceError,
    ProviderError,
    RateLimitError,
)
from pytest_mleval.inference import (
    CacheWarning,
    ChatRequest,
    ChatResponse,
    FakeProvider,
    InferenceEngine,
    RateLimiter,
    ResponseCache,
    RetryPolicy,
    TokenBucket,
    Usage,
    cache_clear,
    cache_key,
    cache_prune,
    cache_stats,
    percentile,
    scrub,
)
from pytest_mleval.inference.testserver import loopback_only

FAST = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.005, seed=0)


@pytest.fixture(autouse=True)
def _loopback_only():
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def req(text: str = "hi", model: str = "fake/m", **kw: object) -> ChatRequest:
    return ChatRequest.from_prompt(model, text, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- records


def test_cache_key_ignores_key_timeout_and_dict_order_but_not_answer_inputs() -> None:
    a = ChatRequest("m", [{"role": "user", "content": "x"}], {"temperature": 0, "max_tokens": 5})
    b = ChatRequest(
        "m",
        [{"content": "x", "role": "user"}],
        {"max_tokens": 5, "temperature": 0},
        api_key="sk-other",
        timeout=3,
        fallbacks=("n",),
    )
    assert cache_key(a) == cache_key(b)
    assert len(cache_key(a)) == 64
    for other in (
        ChatRequest("m2", a.messages, a.params),
        ChatRequest("m", [{"role": "user", "content": "y"}], a.params),
        ChatRequest("m", a.messages, {"temperature": 1, "max_tokens": 5}),
        ChatRequest("m", a.messages, a.params, api_base="http://127.0.0.1:1/v1"),
        ChatRequest("m", a.messages, a.params, tools=[{"type": "function"}]),
        ChatRequest("m", a.messages, a.params, sample=1),
    ):
        assert cache_key(other) != cache_key(a)


def test_api_key_not_in_repr() -> None:
    r = req(api_key="sk-test-SECRET123")
    assert "SECRET" not in repr(r)


@pytest.mark.parametrize("values", [[3.0], [1.0, 2.0], [5.0, 1.0, 9.0, 2.0, 7.5, 3.25, 8.0]])
@pytest.mark.parametrize("q", [0, 50, 95, 99, 100])
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_response_cache_roundtrip_marks_cached() -> None:
    resp = ChatResponse("t", "m", Usage(1, 2, 3), cost_usd=0.5, latency_ms=7.0, attempts=3)
    back = ChatResponse.from_cache(resp.to_cache())
    assert (back.text, back.usage, back.cost_usd, back.cached, back.attempts) == (
        "t",
        Usage(1, 2, 3),
        0.5,
        True,
        0,
    )


def test_scrub_removes_keys() -> None:
    text = "bad key sk-test-SECRET123 and Bearer abcdefghijkl and api_key=zzzzzzzzz"
    out = scrub(text, ["zzzzzzzzz"])
    assert "SECRET123" not in out and "abcdefghijkl" not in out and "zzzzzzzzz" not in out


def test_package_import_is_cheap() -> None:
    code = (
        "import sys, pytest_mleval.inference, pytest_mleval.inference.testserver;"
        "heavy = {'litellm', 'aiohttp', 'torch', 'transformers'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- limits


def test_retry_policy_backoff_bounds_and_retry_after() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=4.0, max_retry_after=10, seed=1)
    for attempt in range(1, 6):
        d = policy.delay(attempt)
        assert 0.0 <= d <= min(4.0, 2 ** (attempt - 1))
    assert policy.delay(1, RateLimitError("x", retry_after=2.5)) == 2.5
    assert policy.delay(1, RateLimitError("x", retry_after=999)) == 10
    assert RetryPolicy(jitter=False, base_delay=0.5).delay(3) == 2.0
    assert policy.should_retry(ProviderError("x"), 3)
    assert not policy.should_retry(ProviderError("x"), 4)
    assert not policy.should_retry(AuthenticationError("x"), 1)
    assert not policy.should_retry(InferenceError("x"), 1)
    with pytest.raises(ConfigError):
        RetryPolicy(max_retries=-1)


def test_token_bucket_waits_for_refill() -> None:
    now = [0.0]
    bucket = TokenBucket(60, capacity=2, clock=lambda: now[0])  # one token per second
    assert bucket.wait_time(2) == 0
    bucket.tokens = 0
    assert bucket.wait_time(1) == pytest.approx(1.0)
    now[0] = 0.5
    assert bucket.wait_time(1) == pytest.approx(0.5)
    now[0] = 10
    assert bucket.wait_time(5) == 0  # capped at the capacity, never a deadlock
    with pytest.raises(ConfigError):
        TokenBucket(0)


def test_token_bucket_serves_waiters_in_order() -> None:
    async def run() -> list[int]:
        bucket = TokenBucket(60 * 200, capacity=1)  # 200 per second
        order: list[int] = []

        async def take(i: int) -> None:
            await bucket.acquire(1)
            order.append(i)

        await asyncio.gather(*(take(i) for i in range(8)))
        return order

    assert asyncio.run(run()) == list(range(8))


def test_rate_limiter_charges_requests_and_tokens() -> None:
    async def run() -> tuple[float, float]:
        limiter = RateLimiter({"m": (600, 6000)})  # 10 requests/s, 100 tokens/s
        requests, tokens = limiter._for("m")
        assert requests is not None and tokens is not None
        requests.capacity = requests.tokens = 1
        first = await limiter.acquire("m", 10)
        waited = sum([await limiter.acquire("m", 10) for _ in range(2)])
        limiter.settle("m", 10, 50)  # the call really used 50 tokens
        assert tokens.tokens == pytest.approx(6000 - 10 - 40, abs=1)  # refilled, then charged
        assert await limiter.acquire("other", 10**9) == 0  # no limits for other models
        return first, waited

    first, waited = asyncio.run(run())
    assert first == 0
    assert waited == pytest.approx(0.2, abs=0.05)  # two refills of 0.1 s each


# --------------------------------------------------------------------------- cache


def test_cache_modes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    rw = ResponseCache(path, "rw")
    assert rw.put("k", "m", {"text": "a", "model": "m"})
    assert rw.get("k") == {"text": "a", "model": "m"}
    rw.close()
    ro = ResponseCache(path, "ro")
    assert ro.get("k") is not None
    assert not ro.put("k2", "m", {"text": "b", "model": "m"})
    ro.close()
    assert cache_stats(path)["entries"] == 1
    off = ResponseCache(path, "off")
    assert off.get("k") is None and not off.put("k3", "m", {"text": "c", "model": "m"})
    replay = ResponseCache(path, "replay")
    assert replay.replay and replay.get("k") is not None and not replay.writable
    with pytest.raises(ConfigError):
        ResponseCache(path, "bogus")
    assert ResponseCache(tmp_path / "absent.sqlite", "ro").get("k") is None
    assert not (tmp_path / "absent.sqlite").exists()


def test_corrupt_cache_warns_once_and_is_bypassed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = ResponseCache(path, "rw")
    with pytest.warns(CacheWarning, match="not usable") as record:
        assert cache.get("k") is None
        assert not cache.put("k", "m", {"text": "a", "model": "m"})
        assert cache.get("k") is None
    assert len(record) == 1
    assert cache.disabled_reason is not None
    engine = InferenceEngine(FakeProvider("fine"), cache, retry=FAST)
    assert engine.complete(req()).text == "fine"
    engine.close()
    assert "error" in cache_stats(path)
    assert cache_clear(path) == 0 and not path.exists()


def test_cache_stats_clear_prune(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path, "rw")
    for i in range(10):
        cache.put(f"k{i}", "m" if i % 2 else "n", {"text": "x" * 1000, "model": "m"})
    cache.close()
    stats = cache_stats(path)
    assert stats["entries"] == 10 and stats["models"] == {"m": 5, "n": 5}
    assert stats["value_bytes"] >= 10_000
    conn = sqlite3.connect(path)
    conn.execute("UPDATE responses SET created = created - 86400 * 40 WHERE key IN ('k0', 'k1')")
    conn.commit()
    conn.close()
    assert cache_prune(path, older_than_days=30) == 2
    assert cache_stats(path)["entries"] == 8
    size = cache_stats(path)["value_bytes"] / 8
    assert cache_prune(path, max_mb=3.5 * size / 1024 / 1024) == 5
    assert cache_stats(path)["entries"] == 3
    assert cache_clear(path) == 3
    assert cache_stats(path)["entries"] == 0
    assert cache_stats(tmp_path / "none.sqlite") == {
        "path": str(tmp_path / "none.sqlite"),
        "exists": False,
        "entries": 0,
        "file_bytes": 0,
    }


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path, "rw")
    for i in range(n):
        # Shared keys too: both processes write them; the last write wins, nothing breaks.
        cache.put(f"w{worker}-{i}", "m", {"text": f"{worker}-{i}", "model": "m"})
        cache.put(f"shared-{i}", "m", {"text": f"shared-{i}", "model": "m"})
    cache.close()


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 150)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    cache = ResponseCache(path, "ro")
    for w in range(2):
        for i in range(150):
            assert cache.get(f"w{w}-{i}") == {"text": f"{w}-{i}", "model": "m"}
    assert cache_stats(path)["entries"] == 2 * 150 + 150


# --------------------------------------------------------------------------- engine


def test_engine_bounds_concurrency_and_prefetches() -> None:
    provider = FakeProvider(latency_s=0.05)
    eng = InferenceEngine(provider, concurrency=8, retry=FAST)
    futures = eng.prefetch(req(f"q{i}") for i in range(40))
    assert [f.result(10).text for f in futures] == [f"q{i}" for i in range(40)]
    assert provider.max_in_flight == 8
    stats = eng.stats()["fake/m"]
    assert (stats.requests, stats.calls, stats.errors) == (40, 40, 0)
    assert len(stats.latencies_ms) == 40
    eng.close()


def test_engine_dedups_identical_requests() -> None:
    provider = FakeProvider(latency_s=0.02)
    eng = InferenceEngine(provider, retry=FAST)
    futures = [eng.submit(req("same")) for _ in range(10)]
    assert len({id(f) for f in futures}) == 1
    assert eng.complete(req("same")).text == "same"
    eng.complete(req("same", sample=1))  # a distinct sample is a distinct call
    assert len(provider.calls) == 2
    eng.close()


def test_engine_retries_then_answers() -> None:
    provider = FakeProvider(
        "ok", failures={"fake/m": [RateLimitError("429", 0.001), ProviderError("500")]}
    )
    eng = InferenceEngine(provider, retry=FAST)
    resp = eng.complete(req())
    assert (resp.text, resp.attempts, resp.retries) == ("ok", 3, 2)
    assert eng.stats()["fake/m"].retries == 2
    eng.close()


def test_engine_never_retries_auth() -> None:
    provider = FakeProvider("ok", failures={"fake/m": [AuthenticationError("no")]})
    eng = InferenceEngine(provider, retry=FAST)
    with pytest.raises(AuthenticationError):
        eng.complete(req())
    assert len(provider.calls) == 1
    assert eng.stats()["fake/m"].errors == 1
    eng.close()


def test_engine_fallbacks() -> None:
    provider = FakeProvider(
        lambda r: f"from {r.model}", failures={"fake/a": [ProviderError("down")] * 10}
    )
    eng = InferenceEngine(provider, retry=FAST)
    resp = eng.complete(req(model="fake/a", fallbacks=("fake/b",)))
    assert (resp.text, resp.model, resp.fallback_used) == ("from fake/b", "fake/b", "fake/b")
    assert resp.attempts == 4 + 1 and resp.retries == 3
    assert eng.stats()["fake/a"].fallbacks == 1
    provider.failures["fake/c"] = [AuthenticationError("bad key")]
    with pytest.raises(ProviderError, match="fallbacks failed too"):
        eng.complete(req("z", model="fake/a", fallbacks=("fake/c",)))
    eng.close()


def test_engine_budget_stops_new_calls() -> None:
    provider = FakeProvider("ok", cost_usd=0.4)
    eng = InferenceEngine(provider, max_cost_usd=1.0, concurrency=1, retry=FAST)
    eng.complete(req("1"))
    eng.complete(req("2"))
    eng.complete(req("3"))
    with pytest.raises(BudgetExceededError, match=r"budget of \$1 reached"):
        eng.complete(req("4"))
    assert len(provider.calls) == 3
    assert eng.spent_usd == pytest.approx(1.2)
    eng.close()


def test_engine_replay_miss_and_cache_hit(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    provider = FakeProvider("recorded", cost_usd=0.1)
    with InferenceEngine(provider, ResponseCache(path, "rw"), retry=FAST) as eng:
        eng.complete(req("a"))
    with InferenceEngine(provider, ResponseCache(path, "replay"), retry=FAST) as eng:
        hit = eng.complete(req("a"))
        assert hit.cached and hit.text == "recorded" and hit.attempts == 0
        with pytest.raises(CacheMissError, match="replay"):
            eng.complete(req("b"))
        assert eng.spent_usd == 0
    assert len(provider.calls) == 1


def test_cancel_pending_gives_clear_error_and_stops_calls() -> None:
    provider = FakeProvider(latency_s=30)
    eng = InferenceEngine(provider, concurrency=4, retry=FAST)
    futures = eng.prefetch(req(f"q{i}") for i in range(10))
    deadline = time.monotonic() + 5
    while provider.in_flight < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eng.cancel_pending() == 10
    for f in futures:
        with pytest.raises(InferenceError, match="cancelled"):
            f.result(5)
    assert provider.cancelled == 4 and provider.in_flight == 0
    # A fresh submission after cancelling makes a new call.
    provider.latency_s = 0
    assert eng.complete(req("q0")).text == "q0"
    eng.close()
    with pytest.raises(InferenceError, match="closed"):
        eng.submit(req())


def test_future_cancel_by_caller_cancels_call() -> None:
    provider = FakeProvider(latency_s=30)
    eng = InferenceEngine(provider, retry=FAST)
    fut = eng.submit(req())
    deadline = time.monotonic() + 5
    while provider.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fut.cancel()
    deadline = time.monotonic() + 5
    while provider.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.cancelled == 1
    eng.close()


def test_provider_bug_becomes_inference_error() -> None:
    def boom(r: ChatRequest) -> str:
        raise ValueError("oops sk-test-SECRET123")

    eng = InferenceEngine(FakeProvider(boom), retry=FAST)
    with pytest.raises(InferenceError, match="ValueError") as info:
        eng.complete(req())
    assert "SECRET" not in str(info.value)
    eng.close()
