"""The native client: OpenAI-compatible endpoints called directly over one pooled aiohttp
session per event loop, without litellm (which costs seconds to import and milliseconds of
CPU per call).

It sends the body litellm sends for the same request (parameters passed through,
``extra_body`` merged, ``extra_headers`` as headers, litellm's own keys left out), maps HTTP
failures onto the same error classes, prices calls from litellm's bundled cost map
(:mod:`.costmap`) and answers with the same :class:`~..types.ChatResponse`, so the engine's
cache keys, retries and statistics cannot tell the clients apart. Streamed calls
(``stream: true``) also record time to first token, inter-token latency and tokens/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import (
    AuthenticationError,
    InferenceError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
    TimeoutError,
)
from ..clients import NativeEndpoint, native_endpoint
from ..loop import is_shared_loop, on_loop_shutdown
from ..scrubbing import scrub
from ..types import ChatRequest, ChatResponse, Usage
from .base import EmbeddingVectors, reply_text, retry_after_seconds, unusable_reply
from .costmap import cost_map
from .streaming import StreamAssembly, streamed_response

__all__ = ["NativeProvider", "import_aiohttp", "native_body"]

# Keys litellm reads itself and never sends to an OpenAI-compatible server; kept out of the
# body so that both clients send the same request.
_NOT_SENT = frozenset({"metadata", "drop_params", "num_retries", "max_retries", "user"})


def import_aiohttp() -> Any:
    """aiohttp, with an install hint when it is missing."""
    try:
        import aiohttp
    except ImportError as exc:
        raise MissingDependencyError("aiohttp", "llm", "the native model client") from exc
    return aiohttp


def native_body(req: ChatRequest, wire_model: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON body and extra headers of a chat request, as litellm sends them.

    Args:
        req: the request.
        wire_model: the model name the server knows (the id without its provider prefix).
    """
    params = dict(req.params)
    extra_body = params.pop("extra_body", None) or {}
    extra_headers = params.pop("extra_headers", None) or {}
    body: dict[str, Any] = {"model": wire_model, "messages": [dict(m) for m in req.messages]}
    for key, value in params.items():
        if key not in _NOT_SENT:
            body[key] = value
    if req.tools is not None:
        body["tools"] = [dict(t) for t in req.tools]
    elif "tool_choice" in body:
        del body["tool_choice"]  # litellm drops a tool choice without tools, as servers reject it
    if isinstance(extra_body, Mapping):
        for key, value in extra_body.items():
            body.setdefault(key, value)  # as litellm: a parameter given itself wins
    if body.get("stream"):
        options = dict(body.get("stream_options") or {})
        options.setdefault("include_usage", True)
        body["stream_options"] = options
    else:
        body.pop("stream", None)
    headers = {str(k): str(v) for k, v in dict(extra_headers).items()}
    return body, headers


