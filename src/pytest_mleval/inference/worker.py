"""litellm in a worker process: its import and its per-call CPU leave the pytest process.

litellm takes seconds to import and several milliseconds of CPU per call. In the pytest
process both compete with pytest's own loop for one interpreter lock, so a cold model suite
ran at the speed of a single core. :class:`LiteLLMWorkerProvider` hands each call to a child
process (``python -m pytest_mleval.inference.worker``) that imports litellm once, runs the
calls on its own event loop through the very same :class:`~.providers.LiteLLMProvider`, and
answers over a pipe. The child can be started early (:func:`start_litellm_worker`, called
during pytest's start-up or while eval files are collected) so its import overlaps them. With
a warm litellm server (:mod:`.forkserver`, :func:`use_litellm_server`) the child imports
nothing: it relays its pipes to a fork of the server, which has litellm imported already.

The protocol is one JSON object per line. Parent to child: ``{"op": "complete", "id": N,
"req": {...}}``, ``{"op": "embed", ...}``, ``{"op": "supports_schema", ...}`` and
``{"op": "cancel", "id": N}``. Child to parent: ``{"op": "ready", "import_seconds": S}`` (or
``"error"``) once litellm is imported, then ``{"id": N, "ok": ...}`` or ``{"id": N, "error":
{"type": ..., "message": ..., "retry_after": ...}}``. API keys travel only over the pipe;
the child's log lines are scrubbed before the parent logs them.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import itertools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import errors
from ..errors import InferenceError, MlevalError, ProviderError, RateLimitError
from .types import ChatRequest, ChatResponse

__all__ = [
    "LiteLLMWorker",
    "LiteLLMWorkerProvider",
    "discard_litellm_worker",
    "litellm_worker",
    "start_litellm_worker",
    "use_litellm_server",
]

logger = logging.getLogger("pytest_mleval.inference")

# Set by :func:`~.testserver.loopback_only` to the file where guarded workers report refusals.
LOOPBACK_ENV = "MLEVAL_LOOPBACK_ONLY"
# A reply carries one completion or a batch of embeddings: far above asyncio's 64 KiB default.
_LINE_LIMIT = 256 * 1024 * 1024
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


def _request_payload(req: ChatRequest) -> dict[str, Any]:
    return {
        "model": req.model,
        "messages": [dict(m) for m in req.messages],
        "params": dict(req.params),
        "api_base": req.api_base,
        "tools": [dict(t) for t in req.tools] if req.tools is not None else None,
        "timeout": req.timeout,
        "sample": req.sample,
        "api_key": req.api_key,
    }


def _response_from_payload(data: Mapping[str, Any]) -> ChatResponse:
    # The worker sends what the cache keeps (the answer, usage, cost, latency): the same
    # reader, minus the cache-hit marks.
    return dataclasses.replace(ChatResponse.from_cache(data), cached=False, attempts=1)


def _error_payload(exc: BaseException) -> dict[str, Any]:
    from .providers.litellm import scrub

    if isinstance(exc, MlevalError):
        return {
            "type": type(exc).__name__,
            "message": scrub(str(exc)),
            "retry_after": getattr(exc, "retry_after", None),
        }
    return {"type": "InferenceError", "message": scrub(f"{type(exc).__name__}: {exc}")}


def _error_from_payload(data: Mapping[str, Any]) -> MlevalError:
    message = str(data.get("message", "the litellm worker failed"))
    cls = getattr(errors, str(data.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, MlevalError)):
        return InferenceError(message)
    if issubclass(cls, RateLimitError):
        return cls(message, data.get("retry_after"))
    if cls is errors.MissingDependencyError:
        # Its constructor composes the message; the child's text is already complete.
        return InferenceError(message)
    try:
        return cls(message)
    except TypeError:
        return InferenceError(message)


class LiteLLMWorker:
    """One child process running litellm, shared by every provider of this process.

    All pipe I/O happens on the shared inference loop (:func:`~.engine.shared_loop`). A child
    that exits is started again by the next call; calls in flight when it died fail with a
    retryable :class:`~pytest_mleval.errors.ProviderError`.

    Args:
        env: environment variables for the child on top of this process's environment (read
            when the child starts).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        from .engine import shared_loop

        self.env = dict(env or {})
        self._loop = shared_loop()
        self._proc: asyncio.subprocess.Process | None = None
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

    async def _spawn(self, ready: asyncio.Future[None]) -> None:
        env = {**os.environ, **self.env}
        # Must precede litellm's import in the child: otherwise it fetches its cost map.
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("LITELLM_TELEMETRY", "False")
        # The child imports this package from wherever the parent did (a source checkout too).
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
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
                limit=_LINE_LIMIT,
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
        self.starts += 1
        if self._closed:  # closed while it was being started
            await self._stop(0)
        self._loop.create_task(self._read_stderr(proc))
        await self._read_stdout(proc, ready)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        from .providers.litellm import scrub

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
                    entry[1].set_exception(_error_from_payload(msg["error"]))
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
            self._fatal = _error_from_payload(msg["error"])
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
            await self._send(proc, {"op": op, "id": ident, **payload})
            return await fut
        except asyncio.CancelledError:
            # The caller gave up (timeout, -x, Ctrl-C): the child abandons the call too.
            if self._proc is proc and not proc.stdin.is_closing():
                with contextlib.suppress(Exception):
                    await self._send(proc, {"op": "cancel", "id": ident})
            raise
        finally:
            self._pending.pop(ident, None)

    async def _send(self, proc: asyncio.subprocess.Process, msg: Mapping[str, Any]) -> None:
        assert proc.stdin is not None
        line = json.dumps(msg, ensure_ascii=False, default=str) + "\n"
        try:
            proc.stdin.write(line.encode("utf-8"))
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


