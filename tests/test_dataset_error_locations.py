"""A dataset's error is located in the dataset: its file and row line in the results JSON.

Before: the results JSON gave the eval file and `line: null` for an error in a row of its
dataset (the message named the row, the record did not), and a case id given both in the eval
file and in its dataset said "first defined at line 4" without naming the eval file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError

SUITE = """suite: s
target: python:app:echo
metrics: [exact]
dataset: data/rows.jsonl
cases:
  - {id: a, input: x, expected: x}
"""


def test_a_dataset_row_error_names_the_dataset_and_row(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    other = "suite: t\ntarget: python:app:echo\nmetrics: [exact]\ncases: [{id: c, input: z}]\n"
    pytester.makefile(".eval.yaml", s=SUITE, t=other)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "rows.jsonl").write_text(
        '{"id": "b", "input": "y"}\n{"id": "c", "input": "z",\n'
    )
    result = pytester.runpytest()
    assert result.ret != 0
    (error,) = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())[
        "collection_errors"
    ]
    assert (error["file"], error["line"]) == (str(Path("data") / "rows.jsonl"), 2)
    assert error["nodeid"] == "s.eval.yaml"
    assert error["message"].startswith("invalid JSON")
    result.stdout.fnmatch_lines(
        [
            "run incomplete: 1 file(s) could not be collected: s.eval.yaml*",
            f"not collected: {Path('data') / 'rows.jsonl'}:2: invalid JSON*",
        ]
    )


def test_a_duplicate_id_across_files_names_the_first_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text(
        '{"id": "b", "input": "y"}\n{"id": "a", "input": "q"}\n'
    )
    (tmp_path / "s.eval.yaml").write_text(SUITE)
    with pytest.raises(EvalFileError) as exc:
        load_suite(tmp_path / "s.eval.yaml")
    err = exc.value
    assert err.path == str(tmp_path / "data" / "rows.jsonl") and err.line == 2
    assert f"first defined in {tmp_path / 's.eval.yaml'}, line 6" in err.message
