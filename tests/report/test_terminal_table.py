"""The terminal's per-suite metric table keeps its columns under long labels and intervals."""

from __future__ import annotations

from pytest_mleval.report.summary import terminal_lines
from pytest_mleval.results.records import Aggregate, CaseResult, RunResults, SuiteInfo


def _table(run: RunResults) -> list[str]:
    lines = [text for text, _ in terminal_lines(run)]
    start = next(i for i, t in enumerate(lines) if t.lstrip().startswith("metric "))
    end = start + 1
    while end < len(lines) and lines[end].startswith("  ") and not lines[end].startswith("  tools"):
        end += 1
    return lines[start:end]


def test_long_metric_labels_and_wide_intervals_keep_the_columns_aligned() -> None:
    # Before, a 28-character label (`tool_not_called:book_flights`) and a latency interval
    # in thousands of ms pushed their rows' numbers right of the header: "estimate" stood
    # over nothing and every later column was shifted.
    aggs = [
        Aggregate(
            suite="s",
            metric="pass_rate",
            estimate=0.9,
            ci_low=0.8,
            ci_high=0.95,
            n=40,
            method="wilson",
        ),
        Aggregate(
            suite="s",
            metric="tool_not_called:book_flights",
            estimate=1.0,
            ci_low=0.91,
            ci_high=1.0,
            n=40,
            method="wilson",
        ),
        Aggregate(
            suite="s",
            metric="latency_ms",
            estimate=123456.0,
            ci_low=1234.0,
            ci_high=9876543.0,
            n=40,
            method="t",
        ),
    ]
    run = RunResults(
        cases=[CaseResult(suite="s", case_id=f"c{i}") for i in range(3)],
        suites=[SuiteInfo(name="s")],
        aggregates=aggs,
    )
    head, *rows = _table(run)
    assert len(rows) == 3
    # Each column starts where its header starts and the right-aligned ones end where theirs
    # end, in every row.
    est_end = head.index("estimate") + len("estimate")
    ci_start = head.index("95% CI")
    n_end = head.index(" n ") + 2
    method_start = head.index("method")
    for row, a in zip(rows, aggs, strict=True):
        assert row.index(a.metric) == head.index("metric")
        assert row[est_end] == " " and row[est_end - 1] != " ", row
        assert row[ci_start] == "[" and row[ci_start - 1] == " ", row
        assert row[n_end - 1] == str(a.n)[-1] and row[n_end] == " ", row
        assert row[method_start:].startswith(a.method), row
