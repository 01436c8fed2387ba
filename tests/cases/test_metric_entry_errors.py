"""A metric entry's error names the metric, lists its options and points at the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def error(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> EvalFileError:
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "t.eval.yaml"
    path.write_text(body)
    with pytest.raises(EvalFileError) as exc:
        load_suite(path, known_metric=unknown_metric_problem)
    return exc.value


COMMON = [
    ("rouge_l: {threshold: high}", "rouge_l", "threshold", "rouge_l", "use_stemmer"),
    ("rouge_l: {weight: heavy}", "rouge_l", "weight", "rouge_l", "use_stemmer"),
    ("latency_ms: {max: soon}", "latency_ms", "max", "latency_ms", "threshold"),
    ("{name: rouge_l, threshold: lots}", "rouge_l", "threshold", "rouge_l", "use_stemmer"),
    ("contains: {name: has-x, value: x, threshold: hi}", "has-x", "threshold", "contains", "mode"),
    (
        "{metric: contains, name: has-x, value: x, weight: [1]}",
        "has-x",
        "weight",
        "contains",
        "mode",
    ),
]


@pytest.mark.parametrize(("entry", "label", "option", "metric", "also_valid"), COMMON)
def test_a_mistyped_common_option_of_a_case_names_the_metric(
    tmp_path: Path, entry: str, label: str, option: str, metric: str, also_valid: str
) -> None:
    body = f"cases:\n  - id: c1\n    input: x\n    metrics:\n      - exact\n      - {entry}\n"
    err = error(tmp_path, body)
    assert (err.case_id, err.field, err.line) == ("c1", f"metrics.{label}.{option}", 6)
    assert f"option {option!r} of metric {metric!r}: must be a number" in err.message
    assert "valid options:" in err.message and also_valid in err.message


@pytest.mark.parametrize(("entry", "label", "option", "metric", "also_valid"), COMMON)
def test_a_mistyped_common_option_of_the_suite_names_the_metric(
    tmp_path: Path, entry: str, label: str, option: str, metric: str, also_valid: str
) -> None:
    body = f"metrics:\n  - exact\n  - {entry}\ncases: [{{id: c1, input: x}}]\n"
    err = error(tmp_path, body)
    assert (err.case_id, err.field, err.line) == (None, f"metrics.{label}.{option}", 3)
    assert f"option {option!r} of metric {metric!r}: must be a number" in err.message
    assert "valid options:" in err.message and also_valid in err.message


def test_a_mistyped_common_option_points_at_its_own_line(tmp_path: Path) -> None:
    body = (
        "cases:\n  - id: c1\n    input: x\n    metrics:\n"
        "      - rouge_l:\n          use_stemmer: true\n          threshold: high\n"
        "      - name: bleu\n        weight: heavy\n"
    )
    err = error(tmp_path, body)
    assert (err.field, err.line) == ("metrics.rouge_l.threshold", 7)
    err = error(tmp_path, body.replace("threshold: high", "threshold: 0.5"))
    assert (err.field, err.line) == ("metrics.bleu.weight", 9)


def test_a_mistyped_common_option_in_a_dataset_row_names_the_metric(tmp_path: Path) -> None:
    rows = '{"id": "a", "input": "x"}\n{"id": "b", "input": "x", "metrics": [{"bleu": {"threshold": "x"}}]}\n'
    err = error(tmp_path, "dataset: rows.jsonl\n", {"rows.jsonl": rows})
    assert (err.path, err.line, err.case_id) == (str(tmp_path / "rows.jsonl"), 2, "b")
    assert err.field == "metrics.bleu.threshold" and "valid options:" in err.message


def test_a_common_option_of_an_unknown_metric_reports_the_metric(tmp_path: Path) -> None:
    body = "cases:\n  - id: c1\n    input: x\n    metrics:\n      - exactt: {threshold: high}\n"
    err = error(tmp_path, body)
    assert (err.field, err.line) == ("metrics", 5)
    assert "unknown metric 'exactt'" in err.message and "valid metrics:" in err.message


@pytest.mark.parametrize(
    ("metrics", "line"),
    [
        ("\n      - exact\n      - exactt\n", 6),
        (" [exact, exactt]\n", 4),
        ("\n      - exact\n      - exactt: {threshold: 0.5}\n", 6),
        ("\n      - exact\n      - {name: exactt}\n", 6),
    ],
)
def test_an_unknown_metric_of_a_case_points_at_its_entry(
    tmp_path: Path, metrics: str, line: int
) -> None:
    err = error(tmp_path, f"cases:\n  - id: c1\n    input: x\n    metrics:{metrics}")
    assert (err.case_id, err.field, err.line) == ("c1", "metrics", line)
    assert "unknown metric 'exactt'" in err.message
