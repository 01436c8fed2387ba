"""One protocol for every response cache, and the URL that picks one.

The SQLite file (:class:`~.cache.ResponseCache`) is the default; ``--mleval-cache-url``
``redis://...`` or ``postgresql://...`` shares one cache between machines (CI runners). Every
backend stores the same record under the same key (:func:`~.types.cache_key`): ``model``,
``value`` (the answer as JSON, keys sorted), ``created`` (epoch seconds) and ``size`` (bytes of
``value``), written in one atomic command once the answer is complete, so a reader sees a whole
record or none.

A remote cache that cannot be reached (a wrong URL, the server gone mid-run) is reported once (a
:class:`~.cache.CacheWarning` and a log record, credentials scrubbed) and the run goes on with
no cache: every later lookup misses and nothing is written, so answers come from the provider.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError
from .cache import DEFAULT_CACHE_PATH
from .cache_remote import PASSWORD_ENV, RemoteCache, redact_url, url_password
from .scrubbing import scrub

__all__ = [
    "PASSWORD_ENV",
    "SCHEMES",
    "CacheStore",
    "RemoteCache",
    "backend_of",
    "open_cache",
    "redact_url",
    "store_clear",
    "store_prune",
    "store_stats",
]

SCHEMES: dict[str, str] = {
    "redis": "redis",
    "rediss": "redis",
    "postgresql": "postgres",
    "postgres": "postgres",
    "postgresql+psycopg": "postgres",
}


class CacheStore(Protocol):
    """What the engine needs of a cache: lookups, stores, its mode and where it is."""

    mode: str
    disabled_reason: str | None

    @property
    def location(self) -> str:
        """Where the cache is, for messages (a file path, or a URL without credentials)."""
        ...

    @property
    def readable(self) -> bool:
        """Whether lookups consult the cache."""
        ...

    @property
    def writable(self) -> bool:
        """Whether new answers are stored."""
        ...

    @property
    def replay(self) -> bool:
        """Whether a miss must fail the call."""
        ...

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached value for ``key``, or ``None``."""
        ...

    def put(self, key: str, model: str, value: dict[str, Any]) -> bool:
        """Store ``value`` under ``key``; whether it was written."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def backend_of(url: str | None) -> str:
    """``sqlite`` (no URL), ``redis`` or ``postgres``: the backend a cache URL names.

    Raises:
        ConfigError: a URL with another scheme (named without its credentials).
    """
    if not url:
        return "sqlite"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ConfigError(
            f"--mleval-cache-url {redact_url(url)!r}: expected redis://, rediss:// or "
            "postgresql:// (leave it unset for the SQLite file)"
        )
    return SCHEMES[scheme]


def open_cache(
    url: str | None, path: str | os.PathLike[str] = DEFAULT_CACHE_PATH, mode: str = "rw"
) -> CacheStore:
    """The cache a run uses: the SQLite file at ``path``, or the server ``url`` names.

    Raises:
        ConfigError: an unknown scheme or mode.
    """
    backend = backend_of(url)
    if backend == "sqlite" or url is None:
        from .cache import ResponseCache

        return ResponseCache(path, mode=mode)
    if backend == "redis":
        from .cache_redis import RedisCache

        return RedisCache(url, mode=mode)
    from .cache_postgres import PostgresCache

    return PostgresCache(url, mode=mode)


# --------------------------------------------------------------------------- maintenance
# `mleval cache stats|clear|prune` on any backend; a server's errors come back scrubbed.


def _remote_module(url: str) -> Any:
    if backend_of(url) == "redis":
        from . import cache_redis

        return cache_redis
    from . import cache_postgres

    return cache_postgres


def store_stats(
    url: str | None, path: str | os.PathLike[str] = DEFAULT_CACHE_PATH
) -> dict[str, Any]:
    """Entries, bytes, per-model counts, oldest and newest of a cache (file or server).

    Returns the keys of :func:`~.cache.cache_stats`; a server's ``path`` is its URL without the
    password, and ``error`` is set (scrubbed) when it cannot be reached.
    """
    if not url or backend_of(url) == "sqlite":
        from .cache import cache_stats

        return cache_stats(Path(path))
    out: dict[str, Any] = {"path": redact_url(url), "backend": backend_of(url), "entries": 0}
    try:
        out.update(_remote_module(url).stats(url))
    except Exception as exc:  # reported, never raised: stats is a look, not a repair
        out["error"] = scrub(f"{type(exc).__name__}: {exc}", [url_password(url), url])
    return out


def store_clear(url: str | None, path: str | os.PathLike[str] = DEFAULT_CACHE_PATH) -> int:
    """Delete every entry of a cache (file or server). Returns the entries removed.

    Raises:
        ConfigError: the server cannot be reached (the message names it without credentials).
    """
    if not url or backend_of(url) == "sqlite":
        from .cache import cache_clear

        return cache_clear(Path(path))
    return _remote_call(url, lambda mod: int(mod.clear(url)))


def store_prune(
    url: str | None,
    path: str | os.PathLike[str] = DEFAULT_CACHE_PATH,
    older_than_days: float | None = None,
    max_mb: float | None = None,
) -> int:
    """Remove entries older than ``older_than_days``, then the oldest until under ``max_mb``.

    Raises:
        ConfigError: the server cannot be reached.
    """
    if not url or backend_of(url) == "sqlite":
        from .cache import cache_prune

        return cache_prune(Path(path), older_than_days=older_than_days, max_mb=max_mb)
    return _remote_call(
        url, lambda mod: int(mod.prune(url, older_than_days=older_than_days, max_mb=max_mb))
    )


def _remote_call(url: str, fn: Callable[[Any], int]) -> int:
    try:
        return fn(_remote_module(url))
    except ConfigError:
        raise
    except Exception as exc:
        reason = scrub(f"{type(exc).__name__}: {exc}", [url_password(url), url])
        raise ConfigError(f"mleval cache {redact_url(url)}: {reason}") from None
