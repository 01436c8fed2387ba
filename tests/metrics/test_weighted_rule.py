"""The weighted pass rule (`pass_score`) averages scores in [0, 1] only.

Before: a raw measure's value joined the weighted mean, so `latency_ms` at 10 ms lifted a
case whose ROUGE was 0 to a "score" of 5 and it passed `pass_score: 0.8`; `cost_usd` dragged
good cases under it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics import Sample
from pytest_mleval.metrics.registry import (
    Scored,
    case_passed,
    no_verdict,
    score_metric,
    unknown_metric_problem,
)


def _scored(output: str, expected: str, latency_ms: float, cost: float = 0.0) -> list:  # type: ignore[type-arg]
    sample = Sample(
        input="q", output=output, expected=expected, latency_ms=latency_ms, cost_usd=cost
    )
    return [
        score_metric("rouge_l", sample),
        score_metric("latency_ms", sample, max_value=100_000),
        score_metric("cost_usd", sample),
    ]


def test_a_raw_measure_does_not_lift_a_bad_case() -> None:
    scored = _scored("hello there", "completely different words", latency_ms=10.0)
    assert scored[0].score == 0.0 and scored[1].score == 10.0
    assert not case_passed(scored, pass_score=0.8)


def test_a_raw_measure_does_not_sink_a_good_case() -> None:
    scored = _scored("the same words", "the same words", latency_ms=0.5, cost=0.001)
    assert case_passed(scored, pass_score=0.8)


def test_a_raw_max_still_gates_under_the_weighted_rule() -> None:
    sample = Sample(input="q", output="a b", expected="a b", latency_ms=200.0)
    scored = [score_metric("rouge_l", sample), score_metric("latency_ms", sample, max_value=100)]
    assert not case_passed(scored, pass_score=0.5)


def test_only_raw_measures_scored_has_no_weighted_verdict() -> None:
    latency = Scored(
        name="latency_ms", score=5.0, threshold=None, max=None, passed=None, weight=1.0, raw=True
    )
    judge = Scored(
        name="judge",
        score=None,
        threshold=None,
        max=None,
        passed=None,
        weight=1.0,
        skipped="no judge model configured",
    )
    assert no_verdict([latency, judge], pass_score=0.5) == (
        "no metric could give a verdict: judge: no judge model configured"
    )
    assert not case_passed([latency, judge], pass_score=0.5)


def _load(tmp_path: Path, pass_score: str) -> None:
    path = tmp_path / "w.eval.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            suite: w
            target: python:app:echo
            pass_score: {pass_score}
            metrics: [rouge_l, bleu]
            cases:
              - {{id: a, input: x, expected: x}}
            """
        )
    )
    load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("value", "words"),
    [("0", "passes every case"), ("-0.5", "passes every case"), ("1.2", "fails every case")],
)
def test_a_pass_score_that_decides_every_case_is_an_error(
    tmp_path: Path, value: str, words: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, value)
    assert exc.value.field == "pass_score" and exc.value.line == 3
    assert words in str(exc.value)
    assert "Value error" not in str(exc.value)


@pytest.mark.parametrize("value", ["0.5", "1", "0.01"])
def test_a_pass_score_in_range_loads(tmp_path: Path, value: str) -> None:
    _load(tmp_path, value)
