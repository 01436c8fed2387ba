"""Dataset cells are read as written, and rows split only where the file's lines end.

Before: a CSV `expected` cell starting with `[` or `{` was parsed as JSON (`[1, 2]` became
the two references "1" and "2", so the exact output `[1, 2]` failed), as was a JSONL text
value; a duplicate CSV header let the last column win silently; U+2028, U+0085 or a form feed
inside a cell split one row into two cases (`str.splitlines`), and valid JSONL holding a raw
U+2028 was rejected; a cell over 131,072 characters was rejected; a blank `id` cell became
the id "".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, name: str, data: str | bytes) -> Suite:
    target = tmp_path / name
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8", newline="")
    (tmp_path / "t.eval.yaml").write_text(f"suite: t\nmetrics: [exact]\ndataset: {name}\n")
    return load_suite(tmp_path / "t.eval.yaml", known_metric=unknown_metric_problem)


@pytest.mark.parametrize("cell", ["[1, 2]", '{"a": 1}', "[draft]"])
def test_a_csv_expected_cell_is_text(tmp_path: Path, cell: str) -> None:
    quoted = '"' + cell.replace('"', '""') + '"'
    suite = _load(tmp_path, "rows.csv", f"id,input,expected\nq1,x,{quoted}\n")
    assert suite.cases[0].expected == cell


def test_a_jsonl_text_value_is_not_parsed_again(tmp_path: Path) -> None:
    row = {"id": "q1", "input": "x", "expected": "[1, 2]", "context": "[see above]"}
    suite = _load(tmp_path, "rows.jsonl", json.dumps(row) + "\n")
    assert suite.cases[0].expected == "[1, 2]"
    assert suite.cases[0].context == ["[see above]"]  # one passage, as written


def test_a_csv_context_cell_may_still_hold_a_json_list(tmp_path: Path) -> None:
    suite = _load(tmp_path, "rows.csv", 'id,input,context\nq1,x,"[""a"", ""b""]"\n')
    assert suite.cases[0].context == ["a", "b"]


def test_a_duplicate_csv_header_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, "rows.csv", "id,input,expected,expected\nq1,x,a,b\n")
    assert exc.value.line == 1 and "expected" in exc.value.message
    assert "more than once" in exc.value.message


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c"])
def test_a_unicode_line_separator_inside_a_cell_does_not_split_the_row(
    tmp_path: Path, sep: str
) -> None:
    suite = _load(tmp_path, "rows.csv", f'id,input,expected\nq1,"a{sep}b",x\nq2,c,y\n')
    assert [(c.id, c.input) for c in suite.cases] == [("q1", f"a{sep}b"), ("q2", "c")]
    assert [c.id for c in _load(tmp_path, "rows.csv", f"id,input\nq1,a{sep}b\n").cases] == ["q1"]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_jsonl_with_a_raw_unicode_line_separator_loads(tmp_path: Path, sep: str) -> None:
    line = json.dumps({"id": "q1", "input": f"a{sep}b"}, ensure_ascii=False)
    assert sep in line
    suite = _load(tmp_path, "rows.jsonl", line + "\n" + json.dumps({"id": "q2", "input": "c"}))
    assert [(c.id, c.input) for c in suite.cases] == [("q1", f"a{sep}b"), ("q2", "c")]


def test_csv_line_numbers_count_crlf_and_quoted_newlines(tmp_path: Path) -> None:
    suite = _load(tmp_path, "rows.csv", 'input,expected\r\n"a\r\nb",x\r\nc,y\r\n')
    assert [c.input for c in suite.cases] == ["a\nb", "c"]  # read with universal newlines
    assert [suite.lines[c.id] for c in suite.cases] == [3, 4]


def test_a_long_csv_cell_loads(tmp_path: Path) -> None:
    long = "w " * 100_000  # 200,000 characters: a long document as context
    suite = _load(tmp_path, "rows.csv", f'id,input,expected\nq1,"{long}",x\n')
    assert suite.cases[0].input == long


def test_a_blank_csv_id_is_no_id(tmp_path: Path) -> None:
    suite = _load(tmp_path, "rows.csv", "id,input\n,a\nq2,b\n")
    assert [c.id for c in suite.cases] == ["rows-2", "q2"]


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ('{"id": "a", "input": "x", "input": "y"}', "key 'input' given twice"),
        ('{"id": "a", "input": "x", "vars": {"k": 1, "k": 2}}', "key 'k' given twice"),
        ('{"id": "a", "input": "x", "expected": NaN}', "NaN is not a JSON number"),
        ('{"id": "a", "input": "x", "vars": {"n": -Infinity}}', "-Infinity is not a JSON"),
    ],
)
def test_what_json_has_not_is_a_dataset_error(tmp_path: Path, row: str, says: str) -> None:
    # Python's json let the last key win and read NaN: the case ran on the second input.
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, "rows.jsonl", '{"id": "ok", "input": "z"}\n' + row + "\n")
    assert exc.value.line == 2 and says in exc.value.message
    with pytest.raises(EvalFileError, match=r"given twice|not a JSON number"):
        _load(tmp_path, "rows.json", f"[{row}]")


@pytest.mark.parametrize("written", ['""', "' '"])
def test_a_blank_id_is_an_error(tmp_path: Path, written: str) -> None:
    (tmp_path / "t.eval.yaml").write_text(
        f"suite: t\nmetrics: [exact]\ncases:\n  - {{id: a, input: x}}\n  - {{id: {written}, input: y}}\n"
    )
    with pytest.raises(EvalFileError) as exc:
        load_suite(tmp_path / "t.eval.yaml")
    assert exc.value.line == 5 and "must not be empty or blank" in exc.value.message
    with pytest.raises(EvalFileError, match="must not be empty or blank"):
        _load(tmp_path, "rows.jsonl", '{"id": "", "input": "x"}\n')
