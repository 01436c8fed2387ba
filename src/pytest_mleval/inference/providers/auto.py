"""The default provider: ``hf:PATH`` ids go to a local Hugging Face model, OpenAI-compatible
endpoints to the native client, everything else to litellm (in this process, or in the
litellm worker process). The rule of which is which lives in :mod:`..clients`."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from typing import Any

from ..clients import CLIENT_MODES, native_endpoint, native_unsupported
from ..types import ChatRequest, ChatResponse

__all__ = ["AutoProvider"]

logger = logging.getLogger("pytest_mleval.inference")


class AutoProvider:
    """Routes each call to the backend that serves it.

    Args:
        litellm_provider: the litellm backend: :class:`~.litellm.LiteLLMProvider` (in this
            process, the default) or :class:`~.litellm_worker.LiteLLMWorkerProvider` (in a
            worker process). Made on first use, so a run served natively never builds it.
        client: ``auto`` (default), ``native`` or ``litellm``: which calls the native
            OpenAI-compatible client makes (see :mod:`..clients`).
        native_provider: the native backend (default a :class:`~.native.NativeProvider`).
    """

    def __init__(
        self,
        litellm_provider: Any = None,
        *,
        client: str = "auto",
        native_provider: Any = None,
    ) -> None:
        if client not in CLIENT_MODES:
            raise ValueError(f"client must be one of {', '.join(CLIENT_MODES)}, got {client!r}")
        self.client = client
        self._litellm = litellm_provider
        self._native = native_provider
        self._local: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.fallbacks: dict[tuple[str, str], int] = {}
        """Requests of an otherwise native model that litellm served: (model, why) -> count."""

    @property
    def litellm(self) -> Any:
        """The litellm backend (built on first use)."""
        if self._litellm is None:
            from .litellm import LiteLLMProvider

            self._litellm = LiteLLMProvider()
        return self._litellm

    @property
    def native(self) -> Any:
        """The native OpenAI-compatible backend (built on first use)."""
        if self._native is None:
            from .native import NativeProvider

            self._native = NativeProvider(mode=self.client)
        return self._native

    async def aclose(self) -> None:
        """Close the native client's HTTP session on this loop (if it was ever opened)."""
        if self._native is not None:
            await self._native.aclose()

    def _local_for(self, model: str) -> Any:
        if model not in self._local:
            from .local import HFLocalProvider

            self._local[model] = HFLocalProvider(model[3:])
        return self._local[model]

    def serves_natively(self, model: str, api_base: str | None = None) -> bool:
        """Whether calls to ``model`` (at ``api_base``) go to the native client."""
        return native_endpoint(model, api_base, self.client) is not None

    def _choice(self, req: ChatRequest) -> tuple[str, str | None]:
        """The backend that serves ``req`` and, when litellm serves a natively served model,
        why (a parameter the native client does not take)."""
        if req.model.startswith("hf:"):
            return "local", None
        if not self.serves_natively(req.model, req.api_base):
            return "litellm", None
        why = native_unsupported(req.params)
        return ("native", None) if why is None else ("litellm", why)

    def backend_for(self, req: ChatRequest) -> str:
        """Which backend serves ``req``: ``local``, ``native`` or ``litellm`` (nothing is
        built or counted: the engine asks it to prepare that backend before the call)."""
        return self._choice(req)[0]

    def _route(self, req: ChatRequest) -> Any:
        backend, why = self._choice(req)
        if backend == "local":
            return self._local_for(req.model)
        if backend == "native":
            return self.native
        if why is None:
            return self.litellm  # litellm's model anyway: no fallback to report
        with self._lock:
            first = (req.model, why) not in self.fallbacks
            self.fallbacks[(req.model, why)] = self.fallbacks.get((req.model, why), 0) + 1
        if first:
            logger.warning("model %r: %s: litellm serves these requests", req.model, why)
        return self.litellm

    def prepare(self, model: str, backend: str | None = None) -> None:
        """Load what the first call to ``model`` needs, before it is timed.

        Args:
            model: the model id.
            backend: the backend the call goes to (:meth:`backend_for` its request); ``None``
                guesses it from the id alone (a warm-up before any request is known).
        """
        if backend is None:
            if model.startswith("hf:"):
                backend = "local"
            elif self.client != "litellm" and (
                native_endpoint(model, None, self.client) is not None or "/" not in model
            ):
                # Whether the call goes native can depend on its api_base: an id without a
                # provider is native only with one. The native client's set-up is cheap.
                backend = "native"
            else:
                backend = "litellm"
        if backend == "local":
            self._local_for(model).prepare(model)
        elif backend == "native":
            self.native.prepare(model)
        else:
            self.litellm.prepare(model)

    def supports_response_schema(self, model: str) -> bool:
        """Whether ``model`` takes a JSON schema as ``response_format`` (local models: no)."""
        if model.startswith("hf:"):
            return False
        if self.serves_natively(model):
            return bool(self.native.supports_response_schema(model))
        return bool(self.litellm.supports_response_schema(model))

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Answer through the backend for ``req``."""
        backend = self._route(req)
        response: ChatResponse = await backend.acomplete(req)
        if response.client is None:
            # Which client answered is part of the record (and of a cached entry).
            kind = "local" if req.model.startswith("hf:") else "litellm"
            response = dataclasses.replace(response, client=kind)
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
        if model.startswith("hf:"):
            backend = self._local_for(model)
        elif self.serves_natively(model, api_base):
            backend = self.native
        else:
            backend = self.litellm
        vectors: list[list[float]] = await backend.aembed(
            model, texts, api_base=api_base, api_key=api_key
        )
        return vectors
