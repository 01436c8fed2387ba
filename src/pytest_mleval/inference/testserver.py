"""An OpenAI-compatible server on 127.0.0.1 for testing eval suites without a real provider.

Start it in-process, point a ``model:`` target (or litellm directly) at ``srv.base_url`` with
a model id such as ``openai/test-model`` and any API key, and the calls go through the same
litellm path a real provider takes::

    with OpenAITestServer(rules=[Rule(match="refund", reply="30 days")]) as srv:
        litellm.completion(model="openai/test-model", api_base=srv.base_url, api_key="x", ...)
        assert srv.count == 1

Answers are scripted by :class:`Rule` (regex on the last user message, or a callable of the
messages; the default echoes the last user message; optionally tool calls, and answers to the
tool results a tool loop sends back). Images must come as ``data:`` URLs of real images
(HTTP 400 otherwise, as OpenAI answers; nothing is ever fetched). A request with
``stream: true`` is answered with Server-Sent Events as OpenAI streams them (a role chunk,
word-sized content deltas ``token_latency_s`` apart, the finish chunk, the usage chunk when
``stream_options.include_usage`` asks for it, ``[DONE]``). :class:`Fault` injects errors on demand:
429 with ``Retry-After``, 500, a hang past the client's timeout, malformed JSON, a dropped
connection, 401 and 404, for the first K matching requests or a seeded fraction of them.
Embeddings are hashed bag-of-words vectors (a deterministic test double, L2-normalised, not a
semantic model). Only the loopback interface is used and every wait is bounded.

:func:`hashed_embedding` (from :mod:`.providers.fake`) and :func:`loopback_only` (from
:mod:`.netguard`) are re-exported here: production code uses them without this module.

A little over 600 lines for a reason: one server class, whose chat, streaming and embedding
handlers share its lock, request log, rules and faults; the wire format is :mod:`.testwire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import re
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from .netguard import loopback_only
from .providers.fake import hashed_embedding
from .testwire import (
    Chunker,
    InStream,
    SeenImage,
    bad_reply,
    completion,
    content_text,
    count_tokens,
    error_response,
    image_problem,
    last_tool_results,
    last_user_text,
    model_not_found,
    not_json,
    request_images,
    send_event,
    tool_call,
    usage_of,
    word_chunks,
)

__all__ = [
    "Fault",
    "FaultKind",
    "OpenAITestServer",
    "Rule",
    "SeenImage",
    "hashed_embedding",
    "loopback_only",
]

FaultKind = Literal[
    "429",
    "500",
    "503",
    "401",
    "404",
    "hang",
    "malformed",
    "drop",
    "null_content",
    "empty_content",
    "no_choices",
    "non_text",
]
# Faults answered with HTTP 200 and a well-formed body that holds no usable answer.
_BAD_REPLIES = ("null_content", "empty_content", "no_choices", "non_text")
Reply = str | Callable[[list[dict[str, Any]]], str]


@dataclass
class Rule:
    """A scripted answer: the first rule whose ``match`` regex finds the last user message wins.

    Attributes:
        match: regex searched in the last user message (``None`` matches everything).
        reply: the answer text, or a callable taking the request's messages.
        model: only requests for this model (as the server sees it, e.g. ``test-model``).
    """

    match: str | None = None
    reply: Reply = ""
    model: str | None = None
    tool_calls: Sequence[Mapping[str, Any]] = ()
    """Tool calls the answer asks for: ``{"name": ..., "arguments": str | dict}`` each (an
    ``id`` is made up when missing). The reply text may then be empty. Such a rule without
    ``tool_result`` does not answer a request whose last message is a tool result, so a
    scripted call is asked for once, not forever."""
    tool_result: str | None = None
    """Only requests whose last message is a tool result: regex searched in the results of
    the last reply's calls (the trailing ``tool`` messages, one per line). A ``reply`` text
    may hold ``{tool_result}``, replaced by those results."""

    def applies(self, text: str, model: str, tool_result: str | None = None) -> bool:
        """Whether this rule answers a request with this last user message and model, whose
        trailing tool results are ``tool_result`` (``None``: its last message is no tool's)."""
        if self.model is not None and self.model != model:
            return False
        if self.tool_result is not None:
            if tool_result is None or re.search(self.tool_result, tool_result) is None:
                return False
        elif self.tool_calls and tool_result is not None:
            return False
        return self.match is None or re.search(self.match, text) is not None


@dataclass
class Fault:
    """An injected failure, for the first ``first`` matching requests or a fraction ``rate``.

    Attributes:
        kind: ``429`` (with ``Retry-After``), ``500``, ``503``, ``401``, ``404``, ``hang``
            (sleeps ``hang_s`` before answering normally), ``malformed`` (HTTP 200 with a
            body that is not JSON), ``drop`` (the connection is closed without a reply), or a
            well-formed HTTP 200 without a usable answer: ``null_content`` (``content: null``),
            ``empty_content`` (``content: ""``), ``no_choices`` (``choices: []``) or
            ``non_text`` (an image content part instead of text). A streamed request gets
            the HTTP errors before its stream starts; ``malformed``, ``drop`` and the
            unusable answers happen inside the stream (``drop`` cuts it after the first
            content chunk).
        first: fail the first K requests that match (counted per fault).
        rate: fail this fraction of matching requests, drawn from ``random.Random(seed)``.
        match: regex on the last user message; ``None`` matches every request.
        tool_result: regex on the results of the last reply's tool calls: only requests
            that end with tool results matching it (a model call failing inside a tool loop).
        retry_after: seconds sent in ``Retry-After`` / ``retry-after-ms`` with 429 answers.
        hang_s: how long a ``hang`` waits (bounded; the server's shutdown also ends it).
        seed: seed of the fraction's random draws.
        served: how many requests this fault has answered (read it to compare retry counts).
    """

    kind: FaultKind
    first: int | None = None
    rate: float | None = None
    match: str | None = None
    tool_result: str | None = None
    retry_after: float = 0.05
    hang_s: float = 30.0
    seed: int = 0
    served: int = field(default=0, init=False)
    _seen: int = field(default=0, init=False, repr=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.first is None and self.rate is None:
            self.first = 1_000_000_000
        self._rng = random.Random(self.seed)

    def fires(self, text: str, tool_result: str | None = None) -> bool:
        """Decide (and count) whether this fault hits a request with this last user message
        and these trailing tool results (``None``: it does not end with any)."""
        if self.match is not None and re.search(self.match, text) is None:
            return False
        if self.tool_result is not None and (
            tool_result is None or re.search(self.tool_result, tool_result) is None
        ):
            return False
        self._seen += 1
        if self.first is not None and self._seen <= self.first:
            return True
        return self.rate is not None and self._rng.random() < self.rate


class OpenAITestServer:
    """An OpenAI-compatible chat, embeddings and models server on ``127.0.0.1`` (ephemeral port).

    Use it as a context manager; ``base_url`` ends in ``/v1``. ``requests`` is the log of every
    request body received (chat and embeddings), ``count`` their number, and
    ``max_in_flight`` the largest number of requests the server was handling at once;
    ``GET /mleval/stats`` reports the last two to other processes.

    Args:
        rules: scripted answers, first match wins; the default echoes the last user message.
        faults: injected failures, checked in order before the answer.
        latency_s: delay before every answer (before the first chunk of a streamed one).
        token_latency_s: pause between the content chunks of a streamed answer (simulates the
            model's generation per token); a non-streamed answer waits as long in all before
            it is sent, so both take the same time.
        models: the model names the server knows; others get a 404. ``None`` accepts any.
        embedding_dim: length of the hashed embedding vectors.
        port: the loopback port to listen on; 0 (the default) takes a free one. A fixed port
            keeps ``base_url``, part of every call's cache key, the same from run to run.
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        *,
        faults: Sequence[Fault] = (),
        latency_s: float = 0.0,
        token_latency_s: float = 0.0,
        models: Sequence[str] | None = None,
        embedding_dim: int = 64,
        port: int = 0,
    ) -> None:
        self.rules = list(rules)
        self.faults = list(faults)
        self.latency_s = latency_s
        self.token_latency_s = token_latency_s
        self.models = None if models is None else list(models)
        self.embedding_dim = embedding_dim
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = port
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None
        self._stopping: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the ``api_base`` to give litellm or an OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def count(self) -> int:
        """How many requests the server has received."""
        with self._lock:
            return len(self.requests)

    @property
    def faults_served(self) -> int:
        """How many requests were answered with an injected fault (every fault together)."""
        with self._lock:
            return sum(f.served for f in self.faults)

    def reset(self) -> None:
        """Forget the request log and the in-flight high-water mark."""
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def start(self) -> OpenAITestServer:
        """Start serving in a background thread; returns when the port is bound."""
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, errors), name="mleval-testserver", daemon=True
        )
        self._thread.start()
        if not ready.wait(30) or errors:
            raise RuntimeError(f"test server failed to start: {errors[0] if errors else 'timeout'}")
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are cut off. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        stopping = self._stopping
        if stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(15)
        self._loop = None
        self._thread = None

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:  # reported to start(); never leaks out of the thread
            errors.append(exc)
            ready.set()
        finally:
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/models", self._models)
        app.router.add_get("/mleval/stats", self._stats)
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(runner, sock, backlog=1024)
        await site.start()
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # ------------------------------------------------------------------ handlers

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def images(self, index: int = -1) -> list[SeenImage]:
        """The images the ``index``-th request received carried (default: the last), decoded:
        each with its type, SHA-256, bytes and the index of its message."""
        with self._lock:
            body = self.requests[index]
        return request_images(body)

    def _fault_for(self, text: str, tool_result: str | None = None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fires(text, tool_result):
                    fault.served += 1
                    return fault
        return None

    async def _read_json(self, request: Any) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    async def _chat(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._read_json(request)
        if body is None:
            return not_json(web)
        self._record(body)
        try:
            messages = body.get("messages") or []
            text = last_user_text(messages)
            model = str(body.get("model", ""))
            stream = body.get("stream") is True
            problem = image_problem(messages)
            if problem is not None:  # as OpenAI answers an image it cannot read
                return error_response(
                    web, 400, problem, "invalid_image_format", "invalid_request_error"
                )
            results = last_tool_results(messages)
            early = await self._apply_fault(
                web, request, text, model, stream=stream, tool_result=results
            )
            if isinstance(early, InStream):
                if self.latency_s:
                    await self._sleep(self.latency_s)
                return await self._stream_fault(request, body, early.kind, model)
            if early is not None:
                return early
            if self.latency_s:
                await self._sleep(self.latency_s)
            reply, calls = self._answer(messages, text, model, results)
            usage = usage_of(" ".join(content_text(m.get("content")) for m in messages), reply)
            if stream:
                return await self._stream(request, body, model, reply, calls, usage)
            pieces = len(word_chunks(reply)) + sum(
                len(word_chunks(c["function"]["arguments"])) for c in calls
            )
            if self.token_latency_s and pieces > 1:
                # As long as the streamed answer takes from its first chunk to its last.
                await self._sleep(self.token_latency_s * (pieces - 1))
            return web.json_response(completion(model, len(self.requests), reply, calls, usage))
        finally:
            self._done()

    # ------------------------------------------------------------------ streaming

    async def _open_stream(self, request: Any) -> Any:
        from aiohttp import web

        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await resp.prepare(request)
        return resp

    async def _stream(
        self,
        request: Any,
        body: Mapping[str, Any],
        model: str,
        reply: str,
        calls: list[dict[str, Any]],
        usage: dict[str, int],
    ) -> Any:
        """Answer as OpenAI streams: role chunk, content deltas, tool-call deltas, finish, usage."""
        chunk = Chunker(body, model, len(self.requests))
        resp = await self._open_stream(request)
        with suppress(ConnectionError):
            await send_event(resp, chunk({"role": "assistant", "content": ""}))
            first = True
            for piece in word_chunks(reply):
                if not first and self.token_latency_s:
                    await self._sleep(self.token_latency_s)
                first = False
                await send_event(resp, chunk({"content": piece}))
            for index, call in enumerate(calls):
                # The first delta of a call names it; its arguments follow in pieces.
                head = {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                if not first and self.token_latency_s:
                    await self._sleep(self.token_latency_s)
                first = False
                await send_event(resp, chunk({"tool_calls": [head]}))
                for piece in word_chunks(call["function"]["arguments"]):
                    if self.token_latency_s:
                        await self._sleep(self.token_latency_s)
                    part = {"index": index, "function": {"arguments": piece}}
                    await send_event(resp, chunk({"tool_calls": [part]}))
            await send_event(resp, chunk({}, finish_reason="tool_calls" if calls else "stop"))
            if chunk.include_usage:
                await send_event(resp, chunk.usage(usage))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        return resp

    async def _stream_fault(
        self, request: Any, body: Mapping[str, Any], kind: str, model: str
    ) -> Any:
        """A streamed answer that goes wrong after the stream has started (HTTP 200)."""
        chunk = Chunker(body, model, len(self.requests))
        resp = await self._open_stream(request)
        with suppress(ConnectionError):
            if kind == "malformed":
                await resp.write(b'data: {"id": "x", "choices": [ {not json\n\n')
            elif kind == "drop":
                await send_event(resp, chunk({"role": "assistant", "content": ""}))
                await send_event(resp, chunk({"content": "partial"}))
                transport = request.transport
                if transport is not None:
                    transport.abort()
                raise asyncio.CancelledError
            elif kind == "no_choices":
                await send_event(resp, chunk.usage({"prompt_tokens": 1, "completion_tokens": 0}))
            else:  # null_content, empty_content, non_text
                content: Any = {
                    "null_content": None,
                    "empty_content": "",
                    "non_text": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                }[kind]
                await send_event(resp, chunk({"role": "assistant", "content": content}))
                await send_event(resp, chunk({}, finish_reason="stop"))
                if chunk.include_usage:
                    await send_event(
                        resp, chunk.usage({"prompt_tokens": 1, "completion_tokens": 0})
                    )
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        return resp

    async def _embeddings(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._read_json(request)
        if body is None:
            return not_json(web)
        self._record(body)
        try:
            raw = body.get("input", [])
            texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
            model = str(body.get("model", ""))
            early = await self._apply_fault(web, request, " ".join(texts), model)
            if early is not None:
                return early
            if self.latency_s:
                await self._sleep(self.latency_s)
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": hashed_embedding(t, self.embedding_dim),
                }
                for i, t in enumerate(texts)
            ]
            tokens = sum(count_tokens(t) for t in texts)
            return web.json_response(
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )
        finally:
            self._done()

    async def _models(self, request: Any) -> Any:
        from aiohttp import web

        names = self.models if self.models is not None else ["test-model"]
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": n, "object": "model", "owned_by": "mleval"} for n in names],
            }
        )

    async def _stats(self, request: Any) -> Any:
        from aiohttp import web

        with self._lock:
            stats = {
                "count": len(self.requests),
                "max_in_flight": self.max_in_flight,
                "faults_served": sum(f.served for f in self.faults),
            }
        return web.json_response(stats)

    async def _sleep(self, seconds: float) -> None:
        assert self._stopping is not None
        # Shutdown ends every wait, so a stopping server never waits out a long hang.
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _apply_fault(
        self,
        web: Any,
        request: Any,
        text: str,
        model: str,
        *,
        stream: bool = False,
        tool_result: str | None = None,
    ) -> Any:
        """An early error response, ``None`` to answer normally, or (for a streamed request
        whose fault happens inside the stream) an :class:`InStream` marker."""
        if self.models is not None and model not in self.models:
            return model_not_found(web, model)
        fault = self._fault_for(text, tool_result)
        if fault is None:
            return None
        kind = fault.kind
        if kind == "429":
            wait = max(fault.retry_after, 0.0)
            resp = error_response(
                web, 429, "Rate limit reached for test-model", "rate_limit_exceeded"
            )
            resp.headers["Retry-After"] = str(max(1, math.ceil(wait)) if wait else 0)
            resp.headers["retry-after-ms"] = str(int(wait * 1000))
            return resp
        if kind in ("500", "503"):
            return error_response(web, int(kind), "The server had an error", "server_error")
        if kind == "401":
            # Echo the key as some providers do, so tests can prove callers scrub it.
            key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            return error_response(web, 401, f"Incorrect API key provided: {key}", "invalid_api_key")
        if kind == "404":
            return model_not_found(web, model)
        if stream and (kind in ("malformed", "drop") or kind in _BAD_REPLIES):
            return InStream(kind)
        if kind == "malformed":
            return web.Response(
                status=200,
                text='{"id": "x", "choices": [ {not json',
                content_type="application/json",
            )
        if kind in _BAD_REPLIES:
            return web.json_response(bad_reply(kind, model))
        if kind == "drop":
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError
        await self._sleep(fault.hang_s)  # "hang": then answer normally
        return None

    def _answer(
        self, messages: list[dict[str, Any]], text: str, model: str, results: str | None
    ) -> tuple[str, list[dict[str, Any]]]:
        """The reply text and the tool calls (OpenAI-style dicts) of the first rule that applies."""
        for rule in self.rules:
            if rule.applies(text, model, results):
                if callable(rule.reply):
                    reply = rule.reply(messages)
                else:
                    reply = rule.reply.replace("{tool_result}", results or "")
                return reply, [tool_call(i, c) for i, c in enumerate(rule.tool_calls)]
        return text, []


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_mleval.inference.testserver``: serve until interrupted.

    Prints the base URL on the first line of stdout (with ``--port 0``, the chosen port).
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="OpenAI-compatible test server on 127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--token-latency",
        type=float,
        default=0.0,
        help="seconds between the content chunks of a streamed answer",
    )
    parser.add_argument("--reply", default=None, help="answer every request with this text")
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    args = parser.parse_args(argv)
    rules = [Rule(reply=args.reply)] if args.reply is not None else []
    with OpenAITestServer(
        rules, latency_s=args.latency, token_latency_s=args.token_latency, port=args.port
    ) as srv:
        print(srv.base_url, flush=True)
        # Serve until stdin closes (the parent exits) or Ctrl-C.
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
