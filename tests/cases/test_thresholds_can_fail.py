"""A metric's pass bounds that every score meets (or none can) are a collection error.

``rouge_l: {threshold: 0}`` marks every output "ok" and counts as a check, so a pass-rate gate
over it is a green that checked nothing; ``exact: {threshold: 1.5}`` fails every output.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import Suite, load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics.registry import unknown_metric_problem


def _load(tmp_path: Path, body: str) -> Suite:
    path = tmp_path / "t.eval.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return load_suite(path, known_metric=unknown_metric_problem)


def _case(metric: str) -> str:
    return (
        "suite: s\ntarget: python:app:echo\n"
        "cases:\n"
        "  - id: a\n"
        "    input: x\n"
        "    expected: x\n"
        "    metrics:\n"
        f"      - {metric}\n"
    )


@pytest.mark.parametrize(
    ("metric", "field", "words"),
    [
        ("rouge_l: {threshold: 0}", "metrics.rouge_l.threshold", "passes every output"),
        ("bleu: {threshold: -1}", "metrics.bleu.threshold", "passes every output"),
        ("rouge_l: {max: 1}", "metrics.rouge_l.max", "passes every output"),
        ("rouge_l: {threshold: 0, max: 1.5}", "metrics.rouge_l.threshold", "passes every output"),
        ("exact: {threshold: 1.5}", "metrics.exact.threshold", "fails every output"),
        ("rouge_l: {max: -0.1}", "metrics.rouge_l.max", "fails every output"),
        ("rouge_l: {threshold: 0.6, max: 0.4}", "metrics.rouge_l.threshold", "above max"),
        ("exact: {max: 0.5}", "metrics.exact.max", "default threshold of exact 1 is above max"),
        ("latency_ms: {threshold: 10, max: 5}", "metrics.latency_ms.threshold", "above max"),
        # A minimum on a lower-is-better measure passes the slow, costly outputs.
        ("latency_ms: {threshold: 500}", "metrics.latency_ms.threshold", "`max: 500`"),
        ("cost_usd: {threshold: 0.01}", "metrics.cost_usd.threshold", "better when lower"),
        ("ttft_ms: {threshold: 200, max: 800}", "metrics.ttft_ms.threshold", "better when lower"),
        ("latency_ms: {threshold: 0}", "metrics.latency_ms.threshold", "passes every output"),
        # hallucination (1 - faithfulness) is a score that is better when lower: a minimum
        # on it passed the hallucinating outputs.
        ("hallucination: {threshold: 0.2}", "metrics.hallucination.threshold", "`max: 0.2`"),
        # Built-in raw measures are never below 0.
        ("latency_ms: {max: -1}", "metrics.latency_ms.max", "fails every output"),
        ("turns: {max: -0.5}", "metrics.turns.max", "fails every output"),
        ("tool_calls: {threshold: 0}", "metrics.tool_calls.threshold", "passes every output"),
        ("turns: {threshold: -2}", "metrics.turns.threshold", "passes every output"),
        (
            "contains: {value: x, name: has-x, threshold: 0}",
            "metrics.has-x.threshold",
            "passes every output",
        ),
    ],
)
def test_bounds_that_decide_every_output_are_an_error(
    tmp_path: Path, metric: str, field: str, words: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, _case(metric))
    err = exc.value
    assert err.field == field
    assert err.case_id == "a"
    assert err.line == 8  # the metric entry's line
    assert words in str(err)


def test_the_error_says_how_to_record_without_a_verdict(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, _case("rouge_l: {threshold: 0}"))
    msg = str(exc.value)
    assert "rouge_l scores in [0, 1]" in msg
    assert "`threshold: null`" in msg


def test_suite_level_metrics_are_checked(tmp_path: Path) -> None:
    body = (
        "suite: s\ntarget: python:app:echo\n"
        "metrics:\n  - rouge_l: {threshold: 0.0}\n"
        "cases:\n  - {id: a, input: x, expected: x}\n"
    )
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, body)
    assert exc.value.field == "metrics.rouge_l.threshold"
    assert exc.value.line == 4
    assert exc.value.case_id is None


def test_dataset_rows_are_checked(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text(
        '{"id": "r1", "input": "x", "expected": "x"}\n'
        '{"id": "r2", "input": "y", "expected": "y", "metrics": [{"exact": {"threshold": 2}}]}\n'
    )
    body = "suite: s\ntarget: python:app:echo\ndataset: rows.jsonl\n"
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, body)
    err = exc.value
    assert err.case_id == "r2" and err.line == 2
    assert err.path is not None and err.path.endswith("rows.jsonl")
    assert "fails every output" in str(err)


@pytest.mark.parametrize(
    "metric",
    [
        "rouge_l: {threshold: 0.01}",
        "rouge_l: {threshold: 1}",  # only a perfect score passes: a real check
        "rouge_l: {max: 0.9}",
        "rouge_l: {max: 0}",  # only a zero passes (e.g. a leak score)
        "rouge_l: {threshold: 0.3, max: 0.3}",
        "rouge_l: {threshold: null}",  # informational, as documented
        "rouge_l",
        "exact",
        "latency_ms: {max: 500}",
        "latency_ms: {threshold: null}",
        "tool_calls: {threshold: 1}",  # at least one tool call: a minimum that can fail
        "turns: {threshold: 0, max: 3}",  # the max checks
        "tool_calls: {max: 0}",  # only no call passes
        "cost_usd: {max: 1.5}",
        "tool_calls: {threshold: 2, max: 5}",
        "hallucination: {max: 0.2}",
    ],
)
def test_bounds_that_some_output_misses_load(tmp_path: Path, metric: str) -> None:
    suite = _load(tmp_path, _case(metric))
    assert [c.id for c in suite.cases] == ["a"]
