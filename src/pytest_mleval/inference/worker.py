"""litellm in a worker process: its import and its per-call CPU leave the pytest process.

litellm takes seconds to import and several milliseconds of CPU per call. In the pytest
process both compete with pytest's own loop for one interpreter lock, so a cold model suite
ran at the speed of a single core. :class:`~.providers.litellm_worker.LiteLLMWorkerProvider`
hands each call to a child process (``python -m pytest_mleval.inference.worker``, whose entry
is :func:`main`) that imports litellm once, runs the calls on its own event loop through the
very same :class:`~.providers.LiteLLMProvider`, and answers over a pipe (:mod:`.serve` holds
the protocol and the child's serving loop). The child can be started early
(:func:`start_litellm_worker`, called during pytest's start-up or while eval files are
collected) so its import overlaps them. With a warm litellm server (:mod:`.forkserver`,
:func:`use_litellm_server`) the child imports nothing: it relays its pipes to a fork of the
server, which has litellm imported already.

This module is the parent's handle on the child (:class:`LiteLLMWorker`) and the child's
entry; the child imports only what it runs before litellm's own import.

The child is process-wide and outlives a run: later runs in the same process (pytester's
in-process runs, a notebook) and tests that set variables share it. litellm reads API keys
and endpoints from the environment at call time, so before a call the child is sent what
changed in this process's environment since it started (an ``env`` message): a call sees the
environment of the moment it is made, as an inline litellm call would.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import itertools
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import MlevalError, ProviderError
from .loop import shared_loop
from .scrubbing import scrub
from .serve import LINE_LIMIT, encode, error_from_payload

__all__ = [
    "LiteLLMWorker",
    "discard_litellm_worker",
    "existing_litellm_worker",
    "litellm_worker",
    "main",
    "start_litellm_worker",
    "use_litellm_server",
]

logger = logging.getLogger("pytest_mleval.inference")

# The directory this package is imported from (a source checkout too): the child's first
# PYTHONPATH entry.
_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER: LiteLLMWorker | None = None
_WORKER_LOCK = threading.Lock()
# Whether workers use (and start) the warm litellm server of :mod:`.forkserver`.
_USE_SERVER = False


def litellm_worker() -> LiteLLMWorker:
    """The process-wide litellm worker (created on first use, started on first call)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = LiteLLMWorker()
        return _WORKER


def existing_litellm_worker() -> LiteLLMWorker | None:
    """The process-wide litellm worker if one was created, without creating one."""
    return _WORKER


def discard_litellm_worker() -> None:
    """Stop the process-wide worker and forget it: a later call starts a new one."""
    global _WORKER
    with _WORKER_LOCK:
        worker, _WORKER = _WORKER, None
    if worker is not None:
        worker.close(timeout=0)


def use_litellm_server(on: bool) -> None:
    """Let workers started from now on use a warm litellm server (:mod:`.forkserver`)
    instead of importing litellm themselves; the first one starts the server as it leaves."""
    global _USE_SERVER
    _USE_SERVER = on


def start_litellm_worker() -> None:
    """Start the worker process now, in the background, so litellm's import overlaps other
    work (collection). Returns at once; a failed start surfaces on the first call."""
    litellm_worker().start()


