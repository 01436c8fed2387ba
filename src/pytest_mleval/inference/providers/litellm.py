"""The litellm backend: its one-time offline import, its errors mapped onto the package's,
its cost, and :class:`LiteLLMProvider` (any provider litellm reaches, in this process).

A request whose params say ``stream: true`` is streamed: the chunks are assembled into one
answer (text, finish reason, usage, tool calls merged from their indexed deltas) and the
call's time to first token, inter-token latency and output tokens/s are measured.

A provider makes exactly one attempt per call and raises the package's own errors; the
engine owns caching, retries, rate limits and fallbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import (
    AuthenticationError,
    InferenceError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
    TimeoutError,
)
from ..scrubbing import scrub
from ..types import ChatRequest, ChatResponse, Usage
from .base import EmbeddingVectors, reply_text, retry_after_seconds, unusable_reply
from .costmap import unpriced_note
from .streaming import StreamAssembly, streamed_response

__all__ = [
    "LiteLLMProvider",
    "import_litellm",
    "litellm_import_seconds",
    "map_litellm_error",
    "warm_litellm",
]

logger = logging.getLogger("pytest_mleval.inference")


class _ScrubFilter(logging.Filter):
    """Scrubs keys from litellm's own log records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left to logging's own error handling
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_LITELLM: Any = None
_IMPORT_SECONDS: float | None = None


def import_litellm() -> Any:
    """Import litellm once per process, offline: local cost map, no telemetry, keys scrubbed.

    Raises:
        MissingDependencyError: litellm is not installed.
    """
    global _LITELLM, _IMPORT_SECONDS
    if _LITELLM is not None:
        return _LITELLM
    # Must precede the import: otherwise litellm fetches its cost map from the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # litellm's import trips pydantic schema warnings that users cannot act on.
            warnings.simplefilter("ignore")
            import litellm
    except ImportError as exc:
        raise MissingDependencyError("litellm", "llm", "model targets") from exc
    _IMPORT_SECONDS = time.perf_counter() - start
    # litellm's lazily imported modules trip this pydantic warning on the first call.
    warnings.filterwarnings(
        "ignore", message=r".*using the `ReadOnly` qualifier", category=UserWarning
    )
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).addFilter(_ScrubFilter())
    _LITELLM = litellm
    return litellm


_WARMED = False

# litellm's lists of callbacks: a run that set one gets no warm-up call, which it would log.
_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "service_callback",
    "_async_input_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


def warm_litellm(litellm: Any) -> None:
    """Make one mock completion (no request leaves the process), once per process.

    litellm's first call sets up what its import left for later (modules, its logging):
    about 0.1 s that would otherwise be the first timed call's latency. Skipped when litellm
    has callbacks (a conftest's logging or billing hooks): they would record a call never
    made. Any failure is ignored: the first real call then pays the set-up, as before.
    """
    global _WARMED
    if _WARMED:
        return
    _WARMED = True
    if any(getattr(litellm, name, None) for name in _CALLBACK_LISTS):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            litellm.completion(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "."}],
                mock_response=".",
                max_tokens=1,
                num_retries=0,
                max_retries=0,
            )
    except Exception:  # only an optimisation
        logger.debug("litellm's warm-up call failed", exc_info=True)


def litellm_import_seconds() -> float | None:
    """How long this process took to import litellm (``None`` if it has not)."""
    return _IMPORT_SECONDS


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
    return retry_after_seconds(headers)


_PREFIX = re.compile(r"^(litellm\.\w+:\s*)?(\w+Error:\s*)?")


