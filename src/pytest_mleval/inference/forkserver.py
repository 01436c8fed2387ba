"""A litellm process kept warm between runs: a fork server on a private Unix socket.

litellm's import takes seconds and every run's first model call waits for it. With the
server on (``--mleval-litellm-server``, on by default except in CI), a run whose litellm
worker had to import litellm itself starts this server as it ends. The server imports
litellm once and waits; the next run's worker connects, hands over that run's environment,
and is served by a fresh fork of the server, so its first call goes out at once. The worker
process then only relays the JSON lines of :mod:`.serve` between its pipes and the socket,
so nothing changes for the parent: cancellation, restarts and kills work as before. (This
module never imports :mod:`.worker`, the child's entry, which imports it.)

The socket's name hashes everything that could make the server's copy of litellm stale: the
interpreter, this package's modules and litellm (their files' modification times)
and the ``LITELLM_*`` variables read at import. The socket lives in a directory only this
user can enter (it carries the run's environment, API keys included). The server exits after
:data:`DEFAULT_IDLE_SECONDS` without a connection, when its socket is replaced, or on
:func:`stop_servers` (``mleval litellm-server stop``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .scrubbing import may_hold_secret

__all__ = [
    "DEFAULT_IDLE_SECONDS",
    "DIR_ENV",
    "IDLE_ENV",
    "SERVER_ENV",
    "SWITCH_ENV",
    "connect",
    "list_servers",
    "relay",
    "run_server",
    "server_path",
    "start_server",
    "stop_servers",
]

SERVER_ENV = "MLEVAL_LITELLM_SERVER_SOCKET"
"""Set by the parent for its worker process: the socket of the server to use."""
SWITCH_ENV = "MLEVAL_LITELLM_SERVER"
"""``on`` or ``off``: what ``--mleval-litellm-server auto`` (the default) means here."""
DIR_ENV = "MLEVAL_LITELLM_SERVER_DIR"
"""Directory of the servers' sockets (default: ``pytest-mleval-UID`` in the temp directory)."""
IDLE_ENV = "MLEVAL_LITELLM_SERVER_IDLE"
"""Seconds a server waits for a connection before it exits."""
DEFAULT_IDLE_SECONDS = 900.0
# A server that accepted the connection answers "ready" at once; one that does not is hung.
_READY_TIMEOUT = 5.0
_CI_MARKERS = ("TF_BUILD", "JENKINS_URL", "TEAMCITY_VERSION", "BUILDKITE", "GITHUB_ACTIONS")


def server_wanted(setting: str | None) -> bool:
    """Resolve ``--mleval-litellm-server``: ``on``, ``off`` or ``auto`` (the default).

    ``auto`` follows :data:`SWITCH_ENV` when it is set, and is otherwise on except in CI
    (``CI`` set, or a CI service's own variable): a CI machine runs once, and must not keep
    a process behind. Off on platforms other than Linux.
    """
    if not sys.platform.startswith("linux"):
        return False  # fork after import, /proc and Unix sockets: Linux only for now
    value = (setting or "auto").strip().lower()
    if value == "auto":
        value = os.environ.get(SWITCH_ENV, "").strip().lower() or ("off" if _in_ci() else "on")
    return value in ("on", "1", "true", "yes")


def _in_ci() -> bool:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return True
    # CI services that do not set CI.
    return any(os.environ.get(name) for name in _CI_MARKERS)


def _directory() -> Path | None:
    base = os.environ.get(DIR_ENV) or os.path.join(
        tempfile.gettempdir(), f"pytest-mleval-{os.getuid()}"
    )
    path = Path(base)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return None
    # Another user's directory (or a world-readable one) must never receive our environment.
    if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        return None
    return path


def _mtime(path: str | None) -> float:
    if not path:
        return 0.0
    with contextlib.suppress(OSError):
        return os.stat(path).st_mtime
    return 0.0


def server_path(env: Mapping[str, str] | None = None) -> str | None:
    """The socket of the server that fits this interpreter, code and environment.

    Args:
        env: the environment the worker will run with (default: this process's).

    Returns:
        Its path, or ``None`` when no private directory is available.
    """
    env = os.environ if env is None else env
    from importlib.util import find_spec

    directory = _directory()
    if directory is None:
        return None
    spec = find_spec("litellm")
    package = Path(__file__).parents[1]
    # What a fork runs: this package's top level and the whole inference layer.
    modules = [*package.glob("*.py"), *package.glob("inference/**/*.py")]
    key = {
        "python": [sys.executable, sys.version],
        "package": sorted((str(p.relative_to(package)), _mtime(str(p))) for p in modules),
        "litellm": [spec.origin if spec else None, _mtime(spec.origin if spec else None)],
        "env": sorted((k, v) for k, v in env.items() if k.startswith("LITELLM_")),
    }
    digest = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:20]
    return str(directory / f"litellm-{digest}.sock")


