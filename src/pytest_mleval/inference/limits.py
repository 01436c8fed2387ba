"""Rate limits (token buckets per model) and the retry policy (backoff with full jitter)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError, InferenceError, RateLimitError

__all__ = ["RateLimiter", "RetryPolicy", "TokenBucket"]


class TokenBucket:
    """An async token bucket refilled continuously at ``rate_per_minute``.

    Waiters are served first come, first served: one waiter at a time holds the lock while it
    sleeps for its tokens, so a large request is never starved by a stream of small ones.

    Args:
        rate_per_minute: tokens added per minute (requests or LLM tokens).
        capacity: the most tokens the bucket holds (the burst); defaults to one minute's worth.
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        rate_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0:
            raise ConfigError(f"a rate limit must be positive, got {rate_per_minute}")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        self.tokens = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` tokens are available (0 when they are now)."""
        self._refill()
        need = min(amount, self.capacity) - self.tokens
        return max(0.0, need / self.rate)

    async def acquire(self, amount: float = 1.0) -> float:
        """Take ``amount`` tokens (capped at the capacity), waiting as needed; returns the wait."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        waited = 0.0
        async with self._lock:
            while (delay := self.wait_time(amount)) > 0:
                await asyncio.sleep(delay)
                waited += delay
            self.tokens -= min(amount, self.capacity)
        return waited

    def adjust(self, delta: float) -> None:
        """Charge ``delta`` more tokens (negative refunds) once the true usage is known."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens - delta)


@dataclass
class RateLimiter:
    """Requests/min and tokens/min buckets per model.

    Args:
        limits: ``{model: (requests_per_minute, tokens_per_minute)}``; either may be ``None``.
    """

    limits: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    _buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    def _for(self, model: str) -> tuple[TokenBucket | None, TokenBucket | None]:
        if model not in self._buckets:
            rpm, tpm = self.limits.get(model, (None, None))
            self._buckets[model] = (
                TokenBucket(rpm) if rpm else None,
                TokenBucket(tpm) if tpm else None,
            )
        return self._buckets[model]

    async def acquire(self, model: str, tokens: int) -> float:
        """Wait for one request and ``tokens`` estimated tokens of ``model``; returns the wait."""
        requests, token_bucket = self._for(model)
        waited = 0.0
        if requests is not None:
            waited += await requests.acquire(1)
        if token_bucket is not None:
            waited += await token_bucket.acquire(tokens)
        return waited

    def settle(self, model: str, estimated: int, actual: int) -> None:
        """Correct the tokens/min bucket with the call's true token count."""
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
