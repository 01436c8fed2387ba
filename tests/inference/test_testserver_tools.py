"""The test server in a tool loop and with images, spoken to over plain HTTP: rules that answer
tool results (and do not repeat a scripted call forever), ``{tool_result}`` in replies, faults
only on tool-result requests, image parts decoded (and refused as OpenAI refuses them)."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

from pytest_mleval.inference.testserver import Fault, OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(find_spec("aiohttp") is None, reason="needs aiohttp")

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR-not-a-real-png"
WEATHER_CALL = {"id": "w1", "name": "get_weather", "arguments": {"city": "Paris"}}


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only() as refused:
        yield
    assert not refused, f"tried to leave the machine: {refused}"


def post(srv: OpenAITestServer, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        srv.base_url + "/chat/completions",
        data=json.dumps({"model": "test-model", **body}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


USER = {"role": "user", "content": "Weather in Paris?"}
ASKED = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "w1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}


def tool(content: str, call_id: str = "w1") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def message(answer: Any) -> dict[str, Any]:
    return dict(answer["choices"][0]["message"])


def test_a_scripted_call_then_an_answer_to_its_result() -> None:
    rules = [
        Rule(tool_result="sunny", reply="It is {tool_result}."),
        Rule(tool_result="error", reply="The tool failed."),
        Rule(tool_calls=[WEATHER_CALL]),
    ]
    with OpenAITestServer(rules=rules) as srv:
        status, first = post(srv, {"messages": [USER]})
        assert status == 200 and first["choices"][0]["finish_reason"] == "tool_calls"
        assert message(first)["tool_calls"][0]["function"]["name"] == "get_weather"
        _, sunny = post(srv, {"messages": [USER, ASKED, tool("sunny")]})
        _, failed = post(srv, {"messages": [USER, ASKED, tool('{"error": "x"}')]})
    assert message(sunny) == {"role": "assistant", "content": "It is sunny."}
    assert message(failed)["content"] == "The tool failed."


def test_a_tool_calling_rule_is_not_repeated_after_a_tool_result() -> None:
    # Without the rule's guard a tool loop would be asked for the same call forever.
    with OpenAITestServer(rules=[Rule(tool_calls=[WEATHER_CALL])]) as srv:
        _, answer = post(srv, {"messages": [USER, ASKED, tool("cloudy")]})
    assert message(answer) == {"role": "assistant", "content": "Weather in Paris?"}  # the echo
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_a_tool_result_rule_needs_a_tool_result_last() -> None:
    rules = [Rule(tool_result=".", reply="from the tool"), Rule(reply="plain")]
    with OpenAITestServer(rules=rules) as srv:
        _, plain = post(srv, {"messages": [USER]})
        _, later = post(
            srv, {"messages": [USER, ASKED, tool("x"), {"role": "user", "content": "and?"}]}
        )
        _, answered = post(srv, {"messages": [USER, ASKED, tool("x")]})
    assert message(plain)["content"] == "plain"
    assert message(later)["content"] == "plain"
    assert message(answered)["content"] == "from the tool"


def test_a_rule_may_ask_for_more_calls_after_a_result_and_match_still_applies() -> None:
    rules = [
        Rule(match="Oslo", tool_result="sunny", reply="Oslo answer"),
        Rule(tool_result="sunny", tool_calls=[{"name": "book", "arguments": {}}]),
    ]
    with OpenAITestServer(rules=rules) as srv:
        _, answer = post(srv, {"messages": [USER, ASKED, tool("sunny")]})
    assert message(answer)["tool_calls"][0]["function"]["name"] == "book"


def test_parallel_results_are_matched_and_replied_together() -> None:
    asked = {**ASKED, "tool_calls": [*ASKED["tool_calls"], {**ASKED["tool_calls"][0], "id": "w2"}]}
    rules = [Rule(tool_result="(?s)Paris.*Rome", reply="got: {tool_result}")]
    with OpenAITestServer(rules=rules) as srv:
        _, answer = post(srv, {"messages": [USER, asked, tool("Paris"), tool("Rome", "w2")]})
    assert message(answer)["content"] == "got: Paris\nRome"


def test_a_streamed_answer_to_a_tool_result() -> None:
    with OpenAITestServer(rules=[Rule(tool_result=".", reply="done {tool_result}")]) as srv:
        status, raw = post(srv, {"messages": [USER, ASKED, tool("ok")], "stream": True})
    assert status == 200
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "done ok"


def test_faults_may_hit_only_requests_that_send_tool_results() -> None:
    with OpenAITestServer(
        rules=[Rule(tool_calls=[WEATHER_CALL])], faults=[Fault("500", tool_result="sunny")]
    ) as srv:
        first, _ = post(srv, {"messages": [USER]})
        other, _ = post(srv, {"messages": [USER, ASKED, tool("rain")]})
        failed, _ = post(srv, {"messages": [USER, ASKED, tool("sunny")]})
        assert srv.faults_served == 1
    assert (first, other, failed) == (200, 200, 500)


# --------------------------------------------------------------------------- images


def image_message(url: str, text: str = "What is this?") -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_images_are_decoded_and_shown_to_the_test() -> None:
    gif = b"GIF89a" + b"\x01\x00\x01\x00"
    messages = [
        {"role": "system", "content": "Describe images."},
        image_message(data_url(PNG)),
        {"role": "assistant", "content": "A logo."},
        image_message(data_url(gif, "image/gif"), "And this?"),
    ]
    with OpenAITestServer(rules=[Rule(match="And this", reply="a gif")]) as srv:
        status, answer = post(srv, {"messages": messages})
        seen = srv.images()
        assert srv.images(0) == seen
    assert status == 200 and message(answer)["content"] == "a gif"
    assert [(s.mime, s.message, s.data) for s in seen] == [
        ("image/png", 1, PNG),
        ("image/gif", 3, gif),
    ]
    assert seen[0].sha256 == hashlib.sha256(PNG).hexdigest()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("data:image/png;base64,%%%not-base64", "its base64 data does not decode"),
        (data_url(b"just some text"), "is not a PNG, JPEG, GIF or WebP image"),
        ("data:text/plain,hello", "write data URLs as data:image/TYPE;base64"),
        ("https://example.com/cat.png", "the test server never fetches images"),
        ("http://127.0.0.1:1/cat.png", "the test server never fetches images"),
    ],
)
def test_unreadable_images_get_a_400_as_from_openai(url: str, says: str) -> None:
    with OpenAITestServer() as srv:
        status, answer = post(srv, {"messages": [image_message(url)]})
        streamed, _ = post(srv, {"messages": [image_message(url)], "stream": True})
        assert srv.count == 2  # logged all the same
        assert srv.images() == []
    assert status == 400 and streamed == 400
    error = answer["error"]
    assert error["code"] == "invalid_image_format" and error["type"] == "invalid_request_error"
    assert says in error["message"] and error["message"].startswith("messages[0]")
