"""``judge`` and ``pairwise`` with ``over: trajectory``: the judge reads the agent's whole
conversation (tool calls, arguments, results), checked in the requests the test server saw."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.conversation.trajectory import Trajectory
from pytest_mleval.inference.providers.litellm import import_litellm
from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only
from pytest_mleval.metrics.base import MetricOptionError, RenderedCase
from pytest_mleval.metrics.registry import Sample, Scored, score_metric, validate_options

import_litellm()  # see tests/inference/test_model_targets.py: loaded before in-process runs


MESSAGES_OF = """
def messages_of(question, city, answer="It is sunny."):
    \"\"\"An agent's conversation: it looks up the weather of ``city``, then answers.\"\"\"
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"sky": f"sunny in {city}"})},
        {"role": "assistant", "content": answer},
    ]
"""
# The same conversation for the agents of the eval files (app.py) and for the unit tests.
_defined: dict[str, Any] = {"json": json}
exec(MESSAGES_OF, _defined)
messages_of = _defined["messages_of"]

APP = f"""
import json
{MESSAGES_OF}

def agent(case):
    return {{"output": "It is sunny.", "messages": messages_of(case.input, "Paris")}}

def wrong_city(case):
    return {{"output": "It is sunny.", "messages": messages_of(case.input, "Lyon")}}

def plain(case):
    return "It is sunny."
