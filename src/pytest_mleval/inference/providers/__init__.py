"""Providers: one attempt per call against one backend (litellm, local Hugging Face, a scripted
fake).

Each name below loads its module on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .litellm import (
        AutoProvider,
        EmbeddingVectors,
        FakeProvider,
        LiteLLMProvider,
        Provider,
        import_litellm,
        litellm_import_seconds,
        reply_text,
        scrub,
        unusable_reply,
    )
    from .local import HFLocalProvider

_WHERE = {
    "AutoProvider": "litellm",
    "EmbeddingVectors": "litellm",
    "FakeProvider": "litellm",
    "HFLocalProvider": "local",
    "LiteLLMProvider": "litellm",
    "Provider": "litellm",
    "import_litellm": "litellm",
    "litellm_import_seconds": "litellm",
    "reply_text": "litellm",
    "scrub": "litellm",
    "unusable_reply": "litellm",
}

__all__ = [
    "AutoProvider",
    "EmbeddingVectors",
    "FakeProvider",
    "HFLocalProvider",
    "LiteLLMProvider",
    "Provider",
    "import_litellm",
    "litellm_import_seconds",
    "reply_text",
    "scrub",
    "unusable_reply",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
