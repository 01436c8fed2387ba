"""Messages, images and trajectories as read from eval files and targets."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pytest_mleval.conversation import (
    ImageError,
    Trajectory,
    check_messages,
    is_error_result,
    load_image,
    transcript,
    with_images,
)
from pytest_mleval.conversation.images import IMAGE_REF_PREFIX, without_image_data

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_check_messages_expands_the_tool_call_shorthand() -> None:
    msgs = check_messages(
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"name": "get", "arguments": {"city": "Paris"}}]},
            {"role": "tool", "tool_call_id": "call_1_0", "content": {"temp": 20}},
        ]
    )
    call = msgs[1]["tool_calls"][0]
    assert call == {
        "id": "call_1_0",
        "type": "function",
        "function": {"name": "get", "arguments": '{"city": "Paris"}'},
    }
    assert msgs[1]["content"] is None
    assert json.loads(msgs[2]["content"]) == {"temp": 20}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "non-empty list"),
        ([{"role": "robot", "content": "x"}], "messages[0].role must be one of"),
        ([{"role": "user"}], "messages[0].content is missing"),
        ([{"role": "user", "content": [{"type": "audio"}]}], "messages[0].content[0]"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
        (
            [
                {"role": "assistant", "tool_calls": [{"id": "a", "name": "f"}]},
                {"role": "tool", "tool_call_id": "b", "content": "x"},
            ],
            "answers no earlier assistant tool call",
        ),
        ([{"role": "user", "content": "x", "tool_calls": [{"name": "f"}]}], "only assistant"),
        ([{"role": "user", "content": [{"type": "image_url"}]}], "image_url.url is missing"),
    ],
)
def test_check_messages_names_the_message_and_field(raw: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        check_messages(raw)


def test_with_images_turns_the_last_user_message_into_parts() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    out = with_images(
        [{"role": "user", "content": "first"}, {"role": "user", "content": "look"}], [part]
    )
    assert out[0]["content"] == "first"
    assert out[1]["content"] == [{"type": "text", "text": "look"}, part]


def test_load_image_reads_files_relative_to_the_eval_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cat.png").write_bytes(PNG)
    ref = load_image("data/cat.png", tmp_path)
    assert ref.mime == "image/png" and ref.size == len(PNG)
    assert ref.data_url == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert ref.record()["data_url"] == ref.data_url


def test_load_image_accepts_data_urls() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 16
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    ref = load_image(url, None)
    assert ref.mime == "image/jpeg" and ref.data_url == url


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("https://example.com/cat.png", "never fetched from the network"),
        ("missing.png", "'missing.png' not found"),
        ("notes.txt", "'notes.txt' is not a PNG, JPEG, GIF or WebP image"),
        ("data:image/png;base64,@@@", "does not decode"),
        ("data:text/plain,hi", "write data URLs as"),
        ("dir", "is a directory"),
    ],
)
def test_load_image_errors_name_the_source(tmp_path: Path, source: str, problem: str) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "dir").mkdir()
    with pytest.raises(ImageError, match=problem):
        load_image(source, tmp_path)


def test_stored_messages_refer_to_images_by_digest(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    ref = load_image("a.png", tmp_path)
    msgs = with_images(
        [{"role": "user", "content": "x"}],
        [{"type": "image_url", "image_url": {"url": ref.data_url}}],
    )
    stored = without_image_data(msgs)
    assert stored[0]["content"][1]["image_url"]["url"] == IMAGE_REF_PREFIX + ref.sha256
    assert msgs[0]["content"][1]["image_url"]["url"] == ref.data_url  # the input is untouched


def _agent_messages() -> list[dict[str, object]]:
    return check_messages(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "a", "name": "get_weather", "arguments": {"city": "Paris"}},
                    {"id": "b", "name": "get_weather", "arguments": "{not json"},
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": '{"sky": "sunny"}'},
            {"role": "tool", "tool_call_id": "b", "content": '{"error": "bad arguments"}'},
            {"role": "assistant", "content": "Sunny in Paris."},
        ]
    )


def test_trajectory_from_messages_reads_turns_calls_and_results() -> None:
    traj = Trajectory.from_messages(_agent_messages(), given=2)
    assert [t.index for t in traj.turns] == [0, 1]
    first, second = traj.tool_calls
    assert first.arguments == {"city": "Paris"} and first.result == {"sky": "sunny"}
    assert first.error is None
    assert second.arguments is None and second.error is not None
    assert "not valid JSON" in second.error and "bad arguments" in second.error
    assert traj.answer == "Sunny in Paris."
    assert [c.id for c in traj.tool_errors] == ["b"]


def test_given_messages_are_not_the_agents_turns() -> None:
    msgs = check_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "x", "name": "earlier"}]},
            {"role": "tool", "tool_call_id": "x", "content": "done"},
            {"role": "user", "content": "and now?"},
            {"role": "assistant", "content": "fine"},
        ]
    )
    assert [c.name for c in Trajectory.from_messages(msgs).tool_calls] == ["earlier"]
    assert Trajectory.from_messages(msgs, given=4).tool_calls == []


def test_a_call_without_a_result_is_an_error() -> None:
    msgs = check_messages(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"id": "x", "name": "f"}]},
            {"role": "assistant", "content": "gave up"},
        ]
    )
    (call,) = Trajectory.from_messages(msgs).tool_calls
    assert call.error == "the conversation holds no result for this call"


def test_error_results() -> None:
    assert is_error_result({"role": "tool", "content": '{"error": "boom"}'})
    assert is_error_result({"role": "tool", "content": "fine", "is_error": True})
    assert not is_error_result({"role": "tool", "content": '{"error": ""}'})
    assert not is_error_result({"role": "tool", "content": "error in the text is fine"})


def test_transcript_shows_calls_results_and_cuts_long_text() -> None:
    traj = Trajectory.from_messages(_agent_messages(), given=2)
    text = transcript(traj)
    assert "[assistant calls tool] get_weather(" in text
    assert '[tool result: get_weather] {"sky": "sunny"}' in text
    assert text.splitlines()[-1] == "[assistant] Sunny in Paris."
    long = Trajectory.from_messages(check_messages([{"role": "user", "content": "x" * 50}]))
    assert "[50 chars]" in transcript(long, max_chars=10)
