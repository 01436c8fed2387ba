"""What the model calls made inside a block used: a meter its caller opens.

A case's own usage is its target's (the target's output reports it). The calls its metrics
make (judges, API embedders) are the run's spend too, so the session opens a meter around a
case's scoring and the engine adds every call answered to the caller inside it: the case's
record then carries them per model, and the usage people read (terminal, Markdown, HTML)
counts them, under xdist too (the record travels from the worker; the engine's own summary
only knows its process's calls). The meter lives in a context variable, so calls made on
other threads (the look-ahead's target calls) never land in it; a thread pool that should
count must run its work in a copy of the caller's context.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallMeter", "ModelUse", "metering", "record_call"]


@dataclass
class ModelUse:
    """One model's calls inside a meter."""

    calls: int = 0
    """Calls answered (from the provider or the cache)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    cached: int = 0
    """Of the calls, those answered from the cache."""
    retries: int = 0
    """Provider attempts beyond the first, failed calls' included."""
    latencies_ms: list[float] = field(default_factory=list)
    """Wall time of each answered call."""
    unpriced: int = 0
    """Of the calls, those to a model with no price (their cost counted as 0)."""

    def as_dict(self) -> dict[str, Any]:
        """The plain dict a results record carries."""
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "cached": self.cached,
            "retries": self.retries,
            "latencies_ms": list(self.latencies_ms),
            "unpriced": self.unpriced,
        }


class CallMeter:
    """Model calls per model, added from any thread running in the meter's context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.models: dict[str, ModelUse] = {}

    def add(
        self,
        model: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        total_tokens: int | None = None,
        cost_usd: float = 0.0,
        cached: bool = False,
        retries: int = 0,
        latency_ms: float | None = None,
        unpriced: bool = False,
    ) -> None:
        """Add one call (``latency_ms=None``: a call that failed, counted for its retries;
        ``unpriced``: its model has no price, so its cost is unknown, not 0)."""
        with self._lock:
            use = self.models.setdefault(model, ModelUse())
            if latency_ms is not None:
                use.calls += 1
                use.latencies_ms.append(float(latency_ms))
            use.prompt_tokens += prompt_tokens
            use.completion_tokens += completion_tokens
            use.total_tokens += (
                prompt_tokens + completion_tokens if total_tokens is None else total_tokens
            )
            use.cost_usd += cost_usd
            use.cached += int(cached)
            use.retries += retries
            use.unpriced += int(unpriced)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Model -> its use, as a results record carries it (models in name order)."""
        with self._lock:
            return {m: self.models[m].as_dict() for m in sorted(self.models)}


_METER: contextvars.ContextVar[CallMeter | None] = contextvars.ContextVar(
    "pytest_mleval_call_meter", default=None
)


@contextlib.contextmanager
def metering() -> Iterator[CallMeter]:
    """Count the model calls made in this block (and in copies of its context) in a new meter.

    Meters nest: a call counts in the innermost open one only.
    """
    meter = CallMeter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def record_call(model: str, **use: Any) -> None:
    """Add a call to the open meter, if any (see :meth:`CallMeter.add`)."""
    meter = _METER.get()
    if meter is not None:
        meter.add(model, **use)
