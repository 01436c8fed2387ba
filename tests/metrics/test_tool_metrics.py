"""The trajectory metrics: tool_called, tool_not_called, tool_args, tool_sequence, turns,
tool_calls and tool_error, on trajectories built from messages or from the records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.conversation.trajectory import ToolCall, Trajectory, Turn
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.base import MetricOptionError
from pytest_mleval.metrics.registry import (
    Sample,
    Scored,
    get_metric,
    metric_names,
    owned_reserved,
    score_metric,
    unknown_metric_problem,
    validate_options,
)
from pytest_mleval.metrics.tools import TOOL_METRICS

Call = tuple[str, Any]  # (tool name, arguments: a dict, or the raw text the model wrote)


def conversation(*turns: list[Call], answer: str = "done") -> Trajectory:
    """A trajectory read from OpenAI messages: each turn's calls, answered, then an answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "help me"}]
    n = 0
    for calls in turns:
        ids = [f"call_{n + k}" for k in range(len(calls))]
        n += len(calls)
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": cid,
                        "type": "function",
                        "function": {
                            "name": name,
                            "arguments": args if isinstance(args, str) else json.dumps(args),
                        },
                    }
                    for cid, (name, args) in zip(ids, calls, strict=True)
                ],
            }
        )
        messages += [{"role": "tool", "tool_call_id": cid, "content": '"ok"'} for cid in ids]
    messages.append({"role": "assistant", "content": answer})
    return Trajectory.from_messages(messages, given=1)


def run(metric: str, trajectory: Trajectory | None, /, **params: Any) -> Scored:
    return score_metric(metric, Sample(output="done", trajectory=trajectory), params=params)


def passes(metric: str, trajectory: Trajectory | None, /, **params: Any) -> bool:
    scored = run(metric, trajectory, **params)
    assert scored.error is None, scored.error
    assert scored.passed is not None
    return scored.passed


# --------------------------------------------------------------------------- registration


def test_the_trajectory_metrics_are_registered_with_their_defaults() -> None:
    names = {m.name for m in TOOL_METRICS}
    assert names == {
        "tool_called",
        "tool_not_called",
        "tool_args",
        "tool_sequence",
        "tool_error",
        "turns",
        "tool_calls",
    }
    assert names <= set(metric_names())
    for name in ("tool_called", "tool_not_called", "tool_args", "tool_sequence", "tool_error"):
        assert get_metric(name).default_threshold == 1.0
        assert not get_metric(name).raw
    for name in ("turns", "tool_calls"):
        assert get_metric(name).raw and get_metric(name).default_threshold is None
        assert get_metric(name).builtin
    # `name` and `max` of tool_called are the tool and its most calls, not label and ceiling.
    assert owned_reserved("tool_called") == {"name", "max"}
    assert owned_reserved("tool_args") == {"name"}
    assert owned_reserved("turns") == frozenset() == owned_reserved("judge")


MINIMAL: dict[str, dict[str, Any]] = {
    "tool_called": {"name": "f"},
    "tool_not_called": {"name": "f"},
    "tool_args": {"name": "f", "args": {}},
    "tool_sequence": {"expected": []},
    "tool_error": {},
    "turns": {},
    "tool_calls": {},
}


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_no_trajectory_is_an_error_never_a_score(name: str) -> None:
    scored = run(name, None, **MINIMAL[name])
    assert scored.score is None and scored.passed is False
    assert scored.error is not None
    assert "no trajectory" in scored.error
    assert "`model:` target with `tools:`" in scored.error
    assert "returns `messages`" in scored.error


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_an_empty_trajectory_is_scored(name: str) -> None:
    # No tool call at all is a trajectory too (the model answered at once): a score, not an error.
    empty = conversation()
    assert run(name, empty, **MINIMAL[name]).error is None


# --------------------------------------------------------------------------- tool_called


