"""Agents end to end: pytest -> plugin -> a ``model:`` target with ``tools:`` -> the tool loop ->
the engine -> each client -> the test server, then the trajectory metrics, the results file and
a replay with no request. Conversations (``messages:``), schema-only tools with scripted
results, the loop's limits, a model call failing mid-loop, a tool that cannot load, and images
(sent, seen by the server, part of the cache key)."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

if find_spec("litellm") is not None:
    from pytest_mleval.inference.providers.litellm import import_litellm

    # In-process pytester runs unload modules first imported inside them; litellm keeps HTTP
    # clients built from httpx classes across calls, so it must be loaded before the first run.
    import_litellm()

TOOLS = '''
def get_weather(city: str, unit: str = "c") -> dict:
    """Get the current weather of a city.

    Args:
        city: The city's name.
        unit: c or f.
    """
    return {"city": city, "sky": "sunny" if city == "Paris" else "rain", "unit": unit}


def explode(reason: str) -> str:
    """A tool that fails."""
    raise RuntimeError(reason)
'''

RULES = [
    Rule(tool_result="B-123", reply="Booked: {tool_result}"),
    Rule(tool_result="sunny", reply="It is sunny in Paris."),
    Rule(tool_result='"error"', reply="The tool failed: {tool_result}"),
    Rule(match="(?i)book", tool_calls=[{"name": "book_flight", "arguments": {"to": "Oslo"}}]),
    Rule(match="(?i)weather", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]),
    Rule(match="(?i)explode", tool_calls=[{"name": "explode", "arguments": {"reason": "kaboom"}}]),
    Rule(match="(?i)typo", tool_calls=[{"name": "get_wether", "arguments": {"city": "Paris"}}]),
]


def agent_suite(srv: OpenAITestServer, extra: str = "", cases: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        suite: agent
        target: model:openai/test-model
        api_base: {srv.base_url}
        params: {{temperature: 0}}
        max_turns: 4
        tools:
          - python:weather_tools:get_weather
          - python:weather_tools:explode
          - name: book_flight
            description: Book a flight.
            schema:
              type: object
              properties: {{to: {{type: string}}}}
              required: [to]
        """
        )
        + extra
        + "cases:\n"
        + textwrap.indent(textwrap.dedent(cases), "  ")
    )


CASES = """\
- id: paris
  messages:
    - {role: system, content: You are a weather assistant.}
    - {role: user, content: "What's the {{ vars.what }} in Paris?"}
  vars: {what: weather}
  metrics:
    - tool_called: {name: get_weather}
    - tool_args: {name: get_weather, args: {city: Paris}}
    - tool_sequence: {expected: [get_weather]}
    - turns: {max: 2}
    - contains: {value: sunny}
- id: book
  input: Book me a flight to Oslo
  tool_results:
    - {name: book_flight, args: {to: Rome}, result: wrong}
    - {name: book_flight, args: {to: Oslo}, result: {booking: B-123}}
  metrics:
    - tool_called: {name: book_flight}
    - tool_not_called: {name: get_weather}
    - contains: {value: B-123}
"""


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest(
        "--mleval-retry-delay", "0.01", "--mleval-timeout", "10", "--mleval-max-retries", "1", *args
    )


