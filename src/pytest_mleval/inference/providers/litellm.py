"""Providers: the protocol, the litellm backend, a router for ``hf:`` ids, and a scripted fake.

A provider makes exactly one attempt per call and raises the package's own errors; the
engine owns caching, retries, rate limits and fallbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ...errors import (
    AuthenticationError,
    InferenceError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
    TimeoutError,
)
from ..types import ChatRequest, ChatResponse, Usage

__all__ = [
    "AutoProvider",
    "FakeProvider",
    "LiteLLMProvider",
    "Provider",
    "import_litellm",
    "litellm_import_seconds",
    "map_litellm_error",
    "reply_text",
    "scrub",
    "unusable_reply",
]

logger = logging.getLogger("pytest_mleval.inference")


@runtime_checkable
class Provider(Protocol):
    """Makes one model call; raises :class:`~pytest_mleval.errors.InferenceError` subclasses."""

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Answer one chat request (a single attempt, no retries)."""

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """Embed ``texts`` with ``model``; one vector per text.

        A provider that knows the call's usage returns :class:`EmbeddingVectors`, which the
        engine accounts (tokens, cost, budget); a plain list counts as free.
        """


class EmbeddingVectors(list[list[float]]):
    """The vectors of one embedding call, carrying what it used, for the engine's accounting.

    Attributes:
        prompt_tokens: the tokens the provider counted (0 when it reports none).
        cost_usd: what the call cost (0 for a model litellm has no price for).
    """

    prompt_tokens: int = 0
    cost_usd: float = 0.0


# --------------------------------------------------------------------------- secrets

_KEY_PATTERNS = (
    (re.compile(r"sk-[A-Za-z0-9_\-*]{4,}"), "sk-***"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.=+/]{8,}"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:api[_-]?key|x-api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
        ),
        r"\1***",
    ),
)
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


def _env_secrets() -> list[str]:
    return [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8]


def scrub(text: str, secrets: Sequence[str | None] = ()) -> str:
    """Remove API keys from a message: the given secrets, key-like env values, ``sk-...`` shapes."""
    for secret in [*secrets, *_env_secrets()]:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, repl in _KEY_PATTERNS:
        text = pattern.sub(repl, text)
    return text


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


# --------------------------------------------------------------------------- litellm

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


def litellm_import_seconds() -> float | None:
    """How long this process took to import litellm (``None`` if it has not)."""
    return _IMPORT_SECONDS


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


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
    if "AuthenticationError" in names or "PermissionDeniedError" in names:
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
    unpriced = f"model {model!r} is not in litellm's cost map: cost counted as 0"
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


def reply_text(message: Any) -> str | None:
    """The text of an assistant message, or ``None`` when it holds none.

    ``content`` may be a string, a list of OpenAI content parts (only ``text`` parts count) or
    missing; a refusal (``refusal``, with no content) is the model's answer, so its text counts.
    """

    def get(key: str) -> Any:
        if isinstance(message, Mapping):
            return message.get(key)
        return getattr(message, key, None)

    content = get("content")
    if isinstance(content, list):
        parts = [
            str(p.get("text"))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in ("text", "output_text") and p.get("text")
        ]
        content = "".join(parts) if parts else None
    if content is None:
        refusal = get("refusal")
        content = refusal if isinstance(refusal, str) and refusal.strip() else None
    return content if isinstance(content, str) else None


def unusable_reply(
    text: str | None, tool_calls: Sequence[Any] = (), finish_reason: str | None = None
) -> str | None:
    """Why a reply is no answer (``None`` when it is one).

    A reply is usable when it has text that is not blank, or tool calls (an agent's step).
    """
    if tool_calls:
        return None
    why = None
    if text is None:
        why = "no text content (content is null or not text)"
    elif not text.strip():
        why = "empty content"
    if why is not None and finish_reason and finish_reason != "stop":
        why += f" (finish_reason {finish_reason!r})"
    return why


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
        """Import litellm (seconds; the engine runs this once, in a worker thread)."""
        import_litellm()

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


class AutoProvider:
    """Routes ``hf:PATH`` ids to a local Hugging Face model and everything else to litellm.

    Args:
        litellm_provider: the litellm backend: :class:`LiteLLMProvider` (in this process, the
            default) or :class:`~.worker.LiteLLMWorkerProvider` (in a worker process).
    """

    def __init__(self, litellm_provider: Any = None) -> None:
        self.litellm = litellm_provider or LiteLLMProvider()
        self._local: dict[str, Any] = {}

    def _route(self, model: str) -> Any:
        if not model.startswith("hf:"):
            return self.litellm
        if model not in self._local:
            from .local import HFLocalProvider

            self._local[model] = HFLocalProvider(model[3:])
        return self._local[model]

    def prepare(self, model: str) -> None:
        """Import litellm or load the local model before the first timed call."""
        self._route(model).prepare(model)

    def supports_response_schema(self, model: str) -> bool:
        """Whether ``model`` takes a JSON schema as ``response_format`` (local models: no)."""
        if model.startswith("hf:"):
            return False
        return bool(self.litellm.supports_response_schema(model))

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Answer through the backend for ``req.model``."""
        response: ChatResponse = await self._route(req.model).acomplete(req)
        return response

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """Embed through the backend for ``model``."""
        vectors: list[list[float]] = await self._route(model).aembed(
            model, texts, api_base=api_base, api_key=api_key
        )
        return vectors


class FakeProvider:
    """A scripted provider for unit tests of the engine (no network, no litellm).

    Args:
        reply: answer text, or a callable of the request (default: echo the last message).
        latency_s: simulated call time.
        cost_usd: cost of each successful call.
        failures: per model, exceptions raised by its first calls, in order.
    """

    def __init__(
        self,
        reply: str | Callable[[ChatRequest], str] | None = None,
        *,
        latency_s: float = 0.0,
        cost_usd: float = 0.0,
        failures: Mapping[str, Sequence[BaseException]] | None = None,
    ) -> None:
        self.reply = reply
        self.latency_s = latency_s
        self.cost_usd = cost_usd
        self.failures = {m: list(errs) for m, errs in (failures or {}).items()}
        self.calls: list[ChatRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Record the call, wait ``latency_s``, then fail as scripted or answer."""
        self.calls.append(req)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        pending = self.failures.get(req.model)
        if pending:
            raise pending.pop(0)
        if callable(self.reply):
            text = self.reply(req)
        elif self.reply is not None:
            text = self.reply
        else:
            text = str(req.messages[-1].get("content", "")) if req.messages else ""
        words = sum(len(str(m.get("content", "")).split()) for m in req.messages)
        usage = Usage(words, len(text.split()), words + len(text.split()))
        return ChatResponse(
            text=text,
            model=req.model,
            usage=usage,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_s * 1000.0,
            finish_reason="stop",
        )

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """Hashed bag-of-words vectors (see :func:`~.testserver.hashed_embedding`)."""
        from ..testserver import hashed_embedding

        return [hashed_embedding(t) for t in texts]