"""

RIGHT_CALL = 'get_weather({"city": "Paris"})'


def block(messages: list[dict[str, Any]], label: str) -> str | None:
    m = re.search(rf"<<<{label}-(\w+)\n(.*?)\n{label}-\1>>>", messages[-1]["content"], re.S)
    return m.group(2) if m else None


def trajectory_judge(messages: list[dict[str, Any]]) -> str:
    # The outputs are the same; only the trajectory shows which agent asked for the right city.
    seen = block(messages, "TRAJECTORY") or block(messages, "OUTPUT") or ""
    score = 5 if RIGHT_CALL in seen else 1
    return json.dumps({"reasoning": f"saw {len(seen)} chars", "score": score})


def pairwise_trajectory_judge(messages: list[dict[str, Any]]) -> str:
    a, b = block(messages, "A") or "", block(messages, "B") or ""
    right_a, right_b = RIGHT_CALL in a, RIGHT_CALL in b
    winner = "tie" if right_a == right_b else "A" if right_a else "B"
    return json.dumps({"reasoning": "compared the tool calls", "winner": winner})


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
    with loopback_only() as attempts:
        yield
    assert not attempts


def judged(
    srv: OpenAITestServer, metric: str, sample: Sample, cache: Any = None, **params: Any
) -> Scored:
    """Score ``metric`` on ``sample`` with the judge on the test server (no pytest run)."""
    from pytest_mleval.inference import InferenceEngine
    from pytest_mleval.inference.targets import EngineJudge
    from pytest_mleval.judges import set_backend_factory

    with InferenceEngine(api_key="sk-test-judge", cache=cache) as engine:
        previous = set_backend_factory(
            lambda m: EngineJudge(engine, m, api_base=srv.base_url), "openai/judge"
        )
        try:
            return score_metric(metric, sample, params=params)
        finally:
            set_backend_factory(*previous)


def agent_sample(city: str = "Paris", **metadata: Any) -> Sample:
    trajectory = Trajectory.from_messages(messages_of("Weather in Paris?", city), given=1)
    case = RenderedCase(id="paris", suite="weather", input="Weather in Paris?")
    return Sample(output="It is sunny.", case=case, trajectory=trajectory, metadata=metadata)


# --------------------------------------------------------------------------- judge


def test_judge_over_trajectory_sends_the_transcript() -> None:
    with OpenAITestServer(rules=[Rule(reply=trajectory_judge)]) as srv:
        right = judged(srv, "judge", agent_sample("Paris"), over="trajectory")
        wrong = judged(srv, "judge", agent_sample("Lyon"), over="trajectory")
        # Judged by their outputs alone the two agents are the same.
        plain = judged(srv, "judge", agent_sample("Lyon"))
    assert right.error is None and right.score == 1.0
    assert wrong.score == 0.0 and plain.score == 0.0
    assert right.data is not None and right.data["over"] == "trajectory"
    prompt = srv.requests[0]["messages"]
    system, user = prompt[0]["content"], prompt[1]["content"]
    assert "an AI agent's trajectories" in system
    assert "You are judging an AI agent's full trajectory" in user
    shown = block(prompt, "TRAJECTORY")
    assert shown is not None
    assert shown.splitlines() == [
        "[user] Weather in Paris?",
        '[assistant calls tool] get_weather({"city": "Paris"})',
        '[tool result: get_weather] {"sky": "sunny in Paris"}',
        "[assistant] It is sunny.",
    ]
    # The conversation already holds the question: no separate INPUT or OUTPUT block.
    assert block(prompt, "INPUT") is None and block(prompt, "OUTPUT") is None
    assert "call the right tools with the right arguments" in user  # the trajectory criteria
    # Output mode is as before: the output block, the input, no trajectory.
    output_prompt = srv.requests[2]["messages"]
    assert block(output_prompt, "OUTPUT") == "It is sunny."
    assert block(output_prompt, "INPUT") == "Weather in Paris?"
    assert "trajectory" not in json.dumps(output_prompt)


def test_judge_over_trajectory_keeps_the_given_criteria_and_reference() -> None:
    with OpenAITestServer(rules=[Rule(reply=trajectory_judge)]) as srv:
        case = RenderedCase(id="p", suite="w", input="q", expected="sunny")
        sample = agent_sample()
        sample.case = case
        r = judged(srv, "judge", sample, over="trajectory", criteria="Did it check Paris?")
    assert r.error is None, r.error
    user = srv.requests[0]["messages"][1]["content"]
    assert "Criteria: Did it check Paris?" in user
    assert "A reference final answer (treat as correct)" in user
    assert block(srv.requests[0]["messages"], "REFERENCE") == "sunny"


def test_judge_over_trajectory_without_one_is_an_error_and_asks_nothing() -> None:
    with OpenAITestServer(rules=[Rule(reply=trajectory_judge)]) as srv:
        r = judged(srv, "judge", Sample(output="It is sunny.", input="q"), over="trajectory")
        assert srv.count == 0
    assert r.score is None and r.passed is False
    assert r.error is not None and "no trajectory" in r.error and "returns `messages`" in r.error


def test_the_judged_trajectory_is_cached_like_any_judge_call(tmp_path: Path) -> None:
    from pytest_mleval.inference.cache import ResponseCache

    with OpenAITestServer(rules=[Rule(reply=trajectory_judge)]) as srv:
        for _ in range(2):
            cache = ResponseCache(tmp_path / "c.db")
            r = judged(srv, "judge", agent_sample(), cache=cache, over="trajectory")
            assert r.score == 1.0, r.error
        assert srv.count == 1  # the second run's identical prompt is a cache hit


@pytest.mark.parametrize("metric", ["judge", "pairwise"])
def test_over_takes_output_or_trajectory_only(metric: str) -> None:
    assert validate_options(metric, {"over": "trajectory"}) == {"over": "trajectory"}
    with pytest.raises(MetricOptionError, match=r"'output' or 'trajectory'"):
        validate_options(metric, {"over": "conversation"})


# --------------------------------------------------------------------------- pairwise


def test_pairwise_over_trajectory_against_the_baseline_run() -> None:
    baseline = Trajectory.from_messages(messages_of("Weather in Paris?", "Lyon"), given=1)
    with OpenAITestServer(rules=[Rule(reply=pairwise_trajectory_judge)]) as srv:
        # The baseline's trajectory as a record and as the dict a results file holds.
        for recorded in (baseline, baseline.model_dump()):
            sample = agent_sample(baseline_output="It is sunny.", baseline_trajectory=recorded)
            r = judged(srv, "pairwise", sample, over="trajectory")
            assert r.error is None, r.error
            assert r.score == 1.0 and r.data is not None
            assert r.data["orders"] == ["A", "B"] and r.data["over"] == "trajectory"
        # Over the outputs (the same text) it is a tie.
        r = judged(srv, "pairwise", agent_sample(baseline_output="It is sunny."))
        assert r.score == 0.5
    first = srv.requests[0]["messages"]
    assert "two agents' trajectories" in first[0]["content"]
    assert "comparing two AI agents' full trajectories" in first[1]["content"]
    assert RIGHT_CALL in (block(first, "A") or "")
    assert 'get_weather({"city": "Lyon"})' in (block(first, "B") or "")
    assert block(first, "INPUT") is None
    assert "Trajectory A:" in first[1]["content"]


def test_pairwise_over_trajectory_needs_the_baseline_s_trajectory() -> None:
    with OpenAITestServer(rules=[Rule(reply=pairwise_trajectory_judge)]) as srv:
        # A baseline run whose target returned no messages: nothing to compare, an error.
        r = judged(srv, "pairwise", agent_sample(baseline_output="x"), over="trajectory")
        assert r.passed is False and r.error is not None
        assert "baseline run recorded no trajectory" in r.error
        # No baseline at all: skipped with the reason, as over the outputs.
        r = judged(srv, "pairwise", agent_sample(), over="trajectory")
        assert r.skipped is not None and "--mleval-baseline" in r.skipped
        # The candidate without a trajectory: an error, whatever the opponent.
        bare = Sample(output="x", input="q", metadata={"baseline_trajectory": {}})
        r = judged(srv, "pairwise", bare, over="trajectory")
        assert r.error is not None and "no trajectory" in r.error
        assert srv.count == 0


# --------------------------------------------------------------------------- eval files


def project(p: pytest.Pytester, srv: OpenAITestServer, **files: str) -> None:
    p.makepyfile(app=APP)
    p.syspathinsert()
    p.makeini(
        f"[pytest]\nmleval_api_base = {srv.base_url}\nmleval_retry_delay = 0.01\n"
        "mleval_cache = off\nmleval_judge_model = openai/judge\n"
    )
    for name, body in files.items():
        p.makefile(".eval.yaml", **{name: body})


def cases(p: pytest.Pytester) -> dict[str, dict[str, Any]]:
    data = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    return {f"{c['suite']}/{c['case_id']}": c for c in data["cases"]}


SUITE = """
target: python:app:{target}
metrics:
  - {metric}