def _error_detail(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return text.strip()[:500]


def http_error(
    status: int, text: str, headers: Mapping[str, str], model: str, secrets: Sequence[str | None]
) -> InferenceError:
    """The package's error for an HTTP failure, classed as the litellm path classes it."""
    detail = scrub(_error_detail(text), secrets) or f"HTTP {status}"
    where = f"model {model!r}"
    if status == 429:
        wait = retry_after_seconds(headers)
        return RateLimitError(f"{where}: rate limited (429): {detail}", wait)
    if status in (401, 403):
        return AuthenticationError(
            f"{where}: authentication failed ({status}): {detail}; "
            "check the API key for this provider (it is not shown here)"
        )
    if status == 404:
        return InferenceError(f"{where}: not found (404): {detail}")
    if status in (408, 409) or status >= 500:
        return ProviderError(f"{where}: provider error ({status}): {detail}")
    if status in (400, 422):
        return InferenceError(f"{where}: request rejected ({status}): {detail}")
    return InferenceError(f"{where}: request failed ({status}): {detail}")


def _tool_calls(message: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    calls = message.get("tool_calls") or ()
    out = []
    for call in calls:
        if not isinstance(call, Mapping):
            raise TypeError(f"a tool call is not an object: {call!r}")
        function = call.get("function") or {}
        out.append(
            {
                "function": {
                    "arguments": function.get("arguments"),
                    "name": function.get("name"),
                },
                "id": call.get("id"),
                "type": call.get("type") or "function",
            }
        )
    return tuple(out)


def _usage(raw: Any) -> tuple[Usage, Mapping[str, Any]]:
    data = raw if isinstance(raw, Mapping) else {}
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    total = int(data.get("total_tokens") or 0) or prompt + completion
    return Usage(prompt, completion, total), data


class NativeProvider:
    """OpenAI-compatible endpoints over aiohttp: one attempt per call, the package's errors.

    Args:
        mode: the client mode the routes follow (``auto`` or ``native``; see
            :mod:`..clients`).
        api_key: default key for calls whose request has none (else the provider's variable).
    """

    def __init__(self, *, mode: str = "auto", api_key: str | None = None) -> None:
        self.mode = mode
        self.api_key = api_key
        self._sessions: dict[asyncio.AbstractEventLoop, Any] = {}

    def endpoint(self, req_model: str, api_base: str | None) -> NativeEndpoint | None:
        """Where a call to ``req_model`` goes (``None``: not a native call)."""
        return native_endpoint(req_model, api_base, self.mode)

    def prepare(self, model: str) -> None:
        """Import aiohttp and read the cost map (the engine runs this once, off the loop)."""
        import_aiohttp()
        cost_map()

    def supports_response_schema(self, model: str) -> bool:
        """Whether litellm's cost map says ``model`` takes a JSON schema."""
        return cost_map().supports_response_schema(model)

    def _session(self) -> Any:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            aiohttp = import_aiohttp()
            # No pool limit: the engine bounds the calls in flight; keep-alive reuses sockets.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                json_serialize=lambda v: json.dumps(v, ensure_ascii=False),
                auto_decompress=True,
            )
            self._sessions[loop] = session
            if is_shared_loop(loop):
                on_loop_shutdown(self.aclose)
        return session

    async def aclose(self) -> None:
        """Close this loop's HTTP session (its pooled connections)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    def _key(self, req_key: str | None, endpoint: NativeEndpoint) -> str | None:
        if req_key or self.api_key:
            return req_key or self.api_key
        return os.environ.get(endpoint.key_env) if endpoint.key_env else None

    async def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        key: str | None,
        model: str,
        timeout: float | None,
    ) -> Any:
        aiohttp = import_aiohttp()
        sent = {"Content-Type": "application/json", **headers}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        try:
            return await self._session().post(
                url,
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=timeout) if timeout else None,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _transport_error(exc, model, key) from None

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """One chat completion against the request's OpenAI-compatible endpoint."""
        endpoint = self.endpoint(req.model, req.api_base)
        if endpoint is None:
            raise InferenceError(f"model {req.model!r}: not an OpenAI-compatible endpoint")
        body, headers = native_body(req, endpoint.wire_model)
        key = self._key(req.api_key, endpoint)
        start = time.perf_counter()
        resp = await self._post(
            endpoint.base_url + "/chat/completions", body, headers, key, req.model, req.timeout
        )
        stream: StreamAssembly | None = None
        data: Any = None
        try:
            if resp.status >= 400:
                raise http_error(
                    resp.status, await _error_body(resp), resp.headers, req.model, [key]
                )
            if body.get("stream"):
                stream = StreamAssembly()
                await self._read_stream(resp, stream, req.model, key)
            else:
                data = await self._read_json(resp, req.model, key)
        finally:
            resp.release()
        end = time.perf_counter()
        if stream is not None:
            price = _stream_price(req.model)
            return streamed_response(
                stream, model=req.model, start=start, end=end, client="native", price=price
            )
        return self._answer(req, data, (end - start) * 1000.0)

    async def _read_json(self, resp: Any, model: str, key: str | None) -> Any:
        try:
            raw = await resp.read()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _transport_error(exc, model, key) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise ProviderError(
                f"model {model!r}: unusable reply: not a valid completion (the body is not JSON)"
            ) from None

    async def _read_stream(
        self, resp: Any, stream: StreamAssembly, model: str, key: str | None
    ) -> None:
        try:
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise ProviderError(
                        f"model {model!r}: unusable reply: a streamed chunk is not JSON"
                    ) from None
                if isinstance(chunk, Mapping):
                    if chunk.get("error"):
                        raise http_error(500, json.dumps(chunk), {}, model, [key])
                    stream.add(chunk, time.perf_counter())
        except (asyncio.CancelledError, InferenceError):
            raise
        except Exception as exc:
            raise _transport_error(exc, model, key) from None

    def _answer(self, req: ChatRequest, data: Any, latency_ms: float) -> ChatResponse:
        model = req.model
        choices = data.get("choices") if isinstance(data, Mapping) else None
        if not choices:
            raise ProviderError(f"model {model!r}: unusable reply: it has no choices")
        try:
            choice = choices[0]
            message = choice.get("message") or {}
            tool_calls = _tool_calls(message)
            finish_reason = choice.get("finish_reason")
        except (AttributeError, IndexError, TypeError) as exc:
            raise ProviderError(f"model {model!r}: malformed reply: {exc}") from None
        text = reply_text(message)
        problem = unusable_reply(text, tool_calls, finish_reason)
        if problem is not None:
            raise ProviderError(f"model {model!r}: unusable reply: {problem}")
        usage, raw_usage = _usage(data.get("usage"))
        cost, note = cost_map().chat_cost(model, raw_usage)
        return ChatResponse(
            text=text or "",
            model=model,
            usage=usage,
            cost_usd=cost,
            cost_note=note,
            latency_ms=latency_ms,
            finish_reason=finish_reason,
            tool_calls=tool_calls,
            client="native",
        )

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """One embeddings call against the model's OpenAI-compatible endpoint."""
        endpoint = self.endpoint(model, api_base)
        if endpoint is None:
            raise InferenceError(f"model {model!r}: not an OpenAI-compatible endpoint")
        key = self._key(api_key, endpoint)
        body = {"model": endpoint.wire_model, "input": list(texts)}
        resp = await self._post(endpoint.base_url + "/embeddings", body, {}, key, model, None)
        try:
            if resp.status >= 400:
                raise http_error(resp.status, await _error_body(resp), resp.headers, model, [key])
            data = await self._read_json(resp, model, key)
        finally:
            resp.release()
        try:
            rows = sorted(data["data"], key=lambda d: d["index"])
            out = EmbeddingVectors(list(map(float, d["embedding"])) for d in rows)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"model {model!r}: malformed embeddings reply: {exc}") from None
        if len(out) != len(texts):
            raise ProviderError(
                f"model {model!r}: malformed embeddings reply: {len(out)} vectors "
                f"for {len(texts)} texts"
            )
        usage = data.get("usage") or {}
        out.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        out.cost_usd = cost_map().embedding_cost(model, out.prompt_tokens)
        return out


async def _error_body(resp: Any) -> str:
    """An error reply's text; empty when even that cannot be read (the status still says)."""
    try:
        text: str = await resp.text(errors="replace")
    except asyncio.CancelledError:
        raise
    except Exception:  # a connection cut while the error body was read
        return ""
    return text


def _stream_price(model: str) -> Any:
    def price(usage: Usage, raw: Any) -> tuple[float, str | None]:
        # The usage chunk as sent (cached prompt tokens included) when there is one.
        return cost_map().chat_cost(model, raw if isinstance(raw, Mapping) else usage.as_dict())

    return price


def _transport_error(exc: BaseException, model: str, key: str | None) -> InferenceError:
    """A failure below HTTP (connection, timeout, cut-off body), as the litellm path classes it."""
    detail = scrub(str(exc) or type(exc).__name__, [key])
    if isinstance(exc, asyncio.TimeoutError) or "Timeout" in type(exc).__name__:
        return TimeoutError(f"model {model!r}: timed out: {detail}")
    return ProviderError(f"model {model!r}: provider error (connection): {detail}")