def test_tool_called_counts_calls_between_min_and_max() -> None:
    t = conversation([("search", {"q": "a"}), ("search", {"q": "b"})], [("fetch", {"id": 1})])
    assert passes("tool_called", t, name="search")
    assert passes("tool_called", t, name="search", min=2, max=2)
    assert not passes("tool_called", t, name="search", min=3)
    assert not passes("tool_called", t, name="search", max=1)
    assert not passes("tool_called", t, name="book")
    assert passes("tool_called", t, name="book", min=0, max=0)
    assert passes("tool_called", t, name="fetch", max=1)
    scored = run("tool_called", t, name="search", max=1)
    assert scored.score == 0.0
    assert scored.explanation == (
        "search called 2 times (wanted exactly 1 time); calls: [search, search, fetch]"
    )
    assert run("tool_called", t, name="search", min=0, max=1).explanation == (
        "search called 2 times (wanted at most 1 time); calls: [search, search, fetch]"
    )
    assert run("tool_called", t, name="search", min=2, max=3).explanation == (
        "search called 2 times (wanted 2 to 3 times); calls: [search, search, fetch]"
    )
    assert run("tool_called", t, name="fetch", min=1, max=1).explanation == (
        "fetch called 1 time (wanted exactly 1 time); calls: [search, search, fetch]"
    )
    assert run("tool_called", t, name="book").explanation == (
        "book called 0 times (wanted at least 1 time); calls: [search, search, fetch]"
    )


def test_tool_called_is_case_sensitive_and_counts_unknown_tools_as_called() -> None:
    t = conversation([("Search", {})])
    assert not passes("tool_called", t, name="search")
    assert passes("tool_called", t, name="Search")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"name": "f", "min": 2, "max": 1}, "max (1) is below min (2)"),
        ({"name": "f", "min": -1}, "greater than or equal to 0"),
        ({"min": 1}, "Field required"),
        ({"name": "f", "times": 2}, "unknown option 'times'"),
    ],
)
def test_tool_called_options_are_checked(params: dict[str, Any], says: str) -> None:
    with pytest.raises(MetricOptionError, match=r"metric 'tool_called'") as exc:
        validate_options("tool_called", params)
    assert says in str(exc.value)


# --------------------------------------------------------------------------- tool_not_called


def test_tool_not_called() -> None:
    t = conversation([("search", {}), ("delete", {"id": 3})])
    assert passes("tool_not_called", t, name="book")
    scored = run("tool_not_called", t, name="delete")
    assert scored.passed is False
    assert scored.explanation == "delete called 1 time; calls: [search, delete]"


def offering(trajectory: Trajectory, *tools: str) -> Trajectory:
    """The trajectory of a case that offered these tools (as the tool loop records it)."""
    return trajectory.model_copy(update={"tools": list(tools)})


@pytest.mark.parametrize(
    ("metric", "params", "unknown"),
    [
        ("tool_not_called", {"name": "delete_al"}, "'delete_al'"),
        ("tool_called", {"name": "Search"}, "'Search'"),
        ("tool_args", {"name": "serach", "args": {}}, "'serach'"),
        ("tool_sequence", {"expected": ["search", "delet"]}, "'delet'"),
    ],
)
def test_a_tool_name_the_case_does_not_offer_is_an_error_not_a_score(
    metric: str, params: dict[str, Any], unknown: str
) -> None:
    # A typo in a guard's name made `tool_not_called` pass on every case, whatever the agent did.
    t = offering(conversation([("search", {}), ("delete_all", {})]), "search", "delete_all")
    scored = run(metric, t, **params)
    assert scored.score is None and scored.passed is False
    assert scored.error is not None
    assert f"{unknown} is not a tool this case offers" in scored.error
    assert "offered: search, delete_all" in scored.error


def test_a_case_that_offers_no_tools_errors_a_named_tool_metric() -> None:
    scored = run("tool_not_called", offering(conversation(), *()), name="search")
    assert scored.error is not None
    assert "'search' is not a tool this case offers (it offers none)" in scored.error


def test_offered_tools_pass_and_an_unknown_offer_is_not_checked() -> None:
    t = conversation([("search", {})])
    assert passes("tool_not_called", offering(t, "search", "book"), name="book")
    assert passes("tool_sequence", offering(t, "search"), expected=["search"])
    # A python target's own conversation does not say what it offered: names are not checked.
    assert t.tools is None
    assert passes("tool_not_called", t, name="anything")


