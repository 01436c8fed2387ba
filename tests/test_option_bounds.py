"""Counts and durations among the run's options outside their range are usage errors.

Before: `--mleval-repeats 0` ran each suite's own repeats, `--mleval-repeats -1` collected
nothing (exit 5, no reports), and a zero concurrency, a negative or NaN timeout and a negative
or NaN budget were accepted (a NaN timeout or budget never fires).
"""

from __future__ import annotations

import pytest

SUITE = """suite: s
target: python:app:echo
metrics: [exact]
cases:
  - {id: a, input: x, expected: x}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)
    return pytester


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("--mleval-repeats=0", ">= 1"),
        ("--mleval-repeats=-1", ">= 1"),
        ("--mleval-concurrency=0", ">= 1"),
        ("--mleval-max-retries=-1", ">= 0"),
        ("--mleval-retry-delay=nan", ">= 0"),
        ("--mleval-timeout=0", "> 0"),
        ("--mleval-timeout=nan", "> 0"),
        ("--mleval-timeout=-5", "> 0"),
        ("--mleval-max-cost=-1", ">= 0"),
        ("--mleval-max-cost=nan", ">= 0"),
        ("--mleval-max-cost=inf", ">= 0"),
        ("--mleval-render-timeout=0", "> 0"),
        ("--mleval-max-prompt-chars=0", ">= 1"),
        ("--mleval-max-output-chars=0", ">= 1"),
    ],
)
def test_an_option_out_of_range_is_a_usage_error(
    project: pytest.Pytester, flag: str, says: str
) -> None:
    result = project.runpytest(flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    name = flag.split("=")[0]
    result.stderr.fnmatch_lines([f"*{name} must be a finite number {says}, got *"])


def test_the_ini_twin_is_checked_too(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmleval_repeats = 0\n")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mleval-repeats must be a finite number >= 1, got 0*"])


@pytest.mark.parametrize(
    "flag", ["--mleval-repeats=2", "--mleval-max-cost=0", "--mleval-max-retries=0"]
)
def test_options_in_range_run(project: pytest.Pytester, flag: str) -> None:
    assert project.runpytest(flag).ret == 0