def map_litellm_error(
    exc: BaseException, model: str, secrets: Sequence[str | None] = ()
) -> InferenceError:
    """Translate a litellm/openai exception into the package's error tree (message scrubbed)."""
    name = type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    detail = scrub(_PREFIX.sub("", str(exc)).strip(), secrets) or name
    # litellm puts a whole traceback (and the raw reply) into some messages: one line is kept.
    detail = detail.split("Traceback (most recent call last)")[0].strip() or name
    where = f"model {model!r}"
    if "RateLimitError" in names:
        return RateLimitError(f"{where}: rate limited (429): {detail}", _retry_after(exc))
    if "Timeout" in names or "APITimeoutError" in names or isinstance(exc, asyncio.TimeoutError):
        return TimeoutError(f"{where}: timed out: {detail}")
    # The OpenAI SDK's missing-key error reaches litellm as a 500: no retry brings a key.
    missing_key = "Missing credentials" in str(exc) or "api_key client option" in str(exc)
    if "AuthenticationError" in names or "PermissionDeniedError" in names or missing_key:
        return AuthenticationError(
            f"{where}: authentication failed ({status or 401}): {detail}; "
            "check the API key for this provider (it is not shown here)"
        )
    if "NotFoundError" in names:
        return InferenceError(f"{where}: not found (404): {detail}")
    if "BadRequestError" in names and "LLM Provider NOT provided" in str(exc):
        return InferenceError(
            f"unknown model id {model!r}: litellm cannot tell its provider; "
            "write PROVIDER/MODEL (e.g. openai/gpt-4o-mini, ollama/llama3) or hf:PATH"
        )
    if names & {"BadRequestError", "UnprocessableEntityError", "UnsupportedParamsError"}:
        return InferenceError(f"{where}: request rejected ({status or 400}): {detail}")
    if "Invalid response object" in str(exc):
        # litellm could not read the reply as a completion (e.g. content that is not text).
        return ProviderError(f"{where}: unusable reply: not a valid completion: {detail}")
    if names & {
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "BadGatewayError",
        "APIResponseValidationError",
    }:
        return ProviderError(f"{where}: provider error ({status or 'connection'}): {detail}")
    if isinstance(status, int):
        if status in (408, 409) or status >= 500:
            return ProviderError(f"{where}: provider error ({status}): {detail}")
        return InferenceError(f"{where}: request failed ({status}): {detail}")
    if "APIError" in names or isinstance(exc, (ConnectionError, OSError)):
        return ProviderError(f"{where}: provider error: {detail}")
    return InferenceError(f"{where}: {name}: {detail}")


_UNPRICED: set[str] = set()


def _register_zero_price(litellm: Any, model: str) -> None:
    """Give an unpriced model a zero price in this process's copy of litellm's cost map.

    litellm searches its cost map (and guesses at similar models) on every call to a model
    it cannot price: about 2-3 ms of CPU per call, a third of its per-call cost. Once we know
    the model is unpriced, a zero entry ends that search; the call's note still says so.
    """
    try:
        litellm.get_model_info(model)
        return  # it has a price after all (the cost failed for another reason): keep it
    except Exception:  # litellm raises when its map has no entry: go on
        pass
    entry = {
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        # Named so that litellm does not warn that they default to 0.
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
        "mode": "chat",
    }
    try:
        # Only the price: the key must not change how litellm resolves providers.
        litellm.register_model({model: entry}, add_to_provider_model_sets=False)
    except TypeError:  # litellm before that keyword
        with contextlib.suppress(Exception):
            litellm.register_model({model: entry})
    except Exception:  # a price is an optimisation here, never worth failing a call
        logger.debug("could not register a zero price for %r", model, exc_info=True)


class _ZeroRetries(int):
    """Zero retries that still reads as given.

    litellm's OpenAI embedding takes ``max_retries or 2``, so a plain 0 lets the OpenAI client
    retry inside the call, unseen (and uncounted) by the engine, whose policy owns retries.
    """

    def __bool__(self) -> bool:
        return True


_NO_RETRIES = _ZeroRetries(0)


def _cost(litellm: Any, response: Any, model: str) -> tuple[float, str | None]:
    unpriced = unpriced_note(model)
    if model in _UNPRICED:
        return 0.0, unpriced
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # unmapped model, odd usage: litellm raises many kinds
            cost = None
    if cost is None:
        _UNPRICED.add(model)
        _register_zero_price(litellm, model)
        return 0.0, unpriced
    return float(cost), None


def _tokens_cost(
    litellm: Any, model: str, prompt: int, completion: int
) -> tuple[float, str | None]:
    """The cost of a streamed call from its token counts (litellm's offline cost map).

    A stream has no completion object for ``completion_cost``; ``cost_per_token`` prices
    the same counts the same way.
    """
    unpriced = unpriced_note(model)
    if model in _UNPRICED:
        return 0.0, unpriced
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt, completion_tokens=completion
        )
        return float(prompt_cost) + float(completion_cost), None
    except Exception:  # unmapped model: litellm raises many kinds
        _UNPRICED.add(model)
        _register_zero_price(litellm, model)
        return 0.0, unpriced


