"""The inference engine: concurrent model calls for a synchronous caller (pytest runs items
one at a time), with cache/replay, dedup, rate limits, retries, fallbacks and a cost budget.

All engines of a process share one asyncio loop in a daemon thread (:mod:`.loop`).

Over 600 lines for a reason: it is one class, whose chat and embedding paths share its locks,
statistics, limits, retries and budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ..errors import (
    BudgetExceededError,
    CacheMissError,
    InferenceError,
    ProviderError,
    RateLimitError,
)
from ..errors import TimeoutError as CallTimeoutError
from .cache_backend import CacheStore
from .limits import CallLimiter, RateLimiter, RetryPolicy, request_estimate
from .loop import run_sync, shared_loop
from .metering import record_call
from .providers.auto import AutoProvider
from .providers.base import Provider, unusable_reply
from .scrubbing import scrub
from .types import ChatRequest, ChatResponse, ModelStats, cache_key, unknown_cost

__all__ = ["CANCELLED_MESSAGE", "InferenceEngine", "run_sync", "shared_loop"]

logger = logging.getLogger("pytest_mleval.inference")
T = TypeVar("T")

CANCELLED_MESSAGE = "model call cancelled: the run stopped (-x, --maxfail or Ctrl-C) before it ran"


def _embed_key(model: str, api_base: str | None, text: str) -> str:
    # Its own namespace: an embedding's key can never equal a chat request's.
    base = (api_base or "").rstrip("/")
    return hashlib.sha256(f"embedding\x00v1\x00{model}\x00{base}\x00{text}".encode()).hexdigest()


def _dedup_key(req: ChatRequest) -> str:
    return hashlib.sha256(f"{cache_key(req)}|{'|'.join(req.fallbacks)}".encode()).hexdigest()


class InferenceEngine:
    """Schedules model calls concurrently; callers block only on their own result.

    Args:
        provider: the backend (default :class:`~.providers.AutoProvider`: litellm, ``hf:``).
        cache: the response cache; ``None`` caches nothing.
        concurrency: most provider calls in flight at once.
        rate_limits: ``{model: (requests_per_minute, tokens_per_minute)}``.
        retry: retry policy for 429, 5xx, timeouts and connection errors.
        max_cost_usd: stop issuing new calls once this run has spent this much.
        timeout: default per-call timeout in seconds (a request's own ``timeout`` wins).
        api_key: key for requests that carry none (else the provider's usual env vars).
        limiter: where call slots and rate tokens come from; default a :class:`RateLimiter`
            of ``rate_limits`` in this process (an xdist worker gets a
            :class:`~.limits.SharedLimiter` of the run's :class:`~.limits.LimitServer`).

    Identical requests (same cache key and fallbacks) share one call and one future for the
    engine's lifetime, so nothing is paid for twice within a run.
    """

    def __init__(
        self,
        provider: Provider | None = None,
        cache: CacheStore | None = None,
        *,
        concurrency: int = 16,
        rate_limits: Mapping[str, tuple[float | None, float | None]] | None = None,
        retry: RetryPolicy | None = None,
        max_cost_usd: float | None = None,
        timeout: float | None = 120.0,
        api_key: str | None = None,
        limiter: CallLimiter | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.provider: Provider = provider if provider is not None else AutoProvider()
        self.cache = cache
        self.concurrency = concurrency
        self.limiter: CallLimiter = (
            limiter if limiter is not None else RateLimiter(dict(rate_limits or {}))
        )
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_cost_usd = max_cost_usd
        self.timeout = timeout
        self.api_key = api_key
        self._loop = shared_loop()
        self._sem = asyncio.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._futures: dict[str, concurrent.futures.Future[ChatResponse]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stats: dict[str, ModelStats] = {}
        self._spent = 0.0
        self._closed = False
        self._prepared: dict[str, asyncio.Future[None]] = {}

    # ------------------------------------------------------------------ public API

    def submit(self, req: ChatRequest) -> concurrent.futures.Future[ChatResponse]:
        """Start ``req`` (or join the identical call already made); returns its future.

        The future's result is a :class:`ChatResponse`; its exception an
        :class:`~pytest_mleval.errors.InferenceError` subclass.
        """
        return self._submit(req)[0]

    def _submit(self, req: ChatRequest) -> tuple[concurrent.futures.Future[ChatResponse], bool]:
        """:meth:`submit`, and whether it joined a call made before (which it then costs
        nothing: the meter counts it as a cached answer)."""
        if self.api_key and req.api_key is None:
            req = dataclasses.replace(req, api_key=self.api_key)
        key = _dedup_key(req)
        with self._lock:
            if self._closed:
                raise InferenceError("the inference engine is closed")
            fut = self._futures.get(key)
            if fut is not None:
                return fut, True
            fut = concurrent.futures.Future()
            self._futures[key] = fut
        self._loop.call_soon_threadsafe(self._start, key, req, fut)
        return fut, False

    def complete(self, req: ChatRequest, timeout: float | None = None) -> ChatResponse:
        """Answer ``req``, blocking until done (``timeout`` bounds the wait, not the call).

        The call counts in the caller's open meter (:func:`.metering.metering`), if any.
        """
        fut, joined = self._submit(req)
        try:
            resp = fut.result(timeout)
        except concurrent.futures.CancelledError:
            raise InferenceError(CANCELLED_MESSAGE) from None
        except concurrent.futures.TimeoutError:
            raise CallTimeoutError(f"model {req.model!r}: no answer within {timeout}s") from None
        except InferenceError as exc:
            _meter_failure(req, exc, joined)
            raise
        _meter(resp, joined)
        return resp

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Answer ``req`` from a caller's own event loop (counted as :meth:`complete` is)."""
        fut, joined = self._submit(req)
        try:
            resp = await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            raise InferenceError(CANCELLED_MESSAGE) from None
        except InferenceError as exc:
            _meter_failure(req, exc, joined)
            raise
        _meter(resp, joined)
        return resp

    def prefetch(
        self, reqs: Iterable[ChatRequest]
    ) -> list[concurrent.futures.Future[ChatResponse]]:
        """Start many requests at once (bounded by ``concurrency``); returns their futures."""
        return [self.submit(r) for r in reqs]

    def embed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """Embed ``texts`` (one vector per text) with everything chat calls get.

        Each text's vector is cached on its own (by model, ``api_base`` and text), so a text
        embedded before costs nothing and ``replay`` mode fails on one never recorded. The
        texts not cached go to the provider in one call, under the concurrency bound, the
        model's rate limits, the timeout, the retry policy and the cost budget; its tokens and
        cost (as the provider reports them) count in :meth:`stats` and :attr:`spent_usd`.

        Args:
            model: the embedding model id (litellm's, e.g. ``openai/text-embedding-3-small``).
            texts: the texts.
            api_base: endpoint override.
            api_key: key for this call (default: the engine's, else the provider's env vars).

        Raises:
            InferenceError: the call failed after its retries (:class:`CacheMissError` in
                replay mode, :class:`BudgetExceededError` once the budget is spent).
        """
        with self._lock:
            if self._closed:
                raise InferenceError("the inference engine is closed")
        batch = [str(t) for t in texts]
        future = asyncio.run_coroutine_threadsafe(
            self._embed(model, batch, api_base, api_key or self.api_key), self._loop
        )
        try:
            vectors, spend = future.result()
        except concurrent.futures.CancelledError:
            raise InferenceError(CANCELLED_MESSAGE) from None
        if spend is None:
            record_call(model, cached=True, latency_ms=0.0)
        else:
            record_call(model, prompt_tokens=spend[0], cost_usd=spend[1], latency_ms=spend[2])
        return vectors

    async def _embed(
        self, model: str, texts: list[str], api_base: str | None, api_key: str | None
    ) -> tuple[list[list[float]], tuple[int, float, float] | None]:
        """The vectors, and the provider call's (tokens, cost, latency), ``None`` when every
        text was cached."""
        keys = {t: _embed_key(model, api_base, t) for t in texts}
        with self._lock:
            self._model_stats(model).requests += 1
        # SQLite off the loop: a corpus of chunks is thousands of lookups.
        vectors = await asyncio.to_thread(self._embed_lookup, keys)
        missing = [t for t in keys if t not in vectors]
        if not missing:
            with self._lock:
                self._model_stats(model).cache_hits += 1
            return [vectors[t] for t in texts], None
        if self.cache is not None and self.cache.replay:
            with self._lock:
                self._model_stats(model).errors += 1
            raise CacheMissError(
                f"model {model!r}: {len(missing)} text(s) with no recorded embedding in "
                f"{self.cache.location} and the cache is in replay mode (record it with "
                "--mleval-cache rw)"
            )
        try:
            fresh, spend = await self._embed_call(model, missing, api_base, api_key)
        except InferenceError:
            with self._lock:
                self._model_stats(model).errors += 1
            raise
        computed = dict(zip(missing, fresh, strict=True))
        if self.cache is not None and self.cache.writable:
            await asyncio.to_thread(self._embed_store, model, keys, computed)
        vectors.update(computed)
        return [vectors[t] for t in texts], spend

    def _embed_lookup(self, keys: Mapping[str, str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        if self.cache is None:
            return found
        for text, key in keys.items():
            value = self.cache.get(key)
            vector = value.get("embedding") if isinstance(value, dict) else None
            if isinstance(vector, list) and vector:
                found[text] = [float(x) for x in vector]
        return found

    def _embed_store(
        self, model: str, keys: Mapping[str, str], computed: Mapping[str, list[float]]
    ) -> None:
        assert self.cache is not None
        for text, vector in computed.items():
            self.cache.put(keys[text], model, {"embedding": vector})

    async def _embed_call(
        self, model: str, texts: list[str], api_base: str | None, api_key: str | None
    ) -> tuple[list[list[float]], tuple[int, float, float]]:
        """One provider call for ``texts``, with limits, timeout, retries and accounting;
        returns the vectors and the call's (tokens, cost, latency)."""
        from ..errors import ProviderError

        estimate = sum(len(t) // 4 + 1 for t in texts)
        timeout = self.timeout

        async def call() -> tuple[list[list[float]], tuple[int, float, float]]:
            await self._prepare(model)
            await self.limiter.acquire(model, estimate)
            start = time.perf_counter()
            vectors = await _within(
                self.provider.aembed(model, texts, api_base=api_base, api_key=api_key),
                timeout,
                f"model {model!r}: no embeddings",
            )
            latency = (time.perf_counter() - start) * 1000.0
            if len(vectors) != len(texts) or any(not row for row in vectors):
                # A short or empty answer is a failed call (retried), never a cache entry.
                raise ProviderError(
                    f"model {model!r}: {len(vectors)} embedding(s) for {len(texts)} text(s)"
                    + (" (some empty)" if any(not row for row in vectors) else "")
                )
            tokens = int(getattr(vectors, "prompt_tokens", 0) or 0)
            cost = float(getattr(vectors, "cost_usd", 0.0) or 0.0)
            self.limiter.settle(model, estimate, tokens or estimate)
            self._account(model, cost, tokens, 0, latency)
            return [[float(x) for x in row] for row in vectors], (tokens, cost, latency)

        return await self._retrying(model, call)

    def warmup(self, models: Iterable[str]) -> concurrent.futures.Future[None]:
        """Start the providers' one-time setup (litellm's import, a local model's load) now,
        in the background, so it is paid once and off the caller's path."""

        async def prepare_all() -> None:
            await asyncio.gather(*(self._prepare(m) for m in dict.fromkeys(models)))

        return asyncio.run_coroutine_threadsafe(prepare_all(), self._loop)

    async def _prepare(self, model: str, req: ChatRequest | None = None) -> None:
        """Ready the backend that serves ``req`` (or, without one, ``model``): called before
        the call is timed, so neither its latency nor its timeout holds the start-up."""
        prepare = getattr(self.provider, "prepare", None)
        if prepare is None:
            return
        # A routing provider says which backend serves the request: an openai/ id with a
        # litellm-only parameter goes to litellm, whose import (seconds) must be paid here,
        # not inside the first calls, when the id alone would have prepared the native client.
        backend_for = getattr(self.provider, "backend_for", None)
        backend = backend_for(req) if req is not None and callable(backend_for) else None
        key = model if backend is None else f"{model}\x00{backend}"
        fut = self._prepared.get(key)
        if fut is None:
            args = (model,) if backend is None else (model, backend)
            # One setup per model and backend; concurrent first calls wait on the same future.
            fut = self._prepared[key] = asyncio.ensure_future(asyncio.to_thread(prepare, *args))
        try:
            await asyncio.shield(fut)
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(
                f"model {model!r}: {type(exc).__name__}: {scrub(str(exc))}"
            ) from exc

    def cancel_pending(self, timeout: float = 10.0) -> int:
        """Cancel every call not finished yet (their futures raise a clear error).

        Returns how many futures were cancelled. Calls already answered keep their results.
        """
        with self._lock:
            pending = {k: f for k, f in self._futures.items() if not f.done()}
            for key in pending:
                del self._futures[key]
        for fut in pending.values():
            _settle(fut, exc=InferenceError(CANCELLED_MESSAGE))
        if not self._loop.is_closed():
            waiter = asyncio.run_coroutine_threadsafe(self._cancel_tasks(), self._loop)
            try:
                waiter.result(timeout)
            except concurrent.futures.TimeoutError:
                logger.warning("some cancelled model calls did not stop within %ss", timeout)
        return len(pending)

    def close(self) -> None:
        """Cancel what is pending and close the cache. Idempotent; the shared loop stays."""
        if self._closed:
            return
        self.cancel_pending()
        with self._lock:
            self._closed = True
        closer = getattr(self.provider, "aclose", None)
        if closer is not None and not self._loop.is_closed():
            # The native client's pooled connections end with the engine that opened them.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(closer(), self._loop).result(5)
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> InferenceEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spent_usd(self) -> float:
        """What this engine's provider calls have cost so far."""
        with self._lock:
            return self._spent

    def stats(self) -> dict[str, ModelStats]:
        """Per model usage so far (copies: safe to keep)."""
        with self._lock:
            return {m: copy.deepcopy(s) for m, s in sorted(self._stats.items())}

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals: per model and overall, latency and TTFT percentiles (of the
        streamed calls) instead of lists."""
        stats = self.stats()
        total = ModelStats()
        for s in stats.values():
            for f in dataclasses.fields(ModelStats):
                if f.name in ("latencies_ms", "ttfts_ms", "output_tokens_per_s"):
                    getattr(total, f.name).extend(getattr(s, f.name))
                else:
                    setattr(total, f.name, getattr(total, f.name) + getattr(s, f.name))
        return {
            "models": {m: s.as_dict() for m, s in stats.items()},
            "total": total.as_dict(),
            "max_cost_usd": self.max_cost_usd,
        }

    # ------------------------------------------------------------------ loop side

    def _start(
        self, key: str, req: ChatRequest, fut: concurrent.futures.Future[ChatResponse]
    ) -> None:
        if fut.done():  # cancelled before it started
            return
        task = self._loop.create_task(self._run(req))
        self._tasks.add(task)

        def finished(t: asyncio.Task[ChatResponse]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                self._forget(key, fut)
                _settle(fut, exc=InferenceError(CANCELLED_MESSAGE))
            elif (exc := t.exception()) is not None:
                _settle(fut, exc=exc)
            else:
                _settle(fut, result=t.result())

        def caller_cancelled(f: concurrent.futures.Future[ChatResponse]) -> None:
            if f.cancelled():
                self._forget(key, f)
                self._loop.call_soon_threadsafe(task.cancel)

        task.add_done_callback(finished)
        fut.add_done_callback(caller_cancelled)

    def _forget(self, key: str, fut: concurrent.futures.Future[ChatResponse]) -> None:
        with self._lock:
            if self._futures.get(key) is fut:
                del self._futures[key]

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _model_stats(self, model: str) -> ModelStats:
        # Callers hold self._lock.
        if model not in self._stats:
            self._stats[model] = ModelStats()
        return self._stats[model]

    async def _run(self, req: ChatRequest) -> ChatResponse:
        chain = [req, *(req.with_model(m) for m in req.fallbacks)]
        with self._lock:
            self._model_stats(req.model).requests += 1
        failures: list[InferenceError] = []
        attempts = retries = 0
        for index, current in enumerate(chain):
            fallback = current.model if index else None
            key = cache_key(current)
            hit = self._cache_get(key)
            if hit is not None:
                with self._lock:
                    self._model_stats(current.model).cache_hits += 1
                    if fallback:
                        self._model_stats(req.model).fallbacks += 1
                # A fallback's recorded answer still reports the primary's failed attempts.
                return dataclasses.replace(
                    hit, attempts=attempts, retries=retries, fallback_used=fallback
                )
            if self.cache is not None and self.cache.replay:
                failures.append(
                    CacheMissError(
                        f"model {current.model!r}: no recorded answer in {self.cache.location} "
                        "and the cache is in replay mode (record it with --mleval-cache rw)"
                    )
                )
                continue
            try:
                resp, tries = await self._attempts(current)
            except BudgetExceededError as exc:
                with self._lock:
                    self._model_stats(req.model).errors += 1
                # The attempts this model made before the budget stopped its retries count.
                spent = int(getattr(exc, "attempts", 0))
                raise _counted(
                    exc, attempts + spent, retries + max(spent - 1, 0), req.model
                ) from None
            except _Failed as failed:
                attempts += failed.attempts
                retries += failed.attempts - 1
                failures.append(failed.error)
                continue
            attempts += tries
            retries += tries - 1
            if self.cache is not None and self.cache.writable:
                await asyncio.to_thread(self.cache.put, key, current.model, resp.to_cache())
            with self._lock:
                if fallback:
                    self._model_stats(req.model).fallbacks += 1
            return dataclasses.replace(
                resp, attempts=attempts, retries=retries, fallback_used=fallback
            )
        with self._lock:
            self._model_stats(req.model).errors += 1
        raise _counted(_combine(failures), attempts, retries, req.model)

    def _cache_get(self, key: str) -> ChatResponse | None:
        if self.cache is None:
            return None
        value = self.cache.get(key)
        if value is None:
            return None
        try:
            hit = ChatResponse.from_cache(value)
        except (KeyError, TypeError, ValueError):
            return None  # an entry from an incompatible version: treat as a miss
        if unusable_reply(hit.text, hit.tool_calls) is not None:
            # An empty answer stored by an earlier version: ask again rather than replay it.
            return None
        return hit

    def _check_budget(self, model: str) -> None:
        limit = self.max_cost_usd
        if limit is not None and self._spent >= limit:
            raise BudgetExceededError(
                f"model {model!r} not called: budget of ${limit:g} reached "
                f"(spent ${self._spent:.6g}; --mleval-max-cost)"
            )

    async def _attempts(self, req: ChatRequest) -> tuple[ChatResponse, int]:
        timeout = req.timeout if req.timeout is not None else self.timeout
        if timeout is not None and req.timeout is None:
            req = dataclasses.replace(req, timeout=timeout)
        estimate = self.limiter.estimate(req.model, *request_estimate(req))

        async def call() -> ChatResponse:
            await self._prepare(req.model, req)
            await self.limiter.acquire(req.model, estimate)
            start = time.perf_counter()
            resp = await _within(
                self.provider.acomplete(req), timeout, f"model {req.model!r}: no answer"
            )
            latency = _sent_to_answered(resp.latency_ms, (time.perf_counter() - start) * 1000.0)
            self.limiter.settle(
                req.model, estimate, resp.usage.total_tokens, resp.usage.completion_tokens
            )
            problem = unusable_reply(resp.text, resp.tool_calls, resp.finish_reason)
            if problem is not None and not _is_local(req.model):
                # Whatever the remote provider: no answer is a retryable failure, never a cache
                # entry. A local model's empty generation is its (deterministic) answer: asking
                # again gives the same, so it is scored like any other output.
                raise ProviderError(f"model {req.model!r}: unusable reply: {problem}")
            self._account(
                req.model,
                resp.cost_usd,
                resp.usage.prompt_tokens,
                resp.usage.completion_tokens,
                latency,
                ttft_ms=resp.ttft_ms,
                output_tokens_per_s=resp.output_tokens_per_s,
            )
            return dataclasses.replace(resp, latency_ms=latency, cached=False)

        tries = 0

        def counted() -> Awaitable[ChatResponse]:
            nonlocal tries
            tries += 1
            return call()

        try:
            resp = await self._retrying(req.model, counted)
        except BudgetExceededError as exc:
            raise _counted(exc, tries, max(tries - 1, 0)) from None
        except InferenceError as exc:
            raise _Failed(exc, max(tries, 1)) from None
        return resp, tries

    def _account(
        self,
        model: str,
        cost: float,
        prompt: int,
        completion: int,
        latency_ms: float,
        *,
        ttft_ms: float | None = None,
        output_tokens_per_s: float | None = None,
    ) -> None:
        """Add one answered call's spend, tokens and latency (and, for a streamed call, its
        time to first token and output speed) to the run's totals."""
        with self._lock:
            self._spent += cost
            st = self._model_stats(model)
            st.prompt_tokens += prompt
            st.completion_tokens += completion
            st.cost_usd += cost
            st.latencies_ms.append(latency_ms)
            if ttft_ms is not None:
                st.ttfts_ms.append(ttft_ms)
            if output_tokens_per_s is not None:
                st.output_tokens_per_s.append(output_tokens_per_s)

    async def _retrying(self, model: str, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            # The process's bound, then the run's (a slot of the controller's limiter under
            # xdist; nothing to take in one process).
            async with self._sem, self.limiter.slot():
                with self._lock:
                    self._check_budget(model)
                    self._model_stats(model).calls += 1
                try:
                    return await call()
                except InferenceError as exc:
                    error: InferenceError = exc
                except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # a provider bug must not kill the loop
                    error = InferenceError(
                        f"model {model!r}: {type(exc).__name__}: {scrub(str(exc))}"
                    )
            if not self.retry.should_retry(error, attempt):
                raise error
            delay = self.retry.delay(attempt, error)
            with self._lock:
                self._model_stats(model).retries += 1
            logger.info(
                "model %r: %s; retry %d/%d in %.3gs",
                model,
                type(error).__name__,
                attempt,
                self.retry.max_retries,
                delay,
            )
            # Backoff happens outside the semaphore so waiting does not hold a call slot.
            await asyncio.sleep(delay)


class _Failed(Exception):
    """A model's attempts ran out; carries the last error and the attempt count."""

    def __init__(self, error: InferenceError, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


def _meter(resp: ChatResponse, joined: bool) -> None:
    """Count an answer in the caller's meter, as a target's answer counts in its case: with
    its tokens and cost as recorded, and as cached when it came from the cache or joined an
    identical call made before (the provider answered neither this time)."""
    u = resp.usage
    record_call(
        resp.model,
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.total_tokens,
        cost_usd=resp.cost_usd,
        cached=resp.cached or joined,
        retries=0 if joined else resp.retries,
        latency_ms=resp.latency_ms,
        unpriced=unknown_cost(resp.cost_note) is not None,
    )


def _meter_failure(req: ChatRequest, exc: InferenceError, joined: bool) -> None:
    """A failed call counts in the meter for the attempts the provider answered."""
    retries = 0 if joined else int(getattr(exc, "retries", 0) or 0)
    if retries:
        record_call(req.model, retries=retries)


def _counted(
    error: InferenceError, attempts: int, retries: int, model: str | None = None
) -> InferenceError:
    """Mark a failed call's error with the provider attempts and retries it cost (and the
    model asked), as attributes ``attempts``, ``retries`` and ``model``.

    An errored case reports them (``CaseResult.retries``): the server answered each attempt.
    """
    # Set as plain attributes: every InferenceError subclass carries them this way.
    setattr(error, "attempts", attempts)  # noqa: B010
    setattr(error, "retries", retries)  # noqa: B010
    if model is not None:
        setattr(error, "model", model)  # noqa: B010
    return error


def _combine(failures: Sequence[InferenceError]) -> InferenceError:
    """The primary model's error, naming what each fallback answered."""
    first = failures[0]
    if len(failures) == 1:
        return first
    rest = "; ".join(str(f) for f in failures[1:])
    message = f"{first} (fallbacks failed too: {rest})"
    if isinstance(first, RateLimitError):
        return RateLimitError(message, first.retry_after)
    try:
        return type(first)(message)
    except TypeError:
        return InferenceError(message)


def _settle(
    fut: concurrent.futures.Future[ChatResponse],
    *,
    result: ChatResponse | None = None,
    exc: BaseException | None = None,
) -> None:
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            assert result is not None
            fut.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass  # the caller cancelled it or cancel_pending settled it first


def _is_local(model: str) -> bool:
    """``hf:PATH`` models generate in-process: an empty generation is an answer, not a fault."""
    return model.startswith("hf:")


def _sent_to_answered(reported_ms: float, measured_ms: float) -> float:
    """A call's latency: from when its request was sent to when its answer was back.

    The provider's own timing when it has one (``reported_ms`` above 0): it starts at the
    send, after whatever the provider did first (a lazy client set-up, waiting for the
    litellm worker, the pipe to it), which is no part of the call. Never more than the
    engine saw (``measured_ms``), which is the latency of a provider that times nothing.
    """
    return reported_ms if 0.0 < reported_ms <= measured_ms else measured_ms


async def _within(pending: Awaitable[T], timeout: float | None, what: str) -> T:
    """Await a provider call, as a CallTimeoutError (``what`` within N s) past ``timeout``."""
    if timeout is None:
        return await pending
    try:
        return await asyncio.wait_for(pending, timeout)
    except asyncio.TimeoutError:
        raise CallTimeoutError(f"{what} within the {timeout:g}s timeout") from None
