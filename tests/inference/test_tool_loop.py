"""The tool loop (inference/toolloop.py) through the engine, each client and the test server:
turns, tool results sent back, parallel calls, tool errors returned to the model, max_turns,
a model call failing mid-loop, replay of a recorded loop with no request, and the ``model:``
target's requests, one-turn trajectories and prefetched loops."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cases.case import EvalCase
from pytest_mleval.cases.schema import ToolSpec
from pytest_mleval.errors import AuthenticationError, CacheMissError, ProviderError, TargetError
from pytest_mleval.inference import ChatRequest, InferenceEngine, ResponseCache, RetryPolicy
from pytest_mleval.inference.providers.auto import AutoProvider
from pytest_mleval.inference.targets import ModelTarget
from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only
from pytest_mleval.inference.toolloop import ToolLoopError, run_tool_loop
from pytest_mleval.inference.tools import RuntimeTool, ToolBox
from pytest_mleval.inference.types import cache_key

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

MODEL = "openai/test-model"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


@pytest.fixture(params=["native", "litellm"])
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_engine(
    client: str = "native", cache: ResponseCache | None = None, **kw: Any
) -> InferenceEngine:
    kw.setdefault("retry", RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01, seed=0))
    return InferenceEngine(AutoProvider(client=client), cache=cache, api_key="sk-test", **kw)


def weather(city: str) -> dict[str, Any]:
    return {"city": city, "sky": "sunny" if city == "Paris" else "rain"}


def box(**tools: Any) -> ToolBox:
    made = [
        RuntimeTool(name=name, description=f"the {name} tool", parameters=CITY, fn=fn)
        for name, fn in (tools or {"get_weather": weather}).items()
    ]
    return ToolBox(made, timeout_s=5)


def first_request(srv: OpenAITestServer, tb: ToolBox, **kw: Any) -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are a weather assistant."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        api_base=srv.base_url,
        tools=tb.definitions(),
        **kw,
    )


CALL_WEATHER = Rule(
    tool_calls=[{"id": "w1", "name": "get_weather", "arguments": {"city": "Paris"}}]
)
ANSWER = Rule(tool_result="sunny", reply="It is sunny: {tool_result}")


def test_the_loop_runs_tools_and_sends_their_results_back(client: str) -> None:
    with OpenAITestServer(rules=[ANSWER, CALL_WEATHER]) as srv, make_engine(client) as engine:
        tb = box()
        out = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        assert srv.count == 2
        second = srv.requests[1]
    assert out.output == 'It is sunny: {"city": "Paris", "sky": "sunny"}'
    assert second["tools"] == tb.definitions()
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "w1", "content": '{"city": "Paris", "sky": "sunny"}'},
    ]
    traj = out.trajectory
    assert traj is not None and traj.stop_reason == "answer"
    assert [t.index for t in traj.turns] == [0, 1]
    (c,) = traj.turns[0].tool_calls
    assert (c.name, c.arguments, c.result, c.error) == (
        "get_weather",
        {"city": "Paris"},
        {"city": "Paris", "sky": "sunny"},
        None,
    )
    assert c.latency_ms is not None and traj.turns[0].text is None
    assert traj.turns[1].text == out.output and traj.turns[1].finish_reason == "stop"
    assert traj.messages[-1] == {"role": "assistant", "content": out.output}
    assert len(traj.messages) == 5
    turn_tokens = [t.usage["total_tokens"] for t in traj.turns]
    assert out.usage["total_tokens"] == sum(turn_tokens) and all(turn_tokens)
    assert out.model == MODEL and out.cached is False and out.retries == 0
    # The test model has no price: the loop's cost is unknown, not 0 (and replays say so).
    assert f"{MODEL!r}" in out.metadata["cost_unknown"] and out.cost_usd == 0


def test_a_recorded_loop_replays_with_no_request(tmp_path: Path, client: str) -> None:
    path = str(tmp_path / "cache.sqlite")
    with OpenAITestServer(rules=[ANSWER, CALL_WEATHER]) as srv:
        with make_engine("native", ResponseCache(path)) as engine:
            tb = box()
            recorded = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        srv.reset()
        # Replayed through either client (the keys do not depend on who recorded them).
        with make_engine(client, ResponseCache(path, mode="replay")) as engine:
            replayed = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        assert srv.count == 0
    assert replayed.output == recorded.output and replayed.cached is True
    assert replayed.trajectory is not None and recorded.trajectory is not None
    assert all(t.cached for t in replayed.trajectory.turns)
    assert replayed.trajectory.messages == recorded.trajectory.messages
    assert replayed.metadata["cost_unknown"] == recorded.metadata["cost_unknown"]


def test_replay_misses_when_a_tool_answers_differently(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.sqlite")
    with OpenAITestServer(rules=[ANSWER, CALL_WEATHER]) as srv:
        with make_engine("native", ResponseCache(path)) as engine:
            tb = box()
            run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        changed = box(get_weather=lambda city: {"city": city, "sky": "snow"})
        replay = make_engine("native", ResponseCache(path, mode="replay"))
        with replay as engine, pytest.raises(CacheMissError) as info:
            run_tool_loop(engine, first_request(srv, changed), changed, max_turns=4)
    traj = info.value.trajectory  # type: ignore[attr-defined]
    assert traj.stop_reason == "error" and len(traj.turns) == 1 and traj.turns[0].cached


def test_parallel_tool_calls_run_at_once_and_answer_in_order(
    client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(city: str) -> str:
        barrier.wait()  # both calls of the reply must be running for either to go on
        return f"{city}: ok"

    calls = [
        {"id": "a", "name": "meet", "arguments": {"city": "Oslo"}},
        {"id": "b", "name": "meet", "arguments": {"city": "Rome"}},
    ]
    rules = [Rule(tool_result="ok", reply="both: {tool_result}"), Rule(tool_calls=calls)]
    with OpenAITestServer(rules=rules) as srv, make_engine(client) as engine:
        tb = box(meet=meet)
        out = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=3)
        tools_sent = [m for m in srv.requests[1]["messages"] if m["role"] == "tool"]
    assert out.output == "both: Oslo: ok\nRome: ok"
    assert [(m["tool_call_id"], m["content"]) for m in tools_sent] == [
        ("a", "Oslo: ok"),
        ("b", "Rome: ok"),
    ]
    assert out.trajectory is not None
    assert [c.error for c in out.trajectory.tool_calls] == [None, None]
    assert len(out.trajectory.turns[0].tool_calls) == 2


def test_tool_errors_go_back_to_the_model_and_the_loop_goes_on() -> None:
    rules = [
        Rule(tool_result="error", reply="sorry: {tool_result}"),
        Rule(tool_calls=[{"id": "x", "name": "get_wether", "arguments": "{not json"}]),
    ]
    with OpenAITestServer(rules=rules) as srv, make_engine() as engine:
        tb = box()
        out = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=3)
        sent = srv.requests[1]["messages"][-1]
    assert sent["role"] == "tool" and json.loads(sent["content"])["error"].startswith(
        "arguments are not valid JSON"
    )
    assert out.output.startswith('sorry: {"error": "arguments are not valid JSON')
    assert out.trajectory is not None and len(out.trajectory.tool_errors) == 1


def test_a_loop_that_never_answers_ends_at_max_turns(client: str) -> None:
    again = Rule(
        tool_result=".", tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    )
    with OpenAITestServer(rules=[again, CALL_WEATHER]) as srv, make_engine(client) as engine:
        tb = box()
        with pytest.raises(ToolLoopError) as info:
            run_tool_loop(engine, first_request(srv, tb), tb, max_turns=3)
        assert srv.count == 3
    err = info.value
    assert isinstance(err, TargetError)
    assert "after 3 replies (max_turns: 3)" in str(err) and "get_weather" in str(err)
    traj = err.trajectory
    assert traj.stop_reason == "max_turns" and len(traj.turns) == 3
    assert [c.error for c in traj.turns[1].tool_calls] == [None]
    assert traj.turns[2].tool_calls[0].error == "not run: the loop reached max_turns (3)"
    assert err.model == MODEL and err.retries == 0


def test_max_turns_of_one_allows_a_direct_answer() -> None:
    with OpenAITestServer(rules=[Rule(reply="no tools needed")]) as srv, make_engine() as engine:
        tb = box()
        out = run_tool_loop(engine, first_request(srv, tb), tb, max_turns=1)
    assert out.output == "no tools needed" and out.trajectory is not None
    assert len(out.trajectory.turns) == 1 and out.trajectory.tool_calls == []


def test_a_model_call_failing_mid_loop_carries_the_trajectory(client: str) -> None:
    faults = [Fault("401", tool_result=".")]
    with (
        OpenAITestServer(rules=[ANSWER, CALL_WEATHER], faults=faults) as srv,
        make_engine(client) as engine,
    ):
        tb = box()
        with pytest.raises(AuthenticationError) as info:
            run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        assert srv.count == 2
    traj = info.value.trajectory  # type: ignore[attr-defined]
    assert traj.stop_reason == "error" and len(traj.turns) == 1
    assert traj.turns[0].tool_calls[0].result == {"city": "Paris", "sky": "sunny"}
    assert traj.messages[-1]["role"] == "tool"
    assert info.value.model == MODEL  # type: ignore[attr-defined]


def test_retries_of_a_failed_turn_are_kept() -> None:
    faults = [Fault("500", tool_result=".")]
    with (
        OpenAITestServer(rules=[ANSWER, CALL_WEATHER], faults=faults) as srv,
        make_engine(retry=RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.01)) as engine,
    ):
        tb = box()
        with pytest.raises(ProviderError) as info:
            run_tool_loop(engine, first_request(srv, tb), tb, max_turns=4)
        assert srv.count == 3  # the first turn, then the second twice
    assert info.value.retries == 1  # type: ignore[attr-defined]
    assert info.value.trajectory.stop_reason == "error"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the model: target

TOOLS_MODULE = "mleval_loop_target_tools"


@pytest.fixture
def tools_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / f"{TOOLS_MODULE}.py").write_text(
        "CALLS = []\n"
        "def get_weather(city: str) -> dict:\n"
        '    """Get the weather.\n\n    Args:\n        city: The city.\n    """\n'
        "    CALLS.append(city)\n"
        '    return {"city": city, "sky": "sunny"}\n'
    )
    path_before = list(sys.path)
    yield tmp_path
    sys.path[:] = path_before
    sys.modules.pop(TOOLS_MODULE, None)


def case(tools_dir: Path, *, tools: bool = True, **kw: Any) -> EvalCase:
    values: dict[str, Any] = {"id": "paris", "suite": "agent", "input": "Weather in Paris?"}
    values.update(kw)
    return EvalCase(
        file=str(tools_dir / "agent.eval.yaml"),
        tools=[ToolSpec.model_validate(f"python:{TOOLS_MODULE}:get_weather")] if tools else [],
        **values,
    )


def test_an_input_case_sends_the_same_request_as_before(tools_dir: Path) -> None:
    with make_engine() as engine:
        target = ModelTarget(MODEL, engine, api_base="http://127.0.0.1:1/v1", timeout=5)
        ec = case(tools_dir, tools=False, system="Be brief.", prompt="Say: x", params={"seed": 1})
        before = ChatRequest.from_prompt(
            MODEL,
            "Say: x",
            system="Be brief.",
            params={"seed": 1},
            api_base="http://127.0.0.1:1/v1",
            timeout=5,
        )
        assert target.request(ec) == before and cache_key(target.request(ec)) == cache_key(before)


def test_a_conversation_without_tools_gives_a_one_turn_trajectory(tools_dir: Path) -> None:
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "refund window?"},
    ]
    with (
        OpenAITestServer(rules=[Rule(match="refund", reply="30 days")]) as srv,
        make_engine() as engine,
    ):
        target = ModelTarget(MODEL, engine, api_base=srv.base_url)
        out = target(case(tools_dir, tools=False, messages=conversation))
        assert srv.requests[0]["messages"] == conversation and "tools" not in srv.requests[0]
    assert out.output == "30 days" and out.trajectory is not None
    assert out.trajectory.messages == [*conversation, {"role": "assistant", "content": "30 days"}]
    assert [t.text for t in out.trajectory.turns] == ["30 days"]
    # An input: case keeps no trajectory (nothing to show beyond its input and output).
    with OpenAITestServer() as srv, make_engine() as engine:
        assert (
            ModelTarget(MODEL, engine, api_base=srv.base_url)(
                case(tools_dir, tools=False)
            ).trajectory
            is None
        )


def test_a_case_with_tools_runs_the_loop_and_prefetch_runs_it_ahead(tools_dir: Path) -> None:
    answer_any = Rule(tool_result=".", reply="done: {tool_result}")
    with (
        OpenAITestServer(rules=[answer_any, CALL_WEATHER]) as srv,
        make_engine(concurrency=2) as engine,
    ):
        target = ModelTarget(MODEL, engine, api_base=srv.base_url, base_dir=tools_dir)
        cases = [case(tools_dir, id=f"c{i}") for i in range(3)]
        target.prefetch(cases)
        deadline = time.monotonic() + 30
        while srv.count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.count == 2  # both turns asked before any item asked for its output
        outs = [target(c) for c in cases]
        # The engine shared the three cases' identical requests; each loop ran its own tool
        # call once: the items waited for the loops run ahead, they did not run them again.
        assert srv.count == 2
        ran = sys.modules[TOOLS_MODULE].CALLS
        assert ran == ["Paris"] * 3
        assert srv.requests[0]["tools"][0]["function"]["name"] == "get_weather"
    for out in outs:
        assert out.output == 'done: {"city": "Paris", "sky": "sunny"}'
        assert out.trajectory is not None and len(out.trajectory.turns) == 2


def test_a_tool_that_cannot_load_errors_the_case_before_any_call(tools_dir: Path) -> None:
    with OpenAITestServer(rules=[CALL_WEATHER]) as srv, make_engine() as engine:
        target = ModelTarget(MODEL, engine, api_base=srv.base_url)
        broken = case(tools_dir)
        broken.tools = [ToolSpec.model_validate(f"python:{TOOLS_MODULE}:nope")]
        target.prefetch([broken])
        with pytest.raises(TargetError, match="has no attribute 'nope'"):
            target(broken)
        with pytest.raises(TargetError, match="has no attribute 'nope'"):
            target(broken)  # not prefetched this time: the same error
        assert srv.count == 0
