"""What the server-backed caches share (:mod:`.cache_redis`, :mod:`.cache_postgres`): modes,
the lazy connection, the one warning when the server cannot be used, credentials.

A backend connects, reads one record and writes one record; everything else is here, so the
backends cannot differ in how they fail: a connection refused at start or lost mid-run is
reported once (a :class:`~.cache.CacheWarning` and a log record, credentials scrubbed) and the
run goes on with no cache.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import ConfigError
from .cache import MODES, CacheWarning
from .scrubbing import scrub

__all__ = [
    "CONNECT_TIMEOUT_S",
    "IO_TIMEOUT_S",
    "PASSWORD_ENV",
    "RemoteCache",
    "prune_plan",
    "redact_url",
    "url_password",
]

logger = logging.getLogger("pytest_mleval.inference")

# The password of a cache URL that carries none (PostgreSQL also reads libpq's PGPASSWORD).
PASSWORD_ENV = "MLEVAL_CACHE_PASSWORD"
# Bounded waits: an unreachable server costs the run seconds once, never minutes per call.
CONNECT_TIMEOUT_S = 5.0
IO_TIMEOUT_S = 10.0

T = TypeVar("T")


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if parts.password is None:
        return scrub(url)
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def url_password(url: str) -> str | None:
    """The password given in ``url``, else ``$MLEVAL_CACHE_PASSWORD`` (``None`` when neither)."""
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            return unquote(password)
    return os.environ.get(PASSWORD_ENV) or None


class RemoteCache(abc.ABC):
    """The behaviour shared by the server-backed caches; a backend connects, reads and writes.

    Thread-safe (one client behind a lock). Connects on first use, so each process (each
    xdist worker) opens its own connection.

    Args:
        url: the server's URL, credentials included (kept private; messages show
            :attr:`location`).
        mode: ``rw`` | ``ro`` | ``off`` | ``replay``.

    Raises:
        ConfigError: an unknown mode.
    """

    backend = "remote"
    install_hint = ""

    def __init__(self, url: str, mode: str = "rw") -> None:
        if mode not in MODES:
            raise ConfigError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._url = url
        self._password = url_password(url)
        self._location = redact_url(url)
        self.mode = mode
        self.disabled_reason: str | None = None
        self._lock = threading.Lock()
        self._client: Any = None
        self._opened = False

    @property
    def location(self) -> str:
        """The URL without its password."""
        return self._location

    @property
    def readable(self) -> bool:
        """Whether lookups consult the server."""
        return self.mode != "off" and self.disabled_reason is None

    @property
    def writable(self) -> bool:
        """Whether new answers are stored."""
        return self.mode == "rw" and self.disabled_reason is None

    @property
    def replay(self) -> bool:
        """Whether a miss must fail the call (``replay`` mode)."""
        return self.mode == "replay"

    # --------------------------------------------------------------- a backend's part

    def _errors(self) -> tuple[type[BaseException], ...]:
        """The client library's exceptions that mean the cache cannot be used."""
        return (OSError,)

    @abc.abstractmethod
    def _open(self) -> Any:
        """A connected client; creates the schema when ``writable``."""

    @abc.abstractmethod
    def _read(self, client: Any, key: str) -> str | None:
        """The stored ``value`` text of ``key``, or ``None``."""

    @abc.abstractmethod
    def _write(self, client: Any, key: str, model: str, text: str, created: float) -> bool:
        """Store one whole record in one atomic command; ``True`` once stored."""

    @abc.abstractmethod
    def _shutdown(self, client: Any) -> None:
        """Close the client."""

    # --------------------------------------------------------------- shared

    def _connection(self) -> Any:
        if self._opened:
            return self._client
        self._opened = True
        if self.mode == "off":
            return None
        try:
            self._client = self._open()
        except ImportError as exc:
            self._disable(exc, hint=self.install_hint)
            return None
        except Exception as exc:
            # Connecting raised: the library's own error (refused, auth, timeout) or OSError;
            # either way the run goes on without the cache rather than stopping.
            self._disable(exc)
            return None
        return self._client

    def _disable(self, exc: BaseException, hint: str = "") -> None:
        if self.disabled_reason is not None:
            return
        self.disabled_reason = scrub(f"{type(exc).__name__}: {exc}", [self._password, self._url])
        message = (
            f"mleval cache {self._location} is not usable ({self.disabled_reason}); "
            f"running without the cache for the rest of this run{hint}"
        )
        logger.warning(message)
        warnings.warn(message, CacheWarning, stacklevel=4)
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                self._shutdown(client)

    def _guarded(self, fn: Callable[[Any], T]) -> T | None:
        with self._lock:
            client = self._connection()
            if client is None:
                return None
            errors = self._errors()
            try:
                return fn(client)
            except errors as exc:
                self._disable(exc)
                return None

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached value for ``key``, or ``None`` (also when off or unreachable)."""
        if not self.readable:
            return None
        text = self._guarded(lambda client: self._read(client, key))
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None  # not a record this package wrote: a miss
        return value if isinstance(value, dict) else None

    def put(self, key: str, model: str, value: dict[str, Any]) -> bool:
        """Store ``value`` under ``key`` (``rw`` mode only). Returns whether it was written."""
        if not self.writable:
            return False
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        done = self._guarded(lambda client: self._write(client, key, model, text, time.time()))
        return bool(done)

    def close(self) -> None:
        """Close the connection (a later call reopens it, unless the cache was disabled)."""
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._shutdown(self._client)
            self._client = None
            self._opened = False


def prune_plan(
    rows: list[tuple[str, float, int]], older_than_days: float | None, max_mb: float | None
) -> list[str]:
    """The keys to remove from ``(key, created, size)`` rows: SQLite's prune rule, for servers.

    Entries older than ``older_than_days`` go first, then the oldest until the stored values
    fit in ``max_mb``.
    """
    doomed: list[str] = []
    rows = sorted(rows, key=lambda r: r[1])
    if older_than_days is not None:
        cutoff = time.time() - older_than_days * 86400.0
        doomed = [k for k, created, _ in rows if created < cutoff]
        rows = [r for r in rows if r[1] >= cutoff]
    if max_mb is not None:
        budget = int(max_mb * 1024 * 1024)
        total = sum(size for _, _, size in rows)
        for key, _, size in rows:
            if total <= budget:
                break
            doomed.append(key)
            total -= size
    return doomed
