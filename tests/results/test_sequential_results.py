"""A sequential suite's statistics follow its seeded order, whatever order results arrived in."""

from __future__ import annotations

import random

import pytest

from pytest_mleval.results.aggregate import aggregate_suite
from pytest_mleval.results.records import CaseResult, MetricScore
from pytest_mleval.results.sequential import (
    CS_METHOD,
    in_run_order,
    sequential_aggregates,
    sequential_info,
)
from pytest_mleval.stats.sequential import ConfidenceSequence


def _cases(n: int) -> list[CaseResult]:
    rng = random.Random(3)
    out = []
    for i in range(n):
        score = float(rng.random() < 0.7)
        out.append(
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                run_order=i,
                passed=bool(score),
                scores={"exact": MetricScore(score=score, passed=bool(score))},
            )
        )
    return out


def test_intervals_are_the_sequence_over_the_run_order() -> None:
    cases = _cases(40)
    arrived = list(cases)
    random.Random(1).shuffle(arrived)  # results reach the controller in another order
    aggs = aggregate_suite("s", arrived)
    out = {
        a.metric: a for a in sequential_aggregates(aggs, arrived, population=100, confidence=0.95)
    }
    # The infinite-population sequence: the 40 cases are a sample of the distribution the
    # intervals are about (the finite one ended, after every case, on zero width).
    cs = ConfidenceSequence(alpha=0.05)
    cs.update([c.scores["exact"].score for c in cases])
    assert (out["exact"].ci_low, out["exact"].ci_high) == pytest.approx(cs.interval(), rel=1e-12)
    assert out["exact"].method == CS_METHOD and "40 of 100 cases run" in (out["exact"].note or "")
    assert [c.case_id for c in in_run_order(arrived)] == [c.case_id for c in cases]


def test_not_needed_cases_are_counted_not_scored() -> None:
    cases = _cases(10)
    skipped = [CaseResult(suite="s", case_id=f"c{i}", not_needed=True) for i in range(10, 30)]
    info = sequential_info([*cases, *skipped], population=30, decided_after=10, reason="r")
    assert (info.run, info.not_needed, info.decided_after) == (10, 20, 10)
    assert info.not_needed_ids == sorted(f"c{i}" for i in range(10, 30))
    # Python targets make no model call: nothing is claimed saved.
    assert info.calls_saved == 0 and info.cost_saved_usd == 0.0
