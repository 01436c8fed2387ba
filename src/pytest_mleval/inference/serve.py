"""The litellm worker's wire protocol, both ends' codecs, and the child's serving loop.

The protocol is one JSON object per line. Parent to child: ``{"op": "complete", "id": N,
"req": {...}}``, ``{"op": "embed", ...}``, ``{"op": "supports_schema", ...}``,
``{"op": "cancel", "id": N}`` and ``{"op": "env", "set": {...}, "unset": [...]}`` (the parent's
environment changed since the child started; it applies to the calls sent after it). Child to
parent: ``{"op": "ready", "import_seconds": S}`` (or ``"error"``) once litellm is imported,
then ``{"id": N, "ok": ...}`` or ``{"id": N, "error": {"type": ..., "message": ...,
"retry_after": ...}}``. API keys travel only over the pipe;
the child's log lines are scrubbed before the parent logs them.

The parent side (:mod:`.worker`, :mod:`.providers.litellm_worker`) and the serving side (the
worker process on its pipes, or a fork of the warm server of :mod:`.forkserver` on a socket)
both import this module, and it imports neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from .. import errors
from ..errors import InferenceError, MlevalError, RateLimitError
from .scrubbing import scrub
from .types import ChatRequest, ChatResponse

__all__ = [
    "LINE_LIMIT",
    "adopt_env",
    "encode",
    "error_from_payload",
    "error_payload",
    "request_payload",
    "response_from_payload",
    "serve_connection",
    "serve_stdin",
]

# A reply carries one completion or a batch of embeddings: far above asyncio's 64 KiB default.
LINE_LIMIT = 256 * 1024 * 1024

Send = Callable[[Mapping[str, Any]], None]


def encode(msg: Mapping[str, Any]) -> str:
    """One protocol line: ``msg`` as JSON, newline-terminated."""
    return json.dumps(msg, ensure_ascii=False, default=str) + "\n"


def request_payload(req: ChatRequest) -> dict[str, Any]:
    """What a ``complete`` message carries: the request, API key included."""
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


def response_from_payload(data: Mapping[str, Any]) -> ChatResponse:
    """The response an ``ok`` answer to ``complete`` carries.

    Raises:
        KeyError, TypeError, ValueError: the payload is not a response.
    """
    # The worker sends what the cache keeps (the answer, usage, cost, latency): the same
    # reader, minus the cache-hit marks.
    return dataclasses.replace(ChatResponse.from_cache(data), cached=False, attempts=1)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """An ``error`` answer: the error's class name, its scrubbed message, its retry-after."""
    if isinstance(exc, MlevalError):
        return {
            "type": type(exc).__name__,
            "message": scrub(str(exc)),
            "retry_after": getattr(exc, "retry_after", None),
        }
    return {"type": "InferenceError", "message": scrub(f"{type(exc).__name__}: {exc}")}


def error_from_payload(data: Mapping[str, Any]) -> MlevalError:
    """The package error an ``error`` answer describes (an :class:`InferenceError` if unknown)."""
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


# --------------------------------------------------------------------------- serving side


async def _handle(provider: Any, msg: Mapping[str, Any], send: Send) -> None:
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
        send({"id": ident, "error": error_payload(exc)})


def adopt_env(msg: Mapping[str, Any]) -> None:
    """Apply an ``env`` message: the parent's environment changed since this process started
    (a later run in the parent's process, a key set by a test); litellm reads API keys and
    endpoints from the environment when it makes a call.

    Args:
        msg: the message: ``set`` maps names to their new values, ``unset`` lists the names
            the parent no longer has.
    """
    changed = msg.get("set")
    if isinstance(changed, dict):
        os.environ.update({str(k): str(v) for k, v in changed.items()})
    gone = msg.get("unset")
    if isinstance(gone, list):
        for name in gone:
            os.environ.pop(str(name), None)


def _forget(tasks: dict[Any, asyncio.Task[None]], ident: Any, _task: object) -> None:
    tasks.pop(ident, None)


async def serve_stdin(out: TextIO) -> None:
    """The worker process's own loop: import litellm, then serve the calls that come on stdin.

    Args:
        out: where the answers go (a private copy of the process's stdout).
    """
    # litellm's import builds hundreds of thousands of long-lived objects (pydantic models,
    # the cost map): collecting garbage meanwhile costs about a quarter of the import, and
    # afterwards every full collection would walk them again. So: no collection during the
    # import, then everything imported is frozen out of the collector's sight.
    gc.disable()
    from .providers.litellm import import_litellm, warm_litellm

    def send(msg: Mapping[str, Any]) -> None:
        out.write(encode(msg))
        out.flush()

    start = time.perf_counter()
    try:
        litellm = import_litellm()
        imported = time.perf_counter() - start
        # Before "ready": the parent times calls from then on, and litellm's first call
        # would pay the set-up its import leaves for later. In a thread: that call is sync.
        await asyncio.to_thread(warm_litellm, litellm)
    except Exception as exc:
        send({"op": "ready", "error": error_payload(exc)})
        return
    finally:
        gc.freeze()
        gc.enable()
    send({"op": "ready", "import_seconds": imported})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await _serve_requests(litellm, reader, send)


async def serve_connection(conn: Any) -> None:
    """Serve one run's calls on a connected socket, in a fork of the warm server
    (:mod:`.forkserver`): litellm is imported already.

    Args:
        conn: the run's connection (a socket).
    """
    from .providers.litellm import import_litellm, warm_litellm

    litellm = import_litellm()
    # In the fork, not the server: the warm-up starts threads, which a fork would not keep.
    await asyncio.to_thread(warm_litellm, litellm)
    reader, writer = await asyncio.open_connection(sock=conn, limit=LINE_LIMIT)

    def send(msg: Mapping[str, Any]) -> None:
        writer.write(encode(msg).encode("utf-8"))

    send({"op": "ready", "import_seconds": 0.0, "warm": True})
    try:
        await _serve_requests(litellm, reader, send)
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _serve_requests(litellm: Any, reader: asyncio.StreamReader, send: Send) -> None:
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
        if msg.get("op") == "env":
            # Applied before the next line is read, so the calls sent after it see it.
            adopt_env(msg)
            continue
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