def results(p: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    return data


def by_id(p: pytest.Pytester) -> dict[str, dict[str, Any]]:
    return {c["case_id"]: c for c in results(p)["cases"]}


@pytest.mark.parametrize("client", ["native", "litellm"])
def test_an_agent_suite_runs_scores_records_and_replays(
    pytester: pytest.Pytester, client: str
) -> None:
    pytester.makepyfile(weather_tools=TOOLS)
    with OpenAITestServer(rules=RULES) as srv:
        pytester.makefile(".eval.yaml", agent=agent_suite(srv, cases=CASES))
        result = run(pytester, "--mleval-client", client)
        result.assert_outcomes(passed=2)
        assert srv.count == 4  # two turns per case
        first = srv.requests[0]
        names = [t["function"]["name"] for t in first["tools"]]
        assert names == ["get_weather", "explode", "book_flight"]
        weather = first["tools"][0]["function"]
        assert weather["description"] == "Get the current weather of a city."
        assert weather["parameters"]["properties"]["city"]["description"] == "The city's name."
        cases = by_id(pytester)
        paris = cases["paris"]
        assert paris["messages"][1]["content"] == "What's the weather in Paris?"
        traj = paris["trajectory"]
        assert traj["stop_reason"] == "answer" and len(traj["turns"]) == 2
        (call,) = traj["turns"][0]["tool_calls"]
        assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
        assert call["result"] == {"city": "Paris", "sky": "sunny", "unit": "c"}
        assert call["error"] is None and call["latency_ms"] is not None
        assert [m["role"] for m in traj["messages"]] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
        ]
        assert all(t["usage"]["total_tokens"] > 0 for t in traj["turns"])
        assert paris["output"] == "It is sunny in Paris." and paris["cached"] is False
        assert paris["usage"]["total_tokens"] == sum(
            t["usage"]["total_tokens"] for t in traj["turns"]
        )
        booked = cases["book"]["trajectory"]["turns"][0]["tool_calls"][0]
        assert booked["result"] == {"booking": "B-123"}
        assert cases["book"]["output"] == 'Booked: {"booking": "B-123"}'
        # The recorded run replays offline: every turn from the cache, no request at all.
        srv.reset()
        result = run(pytester, "--mleval-client", client, "--mleval-cache", "replay")
        result.assert_outcomes(passed=2)
        assert srv.count == 0
        replayed = by_id(pytester)
        assert replayed["paris"]["cached"] is True
        assert replayed["paris"]["trajectory"]["messages"] == traj["messages"]


def test_failed_tool_calls_fail_the_case_unless_allowed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(weather_tools=TOOLS)
    cases = """\
    - {id: raises, input: please explode}
    - {id: unknown, input: a typo}
    - {id: fine, input: weather please}
    """
    with OpenAITestServer(rules=RULES) as srv:
        pytester.makefile(".eval.yaml", agent=agent_suite(srv, cases=cases))
        result = run(pytester)
        result.assert_outcomes(passed=1, failed=2)
        found = by_id(pytester)
        raised = found["raises"]["trajectory"]["turns"][0]["tool_calls"][0]
        assert raised["error"] == "explode raised RuntimeError: kaboom"
        assert found["raises"]["output"].startswith("The tool failed:")
        unknown = found["unknown"]["trajectory"]["turns"][0]["tool_calls"][0]
        assert unknown["error"].startswith("unknown tool 'get_wether'; the tools are: get_weather")
        assert found["raises"]["scores"]["tool_error"]["passed"] is False
        assert found["fine"]["scores"]["tool_error"]["passed"] is True
        # allow_tool_errors: the same run passes (the errors are still recorded).
        pytester.makefile(
            ".eval.yaml", agent=agent_suite(srv, extra="allow_tool_errors: true\n", cases=cases)
        )
        run(pytester).assert_outcomes(passed=3)


def test_a_guard_naming_a_tool_not_offered_errors_instead_of_passing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(weather_tools=TOOLS)
    cases = """\
    - id: guarded
      input: weather please
      metrics:
        - tool_not_called: {name: book_flights}
    """
    with OpenAITestServer(rules=RULES) as srv:
        pytester.makefile(".eval.yaml", agent=agent_suite(srv, cases=cases))
        run(pytester).assert_outcomes(failed=1)
    found = by_id(pytester)
    assert found["guarded"]["trajectory"]["tools"] == ["get_weather", "explode", "book_flight"]
    error = found["guarded"]["scores"]["tool_not_called:book_flights"]["error"]
    assert "'book_flights' is not a tool this case offers" in error
    assert "offered: get_weather, explode, book_flight" in error


def test_a_conversation_without_tools_records_that_it_offered_none(
    pytester: pytest.Pytester,
) -> None:
    with OpenAITestServer(rules=RULES) as srv:
        pytester.makefile(
            ".eval.yaml",
            chat=textwrap.dedent(
                f"""\
                suite: chat
                target: model:openai/test-model
                api_base: {srv.base_url}
                cases:
                  - id: followup
                    messages: [{{role: user, content: weather please}}]
                    metrics: [{{tool_not_called: {{name: get_weather}}}}]
                """
            ),
        )
        run(pytester).assert_outcomes(failed=1)
    (case,) = results(pytester)["cases"]
    assert case["trajectory"]["tools"] == []
    assert "(it offers none)" in case["scores"]["tool_not_called:get_weather"]["error"]


