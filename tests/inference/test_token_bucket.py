"""The token bucket and rate limiter on simulated time: capacity, continuous refill,
reservations settled with real usage (issue 14, item 4). No test here waits on the wall clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from pytest_mleval.inference.engine import InferenceEngine
from pytest_mleval.inference.limits import RateLimiter, TokenBucket, request_estimate
from pytest_mleval.inference.types import ChatRequest, ChatResponse, Usage

T = TypeVar("T")


class SimTime:
    """Simulated time for one asyncio loop: ``sleep`` waits until ``run`` advances the clock.

    ``run`` lets every runnable task go as far as it can, then jumps the clock to the earliest
    pending sleep, so concurrent waits interleave as they would in real time, instantly.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), next(self._seq), fut))
        await fut

    async def run(self, work: Awaitable[T], horizon: float = 3600.0) -> T:
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if task.done():
                break
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)  # a cancelled sleep
            if not self._timers:
                continue
            when, _, fut = heapq.heappop(self._timers)
            assert when <= horizon, "simulated time ran past the horizon: a limiter deadlock"
            self.now = max(self.now, when)
            fut.set_result(None)
        return task.result()


def simulate(main: Callable[[SimTime], Awaitable[T]]) -> tuple[T, SimTime]:
    sim = SimTime()

    async def go() -> T:
        return await sim.run(main(sim))

    return asyncio.run(go()), sim


def request(prompt: str, **params: Any) -> ChatRequest:
    return ChatRequest.from_prompt("m", prompt, params=params)


async def call(limiter: RateLimiter, req: ChatRequest, used: int, completion: int) -> float:
    """What the engine does around one provider call: estimate, reserve, settle."""
    estimate = limiter.estimate(req.model, *request_estimate(req))
    waited = await limiter.acquire(req.model, estimate)
    limiter.settle(req.model, estimate, used, completion)
    return waited


# --------------------------------------------------------------------------- the case


def test_tpm_60_four_15_token_calls_complete_without_waiting() -> None:
    # The reported run: `rate_limit: {tpm: 60}`, four ~15-token calls, no max_tokens. It
    # reserved a guessed 256-token completion (capped at 60) per call: a minute each.
    async def main(sim: SimTime) -> list[float]:
        limiter = RateLimiter({"m": (None, 60)}, clock=sim.clock, sleep=sim.sleep)
        reqs = [request(f"Say: word{i}") for i in range(4)]
        return list(await asyncio.gather(*(call(limiter, r, 15, 10) for r in reqs)))

    waits, sim = simulate(main)
    assert waits == [0.0, 0.0, 0.0, 0.0]
    assert sim.now == 0.0 and sim.slept == []


def test_tpm_60_with_max_tokens_fills_the_bucket_then_waits_for_refill() -> None:
    async def main(sim: SimTime) -> list[float]:
        limiter = RateLimiter({"m": (None, 60)}, clock=sim.clock, sleep=sim.sleep)
        req = request("hi", max_tokens=14)  # 1 prompt token + 14 = 15 reserved
        assert limiter.estimate("m", *request_estimate(req)) == 15
        waits = [await call(limiter, req, 15, 14) for _ in range(4)]
        waits.append(await call(limiter, req, 15, 14))  # the bucket is empty now
        return waits

    waits, sim = simulate(main)
    assert waits[:4] == [0.0] * 4
    # 15 tokens at one token per second: the fifth call waits 15 s of simulated time.
    assert waits[4] == pytest.approx(15.0, abs=1e-6)
    assert sim.now == pytest.approx(15.0, abs=1e-6)


def test_engine_four_small_calls_under_tpm_60_never_wait() -> None:
    """Through the engine (estimate from the request, settle with the provider's usage)."""

    class Provider:
        calls = 0

        async def acomplete(self, req: ChatRequest) -> ChatResponse:
            Provider.calls += 1
            return ChatResponse(text="ok", model=req.model, usage=Usage(5, 10, 15))

        async def aembed(self, *args: Any, **kwargs: Any) -> list[list[float]]:
            raise NotImplementedError

    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)  # any wait at all is the defect

    limiter = RateLimiter({"openai/m": (None, 60)}, sleep=no_sleep)
    with InferenceEngine(Provider(), concurrency=4, limiter=limiter) as engine:
        futures = engine.prefetch(
            ChatRequest.from_prompt("openai/m", f"Say: w{i}") for i in range(4)
        )
        answers = [f.result(timeout=30) for f in futures]
    assert [a.text for a in answers] == ["ok"] * 4 and Provider.calls == 4
    assert sleeps == []


# --------------------------------------------------------------------------- rates over time


