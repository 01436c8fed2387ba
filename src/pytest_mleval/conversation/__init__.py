"""Conversations, tool calls and images as plain records: what a case sends (OpenAI-style
messages, image content parts) and what an agent did (its trajectory).

Core: the standard library and pydantic only. The eval-file schema validates messages with
:func:`check_messages`; targets return a :class:`Trajectory`; metrics and reports read it.
"""

from __future__ import annotations

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
