"""The litellm provider whose calls run in the litellm worker process (:mod:`..worker`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from typing import Any

from ...errors import MlevalError, ProviderError
from ..serve import request_payload, response_from_payload
from ..types import ChatRequest, ChatResponse
from ..worker import LiteLLMWorker, litellm_worker
from .base import EmbeddingVectors

__all__ = ["LiteLLMWorkerProvider"]


class LiteLLMWorkerProvider:
    """A :class:`~.base.Provider` whose litellm calls run in the worker process.

    Behaves as :class:`~.litellm.LiteLLMProvider` (same errors, cost and usage), one attempt
    per call; the engine around it owns caching, retries, limits and fallbacks.

    Args:
        api_key: default key for calls whose request has none (else the provider's env vars).
        worker: the worker to use (default: the process-wide one).
    """

    def __init__(self, *, api_key: str | None = None, worker: LiteLLMWorker | None = None):
        self.api_key = api_key
        self._worker = worker
        self._schema_support: dict[str, bool] = {}

    @property
    def worker(self) -> LiteLLMWorker:
        """The worker this provider calls."""
        if self._worker is None:
            self._worker = litellm_worker()
        return self._worker

    def prepare(self, model: str) -> None:
        """Wait until the worker has imported litellm (the engine runs this in a thread)."""
        self.worker.wait_ready()

    async def _call(self, op: str, **payload: Any) -> Any:
        worker = self.worker
        if asyncio.get_running_loop() is worker.loop:
            return await worker.call(op, **payload)
        # Called from another loop: the pipe belongs to the shared inference loop.
        future = asyncio.run_coroutine_threadsafe(worker.call(op, **payload), worker.loop)
        return await asyncio.wrap_future(future)

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """One completion through litellm in the worker."""
        payload = request_payload(req)
        if payload["api_key"] is None:
            payload["api_key"] = self.api_key
        data = await self._call("complete", req=payload)
        try:
            return response_from_payload(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"model {req.model!r}: malformed reply from the worker: {exc}"
            ) from None

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """One embedding call through litellm in the worker (vectors, usage and cost)."""
        data = await self._call(
            "embed",
            model=model,
            texts=list(texts),
            api_base=api_base,
            api_key=api_key or self.api_key,
        )
        # A warm litellm server started by an older version answers the bare list of vectors.
        rows = data.get("vectors", []) if isinstance(data, dict) else data
        out = EmbeddingVectors([float(x) for x in row] for row in rows)
        if isinstance(data, dict):
            out.prompt_tokens = int(data.get("prompt_tokens") or 0)
            out.cost_usd = float(data.get("cost_usd") or 0.0)
        return out

    def supports_response_schema(self, model: str) -> bool:
        """Whether litellm's model map says ``model`` takes a JSON schema (asked once)."""
        if model not in self._schema_support:
            worker = self.worker
            try:
                future = asyncio.run_coroutine_threadsafe(
                    worker.call("supports_schema", model=model), worker.loop
                )
                self._schema_support[model] = bool(future.result(60))
            except (MlevalError, concurrent.futures.TimeoutError):
                self._schema_support[model] = False
        return self._schema_support[model]
