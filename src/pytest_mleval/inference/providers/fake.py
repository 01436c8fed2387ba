"""Test doubles: a scripted provider for unit tests of the engine, and the hashed
bag-of-words embeddings it (and the test server) answers with. No network, no litellm."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence

from ..types import ChatRequest, ChatResponse, Usage

__all__ = ["FakeProvider", "hashed_embedding"]


def hashed_embedding(text: str, dim: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: each lowercase word adds ±1 at a hashed index.

    A test double, not a semantic model: texts sharing words get a higher cosine similarity.
    The vector is L2-normalised (all zeros for a text without words).
    """
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vec[value % dim] += 1.0 if (value >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


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
        """Hashed bag-of-words vectors (see :func:`hashed_embedding`)."""
        return [hashed_embedding(t) for t in texts]