class LiteLLMWorkerProvider:
    """A :class:`~.providers.Provider` whose litellm calls run in the worker process.

    Behaves as :class:`~.providers.LiteLLMProvider` (same errors, cost and usage), one attempt
    per call; the engine around it owns caching, retries, limits and fallbacks.

    Args:
        api_key: default key for calls whose request has none (else the provider's env vars).
        worker: the worker to use (default: the process-wide one).
    """

    def __init__(self, *, api_key: str | None = None, worker: LiteLLMWorker | None = None):
        self.api_key = api_key
        self._worker = worker
        self._schema_support: dict[str, bool] = {}

    @property
    def worker(self) -> LiteLLMWorker:
        """The worker this provider calls."""
        if self._worker is None:
            self._worker = litellm_worker()
        return self._worker

    def prepare(self, model: str) -> None:
        """Wait until the worker has imported litellm (the engine runs this in a thread)."""
        self.worker.wait_ready()

    async def _call(self, op: str, **payload: Any) -> Any:
        worker = self.worker
        if asyncio.get_running_loop() is worker._loop:
            return await worker.call(op, **payload)
        # Called from another loop: the pipe belongs to the shared inference loop.
        future = asyncio.run_coroutine_threadsafe(worker.call(op, **payload), worker._loop)
        return await asyncio.wrap_future(future)

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """One completion through litellm in the worker."""
        payload = _request_payload(req)
        if payload["api_key"] is None:
            payload["api_key"] = self.api_key
        data = await self._call("complete", req=payload)
        try:
            return _response_from_payload(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"model {req.model!r}: malformed reply from the worker: {exc}"
            ) from None

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """One embedding call through litellm in the worker (vectors, usage and cost)."""
        from .providers.litellm import EmbeddingVectors

        data = await self._call(
            "embed",
            model=model,
            texts=list(texts),
            api_base=api_base,
            api_key=api_key or self.api_key,
        )
        # A warm litellm server started by an older version answers the bare list of vectors.
        rows = data.get("vectors", []) if isinstance(data, dict) else data
        out = EmbeddingVectors([float(x) for x in row] for row in rows)
        if isinstance(data, dict):
            out.prompt_tokens = int(data.get("prompt_tokens") or 0)
            out.cost_usd = float(data.get("cost_usd") or 0.0)
        return out

    def supports_response_schema(self, model: str) -> bool:
        """Whether litellm's model map says ``model`` takes a JSON schema (asked once)."""
        if model not in self._schema_support:
            worker = self.worker
            try:
                future = asyncio.run_coroutine_threadsafe(
                    worker.call("supports_schema", model=model), worker._loop
                )
                self._schema_support[model] = bool(future.result(60))
            except (MlevalError, concurrent.futures.TimeoutError):
                self._schema_support[model] = False
        return self._schema_support[model]


# --------------------------------------------------------------------------- the child