def test_a_loop_cut_off_at_max_turns_is_an_error_with_its_trajectory(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(weather_tools=TOOLS)
    forever = Rule(
        tool_result=".", tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    )
    with OpenAITestServer(rules=[forever, *RULES]) as srv:
        cases = """\
        - id: loops
          input: weather in Oslo
          max_turns: 2
        """
        pytester.makefile(".eval.yaml", agent=agent_suite(srv, cases=cases))
        result = run(pytester)
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*ToolLoopError*max_turns*"])
        assert srv.count == 2
    (case,) = results(pytester)["cases"]
    assert case["passed"] is False and "ToolLoopError" in case["error"]
    assert "after 2 replies (max_turns: 2)" in case["error"]
    traj = case["trajectory"]
    assert traj["stop_reason"] == "max_turns" and len(traj["turns"]) == 2
    assert case["model"] == "openai/test-model"


def test_a_model_call_failing_mid_loop_errors_the_case_with_its_trajectory(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(weather_tools=TOOLS)
    with OpenAITestServer(rules=RULES, faults=[Fault("500", tool_result="sunny")]) as srv:
        pytester.makefile(
            ".eval.yaml", agent=agent_suite(srv, cases="- {id: paris, input: weather?}\n")
        )
        result = run(pytester, "--mleval-cache", "off")
        result.assert_outcomes(errors=1)
        assert srv.count == 3  # the first turn, then the second and its one retry
    (case,) = results(pytester)["cases"]
    assert "ProviderError" in case["error"] and case["retries"] == 1
    traj = case["trajectory"]
    assert traj["stop_reason"] == "error" and len(traj["turns"]) == 1
    assert traj["messages"][-1]["role"] == "tool"


def test_a_tool_module_that_is_missing_errors_the_case_before_any_call(
    pytester: pytest.Pytester,
) -> None:
    with OpenAITestServer(rules=RULES) as srv:
        pytester.makefile(
            ".eval.yaml", agent=agent_suite(srv, cases="- {id: paris, input: weather?}\n")
        )
        result = run(pytester)
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*tool python:weather_tools:get_weather*cannot import*"])
        assert srv.count == 0


def test_a_conversation_without_tools_is_recorded_as_one_turn(pytester: pytest.Pytester) -> None:
    with OpenAITestServer(rules=[Rule(match="refund", reply="30 days")]) as srv:
        pytester.makefile(
            ".eval.yaml",
            chat=textwrap.dedent(
                f"""\
                suite: chat
                target: model:openai/test-model
                api_base: {srv.base_url}
                system: Be brief.
                cases:
                  - id: followup
                    messages:
                      - {{role: user, content: Hi}}
                      - {{role: assistant, content: Hello!}}
                      - {{role: user, content: And the refund window?}}
                    metrics: [{{contains: {{value: 30 days}}}}]
                """
            ),
        )
        run(pytester).assert_outcomes(passed=1)
        sent = srv.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    (case,) = results(pytester)["cases"]
    assert case["trajectory"]["messages"] == [*sent, {"role": "assistant", "content": "30 days"}]
    assert len(case["trajectory"]["turns"]) == 1


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16


def test_images_reach_the_model_and_are_part_of_the_cache_key(pytester: pytest.Pytester) -> None:
    (pytester.path / "data").mkdir()
    image = pytester.path / "data" / "cat.png"
    image.write_bytes(PNG)
    with OpenAITestServer(rules=[Rule(match="picture", reply="a cat")]) as srv:
        pytester.makefile(
            ".eval.yaml",
            vision=textwrap.dedent(
                f"""\
                suite: vision
                target: model:openai/test-model
                api_base: {srv.base_url}
                cases:
                  - id: photo
                    input: What is in this picture?
                    images: [data/cat.png]
                    metrics: [{{contains: {{value: cat}}}}]
                """
            ),
        )
        run(pytester).assert_outcomes(passed=1)
        assert srv.count == 1
        (seen,) = srv.images(0)
        assert seen.data == PNG and seen.mime == "image/png"
        content = srv.requests[0]["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "What is in this picture?"}
        assert (
            content[1]["image_url"]["url"]
            == "data:image/png;base64," + base64.b64encode(PNG).decode()
        )
        (case,) = results(pytester)["cases"]
        assert case["images"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
        # The same bytes replay; other bytes are another request, so replay misses.
        srv.reset()
        run(pytester, "--mleval-cache", "replay").assert_outcomes(passed=1)
        image.write_bytes(PNG + b"\x01")
        result = run(pytester, "--mleval-cache", "replay")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*CacheMissError*"])
        assert srv.count == 0
