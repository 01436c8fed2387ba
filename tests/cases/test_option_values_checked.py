"""An invalid regex or JSON Schema in a metric's options is one collection error.

Before: `regex: {pattern: '('}` errored every case at run time, and `json_schema` with an
invalid schema failed (not errored) every case whose output was not JSON.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, metric: str) -> None:
    path = tmp_path / "o.eval.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            suite: s
            target: python:app:echo
            cases:
              - id: a
                input: x
                metrics:
                  - {metric}
            """
        )
    )
    load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ("regex: {pattern: '('}", "not a valid regular expression"),
        ("regex: {value: 'a{2,1}'}", "not a valid regular expression"),
        ("regex: {pattern: '(?P<x>a', flags: i}", "not a valid regular expression"),
        ("json_schema: {schema: {type: objekt}}", "not a valid JSON Schema"),
        ("json_schema: {schema: {type: object, required: name}}", "not a valid JSON Schema"),
    ],
)
def test_invalid_option_values_are_a_collection_error(
    tmp_path: Path, metric: str, words: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, metric)
    err = exc.value
    assert err.case_id == "a" and err.line == 7
    assert words in str(err) and "Value error" not in str(err)


@pytest.mark.parametrize(
    "metric",
    [
        r"regex: {pattern: '\d+ to \d+'}",
        "regex: {pattern: 'a  # spaces and a comment', flags: x}",
        "json_schema: {schema: {type: object, required: [name]}}",
    ],
)
def test_valid_option_values_load(tmp_path: Path, metric: str) -> None:
    _load(tmp_path, metric)


@pytest.mark.parametrize(
    ("metric", "option", "words"),
    [
        ("recall_at_k: {k: true}", "k", "must be a whole number"),
        ("recall_at_k: {k: '3'}", "k", "must be a whole number"),
        ("recall_at_k: {k: 2.5}", "k", "must be a whole number"),
        ("bleu: {smooth_value: .nan}", "smooth_value", "must be a finite number"),
        ("judge: {criteria: ok, samples: true}", "samples", "must be a whole number"),
        ("faithfulness_offline: {support: .inf}", "support", "must be a finite number"),
        ("answer_relevance: {questions: '2'}", "questions", "must be a whole number"),
    ],
)
def test_a_number_option_is_a_number_as_written(
    tmp_path: Path, metric: str, option: str, words: str
) -> None:
    # pydantic's lax mode read `k: true` as 1 and `samples: '3'` as 3; NaN smoothing or
    # support made every score NaN.
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, metric)
    assert exc.value.field is not None and exc.value.field.endswith(f".{option}")
    assert words in str(exc.value)


@pytest.mark.parametrize(
    "metric",
    ["recall_at_k: {k: 3}", "bleu: {smooth_value: 0.1}", "judge: {criteria: ok, scale: [1, 5]}"],
)
def test_number_options_as_numbers_load(tmp_path: Path, metric: str) -> None:
    _load(tmp_path, metric)


def test_the_reference_page_names_checked_numbers_by_their_type() -> None:
    from pytest_mleval.cli.metrics_doc import _type
    from pytest_mleval.fields import Count, Real

    # Rendered "Annotated | null" before the generator unwrapped the checked types.
    assert _type(Count | None) == "integer \\| null"
    assert _type(Real) == "number"
