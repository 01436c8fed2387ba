"""Trajectory metrics: what an agent did with its tools, read from ``sample.trajectory``.

``tool_called`` / ``tool_not_called`` count calls by name, ``tool_args`` matches a named
call's arguments, ``tool_sequence`` compares the order of the calls, ``turns`` and
``tool_calls`` are raw counts (gate them with ``max:``), and ``tool_error`` fails a case whose
tool calls failed. A case without a trajectory is an error of each of these metrics, never a
score: a ``tool_not_called`` that passes because nothing was recorded would be a silent pass.
For the same reason a tool name the case does not offer (when the trajectory records what it
offered) is an error of the metric naming it.

The registry registers :data:`TOOL_METRICS` with the built-ins; like :mod:`.builtin`, this
module does not import the registry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from ..conversation.trajectory import ToolCall, Trajectory
from ..errors import MetricError
from ..fields import Count
from .base import MetricOptions, MetricValue, Sample
from .builtin import BuiltinMetric, NoOptions

__all__ = [
    "TOOL_METRICS",
    "ToolArgsOptions",
    "ToolCalledOptions",
    "ToolNotCalledOptions",
    "ToolSequenceOptions",
    "tool_args",
    "tool_called",
    "tool_calls",
    "tool_error",
    "tool_not_called",
    "tool_sequence",
    "turns",
]

_SHOWN = 200
"""Characters of a call's arguments an explanation shows."""


# --------------------------------------------------------------------------- options models


class ToolCalledOptions(MetricOptions):
    """Options of ``tool_called``."""

    name: str
    """The tool's name, as the model calls it (one the case offers)."""
    min: Count = Field(default=1, ge=0)
    """Fewest calls of the tool that pass (``0`` needs a ``max:``)."""
    max: Count | None = Field(default=None, ge=0)
    """Most calls of the tool that pass (``null``: no limit)."""

    @model_validator(mode="after")
    def _counts_rise(self) -> ToolCalledOptions:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min}): no count could pass")
        if self.min == 0 and self.max is None:
            raise ValueError(
                "min 0 with no max: every count passes (give a `max:`, or use tool_not_called)"
            )
        return self


class ToolNotCalledOptions(MetricOptions):
    """Options of ``tool_not_called``."""

    name: str
    """The tool that must not be called: one the case offers (a name it does not offer is an
    error, so a misspelt guard cannot pass)."""


class ToolArgsOptions(MetricOptions):
    """Options of ``tool_args``.

    A call whose arguments were not valid JSON never matches. ``subset``: every key of
    ``args`` is present with an equal value (nested objects compared the same way, lists and
    other values by JSON equality: ``true`` is not ``1``, ``1`` equals ``1.0``); ``exact``:
    the arguments equal ``args``; ``schema``: ``args`` is a JSON Schema the arguments validate
    against.
    """

    name: str
    """The tool whose calls are checked (any one call matching passes)."""
    args: dict[str, Any]
    """The expected arguments (``subset``, ``exact``) or a JSON Schema (``schema``)."""
    match: Literal["subset", "exact", "schema"] = "subset"
    """How the arguments are compared with ``args``."""

    @model_validator(mode="after")
    def _schema_is_valid(self) -> ToolArgsOptions:
        # A schema that cannot be used fails at collection, not on every case.
        if self.match == "schema":
            import jsonschema

            try:
                jsonschema.validators.validator_for(self.args).check_schema(self.args)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"`args` is not a valid JSON Schema: {exc.message}") from None
        return self


class ToolSequenceOptions(MetricOptions):
    """Options of ``tool_sequence``.

    ``exact``: the names of the calls, in order, equal ``expected`` (score 1 or 0).
    ``in_order``: ``expected`` occurs in order among the calls, others may come between; the
    score is the share of ``expected`` in the longest such match. ``any_order``: each
    expected name is called at least as often as it is listed; the score is the share matched.
    """

    expected: list[str]
    """Tool names, in the order expected."""
    mode: Literal["exact", "in_order", "any_order"] = "exact"
    """How the calls are compared with ``expected``."""

    @model_validator(mode="after")
    def _something_expected(self) -> ToolSequenceOptions:
        # An empty list is "no tool called" for `exact`; for the others it would always pass.
        if not self.expected and self.mode != "exact":
            raise ValueError(
                f"`expected` lists no tool, so mode {self.mode!r} would always pass "
                '(use `mode: exact` with `expected: []` for "no tool called")'
            )
        return self


# --------------------------------------------------------------------------- helpers


def _trajectory(sample: Sample, metric: str, names: Sequence[str] = ()) -> Trajectory:
    """The case's trajectory, after checking that the ``names`` the metric reads are tools
    the case offered."""
    if sample.trajectory is None:
        raise MetricError(
            f"{metric} reads what the agent did, and this case has no trajectory: use a "
            "`model:` target with `tools:` or a `messages:` case, or a `python:` target that "
            "returns `messages`"
        )
    _offered(sample.trajectory, names)
    return sample.trajectory


