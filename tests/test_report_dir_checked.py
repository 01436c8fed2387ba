"""A report directory the run cannot write is a usage error before any case runs.

Before: ``--mleval-report-dir`` under a file (a typo'd CI path) ran every case, paid for
every model call, then ended with exit 3 and "could not finish the run's results" and wrote
nothing at all. The default directory is not created up front: a plain run of unit tests in
a project with the plugin installed must not make a ``reports/`` directory.
"""

from __future__ import annotations

import pytest

SUITE = (
    "suite: s\ntarget: python:app:echo\nmetrics: [exact]\ncases: [{id: a, input: x, expected: x}]\n"
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)
    (pytester.path / "afile").write_text("not a directory\n")
    return pytester


@pytest.mark.parametrize("how", ["flag", "ini"])
def test_an_unwritable_report_dir_stops_the_run_before_any_case(
    project: pytest.Pytester, how: str
) -> None:
    if how == "flag":
        result = project.runpytest("--mleval-report-dir=afile/out")
    else:
        project.makeini("[pytest]\nmleval_report_dir = afile/out\n")
        result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mleval-report-dir afile/out: cannot write there*"])
    assert "passed" not in result.stdout.str()


def test_a_plain_run_creates_no_report_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_a_given_report_dir_that_can_be_made_is_used(project: pytest.Pytester) -> None:
    result = project.runpytest("--mleval-report-dir=deep/er/out")
    result.assert_outcomes(passed=1)
    assert (project.path / "deep" / "er" / "out" / "mleval-results.json").is_file()


def test_an_unwritable_save_baseline_stops_the_run_too(project: pytest.Pytester) -> None:
    result = project.runpytest("--mleval-save-baseline=afile/base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mleval-save-baseline afile/base.json: cannot write there*"])
