"""The inference layer: model calls with cache/replay, concurrency, limits, retries and cost.

Importing this package is cheap: litellm, aiohttp, torch and transformers are imported only
when a call needs them.
"""

from __future__ import annotations

from .cache import (
    DEFAULT_CACHE_PATH,
    CacheWarning,
    ResponseCache,
    cache_clear,
    cache_prune,
    cache_stats,
)
from .engine import InferenceEngine, shared_loop
from .limits import RateLimiter, RetryPolicy, TokenBucket
from .providers import (
    AutoProvider,
    FakeProvider,
    LiteLLMProvider,
    Provider,
    import_litellm,
    litellm_import_seconds,
    scrub,
)
from .types import ChatRequest, ChatResponse, ModelStats, Usage, cache_key, percentile
from .worker import LiteLLMWorker, LiteLLMWorkerProvider, start_litellm_worker

__all__ = [
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
    "percentile",
    "scrub",
    "shared_loop",
    "start_litellm_worker",
]
