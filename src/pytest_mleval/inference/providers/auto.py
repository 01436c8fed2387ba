"""The default provider: ``hf:PATH`` ids go to a local Hugging Face model, everything else to
litellm (in this process, or in the litellm worker process)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..types import ChatRequest, ChatResponse
from .litellm import LiteLLMProvider

__all__ = ["AutoProvider"]


class AutoProvider:
    """Routes ``hf:PATH`` ids to a local Hugging Face model and everything else to litellm.

    Args:
        litellm_provider: the litellm backend: :class:`LiteLLMProvider` (in this process, the
            default) or :class:`~.litellm_worker.LiteLLMWorkerProvider` (in a worker process).
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
