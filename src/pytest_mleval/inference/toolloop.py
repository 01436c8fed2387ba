"""The tool loop of one case: ask the model with the tools, run the calls it asks for, send the
results back, until it answers without calling a tool.

Every turn is one :meth:`InferenceEngine.complete` call, so the cache, replay, limits,
retries, fallbacks, the cost budget and both clients apply to each: a recorded agent run
replays offline, turn by turn. The tools' results are part of the next turn's request (and
so of its cache key), which is why tools must answer deterministically to replay.

The loop ends with an answer, or as an error of the case (:class:`ToolLoopError`, or the
model call's own error) carrying what it did so far as ``trajectory``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..conversation.trajectory import ToolCall, Trajectory, Turn, parse_call
from ..errors import TargetError
from ..targets.registry import COST_UNKNOWN, TargetOutput
from .engine import InferenceEngine
from .tools import ToolBox
from .types import ChatRequest, ChatResponse, unknown_cost

__all__ = ["ToolLoopError", "one_turn_trajectory", "run_tool_loop"]


class ToolLoopError(TargetError):
    """The tool loop ended without an answer: the model still called tools at ``max_turns``.

    Attributes:
        trajectory: What the loop did, every turn (``stop_reason="max_turns"``).
        retries: The retries of the loop's model calls.
        model: The model asked.
    """

    def __init__(self, message: str, trajectory: Trajectory, *, retries: int, model: str) -> None:
        super().__init__(message)
        self.trajectory = trajectory
        self.retries = retries
        self.model = model


def _turn(index: int, resp: ChatResponse, calls: list[ToolCall]) -> Turn:
    return Turn(
        index=index,
        text=resp.text or None,
        tool_calls=calls,
        latency_ms=resp.latency_ms,
        usage=resp.usage.as_dict(),
        cost_usd=resp.cost_usd,
        cached=resp.cached,
        model=resp.model,
        finish_reason=resp.finish_reason,
    )


def _assistant(resp: ChatResponse, calls: Sequence[ToolCall]) -> dict[str, Any]:
    """The reply as the next request repeats it: the same for both clients (the cache key of
    every later turn includes it), whatever extra fields a provider's tool calls carried. A
    tool-calling reply without text has no ``content`` (litellm drops a ``null`` one, so the
    native client sends what litellm sends)."""
    if not calls:
        return {"role": "assistant", "content": resp.text}
    message: dict[str, Any] = {"role": "assistant"}
    if resp.text:
        message["content"] = resp.text
    message["tool_calls"] = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_raw},
        }
        for call in calls
    ]
    return message


def _calls(resp: ChatResponse, index: int) -> list[ToolCall]:
    calls = []
    for j, raw in enumerate(resp.tool_calls):
        function = raw.get("function") if isinstance(raw, Mapping) else None
        function = function if isinstance(function, Mapping) else {}
        arguments = function.get("arguments")
        calls.append(
            parse_call(
                # A server that sends no id still needs one to pair each result with its call.
                str(raw.get("id") or f"call_{index}_{j}"),
                str(function.get("name") or ""),
                "" if arguments is None else arguments,
                turn=index,
            )
        )
    return calls


def one_turn_trajectory(messages: Sequence[Mapping[str, Any]], resp: ChatResponse) -> Trajectory:
    """The trajectory of a conversation answered by one model call (a case without tools)."""
    calls = _calls(resp, 0)
    for call in calls:
        if call.error is None:
            call.error = "the model called a tool, but the case offers none"
    return Trajectory(
        messages=[*(dict(m) for m in messages), _assistant(resp, calls)],
        turns=[_turn(0, resp, calls)],
        tools=[],
    )


def run_tool_loop(
    engine: InferenceEngine, request: ChatRequest, toolbox: ToolBox, *, max_turns: int
) -> TargetOutput:
    """Run the loop of one case from its first request (the case's messages and tools).

    Args:
        engine: The run's engine; every turn is one ``engine.complete``.
        request: The first turn's request; later turns add the replies and tool results to
            its messages.
        toolbox: The case's tools.
        max_turns: Model replies the loop may take; a reply that still calls tools when this
            many have been made ends the loop as an error.

    Returns:
        The output: the last reply's text, the trajectory, the loop's wall time, usage and
        cost summed over the turns, ``cached`` only if every turn was, the retries summed,
        the last answering model.

    Raises:
        ToolLoopError: the model still called tools at ``max_turns``.
        InferenceError: a model call failed; it carries ``trajectory`` (``stop_reason``
            ``error``) and ``retries`` (of every turn so far).
    """
    messages = [dict(m) for m in request.messages]
    offered = list(toolbox.tools)
    turns: list[Turn] = []
    responses: list[ChatResponse] = []
    start = time.perf_counter()
    while True:
        try:
            resp = engine.complete(dataclasses.replace(request, messages=tuple(messages)))
        except Exception as exc:
            raise _with_trajectory(exc, messages, turns, responses, offered) from exc.__cause__
        responses.append(resp)
        index = len(turns)
        calls = _calls(resp, index)
        messages.append(_assistant(resp, calls))
        turns.append(_turn(index, resp, calls))
        if not calls:
            break
        if len(turns) >= max_turns:
            for call in calls:
                if call.error is None:
                    call.error = f"not run: the loop reached max_turns ({max_turns})"
            trajectory = Trajectory(
                messages=messages, turns=turns, stop_reason="max_turns", tools=offered
            )
            names = ", ".join(dict.fromkeys(call.name for call in calls))
            raise ToolLoopError(
                f"the model still called tools ({names}) after {max_turns} "
                f"repl{'y' if max_turns == 1 else 'ies'} (max_turns: {max_turns}); "
                "raise `max_turns` or check why it does not answer",
                trajectory,
                retries=sum(r.retries for r in responses),
                model=resp.model,
            )
        messages.extend(toolbox.run(calls))
    elapsed = (time.perf_counter() - start) * 1000.0
    last = responses[-1]
    metadata: dict[str, Any] = {}
    if last.finish_reason:
        metadata["finish_reason"] = last.finish_reason
    notes = list(dict.fromkeys(r.cost_note for r in responses if r.cost_note))
    if notes:
        metadata["cost_note"] = "; ".join(notes)
    unknown = list(dict.fromkeys(u for r in responses if (u := unknown_cost(r.cost_note))))
    if unknown:
        # One unpriced turn makes the loop's cost unknown (its sum is only a lower bound).
        metadata[COST_UNKNOWN] = "; ".join(unknown)
    return TargetOutput(
        output=last.text,
        usage=_usage(responses),
        cost_usd=sum(r.cost_usd for r in responses),
        latency_ms=elapsed,
        model=last.model,
        cached=all(r.cached for r in responses),
        retries=sum(r.retries for r in responses),
        fallback_used=last.fallback_used,
        metadata=metadata,
        trajectory=Trajectory(messages=messages, turns=turns, stop_reason="answer", tools=offered),
    )


def _with_trajectory(
    exc: Exception,
    messages: list[dict[str, Any]],
    turns: list[Turn],
    responses: Sequence[ChatResponse],
    offered: list[str],
) -> Exception:
    """The model call's error, carrying what the loop did so far (``stop_reason: error``) and
    the retries of every turn; its class, message, ``model`` and ``retry_after`` kept.

    A copy: the engine hands one exception object to every identical request it shares.
    """
    try:
        error = copy.copy(exc)
    except Exception:
        error = exc
    retries = getattr(exc, "retries", 0)
    earlier = sum(r.retries for r in responses)
    setattr(error, "retries", (retries if isinstance(retries, int) else 0) + earlier)  # noqa: B010
    setattr(  # noqa: B010
        error,
        "trajectory",
        Trajectory(messages=messages, turns=turns, stop_reason="error", tools=offered),
    )
    return error


def _usage(responses: Sequence[ChatResponse]) -> dict[str, int]:
    total: dict[str, int] = {}
    for resp in responses:
        for key, value in resp.usage.as_dict().items():
            total[key] = total.get(key, 0) + value
    return total
