"""The response cache on a Redis server (``--mleval-cache-url redis://[:PASSWORD@]HOST:PORT/DB``).

Each record is one hash ``mleval:cache:KEY`` with the fields of the SQLite table (``model``,
``value``, ``created``, ``size``), written by one ``HSET``: a reader sees all of it or none.
Needs the ``redis`` extra (redis-py).
"""

from __future__ import annotations

from typing import Any

from .cache_remote import (
    CONNECT_TIMEOUT_S,
    IO_TIMEOUT_S,
    RemoteCache,
    prune_plan,
    url_password,
)

__all__ = ["PREFIX", "RedisCache", "clear", "connect", "prune", "stats"]

PREFIX = "mleval:cache:"
_BATCH = 500


def connect(url: str) -> Any:
    """A connected ``redis.Redis`` for ``url`` (password from the URL or the environment).

    Raises:
        ImportError: redis-py is not installed.
        redis.RedisError: the server cannot be reached or refuses the credentials.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": IO_TIMEOUT_S,
        "decode_responses": True,
        # One immediate retry (a pooled connection the server closed), never a backoff that
        # would stall every call of a run whose server is gone.
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 0,
    }
    password = url_password(url)
    if password:
        kwargs["password"] = password
    client = redis.Redis.from_url(url, **kwargs)
    client.ping()
    return client


class RedisCache(RemoteCache):
    """Cached answers on a Redis server (see :class:`~.cache_backend.RemoteCache`)."""

    backend = "redis"
    install_hint = " (install the redis extra: pip install 'pytest-mleval[redis]')"

    def _errors(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.RedisError, OSError)

    def _open(self) -> Any:
        return connect(self._url)

    def _read(self, client: Any, key: str) -> str | None:
        value = client.hget(PREFIX + key, "value")
        return None if value is None else str(value)

    def _write(self, client: Any, key: str, model: str, text: str, created: float) -> bool:
        client.hset(
            PREFIX + key,
            mapping={
                "model": model,
                "value": text,
                "created": repr(created),
                "size": len(text.encode()),
            },
        )
        return True

    def _shutdown(self, client: Any) -> None:
        client.close()


def _records(client: Any) -> list[tuple[str, str, float, int]]:
    """Every record's ``(key, model, created, size)``."""
    keys = list(client.scan_iter(match=PREFIX + "*", count=_BATCH))
    out: list[tuple[str, str, float, int]] = []
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        pipe = client.pipeline(transaction=False)
        for k in chunk:
            pipe.hmget(k, "model", "created", "size")
        for k, (model, created, size) in zip(chunk, pipe.execute(), strict=True):
            if model is None:
                continue  # removed between the scan and the read
            out.append((k[len(PREFIX) :], str(model), float(created or 0), int(size or 0)))
    return out


def stats(url: str) -> dict[str, Any]:
    """``entries``, ``value_bytes``, ``models``, ``oldest``, ``newest`` of the server's cache."""
    client = connect(url)
    try:
        rows = _records(client)
    finally:
        client.close()
    models: dict[str, int] = {}
    for _, model, _, _ in rows:
        models[model] = models.get(model, 0) + 1
    created = [c for _, _, c, _ in rows]
    return {
        "exists": True,
        "entries": len(rows),
        "value_bytes": sum(s for _, _, _, s in rows),
        "models": dict(sorted(models.items())),
        "oldest": min(created) if created else None,
        "newest": max(created) if created else None,
    }


def _delete(client: Any, keys: list[str]) -> int:
    removed = 0
    for start in range(0, len(keys), _BATCH):
        removed += int(client.delete(*[PREFIX + k for k in keys[start : start + _BATCH]]))
    return removed


def clear(url: str) -> int:
    """Delete every record of the cache (other keys of the database stay)."""
    client = connect(url)
    try:
        return _delete(client, [k for k, _, _, _ in _records(client)])
    finally:
        client.close()


def prune(url: str, older_than_days: float | None = None, max_mb: float | None = None) -> int:
    """Remove old records, then the oldest until the values fit in ``max_mb``."""
    client = connect(url)
    try:
        rows = [(k, c, s) for k, _, c, s in _records(client)]
        return _delete(client, prune_plan(rows, older_than_days, max_mb))
    finally:
        client.close()
