"""Simulations: interval coverage and the regression gate's error rates on realistic suites.

Each check runs 2,000 simulated suites from a fixed seed (deterministic); bench/stats_simulation.py
prints the same figures and more. The whole module runs in well under a minute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pytest_mleval import stats

pytestmark = pytest.mark.slow

SUITES = 2_000


def coverage(intervals: list[stats.Estimate], truth: float) -> float:
    return float(np.mean([e.ci_low <= truth <= e.ci_high for e in intervals]))


def test_wilson_covers_pass_rates() -> None:
    rng = np.random.default_rng(1)
    for p in (0.7, 0.9):
        passes = rng.binomial(50, p, SUITES)
        cov = coverage([stats.proportion_ci(int(k), 50) for k in passes], p)
        assert 0.93 <= cov <= 0.97, (p, cov)


def test_t_and_bca_cover_mean_scores() -> None:
    rng = np.random.default_rng(2)
    a, b = 2.0, 5.0  # skewed scores in [0, 1], mean 2/7
    data = rng.beta(a, b, (SUITES, 50))
    truth = a / (a + b)
    t = coverage([stats.mean_ci(x) for x in data], truth)
    bca = coverage(
        [stats.mean_ci(x, method="bca", seed=i, n_resamples=2_000) for i, x in enumerate(data)],
        truth,
    )
    assert 0.93 <= t <= 0.97, t
    assert 0.93 <= bca <= 0.97, bca


def binary_runs(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Pass/fail of two runs on the same cases: temperature-0 evals, where most cases pass or
    fail every time (per-case pass probability ~ Beta(0.25, 1/12), mean 0.75); the candidate
    loses each pass with probability drop / 0.75, an expected drop of ``drop``."""
    q = rng.beta(0.25, 1 / 12, n)
    base = rng.random(n) < q
    cand = rng.random(n) < q * (1 - drop / 0.75)
    return base.astype(float), cand.astype(float)


def score_runs(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous scores of two runs: per-case quality mu ~ U(0.3, 0.9), each run's score
    ~ Beta(10 mu, 10 (1 - mu)) (positively correlated runs); the candidate's mu is lower by
    ``drop``."""
    mu = rng.uniform(0.3, 0.9, n)
    base = rng.beta(10 * mu, 10 * (1 - mu))
    cand = rng.beta(10 * (mu - drop), 10 * (1 - mu + drop))
    return base, cand


Runs = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


def gate_rate(runs: Runs, rng: np.random.Generator, drop: float) -> float:
    fired = []
    for _ in range(SUITES):
        base, cand = runs(rng, 200, drop)
        fired.append(stats.regression_detected(cand - base, margin=0.02))
    return float(np.mean(fired))


@pytest.mark.parametrize("runs", [binary_runs, score_runs])
def test_regression_gate_false_alarms_and_power(runs: Runs) -> None:
    rng = np.random.default_rng(3)
    no_change = gate_rate(runs, rng, 0.0)
    real_drop = gate_rate(runs, rng, 0.10)
    # At the margin itself (a true drop of exactly 0.02) the gate is a one-sided 5% test.
    at_margin = gate_rate(runs, rng, 0.02)
    assert no_change <= 0.05, no_change
    assert real_drop >= 0.80, real_drop
    assert at_margin <= 0.065, at_margin


def test_permutation_test_has_its_nominal_size() -> None:
    rng = np.random.default_rng(4)
    # 25 cases with continuous differences: exact enumeration by meeting in the middle.
    p = [stats.permutation_pvalue(rng.normal(0, 1, 25) ** 3) for _ in range(SUITES // 2)]
    assert 0.035 <= float(np.mean(np.array(p) < 0.05)) <= 0.065


def _bench() -> Any:
    """bench/stats_simulation.py, whose clustered designs the checks below share."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "stats_simulation.py"
    spec = importlib.util.spec_from_file_location("mleval_stats_simulation", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("kind", "design", "clusters", "p"),
    [
        (kind, design, clusters, p)
        for design in ("ICC 0", "ICC 0.3")
        for kind, cells in (
            ("pass rate", [(5, 0.5), (10, 0.5), (50, 0.5), (10, 0.7), (50, 0.7)]),
            ("score", [(20, 0.5), (50, 0.5)]),
        )
        for clusters, p in cells
    ],
)
def test_clustered_intervals_cover(kind: str, design: str, clusters: int, p: float) -> None:
    r = _bench().clustered_coverage(SUITES, design, clusters, p, kind=kind)
    # Issue 13's target. Before the few-failure bound stopped at one failure per cluster, ICC 0
    # covered 98.5 % at 5 clusters and 97.5 % at 10 (p = 0.5).
    assert 0.93 <= r["coverage"] <= 0.97, r
    assert r["zero_width"] == 0.0 and r["width"] >= r["naive_width"] - 1e-12, r


@pytest.mark.parametrize(
    ("kind", "design", "clusters", "p"),
    [
        ("pass rate", "ICC 0.3", 5, 1.0),
        ("score", "ICC 0.3", 5, 1.0),
        ("pass rate", "identical cluster means", 10, 0.9),
        ("score", "identical cluster means", 10, 0.7),
        ("score", "ICC 0.3", 5, 0.97),
        ("score", "ICC 0.3", 10, 0.97),
    ],
)
def test_clustered_intervals_err_on_the_conservative_side(
    kind: str, design: str, clusters: int, p: float
) -> None:
    # At p = 1 every suite passes everywhere: any interval holding the estimate covers, and the
    # check is that none is zero-width (before issue 13 all were). With identical cluster means
    # (cluster samples more alike than independent draws) the interval is never narrower than
    # the unclustered one, so it over-covers rather than under-covers. Scores of mean 0.97 in
    # 5 clusters at ICC 0.3 (88.6 % before the nearly-flat widening): a suite that misses the
    # rare low clusters reads as a perfect one, and must cover as a perfect suite does; in 5
    # and 10 clusters no such suite reads a higher ci_low than a perfect one (the
    # constant-sample bound at its maximum), so they cover as often (99-100 %; 94.9 % at 10
    # clusters before that bound, when a suite worse case by case could read better).
    r = _bench().clustered_coverage(SUITES, design, clusters, p, kind=kind)
    assert r["coverage"] >= 0.95 and r["zero_width"] == 0.0, r


@pytest.mark.parametrize(
    ("kind", "clusters", "p"),
    [
        ("pass rate", 20, 0.97),
        ("pass rate", 50, 0.97),
        ("score", 20, 0.9),
        ("score", 50, 0.97),
    ],
)
def test_clustered_intervals_cover_near_the_bound(kind: str, clusters: int, p: float) -> None:
    # Before the few-failure bound and the Wilson form: 90.2, 90.5, 92.8 and 90.5 %.
    r = _bench().clustered_coverage(SUITES, "ICC 0.3", clusters, p, kind=kind)
    assert 0.93 <= r["coverage"] <= 0.975, r
