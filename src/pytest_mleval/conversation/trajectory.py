"""What an agent did: its turns, the tool calls of each with arguments and results, and the
whole conversation, as a typed record targets produce and metrics, results and reports read.

A ``model:`` target with tools builds it turn by turn (the tool loop); any other target that
returns OpenAI-style ``messages`` gets one read from them (:meth:`Trajectory.from_messages`),
so both are scored by the same trajectory metrics.

A tool result is an error when the loop recorded one (``error``), or, read from messages,
when the tool message says ``is_error: true`` or its content is a JSON object with an
``error`` key: the form the tool loop itself sends a failed call back to the model in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .messages import message_text

__all__ = ["ToolCall", "Trajectory", "Turn", "is_error_result", "transcript"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ToolCall(_Record):
    """One tool call the model asked for, and what came of it."""

    id: str = ""
    """The call's id (``tool_call_id`` of its result)."""
    name: str
    """The tool's name as the model wrote it (it may name no tool)."""
    arguments: Any = None
    """The arguments, parsed from JSON (``None`` when they are not valid JSON)."""
    arguments_raw: str = ""
    """The arguments as the model wrote them."""
    result: Any = None
    """What the tool returned (its JSON data or text); ``None`` when it failed."""
    error: str | None = None
    """Why the call failed: unknown tool, arguments not JSON or not matching the schema, the
    tool raised or timed out, no scripted result."""
    latency_ms: float | None = None
    """Time the tool took."""
    turn: int = 0
    """Index of the turn (0-based) whose reply asked for this call."""


class Turn(_Record):
    """One model reply in the loop: its text or its tool calls, with the call's measures."""

    index: int
    """0-based position among the replies."""
    text: str | None = None
    """The reply's text (a tool-calling reply may have none)."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """The tool calls the reply asked for, in order (parallel calls share a turn)."""
    latency_ms: float | None = None
    """Wall time of the model call."""
    usage: dict[str, int] = Field(default_factory=dict)
    """Token counts of the model call."""
    cost_usd: float | None = None
    """Cost of the model call."""
    cached: bool = False
    """Whether the reply came from the cache."""
    model: str | None = None
    """The model that answered."""
    finish_reason: str | None = None
    """The provider's finish reason."""


class Trajectory(_Record):
    """A conversation with tools: every message, and the turns read from it."""

    messages: list[dict[str, Any]] = Field(default_factory=list)
    """The whole conversation in OpenAI form, the case's messages first, the final answer last."""
    turns: list[Turn] = Field(default_factory=list)
    """The model's replies (the case's given messages are not turns)."""
    stop_reason: str = "answer"
    """``answer`` (the model answered without calling tools), ``max_turns`` (the loop was cut
    off) or ``error`` (a model call failed)."""
    tools: list[str] | None = None
    """The names of the tools the case offered the model (``[]``: none); ``None`` when not
    known (a ``python:`` target's own conversation). The tool metrics check their names
    against it, so a misspelt guard errors instead of passing."""

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Every tool call, in the order asked for."""
        return [call for turn in self.turns for call in turn.tool_calls]

    @property
    def tool_errors(self) -> list[ToolCall]:
        """The tool calls that failed."""
        return [call for call in self.tool_calls if call.error is not None]

    @property
    def answer(self) -> str | None:
        """The text of the last reply."""
        return self.turns[-1].text if self.turns else None

    @classmethod
    def from_messages(cls, messages: Sequence[Mapping[str, Any]], *, given: int = 0) -> Trajectory:
        """Read a trajectory from a conversation (a ``python:`` target's returned messages).

        Args:
            messages: Checked OpenAI-style messages (see :func:`.check_messages`).
            given: How many leading messages were the case's own conversation: they are kept
                in ``messages`` but are not turns, so their tool calls are not the agent's.

        Returns:
            One turn per assistant message after the given ones; each tool call's result is
            the ``tool`` message answering its id (an error per :func:`is_error_result`).
        """
        msgs = [dict(m) for m in messages]
        results: dict[str, Mapping[str, Any]] = {}
        for m in msgs[given:]:
            if m.get("role") == "tool" and isinstance(m.get("tool_call_id"), str):
                results.setdefault(m["tool_call_id"], m)
        turns: list[Turn] = []
        for m in msgs[given:]:
            if m.get("role") != "assistant":
                continue
            index = len(turns)
            calls = []
            for raw in m.get("tool_calls") or ():
                function = raw.get("function") or {}
                call = parse_call(
                    str(raw.get("id") or ""),
                    str(function.get("name") or ""),
                    function.get("arguments"),
                    turn=index,
                )
                answer = results.get(call.id)
                # Arguments that were not JSON stay the call's error whatever the tool said.
                problem = None
                if answer is None:
                    problem = "the conversation holds no result for this call"
                elif is_error_result(answer):
                    problem = _error_text(answer)
                else:
                    call.result = _result_value(answer.get("content"))
                if problem is not None:
                    call.error = problem if call.error is None else f"{call.error}; {problem}"
                calls.append(call)
            text = message_text(m.get("content")) if m.get("content") is not None else None
            turns.append(Turn(index=index, text=text, tool_calls=calls))
        return cls(messages=msgs, turns=turns)


def parse_call(call_id: str, name: str, arguments: Any, *, turn: int = 0) -> ToolCall:
    """A tool call with its arguments parsed (``arguments`` stays ``None`` when not JSON)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = ToolCall(id=call_id, name=name, arguments_raw=raw, turn=turn)
    try:
        call.arguments = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        call.error = f"arguments are not valid JSON: {exc}"
    return call


def is_error_result(message: Mapping[str, Any]) -> bool:
    """Whether a ``tool`` message reports a failed call (``is_error``, or ``{"error": ...}``)."""
    if message.get("is_error") is True:
        return True
    value = _result_value(message.get("content"))
    return isinstance(value, Mapping) and bool(value.get("error"))


def _error_text(message: Mapping[str, Any]) -> str:
    value = _result_value(message.get("content"))
    if isinstance(value, Mapping) and value.get("error"):
        return str(value["error"])
    return message_text(message.get("content")) or "the tool reported an error"


def _result_value(content: Any) -> Any:
    text = message_text(content)
    try:
        return json.loads(text)
    except ValueError:
        return text


def transcript(trajectory: Trajectory, *, max_chars: int = 2000) -> str:
    """The conversation as text a judge reads: each message and tool call on its own line.

    Tool results and long messages are cut to ``max_chars`` each, with a note.
    """

    def cut(text: str) -> str:
        return text if len(text) <= max_chars else f"{text[:max_chars]}… [{len(text):,} chars]"

    names = {c.id: c.name for c in trajectory.tool_calls}
    lines: list[str] = []
    for m in trajectory.messages:
        role = str(m.get("role"))
        content = m.get("content")
        if role == "tool":
            name = names.get(str(m.get("tool_call_id")), "tool")
            lines.append(f"[tool result: {name}] {cut(message_text(content))}")
            continue
        if content is not None and message_text(content):
            lines.append(f"[{role}] {cut(message_text(content))}")
        if isinstance(content, list) and any(
            isinstance(p, Mapping) and p.get("type") == "image_url" for p in content
        ):
            lines.append(f"[{role}] (an image)")
        for call in m.get("tool_calls") or ():
            function = call.get("function") or {}
            lines.append(
                f"[{role} calls tool] {function.get('name')}({cut(str(function.get('arguments')))})"
            )
    return "\n".join(lines)