cases:
  - {{id: paris, input: "Weather in Paris?"}}
"""


def test_an_eval_file_judges_a_python_agent_s_trajectory(pytester: pytest.Pytester) -> None:
    judge = "judge: {over: trajectory, threshold: 0.5}"
    with OpenAITestServer(rules=[Rule(reply=trajectory_judge)]) as srv:
        project(
            pytester,
            srv,
            right=SUITE.format(target="agent", metric=judge),
            wrong=SUITE.format(target="wrong_city", metric=judge),
            bare=SUITE.format(target="plain", metric=judge),
        )
        pytester.runpytest().assert_outcomes(passed=1, failed=2)
        got = cases(pytester)
        assert srv.count == 2  # the case without a trajectory asked nothing
    assert got["right/paris"]["scores"]["judge"]["score"] == 1.0
    assert got["wrong/paris"]["scores"]["judge"]["score"] == 0.0
    assert "no trajectory" in got["bare/paris"]["scores"]["judge"]["error"]
    sent = [block(r["messages"], "TRAJECTORY") or "" for r in srv.requests]
    assert sorted(RIGHT_CALL in s for s in sent) == [False, True]


def test_pairwise_over_trajectory_against_a_second_target(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(reply=pairwise_trajectory_judge)]) as srv:
        project(
            pytester,
            srv,
            versus=SUITE.format(
                target="agent",
                metric="pairwise: {over: trajectory, against: 'python:app:wrong_city'}",
            ),
            noisy=SUITE.format(
                target="agent", metric="pairwise: {over: trajectory, against: 'python:app:plain'}"
            ),
        )
        pytester.runpytest().assert_outcomes(passed=1, failed=1)
        got = cases(pytester)
        assert srv.count == 2  # both orders of the one comparison that could be made
    assert got["versus/paris"]["scores"]["pairwise"]["score"] == 1.0
    error = got["noisy/paris"]["scores"]["pairwise"]["error"]
    assert "opponent 'python:app:plain' returned no trajectory" in error
    a = block(srv.requests[0]["messages"], "A") or ""
    b = block(srv.requests[0]["messages"], "B") or ""
    assert RIGHT_CALL in a and 'get_weather({"city": "Lyon"})' in b


def test_pairwise_over_trajectory_against_a_saved_baseline(pytester: pytest.Pytester) -> None:
    pairwise = "pairwise: {over: trajectory}"
    with OpenAITestServer(rules=[Rule(reply=pairwise_trajectory_judge)]) as srv:
        project(pytester, srv, w=SUITE.format(target="wrong_city", metric=pairwise))
        pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=1)
        project(pytester, srv, w=SUITE.format(target="agent", metric=pairwise))
        pytester.runpytest("--mleval-baseline", "base.json").assert_outcomes(passed=1)
        scored = cases(pytester)["w/paris"]["scores"]["pairwise"]
        assert scored["score"] == 1.0, scored
        assert 'get_weather({"city": "Lyon"})' in (block(srv.requests[0]["messages"], "B") or "")
