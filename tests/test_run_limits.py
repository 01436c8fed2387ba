"""Limits that hold across the whole run (issue 14, item 3): under xdist, the calls in flight
never exceed --mleval-concurrency and each model's rpm/tpm is one budget for all workers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only

# In-process pytester runs unload modules first imported inside them (see test_model_targets).
import_litellm()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-limits")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def suite(server: OpenAITestServer, n: int, extra: str = "") -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}}}\n" for i in range(n))
    return (
        f"suite: limits\ntarget: model:openai/test-model\napi_base: {server.base_url}\n"
        "prompt: 'Say: {{ input }}'\nmetrics: [{exact: {value: ok}}]\n"
        f"{extra}cases:\n{cases}"
    )


def xdist_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "--mleval-cache", "off", "--mleval-timeout", "30", *args
    )


# --------------------------------------------------------------------------- end to end


def test_xdist_calls_in_flight_never_exceed_the_run_concurrency(
    pytester: pytest.Pytester,
) -> None:
    # 80 cases: xdist's first batches queue 10 per worker, enough for each to fill 8 slots.
    with OpenAITestServer(rules=[Rule(reply="ok")], latency_s=0.3) as srv:
        pytester.makefile(".eval.yaml", limits=suite(srv, n=80))
        result = xdist_run(pytester, "--mleval-concurrency", "8")
        result.assert_outcomes(passed=80)
        assert srv.count == 80
        # Each worker alone allowed 8 (16 in all) before; one run-wide budget of 8 now, and
        # shared, not split (each worker by itself is allowed up to 8).
        assert 4 < srv.max_in_flight <= 8


def test_xdist_rpm_holds_for_the_whole_run(pytester: pytest.Pytester) -> None:
    stamps: list[float] = []
    lock = threading.Lock()

    def stamped(messages: list[dict[str, Any]]) -> str:
        with lock:
            stamps.append(time.monotonic())
        return "ok"

    rpm, n = 120, 136
    with OpenAITestServer(rules=[Rule(reply=stamped)]) as srv:
        pytester.makefile(
            ".eval.yaml", limits=suite(srv, n=n, extra=f"rate_limit: {{rpm: {rpm}}}\n")
        )
        result = xdist_run(pytester, "--mleval-concurrency", "64")
        result.assert_outcomes(passed=n)
    assert len(stamps) == n
    stamps.sort()
    # One bucket for the run: a minute's worth at once, then 2 a second. In any window of w
    # seconds at most rpm + 2w (+1 for a window's edge) requests arrive; two per-process
    # buckets let all 136 through as fast as pytest runs the items (an upper bound: a slow
    # machine only lowers the counts).
    for w in (1.0, 2.0, 4.0):
        j = 0
        for i, start in enumerate(stamps):
            while j < len(stamps) and stamps[j] < start + w:
                j += 1
            assert j - i <= rpm + 2 * w + 1, (w, j - i)


# --------------------------------------------------------------------------- the limiter


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_slots_are_shared_by_every_client_first_come_first_served() -> None:
    from pytest_mleval.inference.limits import LimitServer, SharedLimiter

    async def main(address: str) -> list[str]:
        a, b = SharedLimiter(address), SharedLimiter(address)
        order: list[str] = []
        release = asyncio.Event()

        async def hold(who: SharedLimiter, name: str) -> None:
            async with who.slot():
                order.append(name)
                await release.wait()

        holders = [asyncio.ensure_future(hold(a, "a1")), asyncio.ensure_future(hold(b, "b1"))]
        while len(order) < 2:
            await asyncio.sleep(0.01)
        late = asyncio.ensure_future(hold(b, "b2"))  # both slots are taken: it waits
        await asyncio.sleep(0.2)
        assert order == ["a1", "b1"] or order == ["b1", "a1"]
        release.set()
        await asyncio.wait_for(asyncio.gather(*holders, late), 10)
        return order

    with LimitServer(2) as server:
        order = run(main(server.address))
        assert order[2] == "b2"
        assert server.max_held == 2


def test_a_dead_workers_slot_comes_back(tmp_path: Path) -> None:
    from pytest_mleval.inference.limits import LimitServer, SharedLimiter

    holder = tmp_path / "holder.py"
    holder.write_text(
        "import asyncio, sys\n"
        "from pytest_mleval.inference.limits import SharedLimiter\n"
        "async def main():\n"
        "    async with SharedLimiter(sys.argv[1]).slot():\n"
        "        print('held', flush=True)\n"
        "        await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    with LimitServer(1) as server:
        proc = subprocess.Popen(
            [sys.executable, str(holder), server.address], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            assert server.held == 1
            proc.kill()  # a crashed worker: it never releases anything itself
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()

        async def take() -> None:
            async with SharedLimiter(server.address).slot():
                pass

        run(asyncio.wait_for(take(), 10))  # bounded: a leaked slot would hang here
        for _ in range(100):  # the server sees the connection close a moment later
            if server.held == 0:
                break
            time.sleep(0.05)
        assert server.held == 0


def test_rate_tokens_are_one_budget_for_every_client() -> None:
    """On the server's injectable clock: rpm 2 shared by two clients means the third request
    (from either) waits 30 s; two per-process buckets would let four through at once."""
    from pytest_mleval.inference.limits import LimitServer, SharedLimiter

    now = [0.0]
    slept: list[float] = []

    async def sim_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    async def main(address: str) -> list[float]:
        limits = {"m": (2.0, None)}
        a, b = SharedLimiter(address, limits), SharedLimiter(address, limits)
        return [await a.acquire("m", 1), await b.acquire("m", 1), await b.acquire("m", 1)]

    with LimitServer(4, clock=lambda: now[0], sleep=sim_sleep) as server:
        waits = run(main(server.address))
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(30.0)
    assert slept == [pytest.approx(30.0)]


def test_tokens_settle_on_the_shared_bucket() -> None:
    from pytest_mleval.inference.limits import LimitServer, SharedLimiter

    now = [0.0]
    slept: list[float] = []

    async def sim_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    async def main(address: str) -> list[float]:
        limits = {"m": (None, 60.0)}
        a, b = SharedLimiter(address, limits), SharedLimiter(address, limits)
        first = await a.acquire("m", 60)  # the whole bucket
        a.settle("m", 60, 15)  # used 15: 45 come back, for the other client too
        for _ in range(100):
            if not a._sends:
                break
            await asyncio.sleep(0.01)
        second = await b.acquire("m", 45)
        third = await b.acquire("m", 15)  # empty now: 15 s of refill at 1 token/s
        return [first, second, third]

    with LimitServer(4, clock=lambda: now[0], sleep=sim_sleep) as server:
        waits = run(main(server.address))
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(15.0)


def test_one_process_runs_start_no_limiter(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import json
def pytest_sessionfinish(session):
    from pytest_mleval.context import SESSION_KEY
    s = session.config.stash[SESSION_KEY]
    print("LIMITS", json.dumps([s._limit_server is None, type(s.engine().limiter).__name__]))
"""
    )
    with OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        pytester.makefile(".eval.yaml", limits=suite(srv, n=3))
        result = pytester.runpytest_subprocess("-s", "--mleval-cache", "off")
        result.assert_outcomes(passed=3)
    line = next(x for x in result.stdout.lines if "LIMITS " in x)
    assert json.loads(line.split("LIMITS ", 1)[1]) == [True, "RateLimiter"]


