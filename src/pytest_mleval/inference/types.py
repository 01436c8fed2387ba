"""Typed records of the inference layer: requests, responses, the cache key, usage statistics."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "ModelStats",
    "Usage",
    "cache_key",
    "canonical_json",
    "percentile",
]

_CACHE_KEY_VERSION = 1


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make.

    Attributes:
        model: litellm model id (``openai/gpt-4o-mini``, ``ollama/llama3``) or ``hf:PATH``.
        messages: OpenAI-style messages (``role`` / ``content`` dicts).
        params: generation parameters passed through (``temperature``, ``max_tokens``, ...).
        api_base: endpoint of an OpenAI-compatible server; ``None`` uses the provider default.
        tools: OpenAI-style tool definitions, if any.
        timeout: per-call timeout in seconds; ``None`` takes the engine's default.
        fallbacks: models tried in order when this one fails after its retries.
        sample: sample index (e.g. the repeat): identical requests with different samples are
            distinct calls and cache entries, so repeats are real samples, not one answer reused.
        api_key: credentials for this call; never part of the cache key, ``repr`` or the cache.
    """

    model: str
    messages: Sequence[Mapping[str, Any]]
    params: Mapping[str, Any] = field(default_factory=dict)
    api_base: str | None = None
    tools: Sequence[Mapping[str, Any]] | None = None
    timeout: float | None = None
    fallbacks: Sequence[str] = ()
    sample: int = 0
    api_key: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples: the record stays immutable and shareable.
        object.__setattr__(self, "messages", tuple(dict(m) for m in self.messages))
        object.__setattr__(self, "params", dict(self.params))
        if self.tools is not None:
            object.__setattr__(self, "tools", tuple(dict(t) for t in self.tools))
        object.__setattr__(self, "fallbacks", tuple(self.fallbacks))

    @classmethod
    def from_prompt(
        cls, model: str, prompt: str, *, system: str | None = None, **kwargs: Any
    ) -> ChatRequest:
        """Build a request from a user prompt and an optional system message."""
        messages: list[dict[str, Any]] = []
        if system is not None:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        return cls(model=model, messages=tuple(messages), **kwargs)

    def with_model(self, model: str) -> ChatRequest:
        """The same request for another model (used for fallbacks), without fallbacks."""
        return ChatRequest(
            model=model,
            messages=self.messages,
            params=self.params,
            api_base=self.api_base,
            tools=self.tools,
            timeout=self.timeout,
            sample=self.sample,
            api_key=self.api_key,
        )

    def estimated_tokens(self) -> int:
        """A rough upper estimate of the tokens the call uses, for tokens/min limits."""
        chars = sum(len(str(m.get("content", ""))) for m in self.messages)
        max_tokens = self.params.get("max_tokens") or self.params.get("max_completion_tokens")
        return chars // 4 + 1 + int(max_tokens if max_tokens else 256)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace; non-JSON values are written with ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(req: ChatRequest) -> str:
    """SHA-256 of everything that changes the answer: model, messages, params, tools, api_base.

    The API key, timeout and fallbacks are left out: they change whether a call succeeds, not
    what a successful call answers.
    """
    payload = {
        "v": _CACHE_KEY_VERSION,
        "model": req.model,
        "messages": list(req.messages),
        "params": req.params,
        "tools": list(req.tools) if req.tools is not None else None,
        "api_base": (req.api_base or "").rstrip("/") or None,
        "sample": req.sample,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(frozen=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as the plain dict results files carry."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


UNPRICED_TAIL = ": cost counted as 0"
"""How the note of a call whose model has no price ends (its cost is unknown, not 0)."""


def unknown_cost(note: str | None) -> str | None:
    """Why a call's cost is unknown, from its ``cost_note`` (``None``: the cost is known).

    A model without a price is counted as 0 in the totals; a metric must not read that 0 as
    the cost (a ``cost_usd`` budget would pass everything). Cached answers keep their note,
    so a replay knows as well.
    """
    if note and note.endswith(UNPRICED_TAIL):
        return note[: -len(UNPRICED_TAIL)]
    return None


@dataclass(frozen=True)
class ChatResponse:
    """The answer to a :class:`ChatRequest`.

    Attributes:
        text: the assistant message's text.
        model: the model that actually answered (a fallback's id when one was used).
        usage: token counts.
        cost_usd: cost from litellm's offline cost map (0 when the model is not in it).
        cost_note: why the cost is 0 or approximate, if it is.
        latency_ms: wall time of the successful call (of the recorded call, for cache hits).
        cached: answered from the cache, not the provider.
        attempts: provider calls made for this answer, all models included (0 for cache hits).
        retries: attempts beyond the first per model.
        fallback_used: the fallback model that answered, ``None`` for the primary.
        finish_reason: the provider's finish reason (``stop``, ``length``, ...).
        tool_calls: tool calls the model asked for, as OpenAI-style dicts.
        client: which client made the call (``native``, ``litellm``, ``local``), for the record.
        ttft_ms: time to the first content token of a streamed call (``None`` unstreamed);
            a cached answer keeps the recorded call's.
        itl_ms: mean time between content chunks after the first (streamed calls).
        output_tokens_per_s: completion tokens per second after the first token (streamed).
    """

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_note: str | None = None
    latency_ms: float = 0.0
    cached: bool = False
    attempts: int = 1
    retries: int = 0
    fallback_used: str | None = None
    finish_reason: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    client: str | None = None
    ttft_ms: float | None = None
    itl_ms: float | None = None
    output_tokens_per_s: float | None = None

    def to_cache(self) -> dict[str, Any]:
        """The fields worth keeping in the cache: the answer, never headers or credentials."""
        return {
            "text": self.text,
            "model": self.model,
            "usage": self.usage.as_dict(),
            "cost_usd": self.cost_usd,
            "cost_note": self.cost_note,
            "latency_ms": self.latency_ms,
            "finish_reason": self.finish_reason,
            "tool_calls": [dict(t) for t in self.tool_calls],
            "client": self.client,
            "ttft_ms": self.ttft_ms,
            "itl_ms": self.itl_ms,
            "output_tokens_per_s": self.output_tokens_per_s,
        }

    @classmethod
    def from_cache(cls, data: Mapping[str, Any]) -> ChatResponse:
        """Rebuild a cached answer (marked ``cached``, no attempts)."""
        usage = data.get("usage") or {}
        return cls(
            text=str(data["text"]),
            model=str(data["model"]),
            usage=Usage(**{k: int(usage.get(k, 0)) for k in Usage.__dataclass_fields__}),
            cost_usd=float(data.get("cost_usd") or 0.0),
            cost_note=data.get("cost_note"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            cached=True,
            attempts=0,
            retries=0,
            finish_reason=data.get("finish_reason"),
            tool_calls=tuple(data.get("tool_calls") or ()),
            client=data.get("client"),
            ttft_ms=_opt_float(data.get("ttft_ms")),
            itl_ms=_opt_float(data.get("itl_ms")),
            output_tokens_per_s=_opt_float(data.get("output_tokens_per_s")),
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as ``numpy.percentile``'s default.

    Returns ``nan`` for an empty sequence.
    """
    if not values:
        return math.nan
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass
class ModelStats:
    """Usage totals of one model over a run.

    ``requests`` counts answers asked for, ``calls`` provider attempts (retries included),
    ``cost_usd`` what this run spent (cache hits cost nothing again) and ``latencies_ms`` the
    latency of each successful provider call. ``ttfts_ms`` and ``output_tokens_per_s`` hold
    the time to first token and the output speed of each successful streamed call this run
    made (answers from the cache keep their recorded timings but are not measured again here).
    """

    requests: int = 0
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ttfts_ms: list[float] = field(default_factory=list)
    output_tokens_per_s: list[float] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def latency_percentiles(self) -> dict[str, float]:
        """p50, p95 and p99 of the call latencies in milliseconds (``nan`` without calls)."""
        return {f"p{q}": percentile(self.latencies_ms, q) for q in (50, 95, 99)}

    def ttft_percentiles(self) -> dict[str, float]:
        """p50, p95 and p99 of the streamed calls' time to first token in milliseconds
        (``nan`` without streamed calls)."""
        return {f"p{q}": percentile(self.ttfts_ms, q) for q in (50, 95, 99)}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (latency and TTFT percentiles instead of the raw lists).

        ``streamed`` counts the streamed calls measured; ``ttft_ms`` holds their p50/p95/p99
        and ``output_tokens_per_s`` their mean output speed (``None`` without any).
        """
        speeds = self.output_tokens_per_s
        return {
            "requests": self.requests,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "errors": self.errors,
            "fallbacks": self.fallbacks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "latency_ms": {
                k: (None if math.isnan(v) else v) for k, v in self.latency_percentiles().items()
            },
            "streamed": len(self.ttfts_ms),
            "ttft_ms": {
                k: (None if math.isnan(v) else v) for k, v in self.ttft_percentiles().items()
            },
            "output_tokens_per_s": sum(speeds) / len(speeds) if speeds else None,
        }
