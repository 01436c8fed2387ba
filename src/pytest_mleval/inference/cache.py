"""The persistent response cache: SQLite in WAL mode, safe for several processes at once.

Modes: ``rw`` reads and writes; ``ro`` reads but never writes; ``off`` neither; ``replay``
reads, and the engine turns every miss into :class:`~pytest_mleval.errors.CacheMissError`.
A file that is not a usable SQLite database is reported once (a :class:`CacheWarning` and a log
record) and bypassed, so a damaged cache never stops a run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..errors import ConfigError

__all__ = [
    "DEFAULT_CACHE_PATH",
    "CacheMode",
    "CacheWarning",
    "ResponseCache",
    "cache_clear",
    "cache_prune",
    "cache_stats",
]

logger = logging.getLogger("pytest_mleval.inference")

CacheMode = Literal["rw", "ro", "off", "replay"]
MODES: tuple[str, ...] = ("rw", "ro", "off", "replay")
DEFAULT_CACHE_PATH = Path(".mleval") / "cache.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL
)
"""
_BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 20

T = TypeVar("T")


class CacheWarning(UserWarning):
    """The cache file cannot be used; the run goes on without it."""


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retry_locked(fn: Callable[[], T]) -> T:
    """Run ``fn``, retrying briefly when another process holds the database lock."""
    delay = 0.01
    for attempt in range(_LOCK_RETRIES):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or attempt == _LOCK_RETRIES - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")  # pragma: no cover


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro",
            uri=True,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path),
            timeout=_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
    conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    if not readonly:
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
        conn.execute("PRAGMA synchronous=NORMAL")
        _retry_locked(lambda: conn.execute(_SCHEMA))
    # Reading the schema proves the file is a database (garbage fails here, not later).
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


class ResponseCache:
    """Cached answers keyed by :func:`~pytest_mleval.inference.types.cache_key`.

    Thread-safe (one connection behind a lock); several processes may share the file.

    Args:
        path: the SQLite file (created in ``rw`` mode).
        mode: ``rw`` | ``ro`` | ``off`` | ``replay``.

    Raises:
        ConfigError: an unknown mode.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_CACHE_PATH, mode: str = "rw") -> None:
        if mode not in MODES:
            raise ConfigError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.disabled_reason: str | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._opened = False

    @property
    def location(self) -> str:
        """The cache file, for messages."""
        return str(self.path)

    @property
    def readable(self) -> bool:
        """Whether lookups consult the file."""
        return self.mode != "off" and self.disabled_reason is None

    @property
    def writable(self) -> bool:
        """Whether new answers are stored."""
        return self.mode == "rw" and self.disabled_reason is None

    @property
    def replay(self) -> bool:
        """Whether a miss must fail the call (``replay`` mode)."""
        return self.mode == "replay"

    def _connection(self) -> sqlite3.Connection | None:
        if self._opened:
            return self._conn
        self._opened = True
        if self.mode == "off":
            return None
        readonly = self.mode != "rw"
        if readonly and not self.path.exists():
            return None  # nothing recorded yet: every lookup misses
        try:
            self._conn = _connect(self.path, readonly=readonly)
        except sqlite3.Error as exc:
            self._disable(exc)
        return self._conn

    def _disable(self, exc: BaseException) -> None:
        if self.disabled_reason is not None:
            return
        self.disabled_reason = f"{type(exc).__name__}: {exc}"
        message = (
            f"mleval cache {self.path} is not usable ({self.disabled_reason}); "
            "running without the cache (delete the file or run `mleval cache clear`)"
        )
        logger.warning(message)
        warnings.warn(message, CacheWarning, stacklevel=3)
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached value for ``key``, or ``None`` (also when the cache is off or broken)."""
        if not self.readable:
            return None
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = _retry_locked(
                    lambda: conn.execute(
                        "SELECT value FROM responses WHERE key = ?", (key,)
                    ).fetchone()
                )
                value: dict[str, Any] | None = json.loads(row[0]) if row else None
                return value
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    logger.warning("mleval cache %s stayed locked; treating as a miss", self.path)
                    return None
                self._disable(exc)
            except (sqlite3.Error, ValueError) as exc:
                self._disable(exc)
            return None

    def put(self, key: str, model: str, value: dict[str, Any]) -> bool:
        """Store ``value`` under ``key`` (``rw`` mode only). Returns whether it was written."""
        if not self.writable:
            return False
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        with self._lock:
            conn = self._connection()
            if conn is None:
                return False
            try:
                _retry_locked(
                    lambda: conn.execute(
                        "INSERT OR REPLACE INTO responses (key, model, value, created, size) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key, model, text, time.time(), len(text.encode())),
                    )
                )
                return True
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    logger.warning("mleval cache %s stayed locked; answer not stored", self.path)
                    return False
                self._disable(exc)
            except sqlite3.Error as exc:
                self._disable(exc)
            return False

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = None
            self._opened = False


