"""Bring your own agent: a python: target that returns OpenAI-style messages is recorded (and
scored) by its trajectory, whatever framework built it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_mleval.errors import TargetError
from pytest_mleval.targets.registry import normalize_output

AGENT = """
import json

def agent(case):
    # A plain OpenAI-style loop, as an application would run it: the case's conversation,
    # then one tool call and its result, then the answer.
    messages = list(case.chat_messages())
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]})
    messages.append({"role": "tool", "tool_call_id": "c1", "content": json.dumps({"sky": "sunny"})})
    messages.append({"role": "assistant", "content": "It is sunny in Paris."})
    return {"messages": messages}

def broken(case):
    return {"output": "x", "messages": [{"role": "assistant", "tool_calls": [{"id": 1}]}]}

def seen(case):
    return {"output": json.dumps(case.messages)}
"""

SUITE = """
target: python:agent:agent
metrics: [{contains: {value: sunny}}]
cases:
  - id: weather
    messages:
      - {role: system, content: You are a weather assistant.}
      - {role: user, content: "Weather in {{ vars.city }}?"}
    vars: {city: Paris}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(agent=AGENT)
    pytester.syspathinsert()
    return pytester


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / "reports" / "mleval-results.json").read_text()
    )
    return data


def test_returned_messages_become_the_recorded_trajectory(project: pytest.Pytester) -> None:
    project.makefile(".eval.yaml", agent=SUITE)
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    (case,) = _results(project)["cases"]
    assert case["output"] == "It is sunny in Paris."  # the last assistant message
    assert case["messages"][1] == {"role": "user", "content": "Weather in Paris?"}
    traj = case["trajectory"]
    # The case's own two messages are not the agent's turns.
    assert len(traj["messages"]) == 5 and len(traj["turns"]) == 2
    (call,) = traj["turns"][0]["tool_calls"]
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
    assert call["result"] == {"sky": "sunny"} and call["error"] is None
    assert traj["turns"][1]["text"] == "It is sunny in Paris."


def test_malformed_returned_messages_error_that_case(project: pytest.Pytester) -> None:
    project.makefile(
        ".eval.yaml",
        bad="target: python:agent:broken\ncases: [{id: b, input: x}]\n",
        good="target: python:agent:seen\ncases: [{id: g, messages: [{role: user, content: hi}]}]\n",
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*case bad::b errored: TargetError: the target's `messages`[[]0[]].tool_calls[[]0[]]*"]
    )
    cases = {c["case_id"]: c for c in _results(project)["cases"]}
    assert cases["b"]["passed"] is False and "tool_calls" in cases["b"]["error"]
    # A python target receives the conversation as the case's messages.
    assert json.loads(cases["g"]["output"]) == [{"role": "user", "content": "hi"}]


def test_normalize_output_defaults_output_to_the_last_answer() -> None:
    out = normalize_output(
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
            ]
        },
        given=[{"role": "user", "content": "q"}],
    )
    assert out.output == "a"
    assert out.trajectory is not None and len(out.trajectory.turns) == 1


def test_messages_without_any_answer_need_an_output() -> None:
    with pytest.raises(TargetError, match="without `output`"):
        normalize_output({"messages": [{"role": "user", "content": "q"}]})


LONG = """
def agent(case):
    return {"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "read", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "x" * 5000},
        {"role": "assistant", "content": "done"},
    ]}
"""


def test_stored_trajectories_are_bounded_like_outputs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(longagent=LONG)
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        long="target: python:longagent:agent\nmetrics: [{contains: {value: done}}]\ncases: [{id: l, input: q}]\n",
    )
    result = pytester.runpytest("-o", "mleval_max_output_chars=100")
    result.assert_outcomes(passed=1)
    (case,) = _results(pytester)["cases"]
    traj = case["trajectory"]
    result_text = traj["turns"][0]["tool_calls"][0]["result"]
    assert result_text.startswith("x" * 100) and "[truncated: 5,000 characters" in result_text
    assert "[truncated: 5,000 characters" in traj["messages"][2]["content"]
