"""A run that covers part of a suite says so: gates and intervals over 2 of 3 cases are not
the suite's verdict (cases deselected by -k, -m, --lf or --deselect, a metric that errored)."""

from __future__ import annotations

import json

import pytest

from pytest_mleval.report.history import recent_runs, resolve_url
from pytest_mleval.results.records import CaseResult, RunMeta, RunResults, SuiteInfo, run_status

SUITE = """
suite: s
target: python:app:echo
metrics:
  - contains: {value: ok, threshold: 1}
gates:
  - {metric: pass_rate, min: 0.5}
cases:
  - {id: a, input: ok}
  - {id: b, input: ok}
  - {id: c, input: bad}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", t=SUITE)
    return pytester


def _outputs(pytester: pytest.Pytester) -> tuple[dict, str, str]:  # type: ignore[type-arg]
    reports = pytester.path / "reports"
    results = json.loads((reports / "mleval-results.json").read_text())
    summary = (reports / "mleval-summary.md").read_text()
    html = (reports / "mleval-report.html").read_text()
    return results, summary, html


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_deselected_case_is_named_in_every_output(
    project: pytest.Pytester, workers: list[str]
) -> None:
    result = project.runpytest("--deselect", "t.eval.yaml::s::c", *workers)
    assert result.ret == pytest.ExitCode.OK
    # xdist's controller does not count its workers' deselected items.
    result.assert_outcomes(passed=2, deselected=0 if workers else 1)
    result.stdout.fnmatch_lines(
        [
            "*mleval summary*",
            "run passed on part of its suites: 1 of 3 cases of suite s not run*",
            "suite s: 2 of 3 cases ran (1 not run), 0 errored",
            "gate s: PASS pass_rate = 1.0000 * (over 2 of 3 cases)",
        ]
    )
    results, summary, html = _outputs(project)
    assert results["suites"][0]["not_run"] == 1
    assert results["suites"][0]["n_cases"] == 2
    assert "(over 2 of 3 cases)" in results["gates"][0]["message"]
    lines = [line for line in summary.splitlines() if line.strip()]
    # Not the green "Run passed" of a whole run, and the suite's table says what it covers.
    assert lines[1].startswith("⚠️ **Run passed on part of its suites: 1 of 3 cases")
    assert "2 of 3 cases ran" in summary
    assert 'class="verdict warn" id="verdict">passed on part of its suites' in html
    assert "2 of 3 cases ran" in html
    # History: the run is marked, so its trend points are not read as the whole suite's.
    runs = recent_runs(resolve_url(None, project.path / "reports"))
    assert runs[0].incomplete == "1 of 3 cases of suite s not run"


def test_a_whole_run_reads_as_before(project: pytest.Pytester) -> None:
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    results, summary, _ = _outputs(project)
    assert results["suites"][0]["not_run"] == 0
    assert "over " not in results["gates"][0]["message"]
    assert "part of its suites" not in summary
    assert recent_runs(resolve_url(None, project.path / "reports"))[0].incomplete is None
    result.stdout.fnmatch_lines(["suite s: 3 cases, 0 errored"])


def test_a_gate_over_a_metric_some_cases_could_not_score_says_over_how_many(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
from pytest_mleval import metric

@metric("weird", threshold=0.5)
def weird(sample):
    return {"a": float("nan"), "b": float("nan"), "c": 0.9}[sample.input], "x"
"""
    )
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        t="suite: s\ntarget: python:app:echo\nmetrics: [weird]\n"
        "gates:\n  - {metric: weird, stat: mean, min: 0.6}\n"
        "cases:\n  - {id: a, input: a}\n  - {id: b, input: b}\n  - {id: c, input: c}\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["gate s: PASS mean(weird) = 0.9000 * (over 1 of 3 cases)"])
    results, summary, _ = _outputs(pytester)
    assert "(over 1 of 3 cases)" in results["gates"][0]["message"]
    assert "over 1 of 3 cases" in summary


