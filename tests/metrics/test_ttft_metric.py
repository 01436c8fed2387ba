"""The metric ttft_ms: a raw measure of a streamed call, read from the output's metadata."""

from __future__ import annotations

from pytest_mleval.metrics.registry import Sample, get_metric, score_metric


def test_ttft_is_a_raw_measure_that_passes_by_max() -> None:
    assert get_metric("ttft_ms").raw
    fast = score_metric("ttft_ms", Sample(output="x", metadata={"ttft_ms": 120.0}), max_value=200)
    assert fast.score == 120.0 and fast.passed is True
    slow = score_metric("ttft_ms", Sample(output="x", metadata={"ttft_ms": 250}), max_value=200)
    assert slow.score == 250.0 and slow.passed is False


def test_ttft_of_a_call_not_streamed_errors_naming_the_fix() -> None:
    result = score_metric("ttft_ms", Sample(output="x", latency_ms=80.0), max_value=200)
    assert result.score is None and result.passed is False
    assert "ttft_ms needs a streamed call: set `stream: true`" in (result.error or "")


def test_ttft_that_is_not_a_number_errors() -> None:
    result = score_metric("ttft_ms", Sample(output="x", metadata={"ttft_ms": "soon"}))
    assert result.score is None and "not a number" in (result.error or "")