def test_tool_called_with_min_0_and_no_max_is_rejected() -> None:
    with pytest.raises(MetricOptionError, match="every count passes"):
        validate_options("tool_called", {"name": "f", "min": 0})
    assert validate_options("tool_called", {"name": "f", "min": 0, "max": 2}) is not None


# --------------------------------------------------------------------------- tool_args


WEATHER = conversation(
    [("search", {"q": "weather"})],
    [("get_weather", {"city": "paris", "unit": "C"})],
    [("get_weather", {"city": "Paris", "unit": "C", "days": 3, "opts": {"hourly": True}})],
)


@pytest.mark.parametrize(
    ("args", "match", "want"),
    [
        ({"city": "Paris"}, "subset", True),
        ({"city": "Paris", "opts": {"hourly": True}}, "subset", True),  # nested subset
        ({"opts": {}}, "subset", True),  # an empty nested object is a subset of any object
        ({"city": "London"}, "subset", False),
        ({"days": 3.0}, "subset", True),  # 3 and 3.0 are the same JSON number
        ({"days": "3"}, "subset", False),  # a string is not a number
        ({"opts": {"hourly": 1}}, "subset", False),  # 1 is not true (Python says it is)
        ({"zip": None}, "subset", False),  # a missing key is not a null one
        ({"city": "paris", "unit": "C"}, "exact", True),
        ({"city": "Paris"}, "exact", False),  # extra keys fail exact
        (
            {"type": "object", "required": ["city"], "properties": {"days": {"maximum": 5}}},
            "schema",
            True,
        ),
        ({"type": "object", "required": ["country"]}, "schema", False),
        ({"properties": {"city": {"const": "Rome"}}}, "schema", False),
    ],
)
def test_tool_args_matches_some_call(args: dict[str, Any], match: str, want: bool) -> None:
    assert passes("tool_args", WEATHER, name="get_weather", args=args, match=match) is want


def test_tool_args_explains_the_closest_call() -> None:
    scored = run("tool_args", WEATHER, name="get_weather", args={"city": "Paris", "unit": "F"})
    assert scored.passed is False
    # Call 2 differs in two values, call 3 in one: the closest is call 3.
    assert scored.explanation is not None
    assert scored.explanation.startswith(
        "no call of get_weather matches (subset); the closest call 3"
    )
    assert 'unit is "C", expected "F"' in scored.explanation
    assert "city" not in scored.explanation.split(":", 1)[1].split("unit")[1]
    exact = run("tool_args", WEATHER, name="get_weather", args={"city": "paris"}, match="exact")
    assert exact.explanation is not None
    assert 'unit is not expected (got "C")' in exact.explanation
    nested = run(
        "tool_args", WEATHER, name="get_weather", args={"city": "Paris", "opts": {"daily": True}}
    )
    assert nested.explanation is not None
    assert "opts.daily is missing (expected true)" in nested.explanation


def test_tool_args_when_the_tool_was_never_called() -> None:
    scored = run("tool_args", WEATHER, name="book", args={})
    assert scored.passed is False
    assert scored.explanation == "book was never called; calls: [search, get_weather, get_weather]"


def test_arguments_that_are_not_json_never_match() -> None:
    broken = conversation([("get_weather", '{"city": "Paris"')])  # the model cut its JSON short
    assert broken.tool_calls[0].arguments is None
    for args, match in (({}, "subset"), ({}, "schema"), ({"city": "Paris"}, "subset")):
        scored = run("tool_args", broken, name="get_weather", args=args, match=match)
        assert scored.passed is False, (args, match)
        assert scored.explanation is not None
        assert "no call of get_weather has valid JSON arguments" in scored.explanation
        assert 'call 1 (get_weather) arguments are not valid JSON: {"city": "Paris"' in (
            scored.explanation
        )
    # A later call with valid arguments still matches; empty arguments read as {}.
    fixed = conversation([("get_weather", "{bad")], [("get_weather", "")])
    assert passes("tool_args", fixed, name="get_weather", args={}, match="exact")
    assert not passes("tool_args", fixed, name="get_weather", args={"city": "x"})


