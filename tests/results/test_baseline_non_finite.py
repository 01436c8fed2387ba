"""A results file holding NaN or Infinity is rejected when it is read, naming file and line.

Python's json reads the tokens JSON has not: a baseline with a NaN score ran every case and
then ended with "baseline must be finite" (exit 3, the previous run's reports left in place),
and `mleval compare` printed a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cli import main
from pytest_mleval.errors import ResultsFileError
from pytest_mleval.results.records import load_results

SUITE = """suite: s
target: python:app:echo
metrics: [exact]
cases:
  - {id: a, input: x, expected: x}
  - {id: b, input: y, expected: y}
"""


def _project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(".eval.yaml", s=SUITE)


def _poison(path: Path, token: str) -> int:
    """Replace the first case's exact score by ``token``; return its line."""
    data = json.loads(path.read_text())
    data["cases"][0]["scores"]["exact"]["score"] = "@@"
    text = json.dumps(data, indent=2).replace('"@@"', token)
    path.write_text(text)
    return next(i for i, line in enumerate(text.splitlines(), 1) if token in line)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_baseline_with_a_non_finite_score_stops_the_run_at_once(
    pytester: pytest.Pytester, token: str
) -> None:
    _project(pytester)
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=2)
    line = _poison(pytester.path / "base.json", token)
    result = pytester.runpytest("--mleval-baseline", "base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--mleval-baseline: *base.json (line {line}) holds {token}, which is not a JSON number*"]
    )
    with pytest.raises(ResultsFileError):
        load_results(pytester.path / "base.json")


def test_mleval_compare_names_the_file_without_a_traceback(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(pytester)
    pytester.runpytest("--mleval-save-baseline", "base.json").assert_outcomes(passed=2)
    cand = pytester.path / "reports" / "mleval-results.json"
    _poison(pytester.path / "base.json", "NaN")
    status = main(["compare", str(pytester.path / "base.json"), str(cand)])
    err = capsys.readouterr().err
    assert status == 2 and "holds NaN" in err and "Traceback" not in err


def test_nan_inside_a_string_is_text(tmp_path: Path) -> None:
    from pytest_mleval.results.records import _token_line

    text = '{"output": "NaN or Infinity",\n "score": NaN}'
    assert _token_line(text, "NaN") == " (line 2)"
