"""The network guard: refuse every connection and name lookup that leaves the machine.

The test suite runs under :func:`loopback_only`; a litellm worker process (or a warm
server's fork) started meanwhile is guarded too (:func:`loopback_guard_from_env`) and reports
what it refused to a file the guard names, so the guard's list holds every process's.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOOPBACK_ENV", "loopback_guard_from_env", "loopback_only"]

# Set by :func:`loopback_only` to the file where guarded workers report refusals.
LOOPBACK_ENV = "MLEVAL_LOOPBACK_ONLY"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


_CHILD_LOG: str | None = None


def _child_log() -> str:
    # One file per process: a litellm worker started under one guard keeps reporting to it.
    global _CHILD_LOG
    if _CHILD_LOG is None:
        fd, _CHILD_LOG = tempfile.mkstemp(prefix="mleval-loopback-", suffix=".log")
        os.close(fd)
        atexit.register(_remove_quietly, _CHILD_LOG)
    return _CHILD_LOG


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


@contextmanager
def loopback_only(on_refused: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Refuse every socket connection and name lookup that is not loopback, in this process
    and in the litellm worker processes (:mod:`~.worker`) started while it is active.

    Yields the list of refused destinations (empty when nothing tried to leave the machine),
    the workers' included once the block ends. A refused attempt raises ``OSError`` in the
    caller, so the code under test fails loudly.

    Args:
        on_refused: also called with each refused destination (the workers report this way).
    """
    refused: list[str] = []
    # Nested guards (and a worker's own guard) share the file the outermost one chose.
    log = os.environ.get(LOOPBACK_ENV) or _child_log()
    start = os.path.getsize(log) if os.path.exists(log) else 0
    previous_env = os.environ.get(LOOPBACK_ENV)
    os.environ[LOOPBACK_ENV] = log
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(address: Any) -> bool:
        if isinstance(address, tuple) and address:
            host = str(address[0])
            return host in _LOOPBACK_NAMES or host.startswith("127.")
        return isinstance(address, (str, bytes))  # AF_UNIX paths stay on this machine

    def refuse(what: str) -> None:
        refused.append(what)
        if on_refused is not None:
            on_refused(what)

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            refuse(repr(address))
            raise OSError(f"loopback_only: refused connection to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            refuse(repr(address))
            raise OSError(f"loopback_only: refused connection to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not allowed((name,)):
            refuse(f"dns:{name}")
            raise OSError(f"loopback_only: refused name lookup of {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield refused
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
        if previous_env is None:
            os.environ.pop(LOOPBACK_ENV, None)
        else:
            os.environ[LOOPBACK_ENV] = previous_env
        with contextlib.suppress(OSError), open(log, encoding="utf-8") as fh:
            fh.seek(start)
            refused.extend(f"worker: {line.strip()}" for line in fh if line.strip())


def loopback_guard_from_env() -> contextlib.AbstractContextManager[Any]:
    """The network guard of a process started under :func:`loopback_only` (worker or
    warm-server fork): refusals are reported to the file the guard named."""
    log = os.environ.get(LOOPBACK_ENV)
    if not log:
        return contextlib.nullcontext()

    def report(what: str) -> None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")

    return loopback_only(report)
