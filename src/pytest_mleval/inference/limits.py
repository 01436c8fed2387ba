"""Run limits: token buckets per model (requests/min and tokens/min), the run-wide limiter that
xdist workers share, and the retry policy (backoff with full jitter).

A run in one process keeps its limits in memory: the engine's semaphore bounds the calls in
flight and a :class:`RateLimiter` holds each model's buckets, at no cost beyond that. Under
xdist the controller starts a :class:`LimitServer` on a private local socket and hands its
address to the workers (``workerinput["mleval_limits"]``); each worker's engine takes every
call slot and every model's rate tokens from it through a :class:`SharedLimiter`, so
``--mleval-concurrency`` and each ``rate_limit`` hold for the whole run, not per process. A
slot is an open connection: when a worker dies its sockets close and its slots come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import ConfigError, InferenceError, RateLimitError

if TYPE_CHECKING:
    from .types import ChatRequest

__all__ = [
    "LIMITS_WORKERINPUT",
    "CallLimiter",
    "LimitServer",
    "RateLimiter",
    "RetryPolicy",
    "SharedLimiter",
    "TokenBucket",
    "request_estimate",
]

LIMITS_WORKERINPUT = "mleval_limits"
"""The ``workerinput`` key under which xdist workers learn the run-wide limiter's address."""

Sleep = Callable[[float], Awaitable[Any]]
T = TypeVar("T")


def request_estimate(req: ChatRequest) -> tuple[int, int | None]:
    """A request's prompt tokens (about four characters each) and its ``max_tokens`` if set."""
    chars = sum(len(str(m.get("content", ""))) for m in req.messages)
    max_tokens = req.params.get("max_tokens") or req.params.get("max_completion_tokens")
    return chars // 4 + 1, int(max_tokens) if max_tokens else None


