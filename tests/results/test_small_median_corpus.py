"""A `stat: median` or `stat: corpus` gate on a handful of cases gets an honest interval.

Before: one case's median read "percentile bootstrap (n=1)" with zero width, two identical
cases' corpus BLEU read [x, x], and a `ci_low` gate passed on either. The median's interval
is now never narrower than the distribution-free order-statistic interval (the metric's range
below 6 cases at 95 %), and corpus BLEU on fewer than 6 sampling units is [0, 1].
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from pytest_mleval import stats
from pytest_mleval.cases.schema import GateSpec
from pytest_mleval.metrics import Sample
from pytest_mleval.metrics.registry import score_metric
from pytest_mleval.results.aggregate import evaluate_gates
from pytest_mleval.results.corpus import corpus_estimate
from pytest_mleval.results.records import CaseResult, MetricScore


def _scored(metric: str, values: list[float]) -> list[CaseResult]:
    return [
        CaseResult(suite="s", case_id=f"c{i}", scores={metric: MetricScore(score=v)})
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize("values", [[0.9], [0.9, 0.9], [0.9, 0.95], [0.9] * 5])
def test_a_median_ci_low_gate_fails_on_too_few_cases(values: list[float]) -> None:
    gate = GateSpec(metric="rouge_l", stat="median", min=0.5, on="ci_low")
    (got,) = evaluate_gates("s", [gate], _scored("rouge_l", values), [])
    assert not got.passed and got.ci_low == 0.0 and got.ci_high == 1.0
    assert "too few" in got.message


def test_a_median_gate_on_enough_cases_can_pass() -> None:
    gate = GateSpec(metric="rouge_l", stat="median", min=0.5, on="ci_low")
    (got,) = evaluate_gates("s", [gate], _scored("rouge_l", [0.9] * 6), [])
    assert got.passed and got.ci_low == 0.9


def test_a_median_gate_on_an_unbounded_measure_with_too_few_cases_is_unchecked() -> None:
    cases = _scored("latency_ms", [120.0, 130.0])
    high = GateSpec(metric="latency_ms", stat="median", max=500, on="ci_high")
    (got,) = evaluate_gates("s", [high], cases, [])
    assert not got.passed and "cannot be checked" in got.message and "too few" in got.message
    # The estimate itself still gates.
    est = GateSpec(metric="latency_ms", stat="median", max=500)
    (ok,) = evaluate_gates("s", [est], cases, [])
    assert ok.passed and ok.estimate == 125.0


@pytest.mark.parametrize("n", [6, 7, 10, 25, 50, 101, 400])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_order_statistic_interval_matches_the_binomial(n: int, confidence: float) -> None:
    x = np.arange(n, dtype=float)  # value = rank - 1
    e = stats.median_ci(x, confidence=confidence, seed=0)
    tail = (1 - confidence) / 2
    # The largest l with P(Bin(n, 1/2) <= l - 1) <= tail, by scipy.
    ls = [k for k in range(1, n + 1) if binom.cdf(k - 1, n, 0.5) <= tail]
    if not ls:
        assert n < stats.median_ci_min_n(confidence)
        return
    lo_rank = max(ls)
    assert e.ci_low <= lo_rank - 1 and e.ci_high >= n - lo_rank
    assert stats.median_ci_min_n(confidence) <= n


def test_the_fewest_cases_for_a_median_interval() -> None:
    assert [stats.median_ci_min_n(c) for c in (0.9, 0.95, 0.99)] == [5, 6, 8]


def test_the_median_interval_covers() -> None:
    # A skewed score at n = 8 and 30: the coverage of the true median is at least its level
    # (the order statistics are conservative), where the bootstrap alone is not at n = 8.
    rng = np.random.default_rng(3)
    truth = float(np.median(rng.beta(5, 1, 400_000)))
    for n in (8, 30):
        hits = 0
        for _ in range(400):
            x = rng.beta(5, 1, n)
            e = stats.median_ci(x, seed=int(rng.integers(1 << 30)), n_resamples=500)
            hits += e.ci_low <= truth <= e.ci_high
        assert hits / 400 >= 0.93, (n, hits)


def _bleu_cases(pairs: list[tuple[str, str]]) -> list[CaseResult]:
    out = []
    for i, (hyp, ref) in enumerate(pairs):
        s = score_metric("bleu", Sample(output=hyp, expected=ref))
        out.append(
            CaseResult(
                suite="s", case_id=f"c{i}", scores={"bleu": MetricScore(score=s.score, data=s.data)}
            )
        )
    return out


@pytest.mark.parametrize("n", [2, 5])
def test_corpus_bleu_on_too_few_cases_is_the_whole_range(n: int) -> None:
    pair = ("the cat sat on the mat today", "the cat sat on the mat today")
    got = corpus_estimate(_bleu_cases([pair] * n), "bleu", confidence=0.95, seed=0)
    assert not isinstance(got, str)
    assert got[0] == pytest.approx(1.0) and got[1:3] == (0.0, 1.0)
    assert f"{n} sampling units, fewer than 6: no interval" in got[3]
    gate = GateSpec(metric="bleu", stat="corpus", min=0.5, on="ci_low")
    (res,) = evaluate_gates("s", [gate], _bleu_cases([pair] * n), [])
    assert not res.passed


def test_a_median_of_values_outside_0_1_is_never_bounded_by_them() -> None:
    # A custom measure (token counts) is raw by its values: its range is not [0, 1].
    gate = GateSpec(metric="tokens", stat="median", min=100, on="ci_low")
    (got,) = evaluate_gates("s", [gate], _scored("tokens", [120.0, 130.0]), [])
    assert not got.passed and "cannot be checked" in got.message