def test_records_built_directly_are_read_the_same() -> None:
    t = Trajectory(
        turns=[
            Turn(
                index=0,
                tool_calls=[
                    ToolCall(id="a", name="get_weather", arguments={"city": "Paris"}),
                    ToolCall(id="b", name="get_weather", arguments=None, arguments_raw="{x"),
                ],
            ),
            Turn(index=1, text="sunny"),
        ]
    )
    assert passes("tool_args", t, name="get_weather", args={"city": "Paris"})
    assert passes("tool_called", t, name="get_weather", min=2, max=2)
    assert run("turns", t).score == 2.0


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"name": "f", "args": {"type": "objekt"}, "match": "schema"}, "not a valid JSON Schema"),
        ({"name": "f", "args": {}, "match": "fuzzy"}, "'subset', 'exact' or 'schema'"),
        ({"name": "f", "args": [1]}, "valid dictionary"),
        ({"name": "f"}, "Field required"),
    ],
)
def test_tool_args_options_are_checked(params: dict[str, Any], says: str) -> None:
    with pytest.raises(MetricOptionError, match=r"metric 'tool_args'") as exc:
        validate_options("tool_args", params)
    assert says in str(exc.value)


# --------------------------------------------------------------------------- tool_sequence


@pytest.mark.parametrize(
    ("calls", "expected", "mode", "score"),
    [
        (["a", "b"], ["a", "b"], "exact", 1.0),
        (["a", "b"], ["b", "a"], "exact", 0.0),
        (["a", "b", "c"], ["a", "b"], "exact", 0.0),  # an extra call fails exact
        ([], [], "exact", 1.0),  # `expected: []`: no tool called
        (["a"], [], "exact", 0.0),
        (["a", "x", "b"], ["a", "b"], "in_order", 1.0),  # others may come between
        (["b", "a"], ["a", "b"], "in_order", 0.5),
        # The longest in-order match counts, not the greedy one from the start.
        (["a", "b"], ["x", "a", "b"], "in_order", 2 / 3),
        (["b", "c", "a", "b", "c"], ["a", "b", "c"], "in_order", 1.0),
        (["a", "a"], ["a", "a", "a"], "in_order", 2 / 3),
        (["b", "a"], ["a", "b"], "any_order", 1.0),
        (["a"], ["a", "a"], "any_order", 0.5),  # a multiset: listed twice, needed twice
        (["a", "a", "b"], ["a", "b"], "any_order", 1.0),
        (["c"], ["a", "b"], "any_order", 0.0),
    ],
)
def test_tool_sequence_modes(
    calls: list[str], expected: list[str], mode: str, score: float
) -> None:
    t = conversation([(name, {}) for name in calls]) if calls else conversation()
    scored = run("tool_sequence", t, expected=expected, mode=mode)
    assert scored.error is None, scored.error
    assert scored.score == pytest.approx(score)
    assert scored.passed is (score == 1.0)


def test_tool_sequence_explains_what_differs() -> None:
    t = conversation([("search", {})], [("fetch", {}), ("answer", {})])
    exact = run("tool_sequence", t, expected=["search", "summarize", "answer"])
    assert exact.explanation == (
        "called [search, fetch, answer], expected exactly [search, summarize, answer]: "
        "call 2 is fetch, expected summarize"
    )
    short = run("tool_sequence", t, expected=["search", "fetch", "answer", "cite"])
    assert short.explanation is not None
    assert short.explanation.endswith("call 4 is nothing, expected cite")
    in_order = run("tool_sequence", t, expected=["answer", "search"], mode="in_order")
    assert in_order.explanation == (
        "called [search, fetch, answer]; 1 of 2 of [answer, search] in order; not matched: [search]"
    )


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"expected": [], "mode": "in_order"}, "would always pass"),
        ({"expected": ["a"], "mode": "sorted"}, "'exact', 'in_order' or 'any_order'"),
        ({"expected": "a"}, "valid list"),
        ({"expected": ["a"], "order": "exact"}, "unknown option 'order'"),
    ],
)
def test_tool_sequence_options_are_checked(params: dict[str, Any], says: str) -> None:
    with pytest.raises(MetricOptionError, match=r"metric 'tool_sequence'") as exc:
        validate_options("tool_sequence", params)
    assert says in str(exc.value)


