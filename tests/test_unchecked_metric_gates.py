"""A gate on a metric that only deselected cases score is not checked, not failed.

Before, ``pytest evals -k alpha`` on a suite whose case ``alpha`` scores ``exact`` and whose
case ``beta`` scores ``contains`` failed the run: "gate cannot be evaluated: no scores for
metric 'contains'", exit status 1, where deselecting the whole suite reads "not checked" and
exits 0. Deselecting is the user's choice; a gate over no selected case is neither passed nor
failed, and the run reads "passed on part of its suites". A metric that selected cases declare
but could not score still fails its gate: that is the run's own finding.
"""

from __future__ import annotations

import json

import pytest

SUITE = """
suite: s
target: python:app:echo
gates:
  - {metric: contains, min: 0.5}
  - {metric: pass_rate, min: 0.5}
cases:
  - id: alpha
    input: hello
    metrics:
      - exact: {value: hello}
  - id: beta
    input: world
    metrics:
      - contains: {value: wor}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)
    return pytester


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_gate_whose_cases_were_all_deselected_is_not_checked(
    project: pytest.Pytester, workers: list[str]
) -> None:
    result = project.runpytest("-k", "alpha", *workers)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "run passed on part of its suites: 1 of 2 cases of suite s not run",
            "gate s: PASS pass_rate = *",
            "gate s: NOT CHECKED 1 gate(s) on contains: no case it scores was selected",
        ]
    )
    result.stdout.no_fnmatch_line("*cannot be evaluated*")
    reports = project.path / "reports"
    results = json.loads((reports / "mleval-results.json").read_text())
    assert [g["metric"] for g in results["gates"]] == ["pass_rate"]
    (suite,) = results["suites"]
    assert suite["unchecked_gates"] == 1 and suite["unchecked_metrics"] == ["contains"]
    summary = (reports / "mleval-summary.md").read_text()
    assert "**Gates: 1/1 passed, 1 not checked** ⚠️" in summary
    assert "| s | 1 gate\\(s\\) on contains: no case it scores was selected | ⚠️ not checked |" in (
        summary
    )
    html = (reports / "mleval-report.html").read_text()
    assert '1/1 passed · <span class="st-errored">1 not checked</span>' in html


def test_the_gate_is_checked_when_its_cases_run(project: pytest.Pytester) -> None:
    result = project.runpytest("-k", "beta")
    assert result.ret == pytest.ExitCode.OK
    results = json.loads((project.path / "reports" / "mleval-results.json").read_text())
    assert [g["metric"] for g in results["gates"]] == ["contains", "pass_rate"]
    assert results["suites"][0]["unchecked_gates"] == 0


def test_a_selected_case_that_cannot_score_the_metric_still_fails_the_gate(
    pytester: pytest.Pytester,
) -> None:
    # alpha declares rouge_l but has no `expected`: the metric errors, which the run found.
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        s=SUITE.replace("- exact: {value: hello}", "- rouge_l").replace(
            "{metric: contains, min: 0.5}", "{metric: rouge_l, stat: mean, min: 0.5}"
        ),
    )
    result = pytester.runpytest("-k", "alpha")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate s: FAIL gate cannot be evaluated: *"])
    result.stdout.no_fnmatch_line("*NOT CHECKED*")
