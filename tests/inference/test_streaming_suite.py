"""A suite with `stream: true` end to end: pytest -> plugin -> engine -> client -> the test
server's stream, then the ttft_ms metric, the results, the terminal, Markdown and HTML outputs
(and a cached rerun, whose timings are shown as recorded). Both clients stream the same way.

Times are asserted only as lower bounds implied by the server's sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

from pytest_mleval.inference.testserver import OpenAITestServer, Rule, loopback_only

pytestmark = pytest.mark.skipif(
    find_spec("litellm") is None or find_spec("aiohttp") is None,
    reason="needs the llm extra (litellm, aiohttp)",
)

if find_spec("litellm") is not None:
    from pytest_mleval.inference.providers.litellm import import_litellm

    # In-process pytester runs unload modules first imported inside them; litellm keeps HTTP
    # clients built from httpx classes across calls, so it must be loaded before the first run.
    import_litellm()

LATENCY_S = 0.06
N = 4


def reply(messages: list[dict[str, Any]]) -> str:
    return "ANSWER: " + str(messages[-1]["content"]).split(":")[-1].strip().upper()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with loopback_only() as attempts:
        yield
    assert not attempts, f"non-loopback connections attempted: {attempts}"


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer(
        rules=[Rule(reply=reply)], latency_s=LATENCY_S, token_latency_s=0.002
    ) as srv:
        yield srv


def suite(
    srv: OpenAITestServer, *, stream: str = "stream: true\n", ttft_max: float = 60_000
) -> str:
    cases = "".join(f"  - {{id: c{i}, input: w{i}, expected: 'ANSWER: W{i}'}}\n" for i in range(N))
    return (
        f"suite: streamed\ntarget: model:openai/test-model\napi_base: {srv.base_url}\n"
        f"prompt: 'Say: {{{{ input }}}}'\n{stream}"
        f"metrics:\n  - exact\n  - ttft_ms: {{max: {ttft_max}}}\ncases:\n{cases}"
    )


def run(p: pytest.Pytester, client: str, *args: str) -> pytest.RunResult:
    return p.runpytest(
        "--mleval-client", client, "--mleval-retry-delay", "0.01", "--mleval-timeout", "10", *args
    )


def results(p: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((p.path / "reports" / "mleval-results.json").read_text())
    return data


def embedded_cases(html: str) -> list[dict[str, Any]]:
    m = re.search(r'<script type="application/json" id="[^"]*">(.*?)</script>', html, re.S)
    assert m, "no embedded case data"
    cases: list[dict[str, Any]] = json.loads(m.group(1))["cases"]
    return cases


@pytest.mark.parametrize("client", ["litellm", "native"])
def test_streamed_suite_reports_ttft_everywhere_and_replays_it(
    pytester: pytest.Pytester, server: OpenAITestServer, client: str
) -> None:
    pytester.makefile(".eval.yaml", streamed=suite(server))
    result = run(pytester, client)
    result.assert_outcomes(passed=N)
    assert server.count == N
    for body in server.requests:
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    data = results(pytester)
    first = {c["case_id"]: c for c in data["cases"]}
    for case in first.values():
        assert case["ttft_ms"] >= LATENCY_S * 1000 - 1
        assert case["scores"]["ttft_ms"]["score"] == case["ttft_ms"]
        assert case["itl_ms"] is not None and case["output_tokens_per_s"] > 0
        assert case["cached"] is False and "ttft_ms" not in case["metadata"]
        assert case["usage"]["completion_tokens"] == 2
    model = data["usage"]["models"]["openai/test-model"]
    assert model["streamed"] == N and model["streamed_cached"] == 0
    assert model["ttft_ms"]["p50"] >= LATENCY_S * 1000 - 1
    assert set(model["ttft_ms"]) >= {"p50", "p95", "p99"}
    result.stdout.fnmatch_lines([f"usage:*ttft p50 * ms / p95 * ms / p99 * ms ({N} streamed)*"])
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "TTFT p50 / p95 / p99" in summary and f"({N} streamed)" in summary
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert "TTFT p50" in html
    shown = {c["id"]: c for c in embedded_cases(html)}
    assert {k: c["tt"] for k, c in shown.items()} == {k: c["ttft_ms"] for k, c in first.items()}

    # Again: answered from the cache, with the recorded timings, shown as recorded.
    result = run(pytester, client)
    result.assert_outcomes(passed=N)
    assert server.count == N
    again = {c["case_id"]: c for c in results(pytester)["cases"]}
    assert all(c["cached"] for c in again.values())
    assert {k: c["ttft_ms"] for k, c in again.items()} == {
        k: c["ttft_ms"] for k, c in first.items()
    }
    result.stdout.fnmatch_lines([f"usage:*ttft p50 *({N} streamed, {N} recorded, from cache)*"])
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert f"{N} recorded, from cache" in summary
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert "recorded, from cache" in html and all(c.get("ca") for c in embedded_cases(html))


def test_ttft_gate_fails_when_the_first_token_is_slower(
    pytester: pytest.Pytester, server: OpenAITestServer
) -> None:
    # The server waits LATENCY_S before the first chunk: a gate far below it cannot hold.
    pytester.makefile(".eval.yaml", streamed=suite(server, ttft_max=LATENCY_S * 1000 / 4))
    result = run(pytester, "litellm", "--mleval-cache", "off")
    result.assert_outcomes(failed=N)
    for case in results(pytester)["cases"]:
        score = case["scores"]["ttft_ms"]
        assert score["passed"] is False and score["score"] >= LATENCY_S * 1000 - 1


@pytest.mark.parametrize(
    "stream", ["", "stream: false\n", "stream: true\nparams: {stream: false}\n"]
)
def test_ttft_of_a_call_not_streamed_is_a_clear_error(
    pytester: pytest.Pytester, server: OpenAITestServer, stream: str
) -> None:
    pytester.makefile(".eval.yaml", streamed=suite(server, stream=stream))
    result = run(pytester, "litellm", "--mleval-cache", "off")
    result.assert_outcomes(failed=N)
    result.stdout.fnmatch_lines(["*ttft_ms needs a streamed call: set `stream: true`*"])
    assert all("stream" not in b or b["stream"] is False for b in server.requests)
    for case in results(pytester)["cases"]:
        assert case["ttft_ms"] is None and case["scores"]["exact"]["passed"] is True
        assert "streamed call" in case["scores"]["ttft_ms"]["error"]
    assert "streamed" not in results(pytester)["usage"]["total"]
    assert "TTFT" not in (pytester.path / "reports" / "mleval-summary.md").read_text()
