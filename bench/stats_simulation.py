"""Simulation figures for the statistics: interval coverage, the regression gate's error rates,
test sizes and power. Deterministic (fixed seeds); run with

    .venv/bin/python bench/stats_simulation.py [--suites 2000]

Every figure is a rate over simulated suites; its Monte Carlo standard error is about
sqrt(r (1 - r) / suites), 0.5 points at 95 % and 2,000 suites.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from pytest_mleval import stats


def rate(flags: list[bool]) -> str:
    return f"{100 * float(np.mean(flags)):5.1f} %"


def covers(e: stats.Estimate, truth: float) -> bool:
    return e.ci_low <= truth <= e.ci_high


def binary_runs(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Temperature-0 pass/fail: per-case pass probability ~ Beta(0.25, 1/12), mean 0.75."""
    q = rng.beta(0.25, 1 / 12, n)
    return (rng.random(n) < q).astype(float), (rng.random(n) < q * (1 - drop / 0.75)).astype(float)


def noisy_binary_runs(
    rng: np.random.Generator, n: int, drop: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sampled pass/fail: per-case pass probability ~ Beta(3, 1) (weaker run-to-run correlation)."""
    q = rng.beta(3.0, 1.0, n)
    return (rng.random(n) < q).astype(float), (rng.random(n) < q * (1 - drop / 0.75)).astype(float)


def score_runs(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores: quality mu ~ U(0.3, 0.9), each run ~ Beta(10 mu, 10 (1 - mu))."""
    mu = rng.uniform(0.3, 0.9, n)
    return rng.beta(10 * mu, 10 * (1 - mu)), rng.beta(10 * (mu - drop), 10 * (1 - mu + drop))


Runs = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


def coverage_section(suites: int) -> None:
    rng = np.random.default_rng(1)
    print("## 95 % interval coverage (n = 50 cases per suite)")
    for p in (0.5, 0.7, 0.9, 0.97):
        k = rng.binomial(50, p, suites)
        w = rate([covers(stats.proportion_ci(int(x), 50), p) for x in k])
        cp = rate([covers(stats.proportion_ci(int(x), 50, method="clopper-pearson"), p) for x in k])
        print(f"pass rate {p:4.2f}: Wilson {w}   Clopper-Pearson {cp}")
    for a, b, label in ((2.0, 5.0, "Beta(2,5) scores"), (0.3, 0.3, "Beta(0.3,0.3) U-shaped")):
        data = rng.beta(a, b, (suites, 50))
        truth = a / (a + b)
        t = rate([covers(stats.mean_ci(x), truth) for x in data])
        bca = rate(
            [
                covers(stats.mean_ci(x, method="bca", seed=i, n_resamples=2000), truth)
                for i, x in enumerate(data)
            ]
        )
        pct = rate(
            [
                covers(stats.mean_ci(x, method="percentile", seed=i, n_resamples=2000), truth)
                for i, x in enumerate(data)
            ]
        )
        print(f"{label}: t {t}   BCa {bca}   percentile {pct}")
    data = rng.exponential(1.0, (suites, 50))
    t = rate([covers(stats.mean_ci(x), 1.0) for x in data])
    bca = rate(
        [
            covers(stats.mean_ci(x, method="bca", seed=i, n_resamples=2000), 1.0)
            for i, x in enumerate(data)
        ]
    )
    print(f"Exponential (heavy skew): t {t}   BCa {bca}")
    print()
    print("## Clustered cases (20 clusters of 10, intra-cluster correlation ~0.3)")
    labels = np.repeat(np.arange(20), 10)
    naive, cr1, cb_bca, cb_pct = [], [], [], []
    for i in range(suites):
        x = 0.6 + rng.normal(0, 0.1, 20)[labels] + rng.normal(0, 0.15, 200)
        naive.append(covers(stats.mean_ci(x), 0.6))
        cr1.append(covers(stats.clustered_mean_ci(x, labels.tolist()), 0.6))
        cb_bca.append(
            covers(stats.cluster_bootstrap_ci(x, labels.tolist(), seed=i, n_resamples=2000), 0.6)
        )
        cb_pct.append(
            covers(
                stats.cluster_bootstrap_ci(
                    x, labels.tolist(), seed=i, n_resamples=2000, method="percentile"
                ),
                0.6,
            )
        )
    print(
        f"naive t {rate(naive)}   CR1 t {rate(cr1)}   cluster bootstrap BCa {rate(cb_bca)}   percentile {rate(cb_pct)}"
    )
    print()


def gate_section(suites: int) -> None:
    print("## Regression gate (n = 200, margin 0.02, one-sided alpha 0.05)")
    print("model                         no change   drop=margin   drop 0.10   drop 0.05")
    for name, runs in (
        ("pass/fail, temperature 0", binary_runs),
        ("pass/fail, sampled", noisy_binary_runs),
        ("continuous scores", score_runs),
    ):
        rng = np.random.default_rng(3)
        cells = []
        for drop in (0.0, 0.02, 0.10, 0.05):
            fired = []
            for _ in range(suites):
                b, c = runs(rng, 200, drop)
                fired.append(stats.regression_detected(c - b, margin=0.02))
            cells.append(rate(fired))
        print(f"{name:28s}  {cells[0]:>9s}   {cells[1]:>11s}   {cells[2]:>9s}   {cells[3]:>9s}")
    rng = np.random.default_rng(5)
    tango, wald = [], []
    for _ in range(suites):
        b, c = binary_runs(rng, 200, 0.10)
        _, lo, hi = stats.paired_proportion_ci(b, c)
        tango.append(lo <= -0.10 <= hi)
        wald.append(covers(stats.mean_ci(c - b), -0.10))
    print(
        f"95 % CI of the pass-rate change (true -0.10): Tango score {rate(tango)}   t on differences {rate(wald)}"
    )
    print()


def size_power_section(suites: int) -> None:
    print("## Paired tests: size (no difference) and planned power")
    rng = np.random.default_rng(4)
    sizes: dict[str, list[bool]] = {"permutation": [], "wilcoxon": [], "sign": [], "t": []}
    for _ in range(suites):
        d = rng.standard_t(3, 30)
        for test in sizes:
            sizes[test].append(stats.paired_test(np.zeros(30), d, test=test, seed=0).p_value < 0.05)
    print(
        "rejections at 5 %, 30 cases, t(3) differences: "
        + "   ".join(f"{k} {rate(v)}" for k, v in sizes.items())
    )
    mc = []
    for _ in range(suites):
        b, c = binary_runs(rng, 300, 0.0)
        mc.append(stats.paired_test(b, c, test="mcnemar").p_value < 0.05)
    print(
        f"exact McNemar, 300 pass/fail cases, no change: {rate(mc)} (exact tests are conservative)"
    )
    n = stats.required_n(0.05, sd_diff=0.2)
    hits = [
        stats.paired_test(np.zeros(n), rng.normal(0.05, 0.2, n), test="t").p_value < 0.05
        for _ in range(suites)
    ]
    print(f"required_n(0.05, sd_diff=0.2) = {n}: simulated power {rate(hits)} (planned 80 %)")
    n = stats.required_n_binary(0.10, discordant=0.25)
    hits = []
    for _ in range(suites):
        kind = rng.choice(
            3, n, p=[0.175, 0.075, 0.75]
        )  # down, up, unchanged: delta -0.10, psi 0.25
        hits.append(stats.mcnemar_exact(int((kind == 0).sum()), int((kind == 1).sum())) < 0.05)
    print(
        f"required_n_binary(0.10, discordant=0.25) = {n}: simulated power of exact McNemar {rate(hits)} (planned 80 %)"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suites", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    coverage_section(args.suites)
    gate_section(args.suites)
    size_power_section(args.suites)
    print(f"({args.suites} simulated suites per figure, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
