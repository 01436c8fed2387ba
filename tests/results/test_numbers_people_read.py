"""Numbers people read: money with significant digits, usage per suite and model, unit axes."""

from __future__ import annotations

import json
import re

import pytest

from pytest_mleval.results.units import fmt_interval, fmt_metric, fmt_usd

APP = """
def cheap(case):
    return {"output": case.expected, "cost_usd": 4.5e-06, "model": "openai/tiny",
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            "latency_ms": 12.0 + int(case.id[1:])}

def pricey(case):
    return {"output": case.expected, "cost_usd": 0.25, "model": "openai/big",
            "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
            "latency_ms": 250.0 + int(case.id[1:])}
"""


def _suite(name: str, fn: str) -> str:
    cases = "".join(f"  - {{id: c{i}, input: q{i}, expected: a{i}}}\n" for i in range(3))
    return (
        f"suite: {name}\ntarget: python:app:{fn}\nmetrics:\n  - exact\n"
        f"  - cost_usd: {{max: 1.0}}\n  - latency_ms: {{max: 10000}}\ncases:\n{cases}"
    )


@pytest.fixture
def run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", cheap=_suite("cheap", "cheap"), pricey=_suite("big", "pricey"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=6)
    return result


def test_fmt_usd_keeps_significant_digits() -> None:
    assert fmt_usd(1.35e-05) == "$0.0000135"
    assert fmt_usd(0.0421) == "$0.0421"
    assert fmt_usd(12.3456) == "$12.35"
    assert fmt_usd(0.99996) == "$1.00"
    assert fmt_usd(0) == "$0"
    assert fmt_metric("latency_ms", 412.34) == "412.3 ms"
    assert fmt_metric("rouge_l", 0.5) == "0.500"
    assert fmt_interval("cost_usd", 1e-6, 2e-6) == "[$0.00000100, $0.00000200]"


def test_small_costs_are_never_zero_anywhere(
    run: pytest.RunResult, pytester: pytest.Pytester
) -> None:
    zero = re.compile(r"\$0\.0+(?![0-9])")  # "$0.0000": a real cost printed as nothing
    assert not zero.search(run.stdout.str())
    run.stdout.fnmatch_lines(["*suite cheap: 39 tokens*$0.0000135*"])
    reports = pytester.path / "reports"
    summary = (reports / "mleval-summary.md").read_text()
    html = (reports / "mleval-report.html").read_text()
    assert "$0.0000135" in summary and "$0.0000135" in html
    assert not zero.search(summary) and not zero.search(html)


def test_usage_per_suite_and_model_everywhere(
    run: pytest.RunResult, pytester: pytest.Pytester
) -> None:
    run.stdout.fnmatch_lines(
        [
            "usage: 429 tokens*$0.750*",
            "  suite big: 390 tokens*$0.75*",
            "  suite cheap: 39 tokens*",
            "  model openai/big: 390 tokens*",
            "  model openai/tiny: 39 tokens*",
        ]
    )
    reports = pytester.path / "reports"
    summary = (reports / "mleval-summary.md").read_text()
    assert "### Usage" in summary
    assert "| model `openai/tiny` | 39 (30 / 9) | \\$0.0000135 |" in summary
    assert "| suite `big` | 390 (300 / 90) | \\$0.750 |" in summary
    html = (reports / "mleval-report.html").read_text()
    assert 'id="usage"' in html and "<code>openai/big</code>" in html


def test_raw_measures_in_their_units(run: pytest.RunResult, pytester: pytest.Pytester) -> None:
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    cost = next(
        a for a in results["aggregates"] if a["metric"] == "cost_usd" and a["suite"] == "big"
    )
    assert "wilson" not in cost["method"].lower()
    # Terminal and Markdown print the estimate and interval in dollars and milliseconds.
    run.stdout.fnmatch_lines(["*cost_usd*$0.250*", "*latency_ms*251 ms*"])
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    # Histogram axes name the unit; a raw measure is never drawn on a 0-1 score axis.
    assert "latency_ms (ms)" in html and "cost_usd (USD)" in html
    assert ">score<" in html


def test_comparison_tables_show_raw_measures_in_units_and_gates_only_where_they_gate() -> None:
    from pytest_mleval.report.summary import comparison_markdown, comparison_terminal
    from pytest_mleval.results.compare import compare_runs, regression_check
    from pytest_mleval.results.records import CaseResult, MetricScore, RunResults

    def run(cost: float) -> RunResults:
        return RunResults(
            cases=[
                CaseResult(
                    suite="s",
                    case_id=f"c{i}",
                    passed=True,
                    scores={"cost_usd": MetricScore(score=cost + 1e-7 * i)},
                )
                for i in range(8)
            ]
        )

    comparison, _ = regression_check(run(1e-5), run(2e-5))
    data = comparison.model_dump(mode="json")
    text = "\n".join(comparison_terminal(data))
    assert "$0.0000" in text and "gates" in text  # $0.00001xx, never 0.000
    assert " 0.000 " not in text
    md = "\n".join(comparison_markdown(data))
    assert "| metric | gates |" in md
    # A compare_to comparison gates nothing: no gates column.
    plain = compare_runs(run(1e-5), run(2e-5), gating={"s": ()}).model_dump(mode="json")
    assert "gates" not in "\n".join(comparison_terminal(plain))
    assert "| metric | baseline |" in "\n".join(comparison_markdown(plain))


