"""Numbers in an eval file are finite numbers written as numbers.

``weight: .inf`` was an INTERNALERROR at the end of the run (written as JSON null, then
validated again); ``weight: -1``, ``threshold: .nan``, ``latency_ms: {max: .inf}`` and a gate's
``min: .nan`` loaded and decided every case or gate one way. pydantic's lax mode read a gate's
``min: "0.5"``, ``pass_score: "0.5"`` and ``repeats: true`` as numbers. Each is now one
collection error naming the field.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, body: str) -> object:
    path = tmp_path / "n.eval.yaml"
    path.write_text(
        f"suite: s\ntarget: python:app:echo\n{body}\ncases:\n  - {{id: a, input: x, expected: x}}\n"
    )
    return load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("metrics: [{exact: {weight: .inf}}]", "metrics.exact.weight", "must be a finite number"),
        ("metrics: [{exact: {weight: .nan}}]", "metrics.exact.weight", "must be a finite number"),
        ("metrics: [{exact: {weight: -1}}]", "metrics.exact.weight", "greater than or equal to 0"),
        ("metrics: [{exact: {threshold: .nan}}]", "metrics.exact.threshold", "finite"),
        ("metrics: [{latency_ms: {max: .inf}}]", "metrics.latency_ms.max", "finite"),
        ("metrics: [exact]\ngates: [{metric: exact, min: .nan}]", "gates.min", "finite"),
        ("metrics: [exact]\ngates: [{metric: exact, max: -.inf}]", "gates.max", "finite"),
        ("metrics: [exact]\ngates: [{metric: exact, min: '0.5'}]", "gates.min", "got str"),
        ("metrics: [exact]\npass_score: '0.5'", "pass_score", "got str"),
        ("metrics: [exact]\nregression_margin: '0.1'", "regression_margin", "got str"),
        ("metrics: [exact]\nrepeats: true", "repeats", "must be a whole number"),
        ("metrics: [exact]\nrepeats: 2.0", "repeats", "must be a whole number"),
        ("metrics: [exact]\ntimeout_s: .inf", "timeout_s", "finite"),
        ("metrics: [exact]\ntimeout_s: 0", "timeout_s", "greater than 0"),
        ("metrics: [exact]\nrate_limit: {rpm: .nan}", "rate_limit.rpm", "finite"),
    ],
)
def test_a_number_that_is_not_a_finite_number_is_a_collection_error(
    tmp_path: Path, body: str, field: str, words: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, body)
    assert exc.value.field == field
    assert words in exc.value.message


def test_a_dataset_mapping_error_names_its_option_not_the_union_branch(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"id": "b", "input": "y"}\n')
    for body in (
        "dataset: {path: rows.jsonl, limit: 0}",
        "dataset: [{path: rows.jsonl, limit: 0}]",
    ):
        with pytest.raises(EvalFileError) as exc:
            _load(tmp_path, body)
        assert exc.value.field == "dataset.limit"
        assert exc.value.line == 3
        assert "greater than or equal to 1" in exc.value.message


@pytest.mark.parametrize(
    "body",
    [
        "metrics: [{exact: {weight: 0}}, contains: x]\npass_score: 0.5",
        "metrics: [{exact: {weight: 2.5, threshold: 1}}]",
        "metrics: [exact]\ngates: [{metric: exact, min: 1}]\nrepeats: 3\ntimeout_s: 2.5",
        "metrics: [{latency_ms: {max: 1500}}]\nrate_limit: {rpm: 60}",
    ],
)
def test_finite_numbers_load(tmp_path: Path, body: str) -> None:
    _load(tmp_path, body)


@pytest.mark.parametrize("stat", ["median", "min", "max", "corpus", "ppi_mean"])
def test_a_statistic_of_the_pass_rate_is_a_collection_error(tmp_path: Path, stat: str) -> None:
    # It was ignored (the pass rate gated) while the results recorded the gate as `stat`.
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, f"metrics: [exact]\ngates: [{{metric: pass_rate, stat: {stat}, min: 0.5}}]")
    assert exc.value.field == "gates" and "does not apply to pass_rate" in exc.value.message


def test_the_pass_rate_gate_may_name_its_own_statistic(tmp_path: Path) -> None:
    _load(tmp_path, "metrics: [exact]\ngates: [{metric: pass_rate, stat: pass_rate, min: 0.5}]")


@pytest.mark.parametrize("scale", ["[1, .inf]", "[-.inf, 5]", "[.nan, 5]", "['1', 5]"])
def test_a_label_scale_is_two_finite_numbers(tmp_path: Path, scale: str) -> None:
    # [1, .inf] mapped every label to 0.0 on the score's [0, 1].
    body = f"metrics: [exact]\nlabels: {{metric: exact, values: {{a: 3}}, scale: {scale}}}"
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, body)
    assert exc.value.field == "labels.scale"


@pytest.mark.parametrize("grades", ["{d1: .nan}", "{d1: .inf}", "{d1: '2'}", "{d1: true}"])
def test_a_graded_relevance_is_a_finite_number(tmp_path: Path, grades: str) -> None:
    # A NaN grade made every ranking metric of the case NaN; '2' and true were coerced.
    path = tmp_path / "r.eval.yaml"
    path.write_text(
        f"suite: r\ntarget: python:app:echo\ncases:\n  - {{id: a, input: x, relevant: {grades}}}\n"
    )
    with pytest.raises(EvalFileError) as exc:
        load_suite(path, known_metric=unknown_metric_problem)
    assert exc.value.field == "relevant.d1" and exc.value.line == 4


@pytest.mark.parametrize(
    "metrics",
    ["[{exact: {weight: 0}}, {contains: {value: x, weight: 0}}]", "[{latency_ms: {max: 500}}]"],
)
def test_a_weighted_rule_with_nothing_to_average_is_a_collection_error(
    tmp_path: Path, metrics: str
) -> None:
    # Every weight 0 (or only a raw measure): the weighted mean was empty and every case
    # failed whatever it returned.
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, f"metrics: {metrics}\npass_score: 0.5")
    assert exc.value.field == "pass_score" and exc.value.case_id == "a"
    assert "would fail whatever it returns" in exc.value.message


def test_a_weighted_rule_with_one_weighted_score_loads(tmp_path: Path) -> None:
    _load(tmp_path, "metrics: [{exact: {weight: 0}}, latency_ms, contains: x]\npass_score: 0.5")