def connect(path: str) -> socket.socket | None:
    """Connect to a running server (``None`` if none listens there)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_READY_TIMEOUT)
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def relay(sock: socket.socket, out_fd: int, env: Mapping[str, str]) -> bool:
    """Serve this worker process's pipes from the server: hand over ``env`` and the working
    directory, then stdin to the socket and the socket to ``out_fd`` until either side closes.

    Returns:
        ``False`` (nothing relayed yet) when the server did not answer in time: the caller
        imports litellm itself.
    """
    # The fork works where this run works: relative paths in the environment (credential
    # files, say) mean the same there.
    payload = json.dumps({"env": dict(env), "cwd": os.getcwd()}).encode()
    first = b""
    try:
        sock.sendall(len(payload).to_bytes(8, "big") + payload)
        while b"\n" not in first:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            first += chunk
    except OSError:  # refused, reset or timed out: a hung or dying server
        sock.close()
        return False
    sock.settimeout(None)
    _write_all(out_fd, first)

    def upstream() -> None:
        try:
            while data := os.read(0, 65536):
                sock.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    with contextlib.suppress(OSError):
        while data := sock.recv(65536):
            _write_all(out_fd, data)
    return True


def start_server(path: str) -> None:
    """Start a detached server for ``path`` (it exits at once if one already runs)."""
    # The server needs the variables read at import, never the run's secrets: each run
    # hands its own environment to the fork that serves it.
    env = {k: v for k, v in os.environ.items() if not may_hold_secret(k)}
    env.pop(SERVER_ENV, None)
    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "pytest_mleval.inference.worker", "--server", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
            # Its own session: the terminal's Ctrl-C and the run's exit do not reach it.
            start_new_session=True,
        )


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the worker left before sending its environment")
        data += chunk
    return data


def _serve_fork(conn: socket.socket, import_env: Mapping[str, str]) -> None:
    """In a fresh fork of the server: adopt the run's environment and serve its calls.

    Args:
        conn: the run's connection.
        import_env: variables litellm's import added to the server's environment (in its
            default mode it loads a ``.env`` file): a worker importing litellm itself would
            have them too.
    """
    import asyncio

    from .netguard import loopback_guard_from_env
    from .serve import serve_connection

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    conn.settimeout(_READY_TIMEOUT)
    size = int.from_bytes(_recv_exact(conn, 8), "big")
    handover = json.loads(_recv_exact(conn, size))
    conn.settimeout(None)
    env = handover["env"]
    os.environ.clear()
    os.environ.update(env)
    with contextlib.suppress(OSError):
        os.chdir(handover["cwd"])
    _reload_import_env(import_env)
    # Serving a run started under the test suite's network guard: this fork is guarded too.
    with loopback_guard_from_env(), contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_connection(conn))


def _warm_up(litellm: Any) -> None:
    """Run one offline completion, so each fork's first call finds litellm's lazily
    imported modules and deferred pydantic schemas ready (about 0.2 s per run)."""
    import asyncio

    async def once() -> None:
        await litellm.acompletion(
            model="openai/mleval-warm-up",
            messages=[{"role": "user", "content": "warm up"}],
            mock_response="ok",  # answered by litellm itself: no connection is made
            api_key="unused",
        )

    with contextlib.suppress(Exception):
        asyncio.run(once())


def _reload_import_env(import_env: Mapping[str, str]) -> None:
    """Give the fork what litellm's import gives a process: its ``.env`` variables, read
    now (the file may have changed since the server started), never over the run's own."""
    defaults = sys.modules.get("litellm._process_defaults")
    apply = getattr(defaults, "apply_process_defaults", None)
    if callable(apply):
        with contextlib.suppress(Exception):
            apply()
            return
    for name, value in import_env.items():  # a litellm without that hook
        os.environ.setdefault(name, value)


def run_server(path: str) -> None:
    """The server: import litellm, then fork a server process per connection until idle."""
    import fcntl

    from .providers.litellm import import_litellm

    lock = open(path + ".lock", "w")  # noqa: SIM115 - held for the server's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server for this key is starting or running
    # As in the worker: no garbage collection during the import, then freeze its objects
    # (forks then also share them without copying).
    gc.disable()
    before = dict(os.environ)
    try:
        litellm = import_litellm()
        import_env = {k: v for k, v in os.environ.items() if before.get(k) != v}
        _warm_up(litellm)
    except Exception:
        return
    finally:
        gc.freeze()
        gc.enable()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    inode = os.stat(path).st_ino
    with open(path + ".pid", "w") as fh:
        fh.write(str(os.getpid()))
    sock.listen(64)
    sock.settimeout(float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS))
    # Forks are never waited for: the kernel reaps them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                break
            try:
                replaced = os.stat(path).st_ino != inode
            except OSError:
                replaced = True
            if replaced:
                conn.close()
                break
            if os.fork() == 0:
                sock.close()
                lock.close()
                try:
                    _serve_fork(conn, import_env)
                finally:
                    os._exit(0)
            conn.close()
    finally:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                os.unlink(path)
                os.unlink(path + ".pid")
        sock.close()


def list_servers(directory: str | None = None) -> list[tuple[str, int]]:
    """The running servers of this user (or those in ``directory``).

    Returns:
        ``(socket path, process id)`` of each.
    """
    base = Path(directory) if directory is not None else _directory()
    if base is None or not base.is_dir():
        return []
    found = []
    for pid_file in sorted(base.glob("litellm-*.sock.pid")):
        try:
            pid = int(pid_file.read_text().strip())
            # A stale file's pid may belong to another process by now: check it is ours.
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"pytest_mleval.inference.worker" in cmdline and b"--server" in cmdline:
            found.append((str(pid_file)[: -len(".pid")], pid))
    return found


def stop_servers(directory: str | None = None) -> int:
    """Stop every server of this user (or those in ``directory``).

    Returns:
        How many were running.
    """
    stopped = 0
    for path, pid in list_servers(directory):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            stopped += 1
        with contextlib.suppress(OSError):
            os.unlink(path + ".pid")
    return stopped
