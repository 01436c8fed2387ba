"""Clustered intervals near 100 % (issue 13, Deliver 2): few failures cannot show how they
cluster, and a bounded score near its bound is skewed. See bench/RESULTS.md, "Clustered and
degenerate intervals"."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pytest_mleval import stats


def outcomes(clusters: int, failures: int, pattern: str, size: int = 10) -> list[float]:
    x = np.ones((clusters, size))
    for i in range(failures):
        g = {"one": 0, "spread": i % clusters, "two": i % 2}[pattern]
        x[g, np.flatnonzero(x[g])[0]] = 0.0
    return x.ravel().tolist()


@pytest.mark.parametrize("clusters", [5, 10, 20])
@pytest.mark.parametrize("pattern", ["one", "spread", "two"])
def test_more_passes_never_lower_ci_low(clusters: int, pattern: str) -> None:
    # Before: 48/50 with its failures in two of 5 clusters [0.865, ...] (design effect below
    # 1, plain Wilson) but 49/50 [0.832, ...] (design effect 1.02, t on 4 df): a ci_low gate
    # passed the worse run and failed the better one.
    labels = np.repeat(np.arange(clusters), 10).tolist()
    lows = [
        stats.clustered_proportion_ci(outcomes(clusters, k, pattern), labels).ci_low
        for k in range(5, -1, -1)
    ]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(lows)), lows


@pytest.mark.parametrize("clusters", [5, 8, 10, 20])
def test_a_perfect_suite_never_reads_worse_than_one_with_a_failure(clusters: int) -> None:
    labels = np.repeat(np.arange(clusters), 10).tolist()
    perfect = stats.clustered_proportion_ci([1.0] * (10 * clusters), labels)
    for g in range(clusters):
        x = [0.0 if i == 10 * g else 1.0 for i in range(10 * clusters)]
        assert perfect.ci_low >= stats.clustered_proportion_ci(x, labels).ci_low


def test_few_failures_cannot_rule_out_their_clustering() -> None:
    # 200/200 in 20 clusters of 10: at an intra-cluster correlation of 0.3 and a pass rate of
    # 97 %, 7 % of suites pass everything; before, [0.981, 1] missed every one of them.
    labels = np.repeat(np.arange(20), 10).tolist()
    e = stats.clustered_proportion_ci([1.0] * 200, labels)
    assert 0.9 < e.ci_low < 0.97 and e.ci_high == 1.0
    assert e.ci_low < stats.proportion_ci(200, 200).ci_low
    # The widening fades as failures accumulate: 100 of 200 spread evenly is the plain
    # Wilson interval within a few percent.
    half = [float(i % 2) for i in range(200)]
    h = stats.clustered_proportion_ci(half, labels)
    w = stats.proportion_ci(100, 200)
    assert (h.ci_high - h.ci_low) < 1.1 * (w.ci_high - w.ci_low)


def test_bounded_scores_near_the_bound_get_the_wilson_form() -> None:
    # A skewed score near 1: most cases 1.0, a few low ones, in 10 clusters of 10.
    rng = np.random.default_rng(0)
    x = np.where(rng.random(100) < 0.06, rng.uniform(0.2, 0.8, 100), 1.0)
    labels = np.repeat(np.arange(10), 10).tolist()
    e = stats.clustered_mean_ci(x, labels, bounds=(0.0, 1.0))
    t = stats.clustered_mean_ci(x, labels)  # unbounded: the t interval alone
    assert e.ci_low < t.ci_low - 0.005 and e.ci_high == pytest.approx(t.ci_high)
    assert "Wilson" in e.method and e.ci_high <= 1.0
    # At mid-range the Wilson form adds next to nothing.
    y = rng.uniform(0.3, 0.7, 100)
    m, u = stats.clustered_mean_ci(y, labels, bounds=(0.0, 1.0)), stats.clustered_mean_ci(y, labels)
    assert m.ci_low <= u.ci_low and (m.ci_high - m.ci_low) < 1.01 * (u.ci_high - u.ci_low)