# --------------------------------------------------------------------------- counts


def test_turns_and_tool_calls_are_raw_counts_gated_by_max() -> None:
    t = conversation([("a", {}), ("b", {})], [("c", {})])  # 2 calling turns + the answer
    sample = Sample(output="done", trajectory=t)
    turns = score_metric("turns", sample, max_value=3)
    calls = score_metric("tool_calls", sample, max_value=3)
    assert (turns.score, turns.passed) == (3.0, True)
    assert (calls.score, calls.passed) == (3.0, True)
    assert calls.explanation == "calls: [a, b, c]"
    assert score_metric("turns", sample, max_value=2).passed is False
    assert score_metric("tool_calls", sample, max_value=2).passed is False
    # Without `max:` a count is informational.
    assert score_metric("turns", sample).passed is None
    with pytest.raises(MetricOptionError, match="unknown option 'limit'"):
        validate_options("turns", {"limit": 3})


# --------------------------------------------------------------------------- tool_error


def test_tool_error_passes_when_no_call_failed() -> None:
    scored = run("tool_error", conversation([("a", {})], [("b", {})]))
    assert (scored.score, scored.passed) == (1.0, True)
    assert scored.explanation == "2 tool call(s), none failed"


def test_tool_error_lists_each_failed_call_on_its_own_line() -> None:
    t = Trajectory(
        turns=[
            Turn(
                index=0,
                tool_calls=[
                    ToolCall(name="get_weather", arguments={"city": "Paris"}, result="sunny"),
                    ToolCall(
                        name="get_wether",
                        arguments={"city": "Rome"},
                        arguments_raw='{"city": "Rome"}',
                        error="unknown tool 'get_wether' (tools: get_weather)",
                    ),
                ],
            ),
            Turn(
                index=1,
                tool_calls=[
                    ToolCall(
                        name="get_weather",
                        arguments_raw="{city",
                        error="arguments are not valid JSON: Expecting property name",
                    ),
                    ToolCall(
                        name="get_weather",
                        arguments={"city": "Oslo"},
                        error="timed out after 30 s",
                    ),
                ],
            ),
            Turn(index=2, text="sorry"),
        ]
    )
    scored = run("tool_error", t)
    assert (scored.score, scored.passed) == (0.0, False)
    assert scored.explanation is not None
    assert scored.explanation.splitlines() == [
        'tool call 2 of 4 failed: get_wether({"city": "Rome"}): unknown tool \'get_wether\' '
        "(tools: get_weather)",
        "tool call 3 of 4 failed: get_weather({city): arguments are not valid JSON: "
        "Expecting property name",
        'tool call 4 of 4 failed: get_weather({"city": "Oslo"}): timed out after 30 s',
    ]


def test_tool_error_reads_errors_returned_in_messages() -> None:
    # A bring-your-own agent reports a failed call the way the tool loop does: {"error": ...}.
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "x", "content": '{"error": "ValueError: boom"}'},
        {"role": "assistant", "content": "failed"},
    ]
    scored = run("tool_error", Trajectory.from_messages(messages, given=1))
    assert scored.passed is False
    assert scored.explanation == "tool call 1 of 1 failed: f({}): ValueError: boom"


def test_a_long_argument_is_cut_in_the_explanation() -> None:
    t = Trajectory(
        turns=[
            Turn(index=0, tool_calls=[ToolCall(name="f", arguments_raw="x" * 5000, error="bad")])
        ]
    )
    explanation = run("tool_error", t).explanation
    assert explanation is not None and len(explanation) < 300 and explanation.endswith("…): bad")