class LiteLLMProvider:
    """Any litellm provider, including OpenAI-compatible servers given by ``api_base``.

    Args:
        api_key: default key for calls whose request has none (else the provider's env vars).
        extra: extra keyword arguments for every ``litellm.acompletion`` call.
    """

    def __init__(self, *, api_key: str | None = None, extra: Mapping[str, Any] | None = None):
        self.api_key = api_key
        self.extra = dict(extra or {})

    def prepare(self, model: str) -> None:
        """Import litellm and make its first (mock) call: seconds, which the engine spends
        once, in a worker thread, before any call is timed."""
        warm_litellm(import_litellm())

    def supports_response_schema(self, model: str) -> bool:
        """Whether litellm's model map says ``model`` takes a JSON schema."""
        try:
            return bool(import_litellm().supports_response_schema(model=model))
        except Exception:  # unknown models raise: they do not support it
            return False

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """One ``litellm.acompletion`` attempt (litellm's own retries off)."""
        litellm = import_litellm()
        api_key = req.api_key or self.api_key
        kwargs: dict[str, Any] = {**self.extra, **req.params}
        kwargs.update(model=req.model, messages=[dict(m) for m in req.messages])
        # Our engine retries; litellm and the OpenAI SDK must not retry a second time.
        kwargs.update(num_retries=0, max_retries=0)
        if req.api_base:
            kwargs["api_base"] = req.api_base
        if api_key:
            kwargs["api_key"] = api_key
        if req.tools is not None:
            kwargs["tools"] = [dict(t) for t in req.tools]
        if req.timeout is not None:
            kwargs["timeout"] = req.timeout
        if req.params.get("stream") is True:
            return await self._acomplete_stream(litellm, kwargs, req, api_key)
        start = time.perf_counter()
        try:
            resp = await litellm.acompletion(**kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise map_litellm_error(exc, req.model, [api_key]) from None
        latency_ms = (time.perf_counter() - start) * 1000.0
        choices = getattr(resp, "choices", None) or ()
        if not choices:
            raise ProviderError(f"model {req.model!r}: unusable reply: it has no choices")
        try:
            choice = choices[0]
            message = choice.message
            tool_calls = tuple(
                t.model_dump() if hasattr(t, "model_dump") else dict(t)
                for t in (getattr(message, "tool_calls", None) or ())
            )
        except (AttributeError, IndexError, TypeError) as exc:
            raise ProviderError(f"model {req.model!r}: malformed reply: {exc}") from None
        finish_reason = getattr(choice, "finish_reason", None)
        text = reply_text(message)
        problem = unusable_reply(text, tool_calls, finish_reason)
        if problem is not None:
            # Retryable: an empty or null answer is a provider hiccup, never an answer to keep.
            raise ProviderError(f"model {req.model!r}: unusable reply: {problem}")
        raw_usage = getattr(resp, "usage", None)
        prompt = int(getattr(raw_usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(raw_usage, "completion_tokens", 0) or 0)
        usage = Usage(
            prompt,
            completion,
            int(getattr(raw_usage, "total_tokens", 0) or 0) or prompt + completion,
        )
        cost, note = _cost(litellm, resp, req.model)
        return ChatResponse(
            text=text or "",  # a tool-call step carries no text
            model=req.model,
            usage=usage,
            cost_usd=cost,
            cost_note=note,
            latency_ms=latency_ms,
            finish_reason=finish_reason,
            tool_calls=tool_calls,
            client="litellm",
        )

    async def _acomplete_stream(
        self, litellm: Any, kwargs: dict[str, Any], req: ChatRequest, api_key: str | None
    ) -> ChatResponse:
        """One streamed ``litellm.acompletion`` attempt, assembled and timed."""
        options = kwargs.get("stream_options")
        # The usage chunk gives the token counts (and so the cost) a stream otherwise lacks.
        kwargs["stream_options"] = {
            **(options if isinstance(options, Mapping) else {}),
            "include_usage": True,
        }
        kwargs["stream"] = True
        acc = StreamAssembly()
        start = time.perf_counter()
        try:
            stream = await litellm.acompletion(**kwargs)
            async for chunk in stream:
                acc.add(chunk, time.perf_counter())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Mid-stream failures too (a dropped connection, a chunk that is not JSON): litellm
            # raises them from the iteration, mapped like any other error (retryable or not).
            raise map_litellm_error(exc, req.model, [api_key]) from None
        return streamed_response(
            acc,
            model=req.model,
            start=start,
            end=time.perf_counter(),
            client="litellm",
            price=lambda usage, _raw: _tokens_cost(
                litellm, req.model, usage.prompt_tokens, usage.completion_tokens
            ),
        )

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """One ``litellm.aembedding`` attempt."""
        litellm = import_litellm()
        # No retries inside litellm or the OpenAI client: the engine's policy retries, counts
        # and bounds them.
        kwargs: dict[str, Any] = {
            "model": model,
            "input": list(texts),
            "num_retries": 0,
            "max_retries": _NO_RETRIES,
        }
        if api_base:
            kwargs["api_base"] = api_base
        key = api_key or self.api_key
        if key:
            kwargs["api_key"] = key
        try:
            resp = await litellm.aembedding(**kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise map_litellm_error(exc, model, [key]) from None
        rows = sorted(resp.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        out = EmbeddingVectors(
            list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in rows
        )
        usage = getattr(resp, "usage", None)
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if tokens is None:
            tokens = getattr(usage, "prompt_tokens", 0)
        out.prompt_tokens = int(tokens or 0)
        out.cost_usd, _ = _cost(litellm, resp, model)
        return out
