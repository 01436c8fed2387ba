"""Runtime tools (inference/tools.py): the JSON schema of a Python tool from its signature and
docstring, argument validation, execution in threads with a timeout, async tools, schema-only
tools answered by scripted results, and every way a call fails (each a tool error, never a
crash). Loading problems are errors of the case."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cases.case import EvalCase
from pytest_mleval.cases.schema import ToolResultSpec, ToolSpec
from pytest_mleval.conversation.trajectory import ToolCall, is_error_result, parse_call
from pytest_mleval.errors import TargetError
from pytest_mleval.inference.tools import (
    ToolBox,
    ToolLoader,
    load_tool,
    parse_docstring,
    tool_content,
)
from pytest_mleval.inference.types import ChatRequest, cache_key

MODULE = "mleval_runtime_tools_mod"
RELEASE = threading.Event()  # lets an abandoned (timed out) tool thread end with the test

TOOLS_SOURCE = '''
from __future__ import annotations

import asyncio
import threading
from typing import Literal

from pydantic import BaseModel


class Point(BaseModel):
    x: int
    y: int


def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int = 1) -> dict:
    """Get the weather for a city.

    Looks it up in the forecast.

    Args:
        city: The city's name,
            as the user wrote it.
        unit (str): Celsius or Fahrenheit.
        days: How many days ahead.

    Returns:
        The forecast.
    """
    return {"sky": "sunny", "city": city, "unit": unit, "days": days}


def plain(text):
    return text.upper()


def boom(reason: str) -> str:
    """Fails."""
    raise ValueError(f"boom: {reason}")


def leave() -> str:
    raise SystemExit(3)


def stuck(release: object) -> str:
    """Waits until released."""
    import sys
    sys.modules["tests_release"].wait(30)
    return "late"


def meet(who: str) -> str:
    """Waits for the other call of the same reply."""
    import sys
    sys.modules["tests_barrier"].wait()
    return f"met {who}"


async def fetch(key: str) -> dict:
    """An async tool."""
    await asyncio.sleep(0)
    return {"key": key, "via": "async"}


def shape(p: Point, schema: str = "s", /, *, model_config: int = 0, **extra: int) -> list:
    return [p.x + p.y, schema, model_config, extra]


def unserialisable() -> object:
    a = []
    a.append(a)
    return a


def hinted(x: "NoSuchType") -> str:
    return "x"


NOT_CALLABLE = 3
'''


@pytest.fixture(scope="module")
def tools_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("tools")
    (root / f"{MODULE}.py").write_text(TOOLS_SOURCE)
    path_before = list(sys.path)
    yield root
    RELEASE.set()
    sys.path[:] = path_before
    sys.modules.pop(MODULE, None)


@pytest.fixture(autouse=True)
def _shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tests_release", RELEASE)  # type: ignore[arg-type]


def tool(tools_dir: Path, func: str, **spec: Any) -> Any:
    return load_tool(
        ToolSpec.model_validate({"python": f"{MODULE}:{func}", **spec}),
        base_dir=tools_dir,
        rootpath=None,
    )


def call(name: str, arguments: Any, call_id: str = "c1") -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return parse_call(call_id, name, raw)


def run_one(box: ToolBox, c: ToolCall) -> dict[str, Any]:
    (message,) = box.run([c])
    return message


# --------------------------------------------------------------------------- schema


def test_schema_from_signature_and_docstring(tools_dir: Path) -> None:
    definition = tool(tools_dir, "get_weather").definition()
    assert definition == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather for a city.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "city": {
                        "type": "string",
                        "description": "The city's name, as the user wrote it.",
                    },
                    "unit": {
                        "type": "string",
                        "enum": ["c", "f"],
                        "default": "c",
                        "description": "Celsius or Fahrenheit.",
                    },
                    "days": {
                        "type": "integer",
                        "default": 1,
                        "description": "How many days ahead.",
                    },
                },
                "required": ["city"],
            },
        },
    }


def test_name_and_description_given_in_the_spec_win(tools_dir: Path) -> None:
    function = tool(tools_dir, "get_weather", name="weather", description="Forecast.").definition()[
        "function"
    ]
    assert function["name"] == "weather" and function["description"] == "Forecast."


def test_a_function_without_docstring_or_hints(tools_dir: Path) -> None:
    function = tool(tools_dir, "plain").definition()["function"]
    assert "description" not in function
    assert function["parameters"]["properties"] == {"text": {}}
    assert function["parameters"]["required"] == ["text"]


def test_nested_models_positional_only_reserved_names_and_kwargs(tools_dir: Path) -> None:
    t = tool(tools_dir, "shape")
    params = t.definition()["function"]["parameters"]
    assert set(params["properties"]) == {"p", "schema", "model_config"}
    assert params["additionalProperties"] is True  # **extra takes the rest
    box = ToolBox([t])
    c = call("shape", {"p": {"x": 1, "y": 2}, "model_config": 4, "more": 5})
    box.run([c])
    assert c.error is None and c.result == [3, "s", 4, {"more": 5}]


def test_definitions_are_deterministic_so_cache_keys_are_stable(tools_dir: Path) -> None:
    first = ToolBox([tool(tools_dir, "get_weather"), tool(tools_dir, "fetch")]).definitions()
    again = ToolBox([tool(tools_dir, "get_weather"), tool(tools_dir, "fetch")]).definitions()
    req = [ChatRequest("m", [{"role": "user", "content": "x"}], tools=d) for d in (first, again)]
    assert json.dumps(first) == json.dumps(again)
    assert cache_key(req[0]) == cache_key(req[1])


def test_an_explicit_schema_replaces_the_signatures(tools_dir: Path) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "minLength": 2}}}
    t = tool(tools_dir, "get_weather", schema=schema)
    assert t.definition()["function"]["parameters"] == schema
    box = ToolBox([t])
    bad = call("get_weather", {"city": "P"})
    good = call("get_weather", {"city": "Paris"}, "c2")
    box.run([bad, good])
    assert bad.error is not None and "city: 'P' is too short" in bad.error
    assert good.error is None and good.result["city"] == "Paris"


def test_parse_docstring() -> None:
    doc = textwrap.dedent(
        """\
        First line
        continues here.

        More text.

        Args:
            a: Alpha.
            b (int): Beta,
                two lines.
            *rest: Others.

        Raises:
            ValueError: never an argument.
        """
    )
    summary, args = parse_docstring(doc)
    assert summary == "First line continues here."
    assert args == {"a": "Alpha.", "b": "Beta, two lines.", "rest": "Others."}
    assert parse_docstring(None) == ("", {})


# --------------------------------------------------------------------------- loading errors


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        (f"{MODULE}:missing", "has no attribute 'missing'"),
        (f"{MODULE}:NOT_CALLABLE", "is not callable"),
        (f"{MODULE}:hinted", "type hints cannot be resolved"),
    ],
)
def test_a_tool_that_cannot_load_is_an_error_of_the_case(
    tools_dir: Path, ref: str, message: str
) -> None:
    with pytest.raises(TargetError, match=message) as info:
        load_tool(ToolSpec.model_validate(f"python:{ref}"), base_dir=tools_dir, rootpath=None)
    assert f"tool python:{ref}" in str(info.value)


def test_an_invalid_explicit_schema_is_an_error_of_the_case() -> None:
    spec = ToolSpec.model_validate(
        {"name": "book", "schema": {"type": "object", "properties": {"d": {"type": "dat"}}}}
    )
    with pytest.raises(TargetError, match="tool book: its `schema` is not a valid JSON schema"):
        load_tool(spec, base_dir=None, rootpath=None)


def test_two_tools_with_one_name_are_an_error(tools_dir: Path) -> None:
    with pytest.raises(TargetError, match="two tools are named 'get_weather'"):
        ToolBox([tool(tools_dir, "get_weather"), tool(tools_dir, "get_weather")])


# --------------------------------------------------------------------------- calls


def test_arguments_are_validated_naming_each_argument(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "get_weather")])
    c = call("get_weather", {"days": "many", "town": "Oslo"})
    message = run_one(box, c)
    assert c.error is not None and c.result is None
    assert c.error.startswith("invalid arguments for get_weather: ")
    for part in ("city: Field required", "days: Input should be a valid integer", "town: Extra"):
        assert part in c.error
    assert is_error_result(message) and json.loads(message["content"]) == {"error": c.error}


def test_a_valid_call_returns_its_result_as_sorted_json(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "get_weather")])
    c = call("get_weather", {"city": "Paris", "days": "2"})
    message = run_one(box, c)
    assert c.error is None and c.latency_ms is not None
    assert c.result == {"sky": "sunny", "city": "Paris", "unit": "c", "days": 2}
    assert message == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": '{"city": "Paris", "days": 2, "sky": "sunny", "unit": "c"}',
    }
    assert not is_error_result(message)


def test_text_results_are_sent_as_is(tools_dir: Path) -> None:
    c = call("plain", {"text": "a {b}"})
    assert run_one(ToolBox([tool(tools_dir, "plain")]), c)["content"] == "A {B}"
    assert tool_content("x") == "x" and tool_content({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'


def test_a_tool_that_raises_is_a_tool_error_naming_the_exception(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "boom"), tool(tools_dir, "leave")])
    raised, left = call("boom", {"reason": "disk"}), call("leave", {}, "c2")
    box.run([raised, left])
    assert raised.error == "boom raised ValueError: boom: disk"
    assert left.error == "leave raised SystemExit: 3"


def test_a_tool_that_hangs_times_out(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "stuck", timeout_s=0.3), tool(tools_dir, "plain")], timeout_s=30)
    hung, fine = call("stuck", {"release": 1}), call("plain", {"text": "ok"}, "c2")
    messages = box.run([hung, fine])
    assert hung.error == "stuck timed out after 0.3s" and hung.result is None
    assert fine.error is None and fine.result == "OK"
    assert [m["tool_call_id"] for m in messages] == ["c1", "c2"]


def test_the_case_timeout_applies_when_the_tool_sets_none(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "stuck")], timeout_s=0.3)
    c = call("stuck", {"release": 1})
    box.run([c])
    assert c.error == "stuck timed out after 0.3s"


def test_an_unknown_tool_lists_the_tools(tools_dir: Path) -> None:
    box = ToolBox([tool(tools_dir, "get_weather"), tool(tools_dir, "plain")])
    c = call("get_wether", {"city": "Paris"})
    run_one(box, c)
    assert c.error == "unknown tool 'get_wether'; the tools are: get_weather, plain"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"city": "Par', "arguments are not valid JSON"),
        ('["Paris"]', "arguments of get_weather must be a JSON object, got list"),
        ('"Paris"', "arguments of get_weather must be a JSON object, got str"),
    ],
)
def test_arguments_that_are_not_a_json_object(tools_dir: Path, raw: str, message: str) -> None:
    box = ToolBox([tool(tools_dir, "get_weather")])
    c = parse_call("c1", "get_weather", raw)
    out = run_one(box, c)
    assert c.error is not None and c.error.startswith(message)
    assert is_error_result(out)


def test_parallel_calls_run_concurrently_and_answer_in_call_order(
    tools_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each call waits for the other: they can only both finish if they run at once.
    monkeypatch.setitem(sys.modules, "tests_barrier", threading.Barrier(2, timeout=10))  # type: ignore[arg-type]
    box = ToolBox([tool(tools_dir, "meet")])
    calls = [call("meet", {"who": "a"}, "first"), call("meet", {"who": "b"}, "second")]
    messages = box.run(calls)
    assert [c.error for c in calls] == [None, None]
    assert [(m["tool_call_id"], m["content"]) for m in messages] == [
        ("first", "met a"),
        ("second", "met b"),
    ]


def test_async_tools(tools_dir: Path) -> None:
    t = tool(tools_dir, "fetch")
    assert t.definition()["function"]["description"] == "An async tool."
    c = call("fetch", {"key": "k"})
    run_one(ToolBox([t]), c)
    assert c.error is None and c.result == {"key": "k", "via": "async"}


def test_a_result_that_is_not_json_is_a_tool_error(tools_dir: Path) -> None:
    c = call("unserialisable", {})
    out = run_one(ToolBox([tool(tools_dir, "unserialisable")]), c)
    assert c.error is not None and "returned a value that is not JSON" in c.error
    assert is_error_result(out)


# --------------------------------------------------------------------------- scripted tools

BOOK = {
    "name": "book_flight",
    "description": "Book a flight.",
    "schema": {
        "type": "object",
        "properties": {"to": {"type": "string"}, "seats": {"type": "integer", "minimum": 1}},
        "required": ["to"],
    },
}


def scripted(*results: dict[str, Any]) -> ToolBox:
    spec = ToolSpec.model_validate(BOOK)
    return ToolBox(
        [load_tool(spec, base_dir=None, rootpath=None)],
        [ToolResultSpec.model_validate(r) for r in results],
    )


def test_a_schema_only_tool_definition() -> None:
    assert scripted().definitions() == [
        {
            "type": "function",
            "function": {
                "name": "book_flight",
                "description": "Book a flight.",
                "parameters": BOOK["schema"],
            },
        }
    ]


def test_scripted_results_first_entry_whose_args_are_a_subset() -> None:
    box = scripted(
        {"name": "book_flight", "args": {"to": "Oslo", "seats": 9}, "result": "wrong"},
        {"name": "book_flight", "args": {"to": "Oslo"}, "result": {"booking": "B1"}},
        {"name": "book_flight", "result": "any other"},
    )
    oslo, rome = (
        call("book_flight", {"to": "Oslo", "seats": 2}),
        call("book_flight", {"to": "Rome"}),
    )
    box.run([oslo, rome])
    assert oslo.error is None and oslo.result == {"booking": "B1"}
    assert rome.result == "any other"


def test_scripted_error_entries_fail_the_call() -> None:
    box = scripted({"name": "book_flight", "args": {"to": "Mars"}, "error": "no such airport"})
    c = call("book_flight", {"to": "Mars"})
    out = run_one(box, c)
    assert c.error == "no such airport" and json.loads(out["content"]) == {
        "error": "no such airport"
    }


def test_no_matching_scripted_result_is_a_tool_error() -> None:
    box = scripted({"name": "book_flight", "args": {"to": "Oslo"}, "result": "ok"})
    c = call("book_flight", {"to": "Rome"})
    run_one(box, c)
    assert c.error is not None and c.error.startswith(
        'no scripted result for book_flight({"to": "Rome"})'
    )


def test_schema_only_arguments_are_validated_with_jsonschema() -> None:
    box = scripted({"name": "book_flight", "result": "ok"})
    c = call("book_flight", {"seats": 0})
    run_one(box, c)
    assert c.error is not None
    assert "'to' is a required property" in c.error
    assert "seats: 0 is less than the minimum of 1" in c.error


# --------------------------------------------------------------------------- loader


def test_the_loader_reads_tools_beside_the_case_file_and_loads_each_once(tools_dir: Path) -> None:
    loader = ToolLoader()
    case = EvalCase(
        id="c",
        suite="s",
        input="x",
        file=str(tools_dir / "agent.eval.yaml"),
        tools=[ToolSpec.model_validate(f"python:{MODULE}:get_weather")],
        tool_results=[],
        tool_timeout_s=0.5,
    )
    box = loader.toolbox(case)
    assert list(box.tools) == ["get_weather"] and box.timeout_s == 0.5
    assert loader.toolbox(case).tools["get_weather"] is box.tools["get_weather"]
