"""A streamed call's timings in the case record: from the target output, never the case."""

from __future__ import annotations

from pytest_mleval.cases.case import EvalCase
from pytest_mleval.cases.schema import MetricSpec
from pytest_mleval.results.scoring import score_case
from pytest_mleval.targets.registry import TargetOutput


def case(**metadata: object) -> EvalCase:
    return EvalCase(
        id="a",
        suite="s",
        input="q",
        metadata=dict(metadata),
        metrics=[MetricSpec(name="ttft_ms")],
    )


def test_timings_move_from_the_output_metadata_into_the_record() -> None:
    out = TargetOutput(
        output="x",
        cached=True,
        metadata={"ttft_ms": 120.5, "itl_ms": 9.0, "output_tokens_per_s": 55.0, "other": 1},
    )
    result, scored = score_case(case(note="kept"), out)
    assert (result.ttft_ms, result.itl_ms, result.output_tokens_per_s) == (120.5, 9.0, 55.0)
    assert result.cached is True and scored[0].score == 120.5
    assert result.metadata == {"note": "kept", "other": 1}  # not repeated in the metadata


def test_a_case_metadata_named_like_a_timing_is_not_a_measurement() -> None:
    result, scored = score_case(case(ttft_ms=5.0), TargetOutput(output="x"))
    assert result.ttft_ms is None
    assert scored[0].score is None and "streamed call" in (scored[0].error or "")
    assert result.metadata == {"ttft_ms": 5.0}  # the case's own data stays as written


def test_a_timing_that_is_not_a_number_is_left_out_of_the_record() -> None:
    result, scored = score_case(case(), TargetOutput(output="x", metadata={"ttft_ms": "soon"}))
    assert result.ttft_ms is None and scored[0].error
