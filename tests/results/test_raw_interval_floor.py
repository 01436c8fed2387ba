"""A raw measure that cannot be negative (latency, cost, tool calls) never reads an interval
below 0: a t interval on few, spread values reaches under it, as "[-3,513 ms, 4,113 ms]"."""

from __future__ import annotations

import pytest

from pytest_mleval.results.aggregate import aggregate_suite
from pytest_mleval.results.records import CaseResult, MetricScore


def _cases(metric: str, values: list[float], *, label: str | None = None) -> list[CaseResult]:
    key = label or metric
    return [
        CaseResult(
            suite="s",
            case_id=f"c{i}",
            cluster=None if label is None else f"k{i % 3}",
            scores={key: MetricScore(score=v, metric=metric, passed=True)},
            passed=True,
        )
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize("metric", ["latency_ms", "ttft_ms", "cost_usd", "tool_calls"])
def test_interval_of_a_non_negative_measure_stops_at_zero(metric: str) -> None:
    aggs = {a.metric: a for a in aggregate_suite("s", _cases(metric, [300.0, 4.0]))}
    agg = aggs[metric]
    assert agg.ci_low == 0.0  # the t interval alone is about [-1,730, 2,034]
    assert agg.ci_high > 1000.0  # the upper end is left as it is
    assert agg.estimate == pytest.approx(152.0)
    assert "0" in (agg.note or "") and "cannot be below" in (agg.note or "")


def test_clustered_and_labelled_measure_stops_at_zero() -> None:
    values = [900.0, 2.0, 3.0, 1.0, 2.0, 1.0]
    aggs = {a.metric: a for a in aggregate_suite("s", _cases("latency_ms", values, label="t"))}
    assert aggs["t"].ci_low == 0.0


def test_interval_away_from_zero_is_unchanged() -> None:
    values = [100.0, 110.0, 120.0, 130.0]
    agg = {a.metric: a for a in aggregate_suite("s", _cases("latency_ms", values))}["latency_ms"]
    assert 90.0 < agg.ci_low < 115.0
    assert "cannot be below" not in (agg.note or "")


def test_measure_without_a_known_floor_keeps_its_interval() -> None:
    # A custom raw value (here a score key that is not a known metric) may be negative.
    agg = {a.metric: a for a in aggregate_suite("s", _cases("delta", [300.0, -4.0]))}["delta"]
    assert agg.ci_low < 0.0
