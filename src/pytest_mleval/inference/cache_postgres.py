"""The response cache in PostgreSQL (``--mleval-cache-url postgresql://USER[:PASSWORD]@HOST/DB``).

One table, ``mleval_responses``, with the SQLite table's columns; a record is written by one
``INSERT ... ON CONFLICT`` in autocommit, so a reader sees all of it or none. The password
comes from the URL, ``$MLEVAL_CACHE_PASSWORD``, or libpq's own ``PGPASSWORD``/``~/.pgpass``.
Needs the ``postgres`` extra (psycopg 3).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .cache_remote import (
    CONNECT_TIMEOUT_S,
    IO_TIMEOUT_S,
    RemoteCache,
    prune_plan,
    url_password,
)

__all__ = ["TABLE", "PostgresCache", "clear", "connect", "prune", "stats"]

TABLE = "mleval_responses"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    value TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    size INTEGER NOT NULL
)
"""


def _conninfo(url: str) -> str:
    # SQLAlchemy's spelling (as the run history takes it) is not libpq's.
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def connect(url: str, *, create: bool) -> Any:
    """A connection (autocommit) to ``url``; ``create`` makes the table when missing.

    Raises:
        ImportError: psycopg is not installed.
        psycopg.Error: the server cannot be reached or refuses the credentials.
    """
    import psycopg

    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(1, int(CONNECT_TIMEOUT_S)),
        "options": f"-c statement_timeout={int(IO_TIMEOUT_S * 1000)}",
    }
    password = url_password(url)
    if password:
        kwargs["password"] = password
    conn = psycopg.connect(_conninfo(url), **kwargs)
    if create:
        # Another process may create it at the same moment.
        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            conn.execute(_SCHEMA)
    return conn


def _has_table(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
    return bool(row and row[0])


class PostgresCache(RemoteCache):
    """Cached answers in a PostgreSQL table (see :class:`~.cache_backend.RemoteCache`)."""

    backend = "postgres"
    install_hint = " (install the postgres extra: pip install 'pytest-mleval[postgres]')"

    def __init__(self, url: str, mode: str = "rw") -> None:
        super().__init__(url, mode)
        self._empty = False

    def _errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error, OSError)

    def _open(self) -> Any:
        conn = connect(self._url, create=self.mode == "rw")
        # Read-only modes never create the table: before the first recording, all miss.
        self._empty = self.mode != "rw" and not _has_table(conn)
        return conn

    def _read(self, client: Any, key: str) -> str | None:
        if self._empty:
            return None
        row = client.execute(f"SELECT value FROM {TABLE} WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _write(self, client: Any, key: str, model: str, text: str, created: float) -> bool:
        client.execute(
            f"INSERT INTO {TABLE} (key, model, value, created, size) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
            "model = EXCLUDED.model, value = EXCLUDED.value, created = EXCLUDED.created, "
            "size = EXCLUDED.size",
            (key, model, text, created, len(text.encode())),
        )
        return True

    def _shutdown(self, client: Any) -> None:
        client.close()


def stats(url: str) -> dict[str, Any]:
    """``entries``, ``value_bytes``, ``models``, ``oldest``, ``newest`` of the table."""
    with connect(url, create=False) as conn:
        if not _has_table(conn):
            return {"exists": False, "entries": 0, "value_bytes": 0, "models": {}}
        entries, value_bytes, oldest, newest = conn.execute(
            f"SELECT count(*), coalesce(sum(size), 0), min(created), max(created) FROM {TABLE}"
        ).fetchone()
        models = dict(
            conn.execute(
                f"SELECT model, count(*) FROM {TABLE} GROUP BY model ORDER BY model"
            ).fetchall()
        )
    return {
        "exists": True,
        "entries": int(entries),
        "value_bytes": int(value_bytes),
        "models": models,
        "oldest": oldest,
        "newest": newest,
    }


def clear(url: str) -> int:
    """Delete every record (the table stays)."""
    with connect(url, create=False) as conn:
        if not _has_table(conn):
            return 0
        return int(conn.execute(f"DELETE FROM {TABLE}").rowcount)


def prune(url: str, older_than_days: float | None = None, max_mb: float | None = None) -> int:
    """Remove old records, then the oldest until the values fit in ``max_mb``."""
    with connect(url, create=False) as conn:
        if not _has_table(conn):
            return 0
        rows = [
            (str(k), float(c), int(s))
            for k, c, s in conn.execute(f"SELECT key, created, size FROM {TABLE}").fetchall()
        ]
        doomed = prune_plan(rows, older_than_days, max_mb)
        if doomed:
            conn.execute(f"DELETE FROM {TABLE} WHERE key = ANY(%s)", (doomed,))
        return len(doomed)
