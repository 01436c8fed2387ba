"""The HTML header's verdict agrees with the run's status (the Markdown headline's)."""

from __future__ import annotations

from pytest_mleval.report.summary import render_summary
from pytest_mleval.report.views import header_view
from pytest_mleval.results.records import (
    CaseResult,
    GateResult,
    RunMeta,
    RunResults,
    run_status,
)


def test_a_failed_run_without_cases_reads_failed_not_no_cases() -> None:
    gate = GateResult(
        suite="s",
        metric="pass_rate",
        stat="mean",
        on="estimate",
        min=0.9,
        passed=False,
        message="cannot be evaluated: no case of the suite ran",
    )
    run = RunResults(cases=[], gates=[gate], meta=RunMeta(exit_status=1))
    view = header_view(run)
    assert "failed" in view["verdict"]
    assert view["tone"] == "bad"


def test_a_run_without_cases_or_gates_reads_no_cases() -> None:
    view = header_view(RunResults(cases=[]))
    assert (view["verdict"], view["tone"]) == ("no cases", "neutral")


def test_expected_failures_in_a_passing_run_read_the_same_everywhere() -> None:
    # pytest exits 0 with a failed case only when the case is an expected failure (xfail):
    # the HTML badge and the Markdown headline say the same thing.
    cases = [
        CaseResult(suite="s", case_id="ok", passed=True),
        CaseResult(suite="s", case_id="known", passed=False),
    ]
    run = RunResults(cases=cases, meta=RunMeta(exit_status=0))
    status, text = run_status(run)
    assert status == "passed"
    assert "1 case(s) failed" in text
    view = header_view(run)
    assert view["verdict"] == text
    assert view["tone"] == "warn"
    assert f"**Run {text}**" in render_summary(run).replace("\\", "")


def test_failed_cases_of_results_built_outside_pytest_never_read_passed() -> None:
    # Results assembled without a pytest session carry no exit status: a failed case
    # cannot be an expected failure there, so the run failed.
    cases = [CaseResult(suite="s", case_id="wrong", passed=False)]
    run = RunResults(cases=cases)
    assert run_status(run)[0] == "failed"
    assert header_view(run)["tone"] == "bad"