# --------------------------------------------------------------------------- eval files


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agent.eval.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("entry", "field", "says"),
    [
        (
            "tool_sequence: {expected: [a], order: exact}",
            "metrics.tool_sequence.order",
            "unknown option 'order'",
        ),
        (
            "tool_sequence: {expected: [a], mode: sorted}",
            "metrics.tool_sequence.mode",
            "'exact', 'in_order' or 'any_order'",
        ),
        (
            "tool_sequence: {expected: [], mode: any_order}",
            "metrics.tool_sequence",
            "would always pass",
        ),
        ("turns: {limit: 3}", "metrics.turns.limit", "unknown option 'limit'"),
    ],
)
def test_an_eval_file_with_a_bad_option_names_file_line_and_field(
    tmp_path: Path, entry: str, field: str, says: str
) -> None:
    body = (
        f"target: python:app:echo\ncases:\n  - id: a\n    input: x\n    metrics:\n      - {entry}\n"
    )
    path = write(tmp_path, body)
    with pytest.raises(EvalFileError) as exc:
        load_suite(path, known_metric=unknown_metric_problem)
    err = exc.value
    assert (err.path, err.line, err.case_id, err.field) == (str(path), 6, "a", field)
    assert says in err.message
    assert "valid options:" in err.message


def test_an_eval_file_reads_the_options_of_each_metric(tmp_path: Path) -> None:
    body = """
target: python:app:echo
cases:
  - id: a
    input: x
    metrics:
      - tool_sequence: {expected: [search, answer], mode: in_order}
      - tool_error
      - turns: {max: 4}
      - tool_calls: {max: 2}
"""
    suite = load_suite(write(tmp_path, body), known_metric=unknown_metric_problem)
    entries = {m.name: m for m in suite.metrics_for(suite.cases[0])}
    assert entries["tool_sequence"].params == {"expected": ["search", "answer"], "mode": "in_order"}
    assert entries["turns"].max == 4 and entries["tool_calls"].max == 2


def test_tool_called_reads_name_and_max_as_its_own_options(tmp_path: Path) -> None:
    body = """
target: python:app:echo
cases:
  - id: a
    input: x
    metrics:
      - tool_called: {name: get_weather, max: 2}
      - tool_called: {name: book_flight, min: 0, max: 0}
      - tool_args: {name: get_weather, args: {city: Paris}}
"""
    suite = load_suite(write(tmp_path, body), known_metric=unknown_metric_problem)
    entries = suite.metrics_for(suite.cases[0])
    assert [m.kind for m in entries] == ["tool_called", "tool_called", "tool_args"]
    assert entries[0].params == {"name": "get_weather", "max": 2} and entries[0].max is None
    assert entries[1].params == {"name": "book_flight", "min": 0, "max": 0}
    assert entries[2].params["name"] == "get_weather"
    # Entries for two tools do not clash: each is scored under METRIC:TOOL.
    assert [m.name for m in entries] == [
        "tool_called:get_weather",
        "tool_called:book_flight",
        "tool_args:get_weather",
    ]


def test_the_editor_schema_stays_valid_and_knows_the_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import jsonschema

    from pytest_mleval.cli import main

    assert main(["schema", "cases"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {
        "target": "python:app:echo",
        "cases": [
            {
                "id": "a",
                "input": "x",
                "metrics": [
                    {"tool_called": {"name": "f", "min": 1, "max": 2}},
                    {"tool_args": {"name": "f", "args": {"city": "Paris"}, "match": "exact"}},
                    {"tool_sequence": {"expected": ["f"], "mode": "any_order"}},
                    {"turns": {"max": 3}},
                    "tool_error",
                    "tool_calls",
                ],
            }
        ],
    }
    jsonschema.validate(good, schema)
    for bad in (
        {"tool_sequence": {"expected": ["f"], "mode": "sorted"}},
        {"tool_args": {"name": "f", "args": {}, "match": "fuzzy"}},
        {"tool_called": {"name": "f", "times": 2}},
    ):
        case = {**good["cases"][0], "metrics": [bad]}  # type: ignore[dict-item]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "cases": [case]}, schema)