def _offered(trajectory: Trajectory, names: Sequence[str]) -> None:
    """Raise when a name the metric checks is not a tool the case offered (when that is
    known): a misspelt ``tool_not_called`` would otherwise pass on every case."""
    if trajectory.tools is None:
        return
    unknown = [name for name in dict.fromkeys(names) if name not in trajectory.tools]
    if not unknown:
        return
    offered = f"offered: {', '.join(trajectory.tools)}" if trajectory.tools else "it offers none"
    raise MetricError(
        f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a tool "
        f"this case offers ({offered}); a call of a tool not offered fails `tool_error`"
    )


def _names(calls: Sequence[ToolCall]) -> list[str]:
    return [call.name for call in calls]


def _listing(names: Sequence[str]) -> str:
    return "[" + ", ".join(names) + "]" if names else "no tool"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _raw(call: ToolCall) -> str:
    text = call.arguments_raw if call.arguments_raw else _show(call.arguments)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _valid_json(call: ToolCall) -> bool:
    """Whether the model wrote its arguments as JSON (an empty string reads as ``{}``)."""
    if not call.arguments_raw.strip():
        return True
    try:
        json.loads(call.arguments_raw)
    except ValueError:
        return False
    return True


def _times(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (as Python has it), ``1`` equals ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    return a is None and b is None


def _differences(want: Any, got: Any, *, exact: bool, path: str = "") -> list[str]:
    """How ``got`` differs from ``want``: one line per key missing, unexpected or unequal."""
    where = path or "the arguments"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where} is {_show(got)}, expected an object"]
        out = []
        for key, value in want.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in got:
                out.append(f"{sub} is missing (expected {_show(value)})")
            else:
                out += _differences(value, got[key], exact=exact, path=sub)
        if exact:
            out += [
                f"{f'{path}.' if path else ''}{key} is not expected (got {_show(got[key])})"
                for key in got
                if key not in want
            ]
        return out
    if _same(want, got):
        return []
    return [f"{where} is {_show(got)}, expected {_show(want)}"]


def _schema_differences(schema: dict[str, Any], got: Any) -> list[str]:
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(got), key=lambda e: list(map(str, e.path)))
    return [f"{'.'.join(map(str, e.path)) or 'the arguments'}: {e.message}" for e in errors]


# --------------------------------------------------------------------------- metrics


def tool_called(sample: Sample, *, name: str, min: int = 1, max: int | None = None) -> MetricValue:
    """1 when the agent called the named tool between ``min`` and ``max`` times."""
    low, high = min, max
    calls = _trajectory(sample, "tool_called", [name]).tool_calls
    count = sum(1 for call in calls if call.name == name)
    ok = count >= low and (high is None or count <= high)
    if high is None:
        wanted = f"at least {_times(low)}"
    elif high == low:
        wanted = f"exactly {_times(low)}"
    elif low == 0:
        wanted = f"at most {_times(high)}"
    else:
        wanted = f"{low} to {high} times"
    return MetricValue(
        1.0 if ok else 0.0,
        f"{name} called {_times(count)} (wanted {wanted}); calls: {_listing(_names(calls))}",
    )


def tool_not_called(sample: Sample, *, name: str) -> MetricValue:
    """1 when the agent never called the named tool."""
    calls = _trajectory(sample, "tool_not_called", [name]).tool_calls
    count = sum(1 for call in calls if call.name == name)
    return MetricValue(
        0.0 if count else 1.0,
        f"{name} called {_times(count)}; calls: {_listing(_names(calls))}",
    )


def tool_args(
    sample: Sample, *, name: str, args: dict[str, Any], match: str = "subset"
) -> MetricValue:
    """1 when some call of the named tool has arguments matching ``args`` (subset, exact or
    JSON Schema)."""
    if match not in ("subset", "exact", "schema"):
        raise MetricError(f"match must be subset, exact or schema, got {match!r}")
    calls = _trajectory(sample, "tool_args", [name]).tool_calls
    mine = [(i, call) for i, call in enumerate(calls, 1) if call.name == name]
    if not mine:
        return MetricValue(0.0, f"{name} was never called; calls: {_listing(_names(calls))}")
    closest: tuple[int, ToolCall, list[str]] | None = None
    not_json: list[tuple[int, ToolCall]] = []
    for i, call in mine:
        if not _valid_json(call):
            not_json.append((i, call))
            continue
        if match == "schema":
            diff = _schema_differences(args, call.arguments)
        else:
            diff = _differences(args, call.arguments, exact=match == "exact")
        if not diff:
            return MetricValue(1.0, f"call {i} ({name}) matches: {_raw(call)}")
        if closest is None or len(diff) < len(closest[2]):
            closest = (i, call, diff)
    lines = []
    if closest is not None:
        i, call, diff = closest
        nearest = "the closest " if len(mine) - len(not_json) > 1 else ""
        lines.append(
            f"no call of {name} matches ({match}); {nearest}call {i} {_raw(call)}: "
            + "; ".join(diff)
        )
    else:
        lines.append(f"no call of {name} has valid JSON arguments")
    lines += [f"call {i} ({name}) arguments are not valid JSON: {_raw(c)}" for i, c in not_json]
    return MetricValue(0.0, "\n".join(lines))


