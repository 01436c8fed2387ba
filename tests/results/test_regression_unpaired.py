"""A suite whose regression nothing checked fails its regression gate.

Before: with every case id changed (a regenerated dataset, renamed cases) or every gating
metric missing from one run, no metric was compared and the gate read "no significant
regression ... over 0 gating metric(s), 0 paired cases", a pass, however bad this run was.
"""

from __future__ import annotations

import json

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults, SuiteInfo


def _run(prefix: str, passed: bool, n: int = 20, metric: str = "exact") -> RunResults:
    score = 1.0 if passed else 0.0
    cases = [
        CaseResult(
            suite="s",
            case_id=f"{prefix}{i}",
            passed=passed,
            scores={metric: MetricScore(score=score, threshold=1.0, passed=passed)},
        )
        for i in range(n)
    ]
    return RunResults(cases=cases)


def test_no_case_in_both_runs_fails_the_gate() -> None:
    comparison, (gate,) = regression_check(_run("c", True), _run("d", False))
    assert not gate.passed and comparison.regressed
    assert gate.message.startswith("regression cannot be checked: no case of suite s is in both")
    assert "20 only in the baseline, 20 only in this run" in gate.message
    assert comparison.suites[0].unchecked is not None


def test_a_few_shared_cases_are_compared() -> None:
    base, cand = _run("c", True), _run("d", True)
    cand.cases[0] = cand.cases[0].model_copy(update={"case_id": "c0"})
    comparison, (gate,) = regression_check(base, cand)
    assert gate.passed and comparison.suites[0].unchecked is None
    assert comparison.suites[0].n_matched == 1


def test_regression_metrics_none_of_which_is_in_both_runs_fail_the_gate() -> None:
    cand = _run("c", False, metric="exact")
    cand.suites = [SuiteInfo(name="s", regression_metrics=["rouge_l"])]
    comparison, (gate,) = regression_check(_run("c", True), cand)
    assert not gate.passed and comparison.regressed
    assert "none of its regression_metrics (rouge_l) is in both runs" in gate.message


def test_one_of_two_regression_metrics_in_both_runs_is_checked() -> None:
    cand = _run("c", True)
    cand.suites = [SuiteInfo(name="s", regression_metrics=["rouge_l", "exact"])]
    comparison, (gate,) = regression_check(_run("c", True), cand)
    assert gate.passed and comparison.suites[0].unchecked is None
    assert any(
        "regression_metrics ['rouge_l'] are not in both runs" in w for w in comparison.warnings
    )


def test_a_suite_only_in_this_run_has_no_gate() -> None:
    # A new suite has nothing to regress from: no gate, as before.
    base = _run("c", True)
    for c in base.cases:
        c.suite = "old"
    comparison, gates = regression_check(base, _run("c", True))
    assert gates == [] and not comparison.regressed


APP = """
import os

def answer(case):
    # The candidate drops half of each answer: still above the threshold, far below before.
    return "the quick brown fox" if not os.environ.get("WORSE") else "the quick"
"""

SUITE = """
suite: s
target: python:app:answer
metrics:
  - rouge_l: {threshold: 0.2}
dataset: rows.jsonl
"""


def _rows(prefix: str) -> str:
    row = {"input": "q", "expected": "the quick brown fox"}
    return "".join(json.dumps({"id": f"{prefix}{i}", **row}) + "\n" for i in range(10))


def test_run_gate_and_compare_agree_when_every_id_changed(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", s=SUITE)
    rows = pytester.path / "rows.jsonl"
    rows.write_text(_rows("a"))
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=10)
    rows.write_text(_rows("b"))  # the same cases under new ids
    monkeypatch.setenv("WORSE", "1")
    result = pytester.runpytest("--mleval-baseline", "base.json")
    result.assert_outcomes(passed=10)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*gate s: FAIL regression cannot be checked: no case of suite s*"])
    summary = (pytester.path / "reports" / "mleval-summary.md").read_text()
    assert "regression cannot be checked" in summary
    html = (pytester.path / "reports" / "mleval-report.html").read_text()
    assert "regression cannot be checked" in html
    capsys.readouterr()
    results = str(pytester.path / "reports/mleval-results.json")
    code = main(["compare", str(pytester.path / "base.json"), results])
    assert code == 1 and "cannot be checked" in capsys.readouterr().out
