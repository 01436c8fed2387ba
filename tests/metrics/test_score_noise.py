"""Scores are finite, and a bounded score's float noise past 0 or 1 is clamped to the bound.

A custom score of 0.33 + 0.56 + 0.11 (1.0000000000000002) was accepted by the range check's
tolerance and then read as a raw measure (a score above 1), so three such cases got a
zero-width "t (zero variance)" interval [1, 1] and passed a ``ci_low >= 0.9`` gate that
exactly 1.0 fails. ``inf`` from a raw metric was written as JSON null with no error and the
case left out of its gate.
"""

from __future__ import annotations

from pytest_mleval.metrics.base import Sample
from pytest_mleval.metrics.registry import metric, score_metric
from pytest_mleval.results.aggregate import is_raw_measure


def _sample() -> Sample:
    return Sample(output="x", expected=None)  # type: ignore[arg-type]


def test_float_noise_above_one_or_below_zero_is_clamped() -> None:
    @metric("t_noise_high")
    def high(sample: Sample) -> float:
        return 0.33 + 0.56 + 0.11

    @metric("t_noise_low")
    def low(sample: Sample) -> float:
        return 0.1 + 0.2 - 0.3 - 1e-12

    assert 0.33 + 0.56 + 0.11 > 1.0  # the noise this test is about
    r = score_metric("t_noise_high", _sample(), threshold=0.5)
    assert r.score == 1.0 and r.error is None and r.passed
    assert not is_raw_measure("t_noise_high", [r.score, r.score, r.score])
    assert score_metric("t_noise_low", _sample()).score == 0.0


def test_infinite_scores_are_metric_errors() -> None:
    @metric("t_inf_raw", raw=True)
    def raw(sample: Sample) -> float:
        return float("inf")

    @metric("t_neg_inf_raw", raw=True)
    def neg(sample: Sample) -> float:
        return float("-inf")

    for name in ("t_inf_raw", "t_neg_inf_raw"):
        r = score_metric(name, _sample())
        assert r.score is None and r.passed is False
        assert "inf" in (r.error or "")
