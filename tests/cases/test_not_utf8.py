"""A file that is not UTF-8 names the line of its first undecodable byte.

Before: "not UTF-8 text (invalid continuation byte)" for the eval file, and "cannot read
dataset: 'utf-8' codec can't decode byte 0xe9 in position 31" for a dataset, which left the
user to find byte 31 of the file themselves; ``mleval calibrate`` on such a label file (or a
missing one) ended in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError

HEAD = b"suite: s\ntarget: python:app:echo\nmetrics: [exact]\n"


def test_an_eval_file_in_latin_1_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.eval.yaml"
    path.write_bytes(HEAD + b"cases:\n  - {id: c, input: caf\xe9, expected: x}\n")
    with pytest.raises(EvalFileError) as err:
        load_suite(path)
    assert err.value.line == 5
    assert str(err.value).startswith(f"{path}:5: not UTF-8 text")
    assert "byte 0xe9" in str(err.value)


@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl"])
def test_a_dataset_in_latin_1_names_its_line(tmp_path: Path, name: str) -> None:
    rows = (
        b"id,input,expected\nr1,a,a\nr2,caf\xe9,x\n"
        if name.endswith(".csv")
        else b'{"id": "r1", "input": "a"}\n{"id": "r2", "input": "caf\xe9"}\n'
    )
    (tmp_path / name).write_bytes(rows)
    path = tmp_path / "s.eval.yaml"
    path.write_bytes(HEAD + f"dataset: {name}\n".encode())
    with pytest.raises(EvalFileError) as err:
        load_suite(path)
    line = 3 if name.endswith(".csv") else 2
    assert err.value.path == str(tmp_path / name) and err.value.line == line
    assert "not UTF-8 text" in str(err.value) and "byte 0xe9" in str(err.value)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"human,judge\n1,1\n2,caf\xe9\n", "labels.csv:3: not UTF-8 text: byte 0xe9"),
        (None, "labels.csv: cannot read labels: No such file or directory"),
    ],
    ids=["latin-1", "missing"],
)
def test_mleval_calibrate_names_a_label_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, why: str
) -> None:
    # Before: a traceback (UnicodeDecodeError, FileNotFoundError) and no "mleval: error".
    from pytest_mleval.cli import main

    labels = tmp_path / "labels.csv"
    if content is not None:
        labels.write_bytes(content)
    assert main(["calibrate", str(labels)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mleval: error: ") and why in err
