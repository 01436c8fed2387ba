"""OpenAI-style chat messages: checked once where they are read, then passed as plain dicts.

A case's ``messages:`` and a ``python:`` target's returned ``messages`` are both read here, so
a conversation means the same thing wherever it comes from: ``role`` one of
:data:`MESSAGE_ROLES`; ``content`` text, a list of content parts (``text`` and ``image_url``)
or, for an assistant turn that calls tools, nothing; assistant ``tool_calls`` in the OpenAI
form (the YAML shorthand ``{name, arguments}`` is expanded); a ``tool`` message answers one
call by ``tool_call_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MESSAGE_ROLES",
    "MessageError",
    "check_messages",
    "last_user_text",
    "message_text",
    "with_images",
]

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool")
"""The roles a message may have."""

_PART_TYPES = ("text", "image_url")


class MessageError(ValueError):
    """A malformed conversation: ``index`` is the message at fault (``None``: the list)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def message_text(content: Any) -> str:
    """The text of a message's content: the string, or its ``text`` parts joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return "" if content is None else str(content)


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last ``user`` message (``""`` when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def with_images(
    messages: Sequence[Mapping[str, Any]], parts: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The conversation with image content ``parts`` added to its last ``user`` message.

    Its text becomes a ``text`` part followed by the images (the order vision models expect).
    Without a user message the conversation is returned unchanged.
    """
    out = [dict(m) for m in messages]
    if not parts:
        return out
    for message in reversed(out):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                message["content"] = [*content, *(dict(p) for p in parts)]
            else:
                text = message_text(content)
                message["content"] = [{"type": "text", "text": text}, *(dict(p) for p in parts)]
            break
    return out


def check_messages(raw: Any, *, where: str = "messages") -> list[dict[str, Any]]:
    """Read a conversation: validate every message and return them as plain OpenAI dicts.

    Args:
        raw: A list of message mappings.
        where: How errors name the list (``messages``, or a target's return value).

    Returns:
        The messages; scalars in ``content`` become text and the tool-call shorthand
        ``{name, arguments}`` becomes ``{id, type: function, function: {name, arguments}}``
        with ``arguments`` as JSON text.

    Raises:
        MessageError: naming the message (``messages[2].content``) and what is wrong.
    """
    if not isinstance(raw, list) or not raw:
        raise MessageError(f"{where} must be a non-empty list of {{role, content}} messages")
    out: list[dict[str, Any]] = []
    call_ids: set[str] = set()
    for i, message in enumerate(raw):
        try:
            out.append(_message(message, f"{where}[{i}]", i, call_ids))
        except MessageError:
            raise
        except ValueError as exc:
            raise MessageError(str(exc), i) from None
    return out


def _message(message: Any, at: str, i: int, call_ids: set[str]) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        raise ValueError(f"{at} must be a mapping with `role` and `content`")
    role = message.get("role")
    if role not in MESSAGE_ROLES:
        raise ValueError(f"{at}.role must be one of {', '.join(MESSAGE_ROLES)}, got {role!r}")
    msg = {str(k): v for k, v in message.items()}
    if role == "assistant" and msg.get("tool_calls"):
        msg["tool_calls"] = [
            _tool_call(call, f"{at}.tool_calls[{j}]", i, j)
            for j, call in enumerate(_as_list(msg["tool_calls"], f"{at}.tool_calls"))
        ]
        call_ids.update(c["id"] for c in msg["tool_calls"])
    elif "tool_calls" in msg:
        if role != "assistant" or msg["tool_calls"]:
            raise ValueError(f"{at}.tool_calls: only assistant messages call tools")
        del msg["tool_calls"]
    msg["content"] = _content(msg.get("content"), at, may_be_empty=bool(msg.get("tool_calls")))
    if role == "tool":
        call_id = msg.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"{at}.tool_call_id: a tool message names the call it answers")
        if call_ids and call_id not in call_ids:
            raise ValueError(
                f"{at}.tool_call_id {call_id!r} answers no earlier assistant tool call"
            )
    return msg


def _as_list(value: Any, at: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{at} must be a list")
    return value


def _content(value: Any, at: str, *, may_be_empty: bool) -> Any:
    if value is None:
        if may_be_empty:
            return None
        raise ValueError(f"{at}.content is missing")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        # Structured data (a tool's JSON result written as a mapping) is sent as JSON text.
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(value):
            pat = f"{at}.content[{j}]"
            if isinstance(part, str):
                parts.append({"type": "text", "text": part})
                continue
            if not isinstance(part, Mapping) or part.get("type") not in _PART_TYPES:
                raise ValueError(f"{pat} must be a {{type: text}} or {{type: image_url}} part")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise ValueError(f"{pat}.text must be text")
            if part["type"] == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else None
                if not isinstance(url, str) or not url:
                    raise ValueError(f"{pat}.image_url.url is missing")
            parts.append({str(k): v for k, v in part.items()})
        return parts
    raise ValueError(f"{at}.content must be text or a list of content parts")


def _tool_call(call: Any, at: str, i: int, j: int) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise ValueError(f"{at} must be a mapping")
    function = call.get("function", call)
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise ValueError(f"{at} needs a function name (`name:` or `function: {{name: ...}}`)")
    arguments = function.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return {
        "id": str(call.get("id") or f"call_{i}_{j}"),
        "type": "function",
        "function": {"name": function["name"], "arguments": arguments},
    }