def test_run_status_of_a_partial_run() -> None:
    case = CaseResult(suite="s", case_id="a", passed=True)
    whole = RunResults(meta=RunMeta(exit_status=0), cases=[case], suites=[SuiteInfo(name="s")])
    assert run_status(whole) == ("passed", "passed")
    part = whole.model_copy(update={"suites": [SuiteInfo(name="s", n_cases=1, not_run=2)]})
    status, text = run_status(part)
    assert status == "partial"
    assert text.startswith("passed on part of its suites: 2 of 3 cases of suite s not run")
    failed = part.model_copy(update={"meta": RunMeta(exit_status=1)})
    status, text = run_status(failed)
    assert status == "failed" and "2 of 3 cases of suite s not run" in text


SKIPPING = """
import pytest

def answer(case):
    if case.input == "bad":
        pytest.skip("needs a GPU")
    return case.input
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_case_its_target_skipped_is_skipped_not_errored(
    project: pytest.Pytester, workers: list[str]
) -> None:
    project.makepyfile(app=SKIPPING)
    (project.path / "t.eval.yaml").write_text(SUITE.replace("app:echo", "app:answer"))
    result = project.runpytest(*workers)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "run passed on part of its suites: 1 of 3 cases of suite s not run",
            "suite s: 2 of 3 cases ran (1 skipped), 0 errored",
            "  skipped: c (needs a GPU)",
            "  pass_rate * 1.000 *",
            "gate s: PASS pass_rate = 1.0000 * (over 2 of 3 cases)",
        ]
    )
    results, summary, html = _outputs(project)
    assert sorted(c["case_id"] for c in results["cases"]) == ["a", "b"]
    assert results["suites"][0]["skipped"] == {"c": "needs a GPU"}
    assert results["suites"][0]["not_run"] == 0
    assert "errored" not in summary.split("### s")[1].split("###")[0]
    assert "needs a GPU" in summary and "needs a GPU" in html


def test_a_suite_whose_every_case_was_skipped_fails_its_gates(project: pytest.Pytester) -> None:
    # A target that skips without its API key must not turn the gate green.
    project.makepyfile(app="import pytest\n\ndef answer(case):\n    pytest.skip('no API key')\n")
    (project.path / "t.eval.yaml").write_text(SUITE.replace("app:echo", "app:answer"))
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(
        [
            "suite s: 0 of 3 cases ran (3 skipped), 0 errored",
            "gate s: FAIL gate cannot be evaluated: no case of the suite ran (3 skipped)",
        ]
    )


def test_a_skip_reason_is_redacted_under_redact(project: pytest.Pytester) -> None:
    project.makepyfile(
        app="import pytest\n\ndef answer(case):\n"
        "    if case.input == 'bad':\n        pytest.skip('ask jane.doe@example.com')\n"
        "    return case.input\n"
    )
    (project.path / "t.eval.yaml").write_text(SUITE.replace("app:echo", "app:answer"))
    project.runpytest("--mleval-redact").assert_outcomes(passed=2, skipped=1)
    results, summary, html = _outputs(project)
    for text in (json.dumps(results), summary, html):
        assert "jane.doe@example.com" not in text
    assert results["suites"][0]["skipped"]["c"].startswith("ask ")


NO_JUDGE = """
suite: polite
target: python:app:echo
metrics:
  - judge: {rubric: "Is the answer polite?", threshold: 0.8}
  - rouge_l
gates:
  - {metric: pass_rate, min: 0.5}
cases:
  - {id: judged-only, input: ok, expected: ok}
  - id: also-contains
    input: ok
    expected: ok
    metrics:
      - contains: {value: ok}
