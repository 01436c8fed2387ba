"""Collection errors are part of the run: every output says the run is incomplete."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pytest_mleval.report.history import recent_runs, resolve_url
from pytest_mleval.report.summary import render_summary
from pytest_mleval.results.records import (
    CaseResult,
    CollectionError,
    RunMeta,
    RunResults,
    run_status,
)

GOOD = """
suite: good
target: python:app:echo
metrics: [exact]
gates:
  - {metric: pass_rate, min: 0.5}
cases:
  - {id: ok, input: a, expected: a}
  - {id: ok2, input: b, expected: b}
"""
MALFORMED = "suite: broken\ncases:\n  - id: x\n    input: [unclosed\n"
UNKNOWN_METRIC = (
    "suite: typo\ntarget: python:app:echo\nmetrics: [rogue_l]\ncases: [{id: a, input: a}]\n"
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", good=GOOD, malformed=MALFORMED, typo=UNKNOWN_METRIC)
    return pytester


def _outputs(pytester: pytest.Pytester) -> tuple[dict, str, str]:  # type: ignore[type-arg]
    reports = pytester.path / "reports"
    results = json.loads((reports / "mleval-results.json").read_text())
    summary = (reports / "mleval-summary.md").read_text()
    html = (reports / "mleval-report.html").read_text()
    return results, summary, html


def test_broken_files_appear_in_every_output(project: pytest.Pytester) -> None:
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, errors=2)
    # Terminal: the mleval summary starts with the incomplete verdict and the broken files.
    result.stdout.fnmatch_lines(
        [
            "*mleval summary*",
            "run incomplete: 2 file(s) could not be collected*",
            "not collected: malformed.eval.yaml:*",
            "not collected: typo.eval.yaml*rogue_l*",
        ]
    )
    results, summary, html = _outputs(project)
    errors = {e["file"]: e for e in results["collection_errors"]}
    assert set(errors) == {"malformed.eval.yaml", "typo.eval.yaml"}
    assert errors["malformed.eval.yaml"]["line"] is not None
    assert "rogue_l" in errors["typo.eval.yaml"]["message"]
    assert results["meta"]["exit_status"] == 1
    assert results["meta"]["incomplete"]
    # Markdown: the headline comes from the exit status and says incomplete before any table.
    lines = [line for line in summary.splitlines() if line.strip()]
    assert lines[1].startswith("⚠️ **Run incomplete")
    assert summary.index("malformed.eval.yaml") < summary.index("Gates:")
    assert "passed** ✅" not in lines[1]
    # HTML: the badge and an incomplete section listing the files.
    assert 'id="incomplete"' in html and "typo.eval.yaml" in html
    assert 'class="verdict bad" id="verdict">incomplete' in html
    # History: the run is marked incomplete.
    runs = recent_runs(resolve_url(None, project.path / "reports"))
    assert runs[0].incomplete and "could not be collected" in runs[0].incomplete


def test_broken_files_with_a_baseline_never_read_all_green(project: pytest.Pytester) -> None:
    (project.path / "malformed.eval.yaml").unlink()
    (project.path / "typo.eval.yaml").unlink()
    project.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=2)
    project.makefile(".eval.yaml", malformed=MALFORMED)
    result = project.runpytest("--mleval-baseline", "base.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    _, summary, _ = _outputs(project)
    assert "Run incomplete" in summary.splitlines()[2]


def test_only_broken_files_still_write_outputs(pytester: pytest.Pytester) -> None:
    pytester.makefile(".eval.yaml", malformed=MALFORMED)
    result = pytester.runpytest()
    assert result.ret != 0
    results, summary, _ = _outputs(pytester)
    assert results["cases"] == [] and len(results["collection_errors"]) == 1
    assert "Run incomplete" in summary


def test_a_project_without_eval_files_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="import nonexistent_module_xyz\n")
    pytester.runpytest()
    assert not (pytester.path / "reports").exists()


def test_cases_stopped_by_x_mark_the_run_incomplete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return 'no'\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=GOOD)
    result = pytester.runpytest("-x")
    result.assert_outcomes(failed=1)
    results, summary, _ = _outputs(pytester)
    assert any("1 of 2 eval item(s) did not run" in w for w in results["meta"]["incomplete"])
    assert "Run incomplete" in summary


def test_headline_derives_from_exit_status() -> None:
    case = CaseResult(suite="s", case_id="a", passed=True)
    assert run_status(RunResults(meta=RunMeta(exit_status=0), cases=[case]))[0] == "passed"
    # pytest failed (e.g. a plain test next to the evals): never "passed".
    failed = RunResults(meta=RunMeta(exit_status=1), cases=[case])
    assert run_status(failed)[0] == "failed"
    assert "❌ **Run failed" in render_summary(failed)
    broken = RunResults(
        meta=RunMeta(exit_status=1),
        cases=[case],
        collection_errors=[CollectionError(nodeid="x.eval.yaml", file="x.eval.yaml", message="m")],
    )
    assert run_status(broken)[0] == "incomplete"


def test_headline_counts_errored_cases_apart_from_failed_ones() -> None:
    cases = [
        CaseResult(suite="s", case_id="ok", passed=True),
        CaseResult(suite="s", case_id="wrong", passed=False),
        CaseResult(suite="s", case_id="boom", passed=False, error="RuntimeError: x"),
        # A repeat that errored beside one that failed: the case could not be scored.
        CaseResult(suite="s", case_id="flaky", passed=False, repeat=0),
        CaseResult(suite="s", case_id="flaky", passed=False, repeat=1, error="TimeoutError"),
    ]
    status, text = run_status(RunResults(meta=RunMeta(exit_status=1), cases=cases))
    assert status == "failed"
    assert "1 case(s) failed" in text
    assert "2 case(s) errored" in text


def test_history_written_by_an_older_version_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE mleval_runs (id INTEGER PRIMARY KEY, run_key VARCHAR(64) NOT NULL UNIQUE,"
        " started_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40) NOT NULL,"
        " recorded_at VARCHAR(40) NOT NULL, git_sha VARCHAR(64), git_branch VARCHAR(255),"
        " tool_version VARCHAR(64), duration_s FLOAT NOT NULL, n_cases INTEGER NOT NULL,"
        " n_passed INTEGER NOT NULL, n_failed INTEGER NOT NULL, n_errored INTEGER NOT NULL,"
        " cost_usd FLOAT NOT NULL, total_tokens INTEGER NOT NULL, gates_total INTEGER NOT NULL,"
        " gates_failed INTEGER NOT NULL, exit_status INTEGER, models TEXT NOT NULL)"
    )
    con.execute(
        "INSERT INTO mleval_runs VALUES (1, 'k', 't0', 't1', 't2', NULL, NULL, '0', 1.0, 1, 1,"
        " 0, 0, 0.0, 0, 0, 0, 0, '[]')"
    )
    con.commit()
    con.close()
    runs = recent_runs(resolve_url(str(db)))
    assert len(runs) == 1 and runs[0].incomplete is None


def test_a_test_modules_syntax_error_is_located_in_that_module(pytester: pytest.Pytester) -> None:
    # Before, the record named pytest's own python.py:528 (the first "path:line:" of the
    # traceback) as the file and line, and the Markdown showed that path.
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", good=GOOD)
    pytester.makepyfile(test_syntax="x = 1\ndef broken(:\n    pass\n")
    result = pytester.runpytest("--continue-on-collection-errors")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    results, summary, _ = _outputs(pytester)
    [error] = results["collection_errors"]
    assert (error["file"], error["line"]) == ("test_syntax.py", 2)
    assert "SyntaxError" in error["message"]
    assert "_pytest" not in summary.split("SyntaxError")[0].rsplit("test_syntax.py", 1)[-1]
    assert "`test_syntax.py:2`" in summary
