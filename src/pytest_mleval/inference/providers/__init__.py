"""Providers: one attempt per call against one backend (the native OpenAI-compatible client,
litellm here or in the worker process, local Hugging Face, a scripted fake), and the router
between them.

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_face

if TYPE_CHECKING:
    from ..scrubbing import scrub
    from .auto import AutoProvider
    from .base import EmbeddingVectors, Provider, reply_text, unusable_reply
    from .fake import FakeProvider, hashed_embedding
    from .litellm import LiteLLMProvider, import_litellm, litellm_import_seconds, map_litellm_error
    from .litellm_worker import LiteLLMWorkerProvider
    from .local import HFLocalProvider
    from .native import NativeProvider

_WHERE = {
    "AutoProvider": ".auto",
    "EmbeddingVectors": ".base",
    "FakeProvider": ".fake",
    "HFLocalProvider": ".local",
    "LiteLLMProvider": ".litellm",
    "LiteLLMWorkerProvider": ".litellm_worker",
    "NativeProvider": ".native",
    "Provider": ".base",
    "hashed_embedding": ".fake",
    "import_litellm": ".litellm",
    "litellm_import_seconds": ".litellm",
    "map_litellm_error": ".litellm",
    "reply_text": ".base",
    # Kept here for callers of the first layout; it lives with the inference layer's rules.
    "scrub": "..scrubbing",
    "unusable_reply": ".base",
}

__all__ = [
    "AutoProvider",
    "EmbeddingVectors",
    "FakeProvider",
    "HFLocalProvider",
    "LiteLLMProvider",
    "LiteLLMWorkerProvider",
    "NativeProvider",
    "Provider",
    "hashed_embedding",
    "import_litellm",
    "litellm_import_seconds",
    "map_litellm_error",
    "reply_text",
    "scrub",
    "unusable_reply",
]


__getattr__, __dir__ = lazy_face(__name__, _WHERE)
