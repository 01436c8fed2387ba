"""Statistics benchmark: our implementations against scipy / statsmodels, side by side.

    .venv/bin/python bench/bench_stats.py [--runs 3] [--skip-reference-50k]

A. Paired bootstrap, 10,000 resamples on 10,000 cases: the mean difference (BCa and
   percentile) and a corpus-level statistic from per-case sufficient statistics, against
   ``scipy.stats.bootstrap(paired=True)`` with the same generator (the intervals must agree).
B. Everything a run computes: per-metric intervals for 5 score metrics + the pass rate,
   paired tests against a baseline (sign-flip permutation with 10,000 resamples per score
   metric, exact McNemar for pass/fail), non-inferiority p-values and Holm, for 10,000 and
   50,000 cases, against scipy.stats.permutation_test / ttest_1samp / statsmodels.

Times are the best of ``--runs`` (the machine is shared); the first call's scipy.special
import is paid before timing, as a run pays it once.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from pytest_mleval import stats

R = 10_000


def best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    out, times = None, []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def suite(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Baseline/candidate scores (5 metrics) and pass/fail of n cases, positively correlated."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.3, 0.9, (5, n))
    base = rng.beta(10 * mu, 10 * (1 - mu))
    cand = rng.beta(10 * (mu - 0.005), 10 * (1 - mu + 0.005))
    q = rng.beta(0.25, 1 / 12, n)
    return base, cand, (rng.random(n) < q).astype(float), (rng.random(n) < q * 0.99).astype(float)


def bootstrap_section(runs: int) -> None:
    import scipy.stats as st

    n = 10_000
    base, cand, _, _ = suite(n)
    b, c = base[0], cand[0]
    print(f"## A. Paired bootstrap, {R:,} resamples on {n:,} cases")
    for method, scipy_method in (("bca", "BCa"), ("percentile", "percentile")):
        ours_t, ours = best(
            lambda m=method: stats.paired_bootstrap_ci(
                b, c, np.mean, seed=1, n_resamples=R, method=m
            ),
            runs,
        )
        ref_t, ref = best(
            lambda m=scipy_method: st.bootstrap(
                (b, c),
                lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
                paired=True,
                method=m,
                n_resamples=R,
                batch=1000,  # scipy's default (all at once) needs 2.4 GB here
                rng=np.random.default_rng(1),
            ),
            1,
        )
        ci = ref.confidence_interval
        same = np.allclose((ours.ci_low, ours.ci_high), (ci.low, ci.high), rtol=1e-9)
        print(
            f"mean difference, {method:10s}: ours {ours_t * 1000:7.1f} ms   scipy {ref_t * 1000:8.1f} ms"
            f"   ratio {ref_t / ours_t:6.1f}x   same interval: {same}"
        )
    rng = np.random.default_rng(2)
    tokens = rng.integers(5, 40, n).astype(float)
    rows_b = np.column_stack([rng.binomial(tokens.astype(int), 0.6), tokens])
    rows_c = np.column_stack([rng.binomial(tokens.astype(int), 0.61), tokens])

    def ratio(rows: np.ndarray, axis: int = 0) -> np.ndarray:
        sums = rows.sum(axis=axis)
        return np.asarray(sums[..., 0] / sums[..., 1])

    ours_t, ours = best(
        lambda: stats.paired_bootstrap_ci(rows_b, rows_c, ratio, seed=3, n_resamples=R), runs
    )
    ref_t, ref = best(
        lambda: st.bootstrap(
            (rows_b[:, 0], rows_b[:, 1], rows_c[:, 0], rows_c[:, 1]),
            lambda bm, bt, cm, ct, axis: (
                cm.sum(axis=axis) / ct.sum(axis=axis) - bm.sum(axis=axis) / bt.sum(axis=axis)
            ),
            paired=True,
            method="percentile",
            n_resamples=R,
            batch=1000,
            rng=np.random.default_rng(3),
        ),
        1,
    )
    ci = ref.confidence_interval
    same = np.allclose((ours.ci_low, ours.ci_high), (ci.low, ci.high), rtol=1e-9)
    print(
        f"corpus token accuracy (sufficient statistics), percentile: ours {ours_t * 1000:7.1f} ms"
        f"   scipy {ref_t * 1000:8.1f} ms   ratio {ref_t / ours_t:6.1f}x   same interval: {same}"
    )
    print()


def bca_all(cand: np.ndarray) -> list[stats.Estimate]:
    return [stats.mean_ci(x, method="bca", seed=0, n_resamples=R) for x in cand]


def ours_run(base: np.ndarray, cand: np.ndarray, bp: np.ndarray, cp: np.ndarray) -> list[float]:
    out: list[float] = []
    for m in range(base.shape[0]):
        out.append(stats.mean_ci(cand[m]).ci_low)
    out.append(stats.proportion_ci(int(cp.sum()), cp.size).ci_low)
    pvals, nonin = [], []
    for m in range(base.shape[0]):
        pvals.append(stats.paired_test(base[m], cand[m], seed=0, n_resamples=R).p_value)
        nonin.append(stats.noninferiority_pvalue(cand[m] - base[m], 0.02))
    pvals.append(stats.paired_test(bp, cp, test="mcnemar").p_value)
    nonin.append(stats.noninferiority_pvalue(cp - bp, 0.02))
    return out + list(stats.holm(pvals)) + list(stats.holm(nonin))


def reference_run(
    base: np.ndarray, cand: np.ndarray, bp: np.ndarray, cp: np.ndarray, metrics: int
) -> list[float]:
    import scipy.stats as st
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint

    out: list[float] = []
    for m in range(metrics):
        out.append(st.ttest_1samp(cand[m], 0).confidence_interval().low)
    out.append(proportion_confint(int(cp.sum()), cp.size, method="wilson")[0])
    pvals, nonin = [], []
    for m in range(metrics):
        d = cand[m] - base[m]
        res = st.permutation_test(
            (d,),
            lambda x, axis: np.mean(x, axis=axis),
            permutation_type="samples",
            n_resamples=R,
            batch=max(1, 2_000_000 // d.size),
            rng=np.random.default_rng(0),
        )
        pvals.append(res.pvalue)
        nonin.append(st.ttest_1samp(d + 0.02, 0, alternative="less").pvalue)
    b, c = int(((bp == 1) & (cp == 0)).sum()), int(((bp == 0) & (cp == 1)).sum())
    pvals.append(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
    nonin.append(st.ttest_1samp(cp - bp + 0.02, 0, alternative="less").pvalue)
    return (
        out
        + list(multipletests(pvals, method="holm")[1])
        + list(multipletests(nonin, method="holm")[1])
    )


def run_section(runs: int, skip_ref_50k: bool) -> None:
    print(
        f"## B. All statistics of a run (5 score metrics + pass rate; {R:,} permutation resamples)"
    )
    stats.mean_ci([0.0, 1.0])  # pay the one-off scipy.special import outside the timings
    for n in (10_000, 50_000):
        base, cand, bp, cp = suite(n, seed=n)
        ours_t, _ = best(partial(ours_run, base, cand, bp, cp), runs)
        bca_t, _ = best(
            partial(bca_all, cand),
            1,
        )
        line = f"{n:>6,} cases: ours {ours_t:6.3f} s (t intervals; BCa for all 5 metrics adds {bca_t:5.2f} s)"
        if n == 50_000 and skip_ref_50k:
            print(line)
            continue
        metrics = 5 if n == 10_000 else 1
        ref_t, _ = best(partial(reference_run, base, cand, bp, cp, metrics), 1)
        if metrics == 1:
            # One permutation test stands for five: the rest of the reference is negligible.
            ref_t *= 5
            line += f"   scipy/statsmodels ~{ref_t:6.1f} s (1 metric timed x 5)"
        else:
            line += f"   scipy/statsmodels {ref_t:6.1f} s"
        print(line + f"   ratio {ref_t / ours_t:5.1f}x")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-reference-50k", action="store_true")
    args = parser.parse_args()
    bootstrap_section(args.runs)
    run_section(args.runs, args.skip_reference_50k)


if __name__ == "__main__":
    main()
