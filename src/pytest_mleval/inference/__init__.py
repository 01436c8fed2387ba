"""The inference layer: model calls with cache/replay, concurrency, limits, retries and cost.

Importing this package is cheap: litellm, aiohttp, torch and transformers are imported only
when a call needs them, and each name below loads its module on first use (the litellm
worker process imports only what it runs before starting litellm's import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .cache import (
        DEFAULT_CACHE_PATH,
        CacheWarning,
        ResponseCache,
        cache_clear,
        cache_prune,
        cache_stats,
    )
    from .clients import CLIENT_MODES, native_endpoint
    from .current import run_engine, set_run_engine
    from .engine import InferenceEngine
    from .limits import RateLimiter, RetryPolicy, TokenBucket
    from .loop import shared_loop
    from .providers.auto import AutoProvider
    from .providers.base import Provider
    from .providers.fake import FakeProvider
    from .providers.litellm import LiteLLMProvider, import_litellm, litellm_import_seconds
    from .providers.litellm_worker import LiteLLMWorkerProvider
    from .providers.native import NativeProvider
    from .scrubbing import scrub
    from .types import ChatRequest, ChatResponse, ModelStats, Usage, cache_key, percentile
    from .worker import LiteLLMWorker, start_litellm_worker

_MODULES = {
    "AutoProvider": "providers.auto",
    "CLIENT_MODES": "clients",
    "CacheWarning": "cache",
    "ChatRequest": "types",
    "ChatResponse": "types",
    "DEFAULT_CACHE_PATH": "cache",
    "FakeProvider": "providers.fake",
    "InferenceEngine": "engine",
    "LiteLLMProvider": "providers.litellm",
    "LiteLLMWorker": "worker",
    "LiteLLMWorkerProvider": "providers.litellm_worker",
    "ModelStats": "types",
    "NativeProvider": "providers.native",
    "Provider": "providers.base",
    "RateLimiter": "limits",
    "ResponseCache": "cache",
    "RetryPolicy": "limits",
    "TokenBucket": "limits",
    "Usage": "types",
    "cache_clear": "cache",
    "cache_key": "types",
    "cache_prune": "cache",
    "cache_stats": "cache",
    "import_litellm": "providers.litellm",
    "litellm_import_seconds": "providers.litellm",
    "native_endpoint": "clients",
    "percentile": "types",
    "run_engine": "current",
    "scrub": "scrubbing",
    "set_run_engine": "current",
    "shared_loop": "loop",
    "start_litellm_worker": "worker",
}


__all__ = [
    "CLIENT_MODES",
    "DEFAULT_CACHE_PATH",
    "AutoProvider",
    "CacheWarning",
    "ChatRequest",
    "ChatResponse",
    "FakeProvider",
    "InferenceEngine",
    "LiteLLMProvider",
    "LiteLLMWorker",
    "LiteLLMWorkerProvider",
    "ModelStats",
    "NativeProvider",
    "Provider",
    "RateLimiter",
    "ResponseCache",
    "RetryPolicy",
    "TokenBucket",
    "Usage",
    "cache_clear",
    "cache_key",
    "cache_prune",
    "cache_stats",
    "import_litellm",
    "litellm_import_seconds",
    "native_endpoint",
    "percentile",
    "run_engine",
    "scrub",
    "set_run_engine",
    "shared_loop",
    "start_litellm_worker",
]


__getattr__, __dir__ = lazy_face(__name__, _MODULES)