# --------------------------------------------------------------------------- maintenance
# Backs `mleval cache stats|clear|prune`.


def cache_stats(path: str | os.PathLike[str] = DEFAULT_CACHE_PATH) -> dict[str, Any]:
    """Entries, bytes and per-model counts of a cache file.

    Returns ``{"path", "exists", "entries", "file_bytes", "value_bytes", "models", "oldest",
    "newest"}``; ``error`` is set instead of the counts when the file is not a database.
    """
    p = Path(path)
    out: dict[str, Any] = {"path": str(p), "exists": p.exists(), "entries": 0, "file_bytes": 0}
    if not p.exists():
        return out
    out["file_bytes"] = sum(
        f.stat().st_size for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")) if f.exists()
    )
    try:
        conn = _connect(p, readonly=True)
        try:
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='responses'"
            ).fetchone()
            if not has_table:
                return out
            entries, value_bytes, oldest, newest = conn.execute(
                "SELECT count(*), coalesce(sum(size), 0), min(created), max(created) FROM responses"
            ).fetchone()
            models = dict(
                conn.execute(
                    "SELECT model, count(*) FROM responses GROUP BY model ORDER BY model"
                ).fetchall()
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out.update(
        entries=entries, value_bytes=value_bytes, models=models, oldest=oldest, newest=newest
    )
    return out


def cache_clear(path: str | os.PathLike[str] = DEFAULT_CACHE_PATH) -> int:
    """Delete every entry; a file that is not a database is removed. Returns entries removed."""
    p = Path(path)
    if not p.exists():
        return 0
    try:
        conn = _connect(p, readonly=False)
    except sqlite3.DatabaseError:
        for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
            f.unlink(missing_ok=True)
        return 0
    try:
        removed = _retry_locked(lambda: conn.execute("DELETE FROM responses").rowcount)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        return int(removed)
    finally:
        conn.close()


def cache_prune(
    path: str | os.PathLike[str] = DEFAULT_CACHE_PATH,
    older_than_days: float | None = None,
    max_mb: float | None = None,
) -> int:
    """Remove entries older than ``older_than_days``, then the oldest until under ``max_mb``.

    ``max_mb`` bounds the stored answers' size (what VACUUM can shrink the file to).
    Returns the number of entries removed.
    """
    p = Path(path)
    if not p.exists():
        return 0
    conn = _connect(p, readonly=False)
    removed = 0
    try:
        if older_than_days is not None:
            cutoff = time.time() - older_than_days * 86400.0
            removed += _retry_locked(
                lambda: conn.execute("DELETE FROM responses WHERE created < ?", (cutoff,)).rowcount
            )
        if max_mb is not None:
            budget = int(max_mb * 1024 * 1024)
            total = conn.execute("SELECT coalesce(sum(size), 0) FROM responses").fetchone()[0]
            if total > budget:
                rows = conn.execute("SELECT key, size FROM responses ORDER BY created").fetchall()
                doomed = []
                for key, size in rows:
                    if total <= budget:
                        break
                    doomed.append((key,))
                    total -= size
                _retry_locked(
                    lambda: conn.executemany("DELETE FROM responses WHERE key = ?", doomed)
                )
                removed += len(doomed)
        if removed:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
        return int(removed)
    finally:
        conn.close()
