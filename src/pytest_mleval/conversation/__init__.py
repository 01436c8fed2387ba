"""Conversations, tool calls and images as plain records: what a case sends (OpenAI-style
messages, image content parts) and what an agent did (its trajectory).

Core: the standard library and pydantic only. The eval-file schema validates messages with
:func:`check_messages`; targets return a :class:`Trajectory`; metrics and reports read it.
Each name below loads its module on first use: a run whose cases have no tools or
conversation does not build the trajectory's models at its start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_face

if TYPE_CHECKING:
    from .images import ImageError, ImageRef, image_part, load_image
    from .messages import (
        MESSAGE_ROLES,
        MessageError,
        check_messages,
        last_user_text,
        message_text,
        with_images,
    )
    from .trajectory import ToolCall, Trajectory, Turn, is_error_result, parse_call, transcript

_WHERE = {
    "ImageError": "images",
    "ImageRef": "images",
    "image_part": "images",
    "load_image": "images",
    "MESSAGE_ROLES": "messages",
    "MessageError": "messages",
    "check_messages": "messages",
    "last_user_text": "messages",
    "message_text": "messages",
    "with_images": "messages",
    "ToolCall": "trajectory",
    "Trajectory": "trajectory",
    "Turn": "trajectory",
    "is_error_result": "trajectory",
    "parse_call": "trajectory",
    "transcript": "trajectory",
}

__all__ = [
    "MESSAGE_ROLES",
    "ImageError",
    "ImageRef",
    "MessageError",
    "ToolCall",
    "Trajectory",
    "Turn",
    "check_messages",
    "image_part",
    "is_error_result",
    "last_user_text",
    "load_image",
    "message_text",
    "parse_call",
    "transcript",
    "with_images",
]

__getattr__, __dir__ = lazy_face(__name__, _WHERE)