def tokens_per_minute(events: Sequence[tuple[float, int]], start: float, end: float) -> list[int]:
    """Tokens used in each whole minute [start + 60k, start + 60(k+1)) before ``end``."""
    minutes = int((end - start) // 60)
    totals = [0] * minutes
    for when, used in events:
        k = int((when - start) // 60)
        if when >= start and k < minutes:
            totals[k] += used
    return totals


@pytest.mark.parametrize("max_tokens", [120, None], ids=["max_tokens", "no-max_tokens"])
def test_tpm_is_met_within_ten_percent_each_minute(max_tokens: int | None) -> None:
    """Eight concurrent callers with simulated latency and usage that differs from the
    reservation (refunds and charges): each steady-state minute uses tpm within 10 %."""
    tpm = 3000
    rng = random.Random(7)
    events: list[tuple[float, int]] = []

    async def main(sim: SimTime) -> None:
        limiter = RateLimiter({"m": (None, tpm)}, clock=sim.clock, sleep=sim.sleep)
        params = {"max_tokens": max_tokens} if max_tokens else {}
        req = request("word " * 40, **params)  # ~51 prompt tokens

        async def caller() -> None:
            while sim.now < 600:
                estimate = limiter.estimate("m", *request_estimate(req))
                await limiter.acquire("m", estimate)
                await sim.sleep(rng.uniform(0.2, 3.0))  # the call's latency
                completion = rng.randint(5, 120)
                used = 51 + completion
                limiter.settle("m", estimate, used, completion)
                events.append((sim.now, used))

        await asyncio.gather(*(caller() for _ in range(8)))

    simulate(main)
    # The first minute may also spend the full bucket (capacity = one minute's worth).
    first = tokens_per_minute(events, 0, 60)[0]
    assert first <= 2 * tpm * 1.1
    steady = tokens_per_minute(events, 60, 600)
    assert len(steady) == 9
    for used in steady:
        assert 0.9 * tpm <= used <= 1.1 * tpm, steady


def test_rpm_is_met_within_ten_percent_each_minute() -> None:
    rpm = 120
    stamps: list[float] = []

    async def main(sim: SimTime) -> None:
        limiter = RateLimiter({"m": (rpm, None)}, clock=sim.clock, sleep=sim.sleep)

        async def caller() -> None:
            while sim.now < 300:
                await limiter.acquire("m", 10)
                stamps.append(sim.now)
                await sim.sleep(0.5)

        await asyncio.gather(*(caller() for _ in range(6)))

    simulate(main)
    first = tokens_per_minute([(s, 1) for s in stamps], 0, 60)[0]
    assert first <= 2 * rpm  # the full bucket plus a minute's refill, at most
    steady = tokens_per_minute([(s, 1) for s in stamps], 60, 300)
    for requests in steady:
        assert 0.9 * rpm <= requests <= 1.1 * rpm, steady


# --------------------------------------------------------------------------- the bucket itself


def test_refund_wakes_a_waiter_at_once() -> None:
    async def main(sim: SimTime) -> float:
        bucket = TokenBucket(60, clock=sim.clock, sleep=sim.sleep)  # 1 token/s, 60 capacity
        await bucket.acquire(60)
        waiter = asyncio.ensure_future(bucket.acquire(30))  # would need 30 s of refill
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()
        bucket.adjust(-45)  # the first call used 15 of its 60
        return await waiter

    waited, sim = simulate(main)
    assert sim.now == 0.0 and waited == 0.0


def test_charge_beyond_the_reservation_is_debt_that_delays_the_next_call() -> None:
    async def main(sim: SimTime) -> float:
        bucket = TokenBucket(60, clock=sim.clock, sleep=sim.sleep)
        await bucket.acquire(10)
        bucket.adjust(70)  # used 80 where 10 were reserved: 20 tokens of debt
        assert bucket.tokens == pytest.approx(-20)
        return await bucket.acquire(10)

    waited, _ = simulate(main)
    assert waited == pytest.approx(30.0)  # 20 of debt + 10 needed, at 1 token/s


def test_reservation_is_capped_at_the_capacity_and_settled_against_that() -> None:
    async def main(sim: SimTime) -> tuple[float, float]:
        limiter = RateLimiter({"m": (None, 60)}, clock=sim.clock, sleep=sim.sleep)
        first = await limiter.acquire("m", 10_000)  # never a deadlock: it takes the bucket
        limiter.settle("m", 10_000, 30)  # used 30: 30 of the 60 taken come back
        bucket = limiter._for("m")[1]
        assert bucket is not None and bucket.tokens == pytest.approx(30)
        return first, await limiter.acquire("m", 30)

    (first, second), _ = simulate(main)
    assert first == 0.0 and second == 0.0


def test_waiters_are_served_in_order_on_simulated_time() -> None:
    order: list[int] = []

    async def main(sim: SimTime) -> None:
        bucket = TokenBucket(60, capacity=10, clock=sim.clock, sleep=sim.sleep)

        async def take(i: int, amount: int) -> None:
            await bucket.acquire(amount)
            order.append(i)

        # A large request first in line is not starved by the small ones behind it.
        await asyncio.gather(take(0, 10), take(1, 10), take(2, 1), take(3, 1))

    _, sim = simulate(main)
    assert order == [0, 1, 2, 3]
    assert sim.now == pytest.approx(12.0)


def test_estimate_uses_max_tokens_or_the_mean_completion_seen() -> None:
    limiter = RateLimiter({"m": (None, 1000)})
    assert limiter.estimate("m", 20, 100) == 120
    assert limiter.estimate("m", 20, None) == 20  # nothing seen yet: the prompt alone
    limiter.settle("m", 20, 50, completion=30)
    limiter.settle("m", 20, 30, completion=10)
    assert limiter.estimate("m", 20, None) == 40
    assert request_estimate(request("abcd" * 10, max_tokens=7)) == (11, 7)
    assert request_estimate(request("abcd" * 10)) == (11, None)
