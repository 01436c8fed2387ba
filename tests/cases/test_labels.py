"""Human labels in eval files (``labels:``): the spellings, files, scales, and every load error
naming its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cases import load_suite
from pytest_mleval.cases.labels import human_metric, suite_labels
from pytest_mleval.errors import EvalFileError

HEAD = """suite: s
target: python:app:f
metrics:
  - judge: {criteria: correct}
  - {metric: judge, name: tone, criteria: polite}
cases:
  - {id: a, input: x}
  - {id: b, input: y}
  - {id: c, input: z, metrics: [exact]}
"""


def write(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> Path:
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "s.eval.yaml"
    path.write_text(HEAD + body)
    return path


def test_inline_values_one_entry(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, "labels: {metric: judge, values: {a: 0.5, b: 1}}\n"))
    (ls,) = suite.labels
    assert (ls.metric, ls.values, ls.variant) == ("judge", {"a": 0.5, "b": 1.0}, None)
    assert suite_labels(suite) == {"judge": ls}
    assert human_metric("judge") == "judge:human"


def test_files_scales_and_several_metrics(tmp_path: Path) -> None:
    files = {
        "labels.jsonl": '{"id": "a", "judge": 0.25, "tone": 1}\n\n{"id": "b", "tone": 0}\n',
        "rubric.csv": "case,stars\nb,\nc,2\n",
    }
    body = (
        "labels:\n"
        "  - {metric: judge, path: labels.jsonl}\n"
        "  - {metric: tone, path: labels.jsonl}\n"
        "  - {metric: exact, path: rubric.csv, column: stars, id_column: case, scale: [1, 5]}\n"
    )
    suite = load_suite(write(tmp_path, body, files))
    by = {ls.metric: ls.values for ls in suite.labels}
    # A row without the metric's score labels other metrics only; a blank CSV cell likewise.
    assert by == {"judge": {"a": 0.25}, "tone": {"a": 1.0, "b": 0.0}, "exact": {"c": 0.25}}


def test_labels_follow_their_variant(tmp_path: Path) -> None:
    body = (
        "variants: [{name: one}, {name: two, prompt: 'x {{ input }}'}]\n"
        "labels: {metric: judge, values: {a: 0.5}, variant: two}\n"
    )
    suite = load_suite(write(tmp_path, body))
    runs = {s.variant: s for s in suite.expand()}
    assert suite_labels(runs["one"]) == {}
    assert suite_labels(runs["two"])["judge"].values == {"a": 0.5}


def error(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> EvalFileError:
    with pytest.raises(EvalFileError) as info:
        load_suite(write(tmp_path, body, files))
    return info.value


LINE = HEAD.count("\n") + 1  # the line `labels:` is on


@pytest.mark.parametrize(
    ("body", "line", "field", "case_id", "words"),
    [
        (
            "labels: {metric: judge, values: {a: 0.5, zz: 1}}\n",
            LINE,
            "labels.values",
            "zz",
            "does not have",
        ),
        (
            "labels:\n  - metric: judge\n    values:\n      a: 0.5\n      b: good\n",
            LINE + 4,
            "labels.values",
            "b",
            "must be a number",
        ),
        (
            "labels:\n  - {metric: helpful, values: {a: 1}}\n",
            LINE + 1,
            "labels.metric",
            None,
            "does not score",
        ),
        (
            "labels: {metric: judge, values: {a: 4}}\n",
            LINE,
            "labels.values",
            "a",
            "scale: [low, high]",
        ),
        (
            "labels: {metric: judge, values: {a: 7}, scale: [1, 5]}\n",
            LINE,
            "labels.values",
            "a",
            "off the labels' scale",
        ),
        ("labels: {metric: exact, values: {a: 1}}\n", LINE, "labels.values", "a", "does not score"),
        ("labels: {metric: judge, values: {a: true}}\n", LINE, "labels.values", "a", "a number"),
        (
            "labels:\n  - {metric: judge, values: {a: 1}}\n  - {metric: judge, values: {b: 1}}\n",
            LINE + 2,
            "labels.metric",
            None,
            "labelled twice",
        ),
        (
            "labels: {metric: judge, values: {a: 1}, path: l.jsonl}\n",
            LINE,
            "labels",
            None,
            "one of them",
        ),
        ("labels: {metric: judge, path: nope.jsonl}\n", LINE, "labels.path", None, "not found"),
        (
            "labels: {metric: judge, values: {a: 1}, variant: v}\n",
            LINE,
            "labels.variant",
            None,
            "not a variant",
        ),
        (
            "variants: [{name: v}]\nlabels: {metric: judge, values: {a: 1}}\n",
            LINE + 1,
            "labels.variant",
            None,
            "say whose outputs",
        ),
        (
            "gates:\n  - {metric: judge, min: 0.5}\n  - {metric: tone, stat: ppi_mean, min: 0.5}\n",
            LINE + 2,
            "gates.stat",
            None,
            "needs human labels",
        ),
    ],
)
def test_load_errors_name_line_and_field(
    tmp_path: Path, body: str, line: int, field: str, case_id: str | None, words: str
) -> None:
    err = error(tmp_path, body)
    assert err.path == str(tmp_path / "s.eval.yaml")
    assert (err.line, err.field, err.case_id) == (line, field, case_id), err.describe()
    assert words in err.message


def test_file_errors_name_the_labels_file_and_row(tmp_path: Path) -> None:
    body = "labels: {metric: judge, path: labels.jsonl}\n"
    rows = '{"id": "a", "judge": 1}\n{"id": "zz", "judge": 1}\n'
    err = error(tmp_path, body, {"labels.jsonl": rows})
    assert (err.path, err.line, err.case_id, err.field) == (
        str(tmp_path / "labels.jsonl"),
        2,
        "zz",
        "judge",
    )
    err = error(tmp_path, body, {"labels.jsonl": '{"id": "a", "judge": "high"}\n'})
    assert (err.line, err.case_id) == (1, "a") and "must be a number" in err.message
    err = error(tmp_path, body, {"labels.jsonl": '{"judge": 1}\n'})
    assert err.line == 1 and err.field == "id" and "no case id" in err.message
    err = error(
        tmp_path, body, {"labels.jsonl": '{"id": "a", "judge": 1}\n{"id": "a", "judge": 0}\n'}
    )
    assert err.line == 2 and "labelled twice" in err.message and "line 1" in err.message
    csv_body = "labels: {metric: judge, path: l.csv}\n"
    err = error(tmp_path, csv_body, {"l.csv": "id,judge\na,1\nb,1.5\n"})
    assert (err.path, err.line, err.case_id) == (str(tmp_path / "l.csv"), 3, "b")
    err = error(tmp_path, "labels: {metric: judge, path: l.txt}\n", {"l.txt": "a 1\n"})
    assert err.field == "labels.path" and "JSONL or CSV" in err.message


def test_a_suite_without_labels_is_unchanged(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, ""))
    assert suite.labels == [] and suite.spec.labels == []


def test_the_editor_schema_takes_both_spellings() -> None:
    import jsonschema

    from pytest_mleval.cases.jsonschema import eval_file_json_schema

    validator = jsonschema.Draft202012Validator(eval_file_json_schema())
    one = {"metric": "judge", "values": {"a": 0.5}}
    for labels in (one, [one, {"metric": "tone", "path": "l.jsonl", "scale": [1, 5]}]):
        assert [e.message for e in validator.iter_errors({"labels": labels})] == []
    assert list(validator.iter_errors({"labels": {"metric": "judge", "values": {"a": "x"}}}))
    gate = {"metric": "judge", "stat": "ppi_mean", "min": 0.5}
    assert [e.message for e in validator.iter_errors({"gates": [gate]})] == []
