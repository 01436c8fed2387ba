"""An eval file that runs nothing warns once, saying why, at a line of the file."""

from __future__ import annotations

import pytest

HEAD = "suite: s\ntarget: python:app:echo\nmetrics: [exact]\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    return pytester


def _warnings(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "EvalFileWarning:" in line]


@pytest.mark.parametrize(
    ("dataset", "files"),
    [
        ("dataset: rows.csv", {"rows.csv": "input,expected\n"}),
        ("dataset: rows.jsonl", {"rows.jsonl": ""}),
        ("dataset: {path: rows.csv, mapping: {input: q}}", {"rows.csv": "q\n"}),
        ("cases: []\ndataset: [rows.csv]", {"rows.csv": "input\n"}),
    ],
)
def test_a_dataset_without_rows_is_named_in_the_warning(
    project: pytest.Pytester, dataset: str, files: dict[str, str]
) -> None:
    for name, text in files.items():
        (project.path / name).write_text(text)
    project.makefile(".eval.yaml", rows=HEAD + dataset + "\n")
    result = project.runpytest("-W", "default")
    result.assert_outcomes(warnings=1)
    (warning,) = _warnings(result)
    name = next(iter(files))
    line = 5 if dataset.startswith("cases") else 4
    assert f"rows.eval.yaml:{line}: EvalFileWarning:" in warning, warning
    assert f"its dataset {name!r} has no rows" in warning, warning
    assert "add `cases:`" not in warning, warning


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("", 1),
        ("# nothing yet\n", 1),
        ("---\n", 1),
        ("suite: later\ntarget: python:app:echo\n", 1),
        ("suite: later\ntarget: python:app:echo\ncases: []\n", 3),
    ],
)
def test_a_file_without_cases_warns_at_a_line_of_it(
    project: pytest.Pytester, body: str, line: int
) -> None:
    project.makefile(".eval.yaml", empty=body)
    result = project.runpytest("-W", "default")
    result.assert_outcomes(warnings=1)
    (warning,) = _warnings(result)
    assert f"empty.eval.yaml:{line}: EvalFileWarning: eval file empty.eval.yaml has no cases" in (
        warning
    )
    assert "(add `cases:` or a `dataset:`)" in warning
    assert "empty.eval.yaml:0" not in result.stdout.str()
