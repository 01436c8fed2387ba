"""The OpenAI wire format of the test server's answers: completions, stream chunks, tool
calls, the replies that hold no answer, errors. Kept apart from :mod:`.testserver` (the
server, its rules and faults) so that each stays one concept; only the test server uses it."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..conversation.messages import last_user_text as _last_user_text
from ..conversation.messages import message_text

__all__ = [
    "Chunker",
    "InStream",
    "SeenImage",
    "bad_reply",
    "completion",
    "content_text",
    "count_tokens",
    "error_response",
    "image_problem",
    "last_tool_results",
    "last_user_text",
    "model_not_found",
    "not_json",
    "request_images",
    "send_event",
    "tool_call",
    "usage_of",
    "word_chunks",
]


def count_tokens(text: str) -> int:
    return len(text.split())


# The server reads messages as the package does (a content's text, the last question).
content_text = message_text
last_user_text = _last_user_text


def last_tool_results(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The results of the last reply's tool calls: the contents of the ``tool`` messages that
    end the conversation, one per line; ``None`` when its last message is not a tool result."""
    results: list[str] = []
    for msg in reversed(messages):
        if not isinstance(msg, Mapping) or msg.get("role") != "tool":
            break
        results.append(content_text(msg.get("content")))
    return "\n".join(reversed(results)) if results else None


@dataclass(frozen=True)
class SeenImage:
    """An image a request carried (an ``image_url`` part with a ``data:`` URL), decoded.

    Attributes:
        mime: Its type, read from its bytes (``image/png`` ...).
        sha256: Hex digest of the bytes.
        data: The bytes.
        message: Index of the message that carried it.
    """

    mime: str
    sha256: str
    data: bytes
    message: int


def _image_urls(messages: Any) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []
    for i, msg in enumerate(messages if isinstance(messages, list) else ()):
        content = msg.get("content") if isinstance(msg, Mapping) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                image = part.get("image_url")
                found.append((i, image.get("url") if isinstance(image, Mapping) else image))
    return found


def image_problem(messages: Any) -> str | None:
    """Why a request's images cannot be read (as a provider answers it, with HTTP 400), or
    ``None``: each ``image_url`` part must hold a ``data:`` URL of a PNG, JPEG, GIF or WebP
    image; an ``http(s)`` URL is refused, since the test server never fetches anything."""
    from ..conversation.images import ImageError, load_image

    for i, url in _image_urls(messages):
        if not isinstance(url, str) or not url:
            return f"messages[{i}]: an image_url part needs a `url`"
        if re.match(r"^[a-zA-Z][\w+.-]*://", url):
            return (
                f"messages[{i}]: image URL {url[:80]!r}: the test server never fetches images "
                "from the network; send them as data: URLs"
            )
        try:
            load_image(url, None)
        except ImageError as exc:
            return f"messages[{i}]: invalid image data: {exc}"
    return None


def request_images(body: Mapping[str, Any]) -> list[SeenImage]:
    """The images of a request body, decoded, in the order they appear."""
    from ..conversation.images import ImageError, load_image

    seen = []
    for i, url in _image_urls(body.get("messages")):
        try:
            image = load_image(str(url), None)
        except ImageError:
            continue  # answered with 400; nothing was seen
        _, _, data = image.data_url.partition(",")
        seen.append(SeenImage(image.mime, image.sha256, base64.b64decode(data), i))
    return seen


def completion(
    model: str, n: int, reply: str, calls: list[dict[str, Any]], usage: dict[str, int]
) -> dict[str, Any]:
    """A ``chat.completion`` body: the reply's text, or its tool calls (content ``null``)."""
    message: dict[str, Any] = {"role": "assistant", "content": reply}
    if calls:
        message = {"role": "assistant", "content": reply or None, "tool_calls": calls}
    return {
        "id": f"chatcmpl-test-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": usage,
    }


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


def error_response(web: Any, status: int, message: str, code: str, kind: str | None = None) -> Any:
    """An OpenAI error body (``type`` is ``kind``, else the ``code``)."""
    payload = {"error": {"message": message, "type": kind or code, "param": None, "code": code}}
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")


def not_json(web: Any) -> Any:
    """HTTP 400 for a request body that is not a JSON object."""
    return error_response(web, 400, "request body is not a JSON object", "invalid_request_error")


def model_not_found(web: Any, model: str) -> Any:
    """HTTP 404 for a model the server does not serve, as OpenAI words it."""
    return error_response(web, 404, f"The model `{model}` does not exist", "model_not_found")
