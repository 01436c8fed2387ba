"""What every provider is: the protocol, the vectors an embedding call returns, and the one
rule for a reply that holds no answer (shared by the providers and the engine).

A provider makes exactly one attempt per call and raises the package's own errors; the
engine owns caching, retries, rate limits and fallbacks.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..types import ChatRequest, ChatResponse

__all__ = ["EmbeddingVectors", "Provider", "reply_text", "retry_after_seconds", "unusable_reply"]


@runtime_checkable
class Provider(Protocol):
    """Makes one model call; raises :class:`~pytest_mleval.errors.InferenceError` subclasses."""

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Answer one chat request (a single attempt, no retries).

        The answer's ``latency_ms`` runs from when the request was sent to when the answer
        was back, none of the provider's own set-up before the send; 0 leaves the timing
        to the engine.
        """

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


def retry_after_seconds(headers: Any) -> float | None:
    """How long a 429's headers ask to wait: ``retry-after-ms``, else ``retry-after`` (seconds
    or an HTTP date); ``None`` when they say nothing readable."""
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
