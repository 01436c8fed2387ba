"""Assembling a streamed chat answer and timing it, for every client that streams.

A provider that streams feeds each chunk to a :class:`StreamAssembly` with its arrival time
(``time.perf_counter()``), then reads the answer back (``text()``, ``tool_calls()``,
``usage()``, ``finish_reason``) and the timings from :func:`stream_timings`, so every client
measures time to first token, inter-token latency and output tokens/s the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...errors import ProviderError
from ..types import ChatResponse, Usage
from .base import unusable_reply

__all__ = ["StreamAssembly", "stream_timings", "streamed_response"]


def stream_timings(
    token_times: Sequence[float], start: float, completion_tokens: int
) -> tuple[float | None, float | None, float | None]:
    """``(ttft_ms, itl_ms, output_tokens_per_s)`` of a stream from its token arrival times.

    Args:
        token_times: ``time.perf_counter()`` of each chunk that carried answer content (text
            or a tool call's pieces), in order.
        start: ``time.perf_counter()`` when the request was sent.
        completion_tokens: the usage chunk's completion tokens (0: count the chunks instead).

    Returns:
        Time to first token (ms, ``None`` without content), the mean gap between content
        chunks after the first (ms, ``None`` with fewer than two), and completion tokens
        per second from the first token to the last (``None`` with fewer than two chunks).
    """
    if not token_times:
        return None, None, None
    ttft = (token_times[0] - start) * 1000.0
    if len(token_times) < 2:
        return ttft, None, None
    span = token_times[-1] - token_times[0]
    itl = span * 1000.0 / (len(token_times) - 1)
    tokens = completion_tokens or len(token_times)
    return ttft, itl, (tokens / span if span > 0 else None)


def _get(obj: Any, key: str) -> Any:
    """A field of a litellm/openai object or of a plain dict."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


class StreamAssembly:
    """The chunks of one streamed answer put back together (choice 0 only).

    Feed it each chunk as it arrives (:meth:`add`); chunks may be litellm/openai objects or
    the plain dicts of the JSON events. Content deltas are joined, tool-call deltas merged
    by ``index`` into whole OpenAI-style calls, the last ``finish_reason`` and the usage chunk
    kept, and the arrival time of every chunk that carried answer content (text, refusal or
    tool-call pieces) recorded for :func:`stream_timings`.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.refusal: list[str] = []
        self.saw_content = False
        self.choices_seen = False
        self.finish_reason: str | None = None
        self.raw_usage: Any = None
        self.calls: dict[int, dict[str, Any]] = {}
        self.token_times: list[float] = []

    def add(self, chunk: Any, now: float) -> None:
        """Take one chunk that arrived at ``now``."""
        usage = _get(chunk, "usage")
        if usage is not None:
            self.raw_usage = usage
        for choice in _get(chunk, "choices") or ():
            if (_get(choice, "index") or 0) != 0:
                continue  # n > 1 is not asked for; choice 0 is the answer
            self.choices_seen = True
            delta = _get(choice, "delta")
            got = False
            if delta is not None:
                got = self._content(_get(delta, "content"))
                refusal = _get(delta, "refusal")
                if isinstance(refusal, str) and refusal:
                    self.refusal.append(refusal)
                    got = True
                for call in _get(delta, "tool_calls") or ():
                    got = self._merge_call(call) or got
            if got:
                self.token_times.append(now)
            reason = _get(choice, "finish_reason")
            if reason:
                self.finish_reason = str(reason)

    def _content(self, content: Any) -> bool:
        if isinstance(content, str):
            self.saw_content = True
            if content:
                self.parts.append(content)
                return True
            return False
        if isinstance(content, list):  # content parts: only text parts are text
            texts = [
                str(_get(p, "text"))
                for p in content
                if _get(p, "type") in ("text", "output_text") and _get(p, "text")
            ]
            if texts:
                self.saw_content = True
                self.parts.extend(texts)
                return True
        return False

    def _merge_call(self, delta: Any) -> bool:
        """Merge one tool-call delta into its call (by ``index``); whether it carried any."""
        index = _get(delta, "index")
        ident = _get(delta, "id")
        if not isinstance(index, int):
            # No index (some servers): a new id starts a call, else it continues the last.
            known = [i for i, c in self.calls.items() if c["id"] == ident]
            index = (
                known[0]
                if known
                else (len(self.calls) if ident or not self.calls else max(self.calls))
            )
        call = self.calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if ident and not call["id"]:
            call["id"] = str(ident)
        kind = _get(delta, "type")
        if kind:
            call["type"] = str(kind)
        function = _get(delta, "function")
        name = _get(function, "name") if function is not None else None
        arguments = _get(function, "arguments") if function is not None else None
        fn = call["function"]
        if isinstance(name, str) and name and name != fn["name"]:
            # Sent once by OpenAI; a server that streams the name in pieces gets them joined.
            fn["name"] += name
        if isinstance(arguments, str):
            fn["arguments"] += arguments
        return bool(name or arguments)

    def text(self) -> str | None:
        """The answer's text; ``None`` when no chunk carried any content at all."""
        if self.parts:
            return "".join(self.parts)
        if self.refusal:
            return "".join(self.refusal)
        return "" if self.saw_content else None

    def tool_calls(self) -> tuple[dict[str, Any], ...]:
        """The merged tool calls, OpenAI-style, in index order."""
        return tuple(self.calls[i] for i in sorted(self.calls))

    def usage(self) -> Usage:
        """The usage chunk's counts (zeros when the server sent none)."""
        raw = self.raw_usage
        prompt = int(_get(raw, "prompt_tokens") or 0) if raw is not None else 0
        completion = int(_get(raw, "completion_tokens") or 0) if raw is not None else 0
        total = int(_get(raw, "total_tokens") or 0) if raw is not None else 0
        return Usage(prompt, completion, total or prompt + completion)


def streamed_response(
    acc: StreamAssembly,
    *,
    model: str,
    start: float,
    end: float,
    client: str,
    price: Callable[[Usage, Any], tuple[float, str | None]],
) -> ChatResponse:
    """The answer a finished stream holds, checked and timed as every client does it.

    Args:
        acc: the stream's chunks, put together.
        model: the request's model id.
        start: ``time.perf_counter()`` when the request was sent.
        end: ``time.perf_counter()`` when the stream ended.
        client: which client streamed it (``native``, ``litellm``).
        price: the client's cost of the call from the usage (and the raw usage chunk):
            ``(cost_usd, note)``.

    Raises:
        ProviderError: the stream held no choices or no usable answer (retryable).
    """
    if not acc.choices_seen:
        raise ProviderError(f"model {model!r}: unusable reply: it has no choices")
    text, tool_calls = acc.text(), acc.tool_calls()
    problem = unusable_reply(text, tool_calls, acc.finish_reason)
    if problem is not None:
        raise ProviderError(f"model {model!r}: unusable reply: {problem}")
    usage = acc.usage()
    cost, note = price(usage, acc.raw_usage)
    ttft, itl, rate = stream_timings(acc.token_times, start, usage.completion_tokens)
    return ChatResponse(
        text=text or "",  # a tool-call step carries no text
        model=model,
        usage=usage,
        cost_usd=cost,
        cost_note=note,
        latency_ms=(end - start) * 1000.0,
        finish_reason=acc.finish_reason,
        tool_calls=tool_calls,
        client=client,
        ttft_ms=ttft,
        itl_ms=itl,
        output_tokens_per_s=rate,
    )
