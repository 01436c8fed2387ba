"""A `stat: median` gate resamples whole clusters when cases carry `cluster:`.

Before: the median's bootstrap drew cases independently, so five clusters of fifty alike
cases read as 250 independent ones and a `ci_low` gate passed on false certainty.
"""

from __future__ import annotations

import numpy as np

from pytest_mleval import stats
from pytest_mleval.cases.schema import GateSpec
from pytest_mleval.results.aggregate import evaluate_gates
from pytest_mleval.results.records import CaseResult, MetricScore


def _cases(levels: list[float], per: int, clustered: bool) -> list[CaseResult]:
    out = []
    for k, level in enumerate(levels):
        for j in range(per):
            out.append(
                CaseResult(
                    suite="s",
                    case_id=f"k{k}-{j}",
                    scores={"rouge_l": MetricScore(score=level + 0.001 * j)},
                    cluster=f"k{k}" if clustered else None,
                )
            )
    return out


GATE = GateSpec(metric="rouge_l", stat="median", min=0.45, on="ci_low")


def test_clusters_widen_the_median_interval() -> None:
    levels = [0.1, 0.3, 0.5, 0.7, 0.9]
    (flat,) = evaluate_gates("s", [GATE], _cases(levels, 50, False), [])
    (clus,) = evaluate_gates("s", [GATE], _cases(levels, 50, True), [])
    assert flat.passed  # 250 independent cases: the median is pinned near 0.52
    assert not clus.passed  # five clusters: it could be anywhere from 0.3 to 0.7
    assert clus.ci_low is not None and flat.ci_low is not None and clus.ci_low < flat.ci_low
    assert clus.ci_high is not None and flat.ci_high is not None and clus.ci_high > flat.ci_high
    assert "5 clusters" in clus.message


def test_never_narrower_than_the_unclustered_interval() -> None:
    rng = np.random.default_rng(1)
    values = rng.beta(2, 2, 60)
    clusters = [f"k{i}" for i in range(60)]  # one case per cluster: the same design
    a = stats.bootstrap_ci(values, np.median, method="percentile", seed=0)
    b = stats.cluster_bootstrap_median_ci(values, clusters, seed=0)
    assert b.ci_low <= a.ci_low and b.ci_high >= a.ci_high
    assert b.estimate == float(np.median(values))


def test_weighted_median_matches_numpy_on_a_resample() -> None:
    # A resample that draws clusters 0, 0 and 2 has the median of their cases pooled.
    values = np.array([0.1, 0.2, 0.9, 0.4, 0.5] * 2)
    clusters = ["a", "a", "b", "c", "c", "d", "d", "e", "f", "f"]
    est = stats.cluster_bootstrap_median_ci(values, clusters, seed=0, n_resamples=2_000)
    assert 0.1 <= est.ci_low <= est.estimate <= est.ci_high <= 0.9
    # Five cases are too few for any interval of a median: the metric's range.
    few = stats.cluster_bootstrap_median_ci(values[:5], clusters[:5], seed=0, bounds=(0, 1))
    assert (few.ci_low, few.ci_high) == (0.0, 1.0) and "too few" in (few.note or "")


def test_few_clusters_say_the_interval_may_be_short() -> None:
    rng = np.random.default_rng(2)
    values = rng.beta(2, 2, 100)
    few = stats.cluster_bootstrap_median_ci(values, [i % 10 for i in range(100)], seed=0)
    many = stats.cluster_bootstrap_median_ci(values, [i % 25 for i in range(100)], seed=0)
    assert few.note is not None and "only 10 clusters" in few.note
    assert many.note is None or "clusters:" not in many.note