class LiteLLMWorker:
    """One child process running litellm, shared by every provider of this process.

    All pipe I/O happens on the shared inference loop (:func:`~.loop.shared_loop`). A child
    that exits is started again by the next call; calls in flight when it died fail with a
    retryable :class:`~pytest_mleval.errors.ProviderError`.

    Args:
        env: environment variables for the child on top of this process's environment (this
            process's environment is the one of each call: changes reach the running child).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self._loop = shared_loop()
        self._proc: asyncio.subprocess.Process | None = None
        # The environment the running child has (what it started with, plus the updates
        # sent since): compared with this process's before each call.
        self._proc_env: dict[str, str] = {}
        self._ready: asyncio.Future[None] | None = None
        # Call id -> (the process it went to, its future): a dying process fails only its own.
        self._pending: dict[int, tuple[asyncio.subprocess.Process, asyncio.Future[Any]]] = {}
        self._ids = itertools.count(1)
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._atexit = False
        # litellm missing or failing to import: permanent, so no call restarts the child.
        self._fatal: MlevalError | None = None
        self._closed = False
        self.import_seconds: float | None = None
        # True when a warm litellm server serves this worker (no import was needed).
        self.warm = False
        # True when this worker was told to use (or, failing that, start) a warm server.
        self.server_used = False
        self.starts = 0

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        """Start the child (if it is not running) without waiting for it."""
        self._loop.call_soon_threadsafe(self._ensure_started)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the child has imported litellm (raises its start-up error)."""
        asyncio.run_coroutine_threadsafe(self.ready(), self._loop).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child for good: close its input and wait for it to leave (killed if it
        is still importing litellm, or has not exited in time). Later calls fail."""
        self._closed = True
        if self._loop.is_closed() or not self._loop.is_running():
            proc = self._proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            return
        fut = asyncio.run_coroutine_threadsafe(self._stop(timeout), self._loop)
        with contextlib.suppress(Exception):  # best effort, also at interpreter exit
            fut.result(timeout + 1)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop that owns the child's pipes: :meth:`call` runs on it."""
        return self._loop

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    # ------------------------------------------------------------------ loop side

    def _ensure_started(self) -> asyncio.Future[None]:
        if self._closed:
            closed: asyncio.Future[None] = self._loop.create_future()
            closed.set_exception(ProviderError("the litellm worker is closed"))
            return closed
        ready = self._ready
        if ready is not None and (self._fatal is not None or not ready.done()):
            return ready
        if ready is not None and self._proc is not None and self._proc.returncode is None:
            return ready
        ready = self._ready = self._loop.create_future()
        # Started in the background, perhaps never awaited: retrieve a failure so asyncio
        # does not log it as lost (callers that wait get it raised).
        ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._loop.create_task(self._spawn(ready))
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        return ready

    async def ready(self) -> None:
        """Wait until the child is ready (starting it if needed)."""
        await asyncio.shield(self._ensure_started())

    def _child_env(self) -> dict[str, str]:
        """The environment the child should have now: this process's, with the overrides."""
        env = {**os.environ, **self.env}
        # Must precede litellm's import in the child: otherwise it fetches its cost map.
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("LITELLM_TELEMETRY", "False")
        # The child imports this package from wherever the parent did (a source checkout too).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        return env

    def _env_update(self) -> dict[str, Any] | None:
        """The message that brings the running child's environment up to this process's, or
        None when nothing changed since the child started or was last updated."""
        env = self._child_env()
        old = self._proc_env
        if env == old:
            return None
        self._proc_env = env
        changed = {k: v for k, v in env.items() if old.get(k) != v}
        return {"op": "env", "set": changed, "unset": [k for k in old if k not in env]}

    async def _spawn(self, ready: asyncio.Future[None]) -> None:
        env = self._child_env()
        child_env = dict(env)  # without the server's socket: the child takes that one out
        # A warm server's forks log nowhere: a run debugging litellm imports it itself.
        if _USE_SERVER and not env.get("LITELLM_LOG"):
            from .forkserver import SERVER_ENV, server_path

            path = server_path(env)
            if path:
                env[SERVER_ENV] = path
                self.server_used = True
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pytest_mleval.inference.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=LINE_LIMIT,
                # Its own process group: Ctrl-C reaches pytest, which cancels calls cleanly
                # and then closes the worker, instead of killing the worker mid-call.
                start_new_session=True,
            )
        except OSError as exc:
            self._proc = None
            self._fatal = ProviderError(f"cannot start the litellm worker: {exc}")
            if not ready.done():
                ready.set_exception(self._fatal)
            return
        self._proc = proc
        self._proc_env = child_env
        self.starts += 1
        if self._closed:  # closed while it was being started
            await self._stop(0)
        self._loop.create_task(self._read_stderr(proc))
        await self._read_stdout(proc, ready)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = scrub(raw.decode("utf-8", "replace").rstrip())
            if line:
                self._stderr_tail.append(line)
                logger.debug("litellm worker: %s", line)

    async def _read_stdout(
        self, proc: asyncio.subprocess.Process, ready: asyncio.Future[None]
    ) -> None:
        assert proc.stdout is not None
        try:
            async for raw in proc.stdout:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue  # not ours: the child sends only JSON lines on this pipe
                if not isinstance(msg, dict):
                    continue
                if msg.get("op") == "ready":
                    self._on_ready(msg, ready)
                    continue
                ident = msg.get("id")
                entry = self._pending.pop(ident, None) if isinstance(ident, int) else None
                if entry is None or entry[1].done():
                    continue  # cancelled by the caller meanwhile
                if isinstance(msg.get("error"), dict):
                    entry[1].set_exception(error_from_payload(msg["error"]))
                else:
                    entry[1].set_result(msg.get("ok"))
        except (OSError, ValueError) as exc:  # a broken pipe or an over-long line
            self._stderr_tail.append(f"reading the worker's replies failed: {exc}")
        # No call may start on this process any more: the next one starts a new worker.
        if self._proc is proc:
            self._proc = None
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
        code = await proc.wait()
        tail = "; ".join(list(self._stderr_tail)[-3:])
        error = ProviderError(
            f"the litellm worker process exited (code {code})" + (f": {tail}" if tail else "")
        )
        if not ready.done():
            ready.set_exception(error)
        for ident, (owner, fut) in list(self._pending.items()):
            if owner is proc:
                del self._pending[ident]
                if not fut.done():
                    fut.set_exception(error)

    def _on_ready(self, msg: Mapping[str, Any], ready: asyncio.Future[None]) -> None:
        if ready.done():
            return
        if "error" in msg:
            # The engine reports this error for each case; the worker is not restarted.
            self._fatal = error_from_payload(msg["error"])
            ready.set_exception(self._fatal)
            return
        self.import_seconds = float(msg.get("import_seconds") or 0.0)
        self.warm = bool(msg.get("warm"))
        ready.set_result(None)

    async def call(self, op: str, **payload: Any) -> Any:
        """Send one request to the child and wait for its answer (cancellation reaches it)."""
        await self.ready()
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            # It died after starting: retryable, and the retry starts a new worker.
            raise ProviderError("the litellm worker process is not running")
        ident = next(self._ids)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[ident] = (proc, fut)
        try:
            # The environment first: the child reads lines in order, so the call sees it.
            update = self._env_update()
            await self._send(
                proc, *([update] if update else []), {"op": op, "id": ident, **payload}
            )
            return await fut
        except asyncio.CancelledError:
            # The caller gave up (timeout, -x, Ctrl-C): the child abandons the call too.
            if self._proc is proc and not proc.stdin.is_closing():
                with contextlib.suppress(Exception):
                    await self._send(proc, {"op": "cancel", "id": ident})
            raise
        finally:
            self._pending.pop(ident, None)

    async def _send(self, proc: asyncio.subprocess.Process, *msgs: Mapping[str, Any]) -> None:
        assert proc.stdin is not None
        data = "".join(encode(msg) for msg in msgs).encode("utf-8")
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ProviderError(f"the litellm worker process is gone: {exc}") from None

    async def _stop(self, timeout: float) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if self._ready is None or not self._ready.done():
            # Still importing litellm (a run that needed no call, e.g. every answer cached):
            # it would read its closed input only after the import, seconds from now.
            timeout = 0
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 2)