"""


def test_a_case_nothing_could_check_is_skipped_not_passed(project: pytest.Pytester) -> None:
    # No judge model is configured: the judge is skipped, so the first case was checked by
    # nothing. It read "passed" (and the gate PASS) whatever its output.
    (project.path / "t.eval.yaml").write_text(NO_JUDGE)
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "suite polite: 1 of 2 cases ran (1 skipped), 0 errored",
            "  skipped: judged-only (no metric could give a verdict: judge: no judge model*",
            "gate polite: PASS pass_rate = 1.0000 * (over 1 of 2 cases)",
            # At the case's line in its eval file, as a skip mark is reported.
            "SKIPPED [[]1[]] t.eval.yaml:10: no metric could give a verdict: judge: no judge*",
        ]
    )
    results, _, _ = _outputs(project)
    assert [c["case_id"] for c in results["cases"]] == ["also-contains"]
    assert results["cases"][0]["passed"] is True


def test_a_suite_nothing_could_check_fails_its_gates(project: pytest.Pytester) -> None:
    (project.path / "t.eval.yaml").write_text(NO_JUDGE.split("  - id: also-contains")[0])
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["gate polite: FAIL gate cannot be evaluated: no case of the suite ran (1 skipped)"]
    )


def test_a_suite_without_thresholds_stays_informational(project: pytest.Pytester) -> None:
    # Chosen by the file: scores only, nothing skipped.
    (project.path / "t.eval.yaml").write_text(
        "suite: info\ntarget: python:app:echo\nmetrics: [rouge_l]\n"
        "cases:\n  - {id: a, input: ok, expected: ok}\n"
    )
    project.runpytest().assert_outcomes(passed=1)
    results, _, _ = _outputs(project)
    assert results["cases"][0]["scores"]["rouge_l"]["score"] == 1.0


def test_no_verdict_rules() -> None:
    from pytest_mleval.metrics.registry import Scored, no_verdict

    def s(**kw: object) -> Scored:
        base: dict[str, object] = {"name": "m", "score": None, "threshold": None}
        base.update({"max": None, "passed": None, "weight": 1.0})
        return Scored(**{**base, **kw})  # type: ignore[arg-type]

    judge_skipped = s(name="judge", threshold=0.8, skipped="no judge model")
    assert no_verdict([judge_skipped]) == "no metric could give a verdict: judge: no judge model"
    assert no_verdict([judge_skipped, s(name="rouge_l", score=0.2)]) is not None
    assert no_verdict([judge_skipped, s(score=1.0, threshold=1.0, passed=True)]) is None
    assert no_verdict([judge_skipped, s(error="boom", passed=False)]) is None
    assert no_verdict([s(score=0.1)]) is None  # informational by choice
    assert no_verdict([s(skipped="x")]) is None
    # Under pass_score every weighted metric counts; all skipped is no verdict.
    assert no_verdict([s(skipped="x")], pass_score=0.5) is not None
    assert no_verdict([s(skipped="x"), s(score=0.9)], pass_score=0.5) is None


REPEATED = """
suite: r
target: python:app:echo
repeats: 3
metrics:
  - contains: {value: ok, threshold: 1}
gates:
  - {metric: pass_rate, min: 0.5}
cases:
  - {id: a, input: ok}
  - {id: b, input: ok}
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_case_run_on_part_of_its_repeats_is_named(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    # `-k r1` (or --lf rerunning the one repeat that failed) ran each case once of its 3
    # repeats: the case read as whole, its one repeat standing for three, and "Run passed".
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", t=REPEATED)
    result = pytester.runpytest("-k", "r1", *workers)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "run passed on part of its suites: 4 of 6 repeats of suite r not run",
            "suite r: 2 cases (4 of 6 repeats not run), 0 errored",
        ]
    )
    results, summary, html = _outputs(pytester)
    assert results["suites"][0]["repeats_not_run"] == 4
    assert results["suites"][0]["not_run"] == 0
    lines = [line for line in summary.splitlines() if line.strip()]
    assert lines[1].startswith("⚠️ **Run passed on part of its suites: 4 of 6 repeats of suite r")
    assert 'class="verdict warn" id="verdict">passed on part of its suites' in html
    # All repeats: a whole run, as before.
    pytester.runpytest(*workers)
    results, summary, _ = _outputs(pytester)
    assert results["suites"][0]["repeats_not_run"] == 0
    assert "part of its suites" not in summary