def _in_order(expected: Sequence[str], names: Sequence[str]) -> list[bool]:
    """Which of ``expected`` a longest in-order match among ``names`` uses."""
    n, m = len(expected), len(names)
    # lcs[i][j]: longest common subsequence of expected[i:] and names[j:].
    lcs = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            lcs[i][j] = (
                lcs[i + 1][j + 1] + 1
                if expected[i] == names[j]
                else (lcs[i + 1][j] if lcs[i + 1][j] >= lcs[i][j + 1] else lcs[i][j + 1])
            )
    used = [False] * n
    i = j = 0
    while i < n and j < m:
        if expected[i] == names[j]:
            used[i] = True
            i, j = i + 1, j + 1
        elif lcs[i + 1][j] > lcs[i][j + 1]:
            # On a tie the earlier expected name is kept, so what is missing is the later one.
            i += 1
        else:
            j += 1
    return used


def tool_sequence(sample: Sample, *, expected: list[str], mode: str = "exact") -> MetricValue:
    """How the order of the tool calls matches ``expected`` (``exact``, ``in_order``,
    ``any_order``): 1 or 0 for ``exact``, else the share of ``expected`` matched."""
    names = _names(_trajectory(sample, "tool_sequence", expected).tool_calls)
    called = f"called {_listing(names)}"
    if mode == "exact":
        if names == list(expected):
            return MetricValue(1.0, called)
        at = next(
            (k for k, (a, b) in enumerate(zip(names, expected, strict=False)) if a != b),
            min(len(names), len(expected)),
        )
        got = names[at] if at < len(names) else "nothing"
        want = expected[at] if at < len(expected) else "nothing"
        return MetricValue(
            0.0,
            f"{called}, expected exactly {_listing(expected)}: call {at + 1} is {got}, "
            f"expected {want}",
        )
    if mode == "in_order":
        used = _in_order(expected, names)
        missing = [name for name, ok in zip(expected, used, strict=True) if not ok]
        how = "in order"
    elif mode == "any_order":
        have = Counter(names)
        missing = []
        for name in expected:
            if have[name] > 0:
                have[name] -= 1
            else:
                missing.append(name)
        how = "in any order"
    else:
        raise MetricError(f"mode must be exact, in_order or any_order, got {mode!r}")
    matched = len(expected) - len(missing)
    score = matched / len(expected) if expected else 1.0
    detail = f"; not matched: {_listing(missing)}" if missing else ""
    return MetricValue(
        score,
        f"{called}; {matched} of {len(expected)} of {_listing(expected)} {how}{detail}",
    )


def turns(sample: Sample) -> MetricValue:
    """The number of model replies in the trajectory (a raw count: gate it with ``max:``)."""
    trajectory = _trajectory(sample, "turns")
    return MetricValue(float(len(trajectory.turns)), f"stopped by {trajectory.stop_reason}")


def tool_calls(sample: Sample) -> MetricValue:
    """The number of tool calls in the trajectory (a raw count: gate it with ``max:``)."""
    names = _names(_trajectory(sample, "tool_calls").tool_calls)
    return MetricValue(float(len(names)), f"calls: {_listing(names)}")


def tool_error(sample: Sample) -> MetricValue:
    """1 when no tool call failed (unknown tool, bad arguments, raised, timed out); the
    explanation gives one line per failed call."""
    calls = _trajectory(sample, "tool_error").tool_calls
    failed = [(i, call) for i, call in enumerate(calls, 1) if call.error is not None]
    if not failed:
        return MetricValue(1.0, f"{len(calls)} tool call(s), none failed")
    lines = [
        f"tool call {i} of {len(calls)} failed: {call.name}({_raw(call)}): {call.error}"
        for i, call in failed
    ]
    return MetricValue(0.0, "\n".join(lines))


TOOL_METRICS: tuple[BuiltinMetric, ...] = (
    BuiltinMetric("tool_called", tool_called, ToolCalledOptions, threshold=1.0),
    BuiltinMetric("tool_not_called", tool_not_called, ToolNotCalledOptions, threshold=1.0),
    BuiltinMetric("tool_args", tool_args, ToolArgsOptions, threshold=1.0),
    BuiltinMetric("tool_sequence", tool_sequence, ToolSequenceOptions, threshold=1.0),
    BuiltinMetric("tool_error", tool_error, NoOptions, threshold=1.0),
    BuiltinMetric("turns", turns, NoOptions, raw=True),
    BuiltinMetric("tool_calls", tool_calls, NoOptions, raw=True),
)
"""The trajectory metrics, in the order the docs list them."""