def main() -> None:
    """Entry point of the child: serve requests on stdin until it closes.

    With ``--server PATH`` it is the warm server of :mod:`.forkserver` instead. Given a
    server's socket (:data:`~.forkserver.SERVER_ENV`), it relays to a running server; when
    none runs there it imports litellm itself and starts one as it leaves, for later runs.
    """
    from . import forkserver
    from .netguard import loopback_guard_from_env
    from .serve import serve_stdin

    if len(sys.argv) == 3 and sys.argv[1] == "--server":
        forkserver.run_server(sys.argv[2])
        return
    # Replies get a private copy of stdout; anything else printing there lands on stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    server = os.environ.pop(forkserver.SERVER_ENV, None)
    if server:
        sock = forkserver.connect(server)
        if sock is not None and forkserver.relay(sock, out.fileno(), os.environ):
            os._exit(0)
    # litellm logs some levels to stdout; line by line, so the parent sees them as they come.
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Started under the test suite's network guard: this process is guarded too.
    with loopback_guard_from_env(), contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_stdin(out))
    out.flush()
    if server:
        forkserver.start_server(server)
    # Tearing down litellm's module graph takes about a second, and the parent waits for
    # this process at its own exit: everything is flushed, so leave without it.
    os._exit(0)


if __name__ == "__main__":
    main()