async def _handle(provider: Any, msg: Mapping[str, Any], send: Any) -> None:
    ident = msg.get("id")
    op = msg.get("op")
    try:
        if op == "complete":
            resp = await provider.acomplete(ChatRequest(**msg["req"]))
            send({"id": ident, "ok": resp.to_cache()})
        elif op == "embed":
            vectors = await provider.aembed(
                msg["model"], msg["texts"], api_base=msg.get("api_base"), api_key=msg.get("api_key")
            )
            payload = {
                "vectors": vectors,
                "prompt_tokens": getattr(vectors, "prompt_tokens", 0),
                "cost_usd": getattr(vectors, "cost_usd", 0.0),
            }
            send({"id": ident, "ok": payload})
        elif op == "supports_schema":
            send({"id": ident, "ok": provider.supports_response_schema(msg["model"])})
        else:
            error = {"type": "InferenceError", "message": f"unknown op {op!r}"}
            send({"id": ident, "error": error})
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        send({"id": ident, "error": _error_payload(exc)})


def _forget(tasks: dict[Any, asyncio.Task[None]], ident: Any, _task: object) -> None:
    tasks.pop(ident, None)


async def _serve(out: TextIO) -> None:
    """The worker's own loop: import litellm, then serve the calls that come on stdin."""
    # litellm's import builds hundreds of thousands of long-lived objects (pydantic models,
    # the cost map): collecting garbage meanwhile costs about a quarter of the import, and
    # afterwards every full collection would walk them again. So: no collection during the
    # import, then everything imported is frozen out of the collector's sight.
    gc.disable()
    from .providers.litellm import import_litellm

    def send(msg: Mapping[str, Any]) -> None:
        out.write(json.dumps(msg, ensure_ascii=False, default=str) + "\n")
        out.flush()

    start = time.perf_counter()
    try:
        litellm = import_litellm()
    except Exception as exc:
        send({"op": "ready", "error": _error_payload(exc)})
        return
    finally:
        gc.freeze()
        gc.enable()
    send({"op": "ready", "import_seconds": time.perf_counter() - start})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await _serve_requests(litellm, reader, send)


async def serve_connection(conn: Any) -> None:
    """Serve one run's calls on a connected socket, in a fork of the warm server
    (:mod:`.forkserver`): litellm is imported already."""
    from .providers.litellm import import_litellm

    litellm = import_litellm()
    reader, writer = await asyncio.open_connection(sock=conn, limit=_LINE_LIMIT)

    def send(msg: Mapping[str, Any]) -> None:
        writer.write((json.dumps(msg, ensure_ascii=False, default=str) + "\n").encode("utf-8"))

    send({"op": "ready", "import_seconds": 0.0, "warm": True})
    try:
        await _serve_requests(litellm, reader, send)
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _serve_requests(litellm: Any, reader: asyncio.StreamReader, send: Any) -> None:
    from .providers.litellm import LiteLLMProvider

    if os.environ.get("LITELLM_LOG", "").upper() == "DEBUG":
        # litellm's handler alone does not lower its loggers' level; its debug switch does.
        # The parent scrubs keys from every line and logs them at DEBUG.
        debug_on = getattr(litellm, "turn_on_debug", None)
        if callable(debug_on):
            debug_on()
    provider = LiteLLMProvider()
    loop = asyncio.get_running_loop()
    tasks: dict[Any, asyncio.Task[None]] = {}
    while line := await reader.readline():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        ident = msg.get("id")
        if msg.get("op") == "cancel":
            task = tasks.get(ident)
            if task is not None:
                task.cancel()
            continue
        task = loop.create_task(_handle(provider, msg, send))
        tasks[ident] = task
        task.add_done_callback(functools.partial(_forget, tasks, ident))
    # The parent closed the pipe (or exited): abandon what is in flight and leave.
    for task in list(tasks.values()):
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    closer = getattr(litellm, "close_litellm_async_clients", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


def loopback_guard_from_env() -> contextlib.AbstractContextManager[Any]:
    """The network guard of a process started under :func:`~.testserver.loopback_only`
    (worker or warm-server fork): refusals are reported to the file the guard named."""
    log = os.environ.get(LOOPBACK_ENV)
    if not log:
        return contextlib.nullcontext()
    from .testserver import loopback_only

    def report(what: str) -> None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")

    return loopback_only(report)


def main() -> None:
    """Entry point of the child: serve requests on stdin until it closes.

    With ``--server PATH`` it is the warm server of :mod:`.forkserver` instead. Given a
    server's socket (:data:`~.forkserver.SERVER_ENV`), it relays to a running server; when
    none runs there it imports litellm itself and starts one as it leaves, for later runs.
    """
    from . import forkserver

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
        asyncio.run(_serve(out))
    out.flush()
    if server:
        forkserver.start_server(server)
    # Tearing down litellm's module graph takes about a second, and the parent waits for
    # this process at its own exit: everything is flushed, so leave without it.
    os._exit(0)


if __name__ == "__main__":
    main()
