"""The regression rule reads each metric's direction: more hallucination is worse, and raw
counts (tool calls, turns, custom raw measures) gate only when named, like latency.

``tool_calls`` going from 5 to 1 per case failed the gate as a regression (it was compared
as a score, higher better), while 1 to 8 read "improved"; ``hallucination`` rising from 0.0
to 0.9 read "improved" and the run passed.
"""

from __future__ import annotations

import pytest

from pytest_mleval.metrics.registry import metric
from pytest_mleval.results.compare import regression_check
from pytest_mleval.results.records import CaseResult, MetricScore, RunResults


def _runs(metric_name: str, before: float, after: float) -> tuple[RunResults, RunResults]:
    def run(value: float) -> RunResults:
        return RunResults(
            cases=[
                CaseResult(
                    suite="s",
                    case_id=f"c{i}",
                    passed=True,
                    scores={metric_name: MetricScore(score=value + 0.01 * (i % 3))},
                )
                for i in range(15)
            ]
        )

    return run(before), run(after)


def _row(comparison: object, name: str) -> object:
    return next(r for r in comparison.suites[0].metrics if r.metric == name)  # type: ignore[attr-defined]


def test_more_hallucination_is_a_regression() -> None:
    comparison, gates = regression_check(*_runs("hallucination", 0.0, 0.9))
    row = _row(comparison, "hallucination")
    assert row.lower_is_better and row.verdict == "regressed" and row.gating  # type: ignore[attr-defined]
    assert not gates[0].passed
    comparison, gates = regression_check(*_runs("hallucination", 0.9, 0.0))
    assert _row(comparison, "hallucination").verdict == "improved"  # type: ignore[attr-defined]
    assert gates[0].passed


@pytest.mark.parametrize("name", ["tool_calls", "turns"])
def test_counts_compare_lower_better_and_gate_only_when_named(name: str) -> None:
    # Fewer calls for the same cases is not a regression.
    comparison, gates = regression_check(*_runs(name, 5.0, 1.0))
    row = _row(comparison, name)
    assert row.verdict == "improved" and not row.gating  # type: ignore[attr-defined]
    assert gates[0].passed
    # More calls reads "regressed", and fails the gate once the suite names the metric.
    comparison, gates = regression_check(*_runs(name, 1.0, 8.0))
    assert _row(comparison, name).verdict == "regressed"  # type: ignore[attr-defined]
    assert gates[0].passed
    comparison, gates = regression_check(*_runs(name, 1.0, 8.0), metrics=[name])
    assert not gates[0].passed


def test_a_custom_raw_measure_gates_only_when_named() -> None:
    @metric("t_violations", raw=True)
    def violations(sample: object) -> float:
        return 0.0

    comparison, gates = regression_check(*_runs("t_violations", 0.0, 4.0))
    row = _row(comparison, "t_violations")
    assert row.verdict == "regressed" and not row.gating  # type: ignore[attr-defined]
    comparison, gates = regression_check(*_runs("t_violations", 0.0, 4.0), metrics=["t_violations"])
    assert not gates[0].passed