def test_labelled_raw_measure_stays_a_raw_measure(pytester: pytest.Pytester) -> None:
    # Sub-millisecond latencies fit in [0, 1]: only the recorded metric says they are raw.
    pytester.makepyfile(
        app="def fast(case):\n    return {'output': case.expected, 'latency_ms': 0.2 + int(case.id[1:]) / 100}\n"
    )
    pytester.syspathinsert()
    cases = "".join(f"  - {{id: c{i}, input: q{i}, expected: a{i}}}\n" for i in range(6))
    pytester.makefile(
        ".eval.yaml",
        s="suite: s\ntarget: python:app:fast\nmetrics:\n  - exact\n"
        f"  - latency_ms: {{name: speed, max: 100}}\ncases:\n{cases}",
    )
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=6)
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert results["cases"][0]["scores"]["speed"]["metric"] == "latency_ms"
    speed = next(a for a in results["aggregates"] if a["metric"] == "speed")
    assert speed["method"].startswith("t") and "Wilson" not in speed["method"]
    assert "bound" not in speed["method"].lower()  # no [0, 1] bound for a raw measure
    pytester.runpytest("--mleval-baseline", "base.json")
    results = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    row = next(m for m in results["comparison"]["suites"][0]["metrics"] if m["metric"] == "speed")
    assert row["lower_is_better"] and not row["gating"]


def test_usage_counts_metric_calls_per_suite_and_model() -> None:
    from pytest_mleval.report.views import usage_rows
    from pytest_mleval.results.records import CallUse, CaseResult, RunResults, Usage
    from pytest_mleval.results.run import usage_totals

    def case(i: int, calls: dict[str, CallUse]) -> CaseResult:
        return CaseResult(
            suite="s",
            case_id=f"c{i}",
            model="openai/app",
            latency_ms=100.0 + i,
            usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
            cost_usd=1e-06,
            metric_calls=calls,
        )

    judge = CallUse(
        calls=2,
        prompt_tokens=40,
        completion_tokens=6,
        total_tokens=46,
        cost_usd=2e-05,
        cached=1,
        retries=1,
        latencies_ms=[7.0, 9.0],
    )
    down = CallUse(retries=4)  # every call failed: no tokens, but the provider was asked
    usage = usage_totals([case(0, {"openai/judge": judge}), case(1, {"openai/down": down})])
    total = usage["total"]
    assert total["total_tokens"] == 5 + 5 + 46 and total["prompt_tokens"] == 3 + 3 + 40
    assert total["cost_usd"] == pytest.approx(2e-06 + 2e-05)
    assert (total["cached"], total["retries"]) == (1, 5)
    assert total["metric_calls"] == {"total_tokens": 46, "cost_usd": pytest.approx(2e-05)}
    assert total["latency_ms"]["p50"] == pytest.approx(100.5)  # the targets' latency
    assert usage["suites"]["s"]["total_tokens"] == 56
    row = usage["models"]["openai/judge"]
    assert (row["cases"], row["total_tokens"], row["latency_ms"]["p50"]) == (1, 46, 8.0)
    assert usage["models"]["openai/app"]["total_tokens"] == 10
    shown = {(kind, name) for kind, name, _ in usage_rows(RunResults(usage=usage))}
    assert ("model", "openai/down") in shown and ("model", "openai/judge") in shown


def test_a_latency_nobody_measured_reads_as_unknown_not_zero() -> None:
    # A model whose every call failed has no latency: before, its row read "latency p50 0 ms /
    # p95 0 ms" in the terminal, Markdown and HTML, a number nobody measured.
    from pytest_mleval.report.html import render_report
    from pytest_mleval.report.summary import render_summary, terminal_lines
    from pytest_mleval.results.records import CallUse, CaseResult, RunResults, Usage
    from pytest_mleval.results.run import add_calls, usage_totals

    case = CaseResult(
        suite="s",
        case_id="c0",
        model="openai/app",
        latency_ms=12.0,
        usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        metric_calls={"openai/down": CallUse(retries=4)},
    )
    usage = usage_totals([case])
    add_calls(usage, {"openai/variant-judge": CallUse(retries=2)})
    for model in ("openai/down", "openai/variant-judge"):
        assert usage["models"][model]["latency_ms"] is None
    assert usage["models"]["openai/app"]["latency_ms"]["p50"] == 12.0
    run = RunResults(cases=[case], usage=usage)
    lines = [text for text, _ in terminal_lines(run)]
    down = next(t for t in lines if "openai/down" in t)
    assert "latency unknown" in down and " 0 ms" not in down
    assert "latency p50 12 ms" in next(t for t in lines if "openai/app" in t)
    md = next(x for x in render_summary(run).splitlines() if "openai/down" in x)
    assert "| – |" in md and "0 ms" not in md
    html = render_report(run)
    row = re.search(r"<code>openai/down</code>.*?</tr>", html, re.S)
    assert row is not None and " ms<" not in row.group(0) and "–" in row.group(0)