class TokenBucket:
    """An async token bucket: ``capacity`` tokens, refilled continuously at ``rate_per_minute``.

    Waiters are served first come, first served: one waiter at a time holds the lock while it
    waits for its tokens, so a large request is never starved by a stream of small ones. A
    refund (:meth:`adjust` with a negative delta: a call used fewer tokens than it reserved)
    wakes that waiter at once instead of letting it sleep out a delay computed before it.

    Args:
        rate_per_minute: tokens added per minute (requests or LLM tokens).
        capacity: the most tokens the bucket holds (the burst); defaults to one minute's worth.
            The bucket starts full.
        clock: monotonic clock in seconds (injectable for tests).
        sleep: the coroutine that waits (injectable with ``clock`` to simulate time).
    """

    def __init__(
        self,
        rate_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        if rate_per_minute <= 0:
            raise ConfigError(f"a rate limit must be positive, got {rate_per_minute}")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        if self.capacity <= 0:
            raise ConfigError(f"a bucket's capacity must be positive, got {capacity}")
        self.tokens = self.capacity
        self._clock = clock
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None
        self._changed: asyncio.Event | None = None

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` tokens are available (0 when they are now)."""
        self._refill()
        need = min(amount, self.capacity) - self.tokens
        # A rounding crumb is no shortfall: waiting for it would spin on delays too small
        # to move the clock.
        return need / self.rate if need > 1e-9 else 0.0

    async def acquire(self, amount: float = 1.0) -> float:
        """Take ``amount`` tokens (capped at the capacity), waiting as needed; returns the wait."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        start = self._clock()
        waited = self._lock.locked()  # behind another waiter
        async with self._lock:
            while (delay := self.wait_time(amount)) > 0:
                waited = True
                await self._pause(delay)
            self.tokens -= min(amount, self.capacity)
        return self._clock() - start if waited else 0.0

    async def _pause(self, delay: float) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()

    def adjust(self, delta: float) -> None:
        """Charge ``delta`` more tokens (negative refunds) once the true usage is known.

        A charge may take the bucket below zero: that debt delays the next calls, so what
        was used, not what was guessed, is what the rate limits over time.
        """
        self._refill()
        self.tokens = min(self.capacity, self.tokens - delta)
        if delta < 0 and self._changed is not None:
            self._changed.set()


class CallLimiter(Protocol):
    """What the engine asks before each provider call (local or run-wide)."""

    def slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Hold one of the run's call slots for the duration of a call."""

    def estimate(self, model: str, prompt_tokens: int, max_tokens: int | None) -> int:
        """The tokens a call is expected to use, reserved from its model's tokens/min."""

    async def acquire(self, model: str, tokens: int) -> float:
        """Wait for one request and ``tokens`` tokens of ``model``; returns the wait."""

    def settle(
        self, model: str, estimated: int, actual: int, completion: int | None = None
    ) -> None:
        """Correct the reservation with the call's true usage."""


@dataclass
class RateLimiter:
    """Requests/min and tokens/min buckets per model, in this process.

    Each bucket holds one minute's worth (``rpm`` requests, ``tpm`` tokens), starts full and
    refills continuously. A call reserves its estimate (prompt plus ``max_tokens``; without
    ``max_tokens``, prompt plus the mean completion of the model's calls so far), capped at the
    capacity, and settles with its real usage: the difference is refunded or charged.

    Args:
        limits: ``{model: (requests_per_minute, tokens_per_minute)}``; either may be ``None``.
        clock: monotonic clock of the buckets (injectable for tests).
        sleep: the buckets' wait (injectable with ``clock`` to simulate time).
    """

    limits: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep | None = None
    _buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = field(
        default_factory=dict, init=False, repr=False
    )
    _completions: dict[str, tuple[int, int]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.limits = dict(self.limits)

    def learn(self, model: str, rpm: float | None, tpm: float | None) -> None:
        """Add ``model``'s limits unless it has some already (the first word holds)."""
        if model not in self.limits and (rpm or tpm):
            self.limits[model] = (rpm, tpm)  # type: ignore[index]

    def _for(self, model: str) -> tuple[TokenBucket | None, TokenBucket | None]:
        if model not in self._buckets:
            rpm, tpm = self.limits.get(model, (None, None))
            self._buckets[model] = (
                TokenBucket(rpm, clock=self.clock, sleep=self.sleep) if rpm else None,
                TokenBucket(tpm, clock=self.clock, sleep=self.sleep) if tpm else None,
            )
        return self._buckets[model]

    def slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """No run-wide slot in one process: the engine's own semaphore is the bound."""
        return contextlib.nullcontext()

    def estimate(self, model: str, prompt_tokens: int, max_tokens: int | None) -> int:
        """Prompt plus ``max_tokens``, or plus the mean completion seen so far without it.

        Reserving a guessed 256 completion tokens (as before) made a ``tpm: 60`` bucket take
        a minute per 15-token call; an unknown completion is charged when the call settles.
        """
        if max_tokens:
            return prompt_tokens + max_tokens
        calls, tokens = self._completions.get(model, (0, 0))
        return prompt_tokens + (round(tokens / calls) if calls else 0)

    async def acquire(self, model: str, tokens: int) -> float:
        """Wait for one request and ``tokens`` estimated tokens of ``model``; returns the wait."""
        requests, token_bucket = self._for(model)
        waited = 0.0
        if requests is not None:
            waited += await requests.acquire(1)
        if token_bucket is not None:
            waited += await token_bucket.acquire(tokens)
        return waited

    def settle(
        self, model: str, estimated: int, actual: int, completion: int | None = None
    ) -> None:
        """Correct the tokens/min bucket with the call's true token count (refund or charge)."""
        if completion is not None and completion >= 0:
            calls, tokens = self._completions.get(model, (0, 0))
            self._completions[model] = (calls + 1, tokens + completion)
        token_bucket = self._for(model)[1]
        if token_bucket is not None and actual:
            token_bucket.adjust(actual - min(estimated, token_bucket.capacity))


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, honouring ``Retry-After``.

    Only errors marked retryable (429, 5xx, timeouts, connection errors) are retried;
    authentication and validation errors fail at once.

    Attributes:
        max_retries: retries after the first attempt (per model; fallbacks get their own).
        base_delay: the first backoff ceiling in seconds; it doubles per retry.
        max_delay: the backoff ceiling's cap.
        max_retry_after: cap on a server's ``Retry-After`` (a bad header cannot stall a run).
        jitter: full jitter (uniform in ``[0, ceiling]``); without it the ceiling itself.
        seed: seed of the jitter's random draws (``None``: unseeded).
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    jitter: bool = True
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("retry settings must not be negative")
        self._rng = random.Random(self.seed)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether to retry after ``attempt`` failed attempts (1-based) ended in ``error``."""
        return attempt <= self.max_retries and isinstance(error, InferenceError) and error.retryable

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling) if self.jitter else ceiling


# --------------------------------------------------------------------------- run-wide limits


class SharedLimiter:
    """The engine's limiter in an xdist worker: call slots and rate tokens from the controller.

    Every operation is one short connection to the :class:`LimitServer` (a local socket: well
    under a millisecond). A slot is held by keeping its connection open for the call; closing
    it, or the worker's death, gives the slot back.

    Args:
        address: the server's address (``unix:PATH`` or ``tcp:127.0.0.1:PORT``).
        limits: ``{model: (requests_per_minute, tokens_per_minute)}`` this worker knows of;
            the server keeps the first limits any worker gives for a model.
    """

    def __init__(
        self,
        address: str,
        limits: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> None:
        self.address = address
        self.limits = dict(limits or {})
        # Completion sizes seen by this worker, for estimates; the buckets live in the server.
        self._local = RateLimiter()
        self._sends: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the run's ``--mleval-concurrency`` slots while the block runs."""
        reader, writer = await self._open()
        try:
            await self._ask(reader, writer, {"op": "slot"})
            yield
        finally:
            writer.close()  # the server takes the slot back when the connection closes

    def estimate(self, model: str, prompt_tokens: int, max_tokens: int | None) -> int:
        """See :meth:`RateLimiter.estimate`."""
        return self._local.estimate(model, prompt_tokens, max_tokens)

    async def acquire(self, model: str, tokens: int) -> float:
        """Wait for one request and ``tokens`` tokens of ``model`` from the run's buckets."""
        rpm, tpm = self.limits.get(model, (None, None))
        if not rpm and not tpm:
            return 0.0  # no limits for this model: no round trip
        reader, writer = await self._open()
        try:
            request = {"op": "rate", "model": model, "rpm": rpm, "tpm": tpm, "tokens": tokens}
            reply = await self._ask(reader, writer, request)
        finally:
            writer.close()
        return float(reply.get("waited", 0.0))

    def settle(
        self, model: str, estimated: int, actual: int, completion: int | None = None
    ) -> None:
        """Send the call's true usage to the run's tokens/min bucket (in the background)."""
        self._local.settle(model, estimated, actual, completion)
        if not self.limits.get(model, (None, None))[1] or not actual:
            return
        message = {"op": "settle", "model": model, "estimated": estimated, "actual": actual}
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, message: dict[str, Any]) -> None:
        # A settle that is lost leaves the reservation charged: the safe side of a limit.
        with contextlib.suppress(InferenceError, OSError):
            _, writer = await self._open()
            writer.write(json.dumps(message).encode() + b"\n")
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            if self.address.startswith("unix:"):
                return await asyncio.open_unix_connection(self.address[len("unix:") :])
            host, port = self.address[len("tcp:") :].rsplit(":", 1)
            return await asyncio.open_connection(host, int(port))
        except (OSError, ValueError) as exc:
            raise InferenceError(
                f"the run-wide call limiter at {self.address} cannot be reached: {exc}"
            ) from None

    async def _ask(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            writer.write(json.dumps(message).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        except OSError as exc:
            raise InferenceError(f"the run-wide call limiter failed: {exc}") from None
        if not line:
            raise InferenceError("the run-wide call limiter closed the connection")
        reply = json.loads(line)
        return reply if isinstance(reply, dict) else {}


class LimitServer:
    """The run's call slots and rate buckets, served to xdist workers on a local socket.

    Started by the xdist controller; runs its own event loop in a daemon thread. A Unix socket
    in a private directory (mode 0700: no other user can take slots), or 127.0.0.1 where Unix
    sockets do not exist. Slots go to waiters first come, first served.

    Args:
        concurrency: the most calls in flight across every worker (``--mleval-concurrency``).
        clock: the buckets' monotonic clock (injectable for tests).
        sleep: the buckets' wait (injectable with ``clock``).

    Attributes:
        held: slots held now; ``max_held``: the most ever held at once.
    """

    def __init__(
        self,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self.held = 0
        self.max_held = 0
        self.address = ""
        self._limiter = RateLimiter(clock=clock, sleep=sleep)
        self._free = concurrency
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._dir: str | None = None

    def start(self) -> str:
        """Start serving; returns the address to give the workers."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start(); never leaks out of the thread
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="mleval-limits", daemon=True)
        self._thread.start()
        if not ready.wait(30) or errors:
            raise RuntimeError(f"run-wide limiter failed to start: {errors or 'timeout'}")
        return self.address

    def stop(self) -> None:
        """Stop serving and remove the socket. Idempotent."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None and not loop.is_closed():
            with contextlib.suppress(Exception):  # best effort: the run is over
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LimitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> None:
        if hasattr(socket, "AF_UNIX"):
            self._dir = tempfile.mkdtemp(prefix="mleval-limits-")  # 0700
            path = os.path.join(self._dir, "s")
            self._server = await asyncio.start_unix_server(self._handle, path, backlog=1024)
            self.address = f"unix:{path}"
        else:  # pragma: no cover - Windows
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
            port = self._server.sockets[0].getsockname()[1]
            self.address = f"tcp:127.0.0.1:{port}"

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            message = json.loads(line) if line else None
            if not isinstance(message, dict):
                return
            op = message.get("op")
            if op == "slot":
                await self._serve_slot(reader, writer)
            elif op == "rate":
                waited = await _unless_closed(reader, self._rate(message))
                if waited is not None:
                    await _reply(writer, {"waited": waited})
            elif op == "settle":
                self._limiter.settle(
                    str(message["model"]), int(message["estimated"]), int(message["actual"])
                )
            elif op == "stats":
                await _reply(
                    writer,
                    {"held": self.held, "max_held": self.max_held, "concurrency": self.concurrency},
                )
        except Exception:  # one client's failure must never stop the server
            pass  # a client that went away or spoke nonsense: its connection just ends
        except asyncio.CancelledError:
            pass  # the server is stopping; ending quietly keeps asyncio from logging it
        finally:
            writer.close()

    async def _rate(self, message: dict[str, Any]) -> float:
        model = str(message["model"])
        self._limiter.learn(model, _number(message.get("rpm")), _number(message.get("tpm")))
        return await self._limiter.acquire(model, int(message.get("tokens") or 0))

    async def _serve_slot(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        grant = self._request_slot()
        closed = asyncio.ensure_future(reader.read(1))
        try:
            either: set[asyncio.Future[Any]] = {grant, closed}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not grant.done():
                return  # the worker went away (or was cancelled) while it waited
            self.held += 1
            self.max_held = max(self.max_held, self.held)
            try:
                await _reply(writer, {"ok": True})
                await closed  # held until the worker closes the connection or dies
            finally:
                self.held -= 1
        finally:
            closed.cancel()
            self._abandon(grant)

    def _request_slot(self) -> asyncio.Future[None]:
        grant: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._free > 0 and not self._waiters:
            self._free -= 1
            grant.set_result(None)
        else:
            self._waiters.append(grant)
        return grant

    def _abandon(self, grant: asyncio.Future[None]) -> None:
        """Return a granted slot, or drop a request still waiting for one."""
        if not grant.done():
            grant.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(grant)
        elif not grant.cancelled():
            self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the next in line
                return
        self._free += 1


def _number(value: Any) -> float | None:
    return float(value) if value else None


async def _reply(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()


async def _unless_closed(reader: asyncio.StreamReader, work: Coroutine[Any, Any, T]) -> T | None:
    """Run ``work`` unless the client's connection closes first (its process may have died)."""
    task = asyncio.ensure_future(work)
    closed = asyncio.ensure_future(reader.read(1))
    try:
        await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    finally:
        closed.cancel()
        task.cancel()
