"""Streamed calls in what people read: TTFT percentiles in the usage totals, the terminal, the
Markdown summary and the HTML report, and answers from the cache flagged as recorded wherever
their timings are shown (the per-case detail checked in a real browser)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_report_browser import Chromium, browser, chromium_binary, page  # noqa: F401

from pytest_mleval.report.html import render_report, write_report
from pytest_mleval.report.summary import render_summary, terminal_lines
from pytest_mleval.report.views import case_payload, usage_rows
from pytest_mleval.results.records import CaseResult, RunResults, SuiteInfo, Usage
from pytest_mleval.results.run import usage_totals

TTFTS = [120.0, 180.0, 240.0]


def streamed_run(*, stream: bool = True) -> RunResults:
    """Four cases of one model: three streamed (the last from the cache), one plain."""
    cases = []
    for i in range(4):
        streamed = stream and i < 3
        cases.append(
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                output=f"answer {i}",
                passed=True,
                model="openai/m",
                latency_ms=300.0 + i,
                usage=Usage(prompt_tokens=5, completion_tokens=10, total_tokens=15),
                cached=i == 2,
                ttft_ms=TTFTS[i] if streamed else None,
                itl_ms=12.5 if streamed else None,
                output_tokens_per_s=40.0 + i if streamed else None,
            )
        )
    return RunResults(
        suites=[SuiteInfo(name="s", n_cases=4)], cases=cases, usage=usage_totals(cases)
    )


def test_usage_totals_of_streamed_cases() -> None:
    run = streamed_run()
    assert run.usage is not None
    for totals in (run.usage["total"], run.usage["models"]["openai/m"], run.usage["suites"]["s"]):
        assert totals["streamed"] == 3 and totals["streamed_cached"] == 1
        for q in (50, 95, 99):
            assert totals["ttft_ms"][f"p{q}"] == pytest.approx(np.percentile(TTFTS, q))
        assert totals["ttft_ms"]["mean"] == pytest.approx(180.0)
        assert totals["output_tokens_per_s"] == pytest.approx(41.0)
    # Nothing streamed: no TTFT keys at all (older readers and plain runs see what they did).
    plain = streamed_run(stream=False).usage
    assert plain is not None and "streamed" not in plain["total"]
    assert "ttft_ms" not in plain["total"]


def test_usage_rows_read_old_and_new_totals() -> None:
    rows = usage_rows(streamed_run())
    assert [r[0] for r in rows] == ["total", "suite", "model"]
    total = rows[0][2]
    assert total["streamed"] == 3 and total["streamed_cached"] == 1
    assert total["ttft_ms"]["p50"] == pytest.approx(180.0)
    old = RunResults(usage={"total": {"total_tokens": 10, "latency_ms": {"p50": 1.0}}})
    (row,) = usage_rows(old)
    assert row[2]["streamed"] == 0 and row[2]["ttft_ms"] is None
    assert row[2]["output_tokens_per_s"] is None


def test_terminal_and_markdown_show_ttft_percentiles_and_cached_timings() -> None:
    run = streamed_run()
    lines = [text for text, _ in terminal_lines(run)]
    usage = next(line for line in lines if line.startswith("usage:"))
    p95 = np.percentile(TTFTS, 95)
    assert f"ttft p50 180 ms / p95 {p95:.0f} ms / p99 " in usage
    assert "(3 streamed, 1 recorded, from cache), 41.0 tokens/s" in usage
    md = render_summary(run)
    assert "| TTFT p50 / p95 / p99 | tokens/s |" in md
    assert f"| 180 / {p95:.0f} / " in md and "(3 streamed, 1 recorded, from cache) | 41.0 |" in md
    plain = streamed_run(stream=False)
    assert "ttft" not in " ".join(t for t, _ in terminal_lines(plain))
    assert "TTFT" not in render_summary(plain)


def test_markdown_rows_without_streaming_in_a_streamed_run_show_dashes() -> None:
    run = streamed_run()
    other = CaseResult(
        suite="t", case_id="x", model="openai/other", passed=True,
        usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
    )  # fmt: skip
    run.cases.append(other)
    run.suites.append(SuiteInfo(name="t", n_cases=1))
    run.usage = usage_totals(run.cases)
    md = render_summary(run)
    row = next(line for line in md.splitlines() if "`openai/other`" in line)
    assert row.endswith("| – | – |")


def test_html_usage_table_and_case_payload_carry_ttft() -> None:
    run = streamed_run()
    html = render_report(run)
    usage = html[
        html.index('<section id="usage">') : html.index(
            "</section>", html.index('<section id="usage">')
        )
    ]
    assert "TTFT p50" in usage and "Tokens/s" in usage
    assert "(1 recorded, from cache)" in usage
    assert ">180.0 ms<" in usage  # formatted as the latency cells are
    cases = case_payload(run)["cases"]
    assert [c.get("tt") for c in cases] == [*TTFTS, None]
    assert cases[0]["itl"] == 12.5 and cases[2]["ca"] is True and "tt" not in cases[3]
    plain = render_report(streamed_run(stream=False))
    assert "TTFT" not in plain


def detail_text(page: Chromium, case_id: str) -> str:  # noqa: F811
    page.eval(
        "(() => { const r = Array.from(document.querySelectorAll('#case-rows tr.case-row'))"
        f".find(r => r.innerText.includes({json.dumps(case_id)})); r.setAttribute('data-pick', '1'); }})()"
    )
    page.click("#case-rows tr.case-row[data-pick='1']")
    page.wait_until("document.querySelector('#case-rows tr.detail')")
    text: Any = page.eval("document.querySelector('#case-rows tr.detail').innerText")
    page.click("#case-rows tr.case-row[data-pick='1']")  # closed again
    page.eval("document.querySelector('[data-pick]').removeAttribute('data-pick')")
    return str(text)


def test_case_detail_flags_recorded_timings_in_the_browser(
    page: Chromium,  # noqa: F811
    tmp_path: Path,
) -> None:
    report = write_report(tmp_path / "report.html", streamed_run())
    page.open(report)
    assert page.errors() == []
    fresh = detail_text(page, "c0").splitlines()
    assert "ttft120 ms" in fresh and "inter-token12.5 ms" in fresh  # label, then value
    assert "output speed40.0 tokens/s" in fresh and "latency300.0 ms" in fresh
    assert not any("recorded" in line for line in fresh)
    cached = detail_text(page, "c2").splitlines()
    assert "ttft240 ms (recorded; from cache)" in cached
    assert "latency302.0 ms (recorded; from cache)" in cached
    plain = detail_text(page, "c3")
    assert "ttft" not in plain and "latency303.0 ms" in plain
    assert page.errors() == []