def test_limiter_address_reaches_the_workers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_sessionfinish(session):
    from pytest_mleval.context import SESSION_KEY
    if hasattr(session.config, "workerinput"):
        s = session.config.stash[SESSION_KEY]
        with open(f"limiter-{session.config.workerinput['workerid']}.txt", "w") as fh:
            fh.write(type(s.engine().limiter).__name__ + " " + str(s.lookahead()))
"""
    )
    with OpenAITestServer(rules=[Rule(reply="ok")]) as srv:
        pytester.makefile(".eval.yaml", limits=suite(srv, n=4))
        xdist_run(pytester, "--mleval-concurrency", "3").assert_outcomes(passed=4)
    written = sorted(p.read_text() for p in pytester.path.glob("limiter-*.txt"))
    # Shared limiter in both workers; the run's window of 2 x 3 split over two workers.
    assert written == ["SharedLimiter 3", "SharedLimiter 3"]


def test_only_workers_on_this_machine_share_the_limiter(pytester: pytest.Pytester) -> None:
    from types import SimpleNamespace

    import execnet

    from pytest_mleval.context import SESSION_KEY
    from pytest_mleval.inference.limits import LIMITS_WORKERINPUT

    config = pytester.parseconfigure("--mleval-concurrency", "3")
    session = config.stash[SESSION_KEY]

    def node(spec: str) -> Any:
        return SimpleNamespace(gateway=SimpleNamespace(spec=execnet.XSpec(spec)), workerinput={})

    local, other, remote = node("popen"), node("popen"), node("ssh=elsewhere")
    for n in (local, other, remote):
        session.pytest_configure_node(n)
    address = local.workerinput[LIMITS_WORKERINPUT]
    assert address.startswith("unix:") and other.workerinput[LIMITS_WORKERINPUT] == address
    # A worker on another machine cannot reach a local socket: it keeps its own limits.
    assert LIMITS_WORKERINPUT not in remote.workerinput
    assert session._limit_server.concurrency == 3
    socket_path = Path(address[len("unix:") :])
    assert socket_path.exists()
    session.pytest_unconfigure()
    assert session._limit_server is None and not socket_path.exists()
