"""Conversations, trajectories and images in what people read: the HTML report's case view
(its payload, and the page in a real browser), the Markdown summary, the terminal summary and
the notebook frame."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_report import HOSTILE, _embedded, _parse
from test_report_browser import Chromium, browser, chromium_binary, page  # noqa: F401
from test_summary_escaping import HOSTILE as MD_HOSTILE
from test_summary_escaping import assert_only_own_markup, render, shown

from pytest_mleval.conversation.trajectory import ToolCall, Trajectory, Turn
from pytest_mleval.report import conversation
from pytest_mleval.report.conversation import is_safe_image_url
from pytest_mleval.report.html import render_report, write_report
from pytest_mleval.report.notebook import Run
from pytest_mleval.report.summary import render_summary, terminal_lines
from pytest_mleval.report.views import case_payload
from pytest_mleval.results.records import (
    CaseResult,
    ImageRecord,
    MetricScore,
    RunResults,
    SuiteInfo,
)

SYSTEM = "You are a weather assistant."


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A solid-colour PNG (real bytes a browser decodes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image(source: str, data: bytes, *, keep: bool = True, url: str | None = None) -> ImageRecord:
    encoded = base64.b64encode(data).decode("ascii")
    return ImageRecord(
        source=source,
        mime="image/png",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        data_url=(url or f"data:image/png;base64,{encoded}") if keep else None,
    )


def ref(img: ImageRecord) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"mleval-image:{img.sha256}"}}


CAT = image("data/cat.png", png(400, 300))
CAT_SIZE = f"{CAT.size / 1024:.1f} KiB"  # over 1 KiB, under 1 MiB
BIG = image("data/scan.png", png(8, 8, (0, 0, 255)), keep=False)


def agent_case(case_id: str = "paris") -> CaseResult:
    """A tool-using case: two parallel calls (one fails), then the answer."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": [{"type": "text", "text": "What's the weather in Paris?"}, ref(CAT)],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "book_flight", "arguments": '{"to": "CDG"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21, "sky": "sunny"}'},
        {"role": "tool", "tool_call_id": "call_2", "content": '{"error": "unknown tool"}'},
        {"role": "assistant", "content": "It is sunny in Paris, 21 degrees."},
    ]
    turns = [
        Turn(
            index=0,
            tool_calls=[
                ToolCall(
                    id="call_1",
                    name="get_weather",
                    arguments={"city": "Paris"},
                    arguments_raw='{"city": "Paris"}',
                    result={"temp": 21, "sky": "sunny"},
                    latency_ms=12.5,
                ),
                ToolCall(
                    id="call_2",
                    name="book_flight",
                    arguments={"to": "CDG"},
                    arguments_raw='{"to": "CDG"}',
                    error="unknown tool 'book_flight' (tools: get_weather)",
                ),
            ],
            latency_ms=812.0,
            usage={"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135},
            cost_usd=0.00012,
            cached=True,
            model="openai/gpt-4o-mini",
            finish_reason="tool_calls",
        ),
        Turn(
            index=1,
            text="It is sunny in Paris, 21 degrees.",
            latency_ms=301.0,
            usage={"prompt_tokens": 160, "completion_tokens": 9, "total_tokens": 169},
            finish_reason="stop",
        ),
    ]
    return CaseResult(
        suite="agent",
        case_id=case_id,
        input="What's the weather in Paris?",
        output="It is sunny in Paris, 21 degrees.",
        passed=False,
        scores={"tool_error": MetricScore(score=0.0, threshold=1.0, passed=False)},
        messages=messages[:2],
        images=[CAT],
        trajectory=Trajectory(messages=messages, turns=turns),
    )


def cut_off_case() -> CaseResult:
    """A loop that never answered: every turn calls search again."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Find it."}]
    turns = []
    for i in range(3):
        call_id = f"s{i}"
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "function": {"name": "search", "arguments": '{"q": "it"}'}}
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": "nothing"})
        turns.append(
            Turn(
                index=i,
                tool_calls=[
                    ToolCall(
                        id=call_id,
                        name="search",
                        arguments={"q": "it"},
                        arguments_raw='{"q": "it"}',
                        result="nothing",
                        turn=i,
                    )
                ],
            )
        )
    return CaseResult(
        suite="agent",
        case_id="loops",
        input="Find it.",
        error="ToolLoopError: no answer after max_turns=3",
        trajectory=Trajectory(messages=messages, turns=turns, stop_reason="max_turns"),
    )


def chat_case() -> CaseResult:
    """A conversation case without tools: only its messages are recorded."""
    return CaseResult(
        suite="chat",
        case_id="followup",
        input="And tomorrow?",
        output="Rain.",
        passed=True,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Weather today?"},
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "And tomorrow?"},
        ],
    )


def photo_case() -> CaseResult:
    """An input case with images: one small enough to show, one kept without its data."""
    return CaseResult(
        suite="chat",
        case_id="photo",
        input="What is in this picture?",
        output="A red square.",
        passed=True,
        images=[CAT, BIG],
    )


def tool_run() -> RunResults:
    cases = [agent_case(), cut_off_case(), chat_case(), photo_case()]
    return RunResults(
        suites=[SuiteInfo(name="agent", n_cases=2), SuiteInfo(name="chat", n_cases=2)],
        cases=cases,
    )


def _case(payload: dict[str, Any], case_id: str) -> dict[str, Any]:
    rec: dict[str, Any] = next(c for c in payload["cases"] if c["id"] == case_id)
    return rec


def _text(payload: dict[str, Any], idx: int) -> str:
    text: str = payload["texts"][idx]
    return text


# ---------------------------------------------------------------------------- the payload


def test_trajectory_steps_carry_roles_calls_results_errors_and_turn_measures() -> None:
    payload = case_payload(tool_run())
    rec = _case(payload, "paris")
    steps = rec["cv"]
    # The tool messages are shown under the calls they answer, not a second time.
    assert [s["ro"] for s in steps] == ["system", "user", "assistant", "assistant"]
    assert _text(payload, steps[0]["tx"]) == SYSTEM
    assert _text(payload, steps[1]["tx"]) == "What's the weather in Paris?"
    first, answer = steps[2], steps[3]
    assert "tx" not in first
    assert first["tn"] == {
        "i": 0,
        "lat": 812.0,
        "tok": [120, 15, 135],
        "cost": 0.00012,
        "ca": True,
        "mo": "openai/gpt-4o-mini",
        "fr": "tool_calls",
    }
    weather, flight = first["tc"]
    assert weather["n"] == "get_weather" and weather["id"] == "call_1"
    assert _text(payload, weather["a"]) == '{\n  "city": "Paris"\n}'
    assert _text(payload, weather["r"]) == '{\n  "temp": 21,\n  "sky": "sunny"\n}'
    assert weather["lat"] == 12.5 and "er" not in weather
    assert flight["n"] == "book_flight" and "r" not in flight
    assert _text(payload, flight["er"]) == "unknown tool 'book_flight' (tools: get_weather)"
    assert _text(payload, answer["tx"]) == "It is sunny in Paris, 21 degrees."
    assert answer["tn"]["i"] == 1 and answer["tn"]["tok"] == [160, 9, 169]
    assert "ca" not in answer["tn"] and "tc" not in answer
    assert rec["tr"] == [2, 2, 1]
    assert "stop" not in rec  # it answered


def test_a_cut_off_loop_says_so_and_an_unanswered_tool_message_stays() -> None:
    rec = _case(case_payload(tool_run()), "loops")
    assert rec["stop"] == "cut off at max_turns after 3 turn(s): the model had not answered"
    assert rec["tr"] == [3, 3, 0]
    assert [s["ro"] for s in rec["cv"]] == ["user", "assistant", "assistant", "assistant"]
    # A tool message whose call no turn recorded is shown as a message of its own.
    run = RunResults(cases=[cut_off_case()])
    assert run.cases[0].trajectory is not None
    run.cases[0].trajectory.messages.insert(
        1, {"role": "tool", "tool_call_id": "elsewhere", "content": "stray"}
    )
    payload = case_payload(run)
    steps = payload["cases"][0]["cv"]
    assert steps[1]["ro"] == "tool" and _text(payload, steps[1]["tx"]) == "stray"


def test_a_conversation_without_trajectory_shows_its_messages() -> None:
    payload = case_payload(tool_run())
    rec = _case(payload, "followup")
    assert [s["ro"] for s in rec["cv"]] == ["system", "user", "assistant", "user"]
    assert [_text(payload, s["tx"]) for s in rec["cv"]][2:] == ["Sunny.", "And tomorrow?"]
    assert "tr" not in rec and "stop" not in rec and "tn" not in rec["cv"][2]
    # The suite's system message of both cases is sent once.
    assert payload["texts"].count(SYSTEM) == 1


def test_image_references_resolve_to_the_case_thumbnails() -> None:
    payload = case_payload(tool_run())
    paris, photo = _case(payload, "paris"), _case(payload, "photo")
    user = paris["cv"][1]
    assert user["im"] == paris["img"]  # the reference is the case's own image
    cat = payload["images"][paris["img"][0]]
    assert cat == {"src": "data/cat.png", "mime": "image/png", "size": CAT_SIZE, "d": 0}
    assert payload["imageData"][cat["d"]] == CAT.data_url
    # The same image in another case is the same record; its data is sent once.
    assert photo["img"][0] == paris["img"][0] and len(payload["imageData"]) == 1
    big = payload["images"][photo["img"][1]]
    assert big["src"] == "data/scan.png" and "d" not in big
    assert big["why"] == "its data is not kept in the results"
    assert big["size"] == f"{BIG.size} B"
    assert "cv" not in photo  # an input case: images only


def test_an_unresolved_image_reference_is_a_placeholder() -> None:
    case = chat_case()
    assert case.messages is not None
    case.messages[1] = {
        "role": "user",
        "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "mleval-image:" + "ab" * 32}},
            {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
            {"type": "input_audio", "input_audio": {"data": "..."}},
        ],
    }
    payload = case_payload(RunResults(cases=[case]))
    step = payload["cases"][0]["cv"][1]
    missing, remote = (payload["images"][k] for k in step["im"])
    assert missing["src"] == "mleval-image:" + "ab" * 8 + "…" and "d" not in missing
    assert "not in the case's images" in missing["why"]
    assert remote == {
        "src": "https://example.com/x.png",
        "why": "not loaded: not one of the case's images",
    }
    assert step["pt"] == ["input_audio"]
    assert payload["imageData"] == []


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("data:image/jpeg;base64,/9j/4AAQ", True),
        ("data:image/webp;base64,UklGR", True),
        ("data:image/svg+xml;base64,PHN2Zz4=", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("javascript:alert(1)", False),
        ("https://example.com/cat.png", False),
        ('data:image/png;base64,AAAA" onerror="alert(1)', False),
        ("data:image/png;base64,AAAA\n", False),
        ("data:image/png,rawbytes", False),
        (None, False),
    ],
)
def test_only_base64_raster_data_urls_are_image_sources(url: object, safe: bool) -> None:
    assert is_safe_image_url(url) is safe


def test_an_image_whose_data_is_not_a_safe_url_is_never_a_source() -> None:
    bad = [
        image("a.png", b"x", url="javascript:alert(1)"),
        image("b.png", b"y", url="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="),
    ]
    payload = case_payload(RunResults(cases=[CaseResult(suite="s", case_id="c", images=bad)]))
    assert payload["imageData"] == []
    for k in payload["cases"][0]["img"]:
        assert "d" not in payload["images"][k]
        assert "not a base64 PNG, JPEG, GIF or WebP" in payload["images"][k]["why"]


def test_long_texts_are_cut_and_long_conversations_show_both_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = agent_case()
    assert case.trajectory is not None
    huge = "x" * 50_000
    case.trajectory.turns[0].tool_calls[0].result = huge
    payload = case_payload(RunResults(cases=[case]))
    shown = _text(payload, payload["cases"][0]["cv"][2]["tc"][0]["r"])
    assert shown.startswith("x" * conversation.TEXT_LIMIT)
    assert shown.endswith("… [cut for the report: 50,000 characters in all]")
    assert len(shown) < conversation.TEXT_LIMIT + 100
    # Past a case's budget each further text shows only its start.
    monkeypatch.setattr(conversation, "CASE_TEXT_BUDGET", 10)
    payload = case_payload(RunResults(cases=[agent_case()]))
    assert all(len(t) <= conversation.SPENT_LIMIT for t in payload["texts"])
    monkeypatch.setattr(conversation, "CASE_TEXT_BUDGET", 100_000)
    # A conversation longer than MAX_STEPS keeps its first and last messages.
    many = [{"role": "user" if i % 2 else "assistant", "content": f"m{i}"} for i in range(450)]
    payload = case_payload(RunResults(cases=[CaseResult(suite="s", case_id="c", messages=many)]))
    steps = payload["cases"][0]["cv"]
    half = conversation.MAX_STEPS // 2
    assert len(steps) == conversation.MAX_STEPS + 1
    assert steps[half] == {"gap": 450 - conversation.MAX_STEPS}
    assert _text(payload, steps[0]["tx"]) == "m0"
    assert _text(payload, steps[-1]["tx"]) == "m449"
    assert "m200" not in payload["texts"]  # the middle costs the page nothing


def test_image_data_stops_at_the_report_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CAT.data_url is not None
    monkeypatch.setattr(conversation, "IMAGE_BUDGET", len(CAT.data_url) + 10)
    other = image("dog.png", png(50, 50, (0, 200, 0)))
    run = RunResults(cases=[CaseResult(suite="s", case_id="c", images=[CAT, other])])
    payload = case_payload(run)
    cat, dog = (payload["images"][k] for k in payload["cases"][0]["img"])
    assert "d" in cat and "d" not in dog
    assert "image budget" in dog["why"] and dog["src"] == "dog.png"
    assert payload["imageData"] == [CAT.data_url]


def test_cases_without_conversations_keep_their_payload() -> None:
    rec = case_payload(RunResults(cases=[CaseResult(suite="s", case_id="only-id")]))["cases"][0]
    assert rec == {"s": 0, "id": "only-id", "st": 1}


# ---------------------------------------------------------------------------- escaping


def hostile_case() -> CaseResult:
    h0, h1, h2, h3 = HOSTILE
    messages = [
        {"role": "system", "content": h0},
        {"role": "user", "content": [{"type": "text", "text": h1}, ref(CAT)]},
        {
            "role": "assistant",
            "content": h3,
            "tool_calls": [{"id": h1, "function": {"name": h2, "arguments": json.dumps({h0: h1})}}],
        },
        {"role": "tool", "tool_call_id": h1, "content": h2},
        {"role": "assistant", "content": h2},
    ]
    turns = [
        Turn(
            index=0,
            text=h3,
            tool_calls=[
                ToolCall(
                    id=h1,
                    name=h2,
                    arguments={h0: h1},
                    arguments_raw=json.dumps({h0: h1}),
                    error=h0,
                    result=None,
                )
            ],
            model=h1,
            finish_reason=h0,
        ),
        Turn(index=1, text=h2),
    ]
    hostile_images = [
        CAT.model_copy(update={"source": h1}),
        image(h0, b"z", url="javascript:alert(1)"),
    ]
    return CaseResult(
        suite="agent",
        case_id="hostile",
        input=h0,
        output=h2,
        messages=messages[:2],
        images=hostile_images,
        trajectory=Trajectory(messages=messages, turns=turns, stop_reason=h1),
    )


def test_hostile_conversations_stay_data_in_the_page() -> None:
    run = RunResults(cases=[hostile_case(), agent_case()])
    html = render_report(run)
    parsed = _parse(html)
    assert [t for t, _ in parsed.tags if t == "script"] == ["script", "script"]
    assert not [t for t, _ in parsed.tags if t == "img"]
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    assert "window.__pwned" not in parsed.scripts[1]
    assert "javascript:" not in html
    data = json.loads(parsed.scripts[0])
    assert data == _embedded(html)
    for text in HOSTILE:
        assert text in data["texts"]  # shown as the text it is, by the page's text nodes
    step = _case(data, "hostile")["cv"][2]
    assert step["tc"][0]["n"] == HOSTILE[2] and step["tn"]["mo"] == HOSTILE[1]
    sources = {im["src"] for im in data["images"]}
    assert {HOSTILE[0], HOSTILE[1]} <= sources
    assert all(is_safe_image_url(u) for u in data["imageData"])


# ---------------------------------------------------------------------------- the page


def _detail(page: Chromium, case_id: str) -> str:  # noqa: F811
    """The opened detail of the one case whose id is searched for."""
    assert page.eval(f"window.__mlevalFilter({{q: {json.dumps(case_id)}}})") == 1
    page.click("#case-rows tr.case-row")
    page.wait_until("document.querySelector('#case-rows tr.detail')")
    text = page.eval("document.querySelector('#case-rows tr.detail').innerText")
    assert isinstance(text, str)
    return text


def test_the_trajectory_renders_step_by_step_in_the_browser(
    page: Chromium,  # noqa: F811
    tmp_path: Path,
) -> None:
    page.open(write_report(tmp_path / "report.html", tool_run()))
    assert page.errors() == []
    text = _detail(page, "paris")
    assert "TRAJECTORY · 2 TURN(S), 2 TOOL CALL(S), 1 FAILED" in text.upper()
    for expected in (
        SYSTEM,
        "What's the weather in Paris?",
        "get_weather",
        '"city": "Paris"',
        '"sky": "sunny"',
        "book_flight",
        "unknown tool 'book_flight' (tools: get_weather)",
        "turn 1 · 812 ms · 120 + 15 tokens · $0.000120 · cached · openai/gpt-4o-mini",
        "turn 2 · 301 ms · 160 + 9 tokens",
        "12.5 ms",
        "It is sunny in Paris, 21 degrees.",
    ):
        assert expected in text, expected
    roles = page.eval(
        "Array.from(document.querySelectorAll('.step .role')).map(e => e.textContent)"
    )
    assert roles == ["system", "user", "assistant", "assistant"]
    failed = page.eval(
        "Array.from(document.querySelectorAll('.call.failed')).map(e => e.innerText)"
    )
    assert len(failed) == 1 and "book_flight" in failed[0] and "tool error" in failed[0]
    assert page.eval("document.querySelectorAll('.call').length") == 2
    # The image the user message references is its thumbnail: decoded, and bounded in size.
    thumbs = page.eval(
        "Array.from(document.querySelectorAll('tr.detail figure.thumb img')).map(i =>"
        " [i.naturalWidth, i.getBoundingClientRect().width, i.getBoundingClientRect().height,"
        " i.src.slice(0, 22), i.parentElement.innerText])"
    )
    assert len(thumbs) == 1
    natural, width, height, src, caption = thumbs[0]
    assert natural == 400 and 0 < width <= 160 and 0 < height <= 120
    assert src == "data:image/png;base64," and caption == f"data/cat.png · {CAT_SIZE} · image/png"
    # The call block says how many turns and calls.
    assert "turns2" in text.replace(" ", "").replace("\n", "").replace("\t", "")
    assert page.errors() == []


def test_cut_off_loops_conversations_and_image_cases_in_the_browser(
    page: Chromium,  # noqa: F811
    tmp_path: Path,
) -> None:
    page.open(write_report(tmp_path / "report.html", tool_run()))
    text = _detail(page, "loops")
    assert "cut off at max_turns after 3 turn(s)" in text
    assert page.eval("document.querySelector('tr.detail .stop').textContent").startswith("cut off")
    assert text.count("search") >= 3 and "nothing" in text
    text = _detail(page, "followup")
    assert "CONVERSATION" in text.upper() and "TRAJECTORY" not in text.upper()
    assert "Sunny." in text and "And tomorrow?" in text
    text = _detail(page, "photo")
    figures = page.eval(
        "Array.from(document.querySelectorAll('tr.detail figure.thumb')).map(f =>"
        " [f.classList.contains('missing'), f.querySelectorAll('img').length, f.innerText])"
    )
    assert [f[:2] for f in figures] == [[False, 1], [True, 0]]
    assert (
        "data/scan.png" in figures[1][2] and "its data is not kept in the results" in figures[1][2]
    )
    # A thumbnail opens larger on a click.
    page.click("tr.detail figure.thumb img")
    assert page.eval("document.querySelector('tr.detail figure.thumb').classList.contains('zoom')")
    assert page.errors() == []


def test_a_search_finds_cases_by_tool_name(page: Chromium, tmp_path: Path) -> None:  # noqa: F811
    page.open(write_report(tmp_path / "report.html", tool_run()))
    page.type_into("#q", "book_flight")
    page.wait_until("document.querySelectorAll('#case-rows tr.case-row').length === 1")
    assert "paris" in page.eval("document.querySelector('#case-rows tr.case-row').innerText")


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "csp-bypassed"])
def test_hostile_trajectories_never_execute(
    page: Chromium,  # noqa: F811
    tmp_path: Path,
    bypass_csp: bool,
) -> None:
    page.send("Page.setBypassCSP", enabled=bypass_csp)
    hook = page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__alerts = 0; window.alert = function () { window.__alerts += 1; };",
    )
    try:
        page.open(write_report(tmp_path / "hostile.html", RunResults(cases=[hostile_case()])))
        page.click("#case-rows tr.case-row")
        page.wait_until("document.querySelector('#case-rows tr.detail')")
        page.eval("new Promise(r => setTimeout(r, 300))")
        assert page.eval("window.__alerts") == 0
        assert page.eval("window.__pwned") is None
        srcs = page.eval("Array.from(document.querySelectorAll('img')).map(i => i.src)")
        assert len(srcs) == 1 and srcs[0] == CAT.data_url
        text = page.eval("document.querySelector('#case-rows tr.detail').innerText")
        for hostile in HOSTILE[:3]:
            assert hostile in text
        assert page.eval("document.querySelectorAll('script').length") == 2
        assert page.errors() == []
    finally:
        page.send("Page.removeScriptToEvaluateOnNewDocument", identifier=hook["identifier"])


# ---------------------------------------------------------------------------- text outputs


def test_markdown_summary_totals_tool_use_and_names_failed_calls() -> None:
    run = tool_run()
    # A result whose trajectory used no tool is not counted among those that did.
    plain = Trajectory(
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        turns=[Turn(index=0, text="hello")],
    )
    run.cases.append(CaseResult(suite="agent", case_id="plain", passed=True, trajectory=plain))
    md = render_summary(run)
    agent = md.split("### agent")[1].split("### chat")[0]
    assert "**Tools:** 5 tool call(s) in 2 result(s), 1 failed, 1 cut off at max_turns" in agent
    assert "- `paris`: tool_error=0.000 · failed tool calls: `book_flight` (unknown tool" in agent
    assert "`loops`: ToolLoopError" in agent
    # A suite without tool use gets no line.
    assert "Tools:" not in md.split("### chat")[1]


def test_markdown_summary_escapes_tool_names_and_errors() -> None:
    case = agent_case()
    assert case.trajectory is not None
    call = case.trajectory.turns[0].tool_calls[1]
    call.name, call.error = MD_HOSTILE, MD_HOSTILE
    markdown = render_summary(RunResults(suites=[SuiteInfo(name="agent")], cases=[case]))
    line = next(ln for ln in markdown.splitlines() if "failed tool calls" in ln)
    html = assert_only_own_markup(render(markdown))
    item = next(t for t in html.texts["li"] if "failed tool calls" in t)
    # Shown as text twice: the name (in a code span) and the start of the error.
    assert shown(item).count(shown(MD_HOSTILE[:30])) == 2
    assert shown(MD_HOSTILE[:40]) in html.texts["code"]
    assert len(line) < 1000


def test_markdown_summary_lists_at_most_three_failed_calls() -> None:
    case = agent_case()
    assert case.trajectory is not None
    calls = [ToolCall(id=f"c{i}", name=f"tool{i}", error="x" * 500, arguments={}) for i in range(5)]
    case.trajectory.turns[0].tool_calls = calls
    md = render_summary(RunResults(suites=[SuiteInfo(name="agent", n_cases=1)], cases=[case]))
    line = next(ln for ln in md.splitlines() if "failed tool calls" in ln)
    assert "`tool2`" in line and "`tool3`" not in line and "and 2 more" in line
    assert len(line) < 700


def test_terminal_summary_totals_tool_use() -> None:
    lines = [text for text, _ in terminal_lines(tool_run())]
    assert "  tools: 5 tool call(s) in 2 result(s), 1 failed, 1 cut off at max_turns" in lines
    assert sum(1 for line in lines if line.startswith("  tools:")) == 1


def test_notebook_frame_counts_turns_and_tool_calls() -> None:
    pd = pytest.importorskip("pandas")
    frame = Run(tool_run()).cases
    assert isinstance(frame, pd.DataFrame)
    assert {"turns", "tool_calls", "tool_errors", "score.tool_error", "output"} <= set(frame)
    rows = frame.set_index("case_id")
    assert rows.loc["paris", ["turns", "tool_calls", "tool_errors"]].tolist() == [2, 2, 1]
    assert rows.loc["loops", ["turns", "tool_calls", "tool_errors"]].tolist() == [3, 3, 0]
    assert rows.loc["photo", ["turns", "tool_calls", "tool_errors"]].isna().all()


def test_notebook_records_without_pandas_have_none_for_no_trajectory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "pandas" else real(name, *a, **k),
    )
    records = Run(tool_run()).cases
    by_id = {r["case_id"]: r for r in records}
    assert (by_id["paris"]["turns"], by_id["paris"]["tool_errors"]) == (2, 1)
    assert by_id["followup"]["turns"] is None and by_id["followup"]["tool_calls"] is None


def test_report_of_a_stored_run_reads_its_trajectories_back(tmp_path: Path) -> None:
    from pytest_mleval.results.records import load_results, write_results

    stored = load_results(write_results(tmp_path / "r.json", tool_run()))
    assert case_payload(stored) == case_payload(tool_run())
    assert "get_weather" in _embedded(render_report(stored))["cases"][0]["cv"][2]["tc"][0]["n"]
