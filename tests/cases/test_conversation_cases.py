"""Eval files with conversations, tools and images: loading, validation and rendering."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem
from pytest_mleval.targets.render import eval_cases

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _suite(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "agent.eval.yaml"
    path.write_text(textwrap.dedent(body))
    return load_suite(path, known_metric=unknown_metric_problem)


def test_messages_are_templates_and_take_the_suite_system(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        system: You help {{ vars.who }}.
        cases:
          - id: c
            vars: {who: pilots, city: Paris}
            messages:
              - {role: user, content: "Hi"}
              - {role: assistant, content: "Hello, how can I help?"}
              - {role: user, content: "Weather in {{ vars.city }}?"}
        """,
    )
    (ec,) = eval_cases(suite)
    assert ec.render_error is None
    assert ec.messages == [
        {"role": "system", "content": "You help pilots."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert ec.input == "Weather in Paris?"  # what reports and judges show of the question
    assert ec.chat_messages() == ec.messages


def test_a_case_system_message_wins_and_the_prompt_wraps_the_last_question(
    tmp_path: Path,
) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        system: suite system
        prompt: "Answer briefly: {{ input }}"
        cases:
          - id: c
            messages:
              - {role: system, content: own system}
              - {role: user, content: "Why is the sky blue?"}
        """,
    )
    (ec,) = eval_cases(suite)
    assert ec.messages == [
        {"role": "system", "content": "own system"},
        {"role": "user", "content": "Answer briefly: Why is the sky blue?"},
    ]


def test_an_input_case_sends_what_it_always_sent(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        system: s
        cases: [{id: c, input: q}]
        """,
    )
    (ec,) = eval_cases(suite)
    assert ec.messages is None
    assert ec.chat_messages() == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
    ]


def test_images_join_the_last_user_message(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cat.png").write_bytes(PNG)
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        cases:
          - {id: c, input: What is this?, images: [data/cat.png]}
        """,
    )
    (ec,) = eval_cases(suite)
    (msg,) = ec.chat_messages()
    assert msg["content"][0] == {"type": "text", "text": "What is this?"}
    assert msg["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_missing_image_is_an_error_of_that_case_naming_the_path(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        cases:
          - {id: ok, input: x}
          - {id: broken, input: x, images: [data/nope.png]}
        """,
    )
    ok, broken = eval_cases(suite)
    assert ok.render_error is None
    assert broken.render_error is not None
    assert "case 'broken'" in broken.render_error
    assert "field 'images'" in broken.render_error
    assert "'data/nope.png' not found" in broken.render_error


def test_a_bad_message_names_file_line_case_and_field(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError) as info:
        _suite(
            tmp_path,
            """
            target: model:test-model
            cases:
              - id: first
                input: x
              - id: second
                messages:
                  - {role: user, content: hi}
                  - {role: robot, content: beep}
            """,
        )
    text = info.value.describe()
    assert "agent.eval.yaml:9:" in text  # the message at fault (the file starts with a blank line)
    assert "case 'second'" in text
    assert "messages[1].role must be one of" in text


def test_a_case_without_input_or_messages_names_the_input_field(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError) as info:
        _suite(tmp_path, "target: model:m\ncases:\n  - id: lost\n    expected: y\n")
    assert info.value.field == "input"
    assert "messages:" in str(info.value)


@pytest.mark.parametrize(
    ("tool", "problem"),
    [
        ("{name: f}", "a tool is `python:MODULE:FUNC`"),
        ("python:nomodule", "must be python:MODULE:FUNC"),
        ("{name: 'bad name', schema: {type: object}}", "must be 1-64 letters"),
        ("{name: f, schema: {type: string}}", "JSON schema of type object"),
        ("{name: f, schema: {type: object}, colour: red}", "unknown field"),
    ],
)
def test_tool_specs_are_checked_at_load(tmp_path: Path, tool: str, problem: str) -> None:
    with pytest.raises(EvalFileError, match=problem):
        _suite(tmp_path, f"target: model:m\ntools:\n  - {tool}\ncases: [{{id: c, input: x}}]\n")


def test_tools_merge_by_name_and_tool_error_is_scored_by_default(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        tools:
          - python:tools:get_weather
          - {name: book, schema: {type: object}}
        max_turns: 4
        cases:
          - id: plain
            input: x
          - id: own
            input: x
            max_turns: 2
            tools:
              - {name: get_weather, schema: {type: object, properties: {city: {type: string}}}}
            tool_results: {get_weather: {sky: sunny}}
            metrics: [{tool_error: {threshold: 0.5}}]
        """,
    )
    plain, own = eval_cases(suite)
    assert [m.name for m in plain.metrics] == ["tool_error"]
    assert plain.max_turns == 4 and own.max_turns == 2
    assert [t.name or t.ref for t in own.tools] == ["get_weather", "book"]
    assert own.tools[0].python is None  # the case's schema-only tool replaced the function
    assert [(m.name, m.threshold) for m in own.metrics] == [("tool_error", 0.5)]
    assert own.tool_results[0].result == {"sky": "sunny"}


def test_allow_tool_errors_leaves_them_unscored(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        allow_tool_errors: true
        tools: [python:tools:get_weather]
        cases: [{id: c, input: x}]
        """,
    )
    (ec,) = eval_cases(suite)
    assert ec.metrics == []


def test_tool_results_list_form(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        """
        target: model:test-model
        tools: [{name: pay, schema: {type: object}}]
        cases:
          - id: c
            input: x
            tool_results:
              - {name: pay, args: {card: "0123"}, error: card declined}
              - {name: pay, result: ok}
        """,
    )
    (case,) = suite.cases
    first, second = case.tool_results
    assert first.args == {"card": "0123"} and first.error == "card declined"
    assert second.args is None and second.result == "ok"


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("tool_sequence", "metrics.tool_sequence.expected"),
        ("tool_called", "metrics.tool_called.name"),
    ],
)
def test_a_metric_entry_missing_a_required_option_fails_at_load(
    tmp_path: Path, entry: str, field: str
) -> None:
    # Not at scoring time, case by case, after the model calls were paid for.
    with pytest.raises(EvalFileError) as info:
        _suite(
            tmp_path,
            f"target: model:m\ncases:\n  - id: c\n    input: x\n    metrics: [exact, {entry}]\n",
        )
    assert info.value.field == field
    assert "Field required" in str(info.value)
