"""The OpenAI wire format of the test server's answers: completions, stream chunks, tool
calls, the replies that hold no answer, errors. Kept apart from :mod:`.testserver` (the
server, its rules and faults) so that each stays one concept; only the test server uses it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Chunker",
    "InStream",
    "bad_reply",
    "content_text",
    "count_tokens",
    "error_response",
    "last_user_text",
    "send_event",
    "tool_call",
    "usage_of",
    "word_chunks",
]


def count_tokens(text: str) -> int:
    return len(text.split())


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for msg in reversed(messages):
        if msg.get("role") == "user":
            return content_text(msg.get("content"))
    return ""


@dataclass(frozen=True)
class InStream:
    """A fault that happens inside a streamed answer (after HTTP 200 and the headers)."""

    kind: str


class Chunker:
    """Builds the ``chat.completion.chunk`` objects of one streamed answer."""

    def __init__(self, body: Mapping[str, Any], model: str, n: int) -> None:
        options = body.get("stream_options")
        self.include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        self.base = {
            "id": f"chatcmpl-test-{n}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
        }

    def __call__(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        out: dict[str, Any] = {**self.base, "choices": [choice]}
        if self.include_usage:
            out["usage"] = None  # as OpenAI: every chunk but the last has a null usage
        return out

    def usage(self, usage: Mapping[str, int]) -> dict[str, Any]:
        p, c = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        return {
            **self.base,
            "choices": [],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        }


async def send_event(resp: Any, obj: Mapping[str, Any]) -> None:
    await resp.write(b"data: " + json.dumps(obj).encode() + b"\n\n")


def word_chunks(text: str) -> list[str]:
    """``text`` in word-sized pieces, each with the whitespace before it (they join to ``text``)."""
    pieces = re.findall(r"\s*\S+", text)
    rest = text[sum(map(len, pieces)) :]
    if rest:
        pieces.append(rest)
    return pieces


def tool_call(index: int, spec: Mapping[str, Any]) -> dict[str, Any]:
    arguments = spec.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": str(spec.get("id") or f"call_test_{index}"),
        "type": "function",
        "function": {"name": str(spec["name"]), "arguments": arguments},
    }


def bad_reply(kind: str, model: str) -> dict[str, Any]:
    """A well-formed completion that holds no usable answer (see :data:`.testserver.FaultKind`)."""
    content: Any = {
        "null_content": None,
        "empty_content": "",
        "non_text": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}],
    }.get(kind)
    choices = (
        []
        if kind == "no_choices"
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ]
    )
    return {
        "id": "chatcmpl-test-bad",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
    }


def usage_of(prompt: str, reply: str) -> dict[str, int]:
    p, c = count_tokens(prompt), count_tokens(reply)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def error_response(web: Any, status: int, message: str, code: str) -> Any:
    payload = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")
