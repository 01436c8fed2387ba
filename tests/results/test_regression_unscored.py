"""A gating metric this run could not score (skipped, errored) fails the regression gate.

Before: the metric had no paired cases, so it dropped out of the comparison without a word
and the gate said "no significant regression" over the metrics that were left.
"""

from __future__ import annotations

import json

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, SuiteInfo


def _run(judge: list[MetricScore | None]) -> RunResults:
    cases = []
    for i, ms in enumerate(judge):
        scores = {"exact": MetricScore(score=1.0, threshold=1.0, passed=True)}
        if ms is not None:
            scores["judge"] = ms
        cases.append(CaseResult(suite="s", case_id=f"c{i}", passed=True, scores=scores))
    return RunResults(cases=cases)


SCORED = [MetricScore(score=0.9) for _ in range(20)]
SKIPPED = [MetricScore(skipped="no judge model configured") for _ in range(20)]


def test_a_gating_metric_skipped_everywhere_fails_the_gate() -> None:
    comparison, (gate,) = regression_check(_run(SCORED), _run(SKIPPED))
    assert not gate.passed and comparison.regressed
    assert "regression cannot be checked: judge was not scored" in gate.message
    assert "skipped: no judge model configured" in gate.message
    assert comparison.suites[0].unscored == {
        "judge": "20 not scored in this run, skipped: no judge model configured"
    }
    assert any("judge compared on 0 of the 20 cases" in w for w in comparison.warnings)


def test_a_metric_error_everywhere_fails_the_gate_with_its_reason() -> None:
    errored = [MetricScore(error="JudgeError: unparseable reply") for _ in range(20)]
    _, (gate,) = regression_check(_run(SCORED), _run(errored))
    assert not gate.passed and "error: JudgeError: unparseable reply" in gate.message


def test_a_metric_not_gating_is_only_a_warning() -> None:
    cand = _run(SKIPPED)
    cand.suites = [SuiteInfo(name="s", regression_metrics=["pass_rate", "exact"])]
    comparison, (gate,) = regression_check(_run(SCORED), cand)
    assert gate.passed and not comparison.suites[0].unscored
    assert any("judge compared on 0 of the 20" in w for w in comparison.warnings)


def test_partly_scored_is_compared_with_a_warning() -> None:
    cand = _run(SCORED[:5] + SKIPPED[:15])
    comparison, (gate,) = regression_check(_run(SCORED), cand)
    assert gate.passed and not comparison.suites[0].unscored
    (row,) = [m for m in comparison.suites[0].metrics if m.metric == "judge"]
    assert row.n == 5
    assert any("judge compared on 5 of the 20 cases" in w for w in comparison.warnings)
    # The gate says so too: it read "20 paired cases" as if judge were checked on all.
    assert "20 paired cases (judge on 5 of them)" in gate.message


def test_a_removed_metric_or_a_new_one_is_not_a_failure() -> None:
    # No case of this run lists judge any more: the suite dropped it. Not a failure, but it
    # must not drop out of the comparison unseen (a rename read as a clean pass).
    comparison, (gate,) = regression_check(_run(SCORED), _run([None] * 20))
    assert gate.passed
    assert comparison.warnings == [
        "suite s: judge scored in the baseline but by no case of this run (renamed or "
        "removed?), so not compared"
    ]
    # Only this run scores it: nothing to compare against.
    comparison, (gate,) = regression_check(_run([None] * 20), _run(SCORED))
    assert gate.passed and not comparison.warnings


APP = """
import os
from pytest_mleval import metric
from pytest_mleval.metrics import SkipMetric

def echo(case):
    return case.expected

def graded(sample):
    if os.environ.get("NO_GRADER"):
        raise SkipMetric("no grader configured")
    return 0.8
"""

SUITE = """
suite: s
target: python:app:echo
metrics:
  - exact
  - python:app:graded
cases:
""" + "".join(f"  - {{id: c{i}, input: q{i}, expected: a{i}}}\n" for i in range(12))


def test_run_gate_and_compare_agree_on_an_unscored_metric(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=12)
    monkeypatch.setenv("NO_GRADER", "1")
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.assert_outcomes(passed=12)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*gate s: FAIL regression cannot be checked: python:app:graded was not scored*"]
    )
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "Gates: 0/1 passed" in summary and "no grader configured" in summary
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert "regression cannot be checked" in html
    run = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert run["comparison"]["suites"][0]["unscored"] == {
        "python:app:graded": "12 not scored in this run, skipped: no grader configured"
    }
    capsys.readouterr()
    code = main(
        [
            "compare",
            str(pytester.path / "base.json"),
            str(pytester.path / "reports/mleval-results.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1 and "cannot be checked" in out


def test_a_sequential_suite_keeps_the_failed_check() -> None:
    from pytest_mleval.results.records import SequentialInfo

    cand = _run(SKIPPED)
    cand.suites = [SuiteInfo(name="s", sequential=SequentialInfo(cases=20, run=20, not_needed=0))]
    comparison, (gate,) = regression_check(_run(SCORED), cand)
    assert "anytime-valid" in comparison.suites[0].metrics[0].test  # the sequence judged
    assert comparison.regressed and not gate.passed


def test_a_metric_no_case_scored_is_named_in_every_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: it had no estimate, so it vanished from the suite's table without a word.
    pytester.syspathinsert()
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    monkeypatch.setenv("NO_GRADER", "1")
    result = pytester.runpytest()
    result.assert_outcomes(passed=12)  # exact still decides every case
    line = "python:app:graded on 12 case(s) (skipped: no grader configured)"
    result.stdout.fnmatch_lines([f"  not scored: {line}"])
    reports = pytester.path / "reports"
    md_line = line.replace("(", "\\(").replace(")", "\\)")  # escaped for GFM
    assert f"**Not scored:** {md_line}" in (reports / "mleval-summary.md").read_text()
    assert f"Not scored: {line}" in (reports / "mleval-report.html").read_text()


def test_a_renamed_metric_is_named_with_its_new_name() -> None:
    cand = _run([None] * 20)
    for c in cand.cases:
        c.scores["judge_v2"] = MetricScore(score=0.0)
    comparison, (gate,) = regression_check(_run(SCORED), cand)
    assert gate.passed
    assert any(
        "judge scored in the baseline but by no case of this run (renamed or removed?), so "
        "not compared; new in this run: judge_v2" in w
        for w in comparison.warnings
    )
