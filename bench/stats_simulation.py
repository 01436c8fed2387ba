"""Simulation figures for the statistics: interval coverage, the regression gate's error rates,
test sizes and power. Deterministic (fixed seeds); run with

    .venv/bin/python bench/stats_simulation.py [--suites 2000]

Every figure is a rate over simulated suites; its Monte Carlo standard error is about
sqrt(r (1 - r) / suites), 0.5 points at 95 % and 2,000 suites.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from pytest_mleval import stats
from pytest_mleval.results.records import PASS_RATE, CaseResult, MetricScore, RunResults, SuiteInfo


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


# --- clustered cases: designs for the pass-rate and score intervals ---------------------------

CLUSTER_SIZE = 10
CLUSTER_POPULATION = 20  # "identical cluster means": each cluster samples 10 of its 20 cases
SCORE_PRECISION = 4.0  # per-case score ~ Beta(mu_j * 4, (1 - mu_j) * 4): skewed near the edges
CLUSTER_DESIGNS = ("ICC 0", "ICC 0.3", "identical cluster means")
CLUSTER_COUNTS = (5, 10, 20, 50)
CLUSTER_RATES = (0.5, 0.7, 0.9, 0.97, 1.0)


def clustered_pass_fail(
    rng: np.random.Generator, design: str, clusters: int, p: float
) -> tuple[np.ndarray, float] | None:
    """One suite's pass/fail outcomes in clusters of 10 and its true pass rate.

    ICC 0: independent cases. ICC 0.3: each cluster's pass probability ~ Beta with mean p and
    intra-cluster correlation 0.3 (beta-binomial). Identical cluster means: every cluster is
    drawn from a population of 20 cases of which exactly 20 p pass (the same in every
    cluster), 10 sampled without replacement, so the sample's cluster means are more alike
    than independent draws (issue 13's "one failure per cluster" is the extreme); ``None``
    where 20 p is not a whole number.
    """
    n = clusters * CLUSTER_SIZE
    if design == "identical cluster means":
        k = round(p * CLUSTER_POPULATION)
        if abs(k - p * CLUSTER_POPULATION) > 1e-9:
            return None
        pop = np.zeros((clusters, CLUSTER_POPULATION))
        pop[:, :k] = 1.0
        return rng.permuted(pop, axis=1)[:, :CLUSTER_SIZE].ravel(), p
    codes = np.repeat(np.arange(clusters), CLUSTER_SIZE)
    if design == "ICC 0.3" and 0.0 < p < 1.0:
        s = 1 / 0.3 - 1  # a + b of the cluster Beta: ICC = 1 / (a + b + 1)
        pj = rng.beta(p * s, (1 - p) * s, clusters)[codes]
    else:
        pj = np.full(n, p)
    return (rng.random(n) < pj).astype(float), p


def clustered_scores(
    rng: np.random.Generator, design: str, clusters: int, mu: float
) -> tuple[np.ndarray, float]:
    """One suite's scores on [0, 1] in clusters of 10 and their true mean.

    Case scores ~ Beta(mu_j 4, (1 - mu_j) 4). ICC 0: mu_j = mu. ICC 0.3: mu_j ~ Beta with mean
    mu, precision chosen for an intra-cluster correlation of 0.3. Identical cluster means:
    every cluster's population is the same 20 scores (one draw per suite; their mean is the
    truth), 10 sampled without replacement. A mean of 1.0 is every score 1.0.
    """
    n = clusters * CLUSTER_SIZE
    if mu >= 1.0:
        return np.ones(n), 1.0
    if design == "identical cluster means":
        pattern = rng.beta(mu * SCORE_PRECISION, (1 - mu) * SCORE_PRECISION, CLUSTER_POPULATION)
        pop = np.tile(pattern, (clusters, 1))
        return rng.permuted(pop, axis=1)[:, :CLUSTER_SIZE].ravel(), float(pattern.mean())
    codes = np.repeat(np.arange(clusters), CLUSTER_SIZE)
    if design == "ICC 0.3":
        kappa = (SCORE_PRECISION + 1) / 0.3 - (SCORE_PRECISION + 1)
        muj = np.clip(rng.beta(mu * kappa, (1 - mu) * kappa, clusters), 1e-9, 1 - 1e-9)[codes]
    else:
        muj = np.full(n, mu)
    return rng.beta(muj * SCORE_PRECISION, (1 - muj) * SCORE_PRECISION), mu


def exactly_identical_widths(clusters: int = 8) -> str:
    """Issue 13's case: 8 clusters of 5 with one failure each (32/40), and 40/40 passing."""
    labels = np.repeat(np.arange(clusters), 5).tolist()
    out = []
    for x in (np.tile([0.0, 1, 1, 1, 1], clusters), np.ones(5 * clusters)):
        e = stats.clustered_proportion_ci(x, labels)
        olo, ohi = old_clustered_t(x, labels)
        out.append(
            f"{int(x.sum())}/{x.size}: [{e.ci_low:.3f}, {e.ci_high:.3f}] (before [{olo:.3f}, {ohi:.3f}])"
        )
    return "; ".join(out)


def old_clustered_t(x: np.ndarray, labels: list[int]) -> tuple[float, float]:
    """The interval before issue 13: CR1 t on C-1 df, the point when there is no spread."""
    import math

    from scipy import special

    codes = np.asarray(labels)
    c = int(codes.max()) + 1
    m = float(x.mean())
    if float(np.ptp(x)) == 0.0:
        return m, m
    sc = np.bincount(codes, x - m, c)
    h = float(special.stdtrit(c - 1, 0.975)) * math.sqrt(c / (c - 1) * float(sc @ sc)) / x.size
    return m - h, m + h


def clustered_coverage(
    suites: int, design: str, clusters: int, p: float, *, kind: str, seed: int = 0
) -> dict[str, float] | None:
    """Coverage of the clustered interval (pass rate or score) in one design cell, with its
    mean width, the share of zero-width intervals, the old interval's coverage, the coverage of
    the unclustered interval (the floor: the clustered one is never narrower, so it covers at
    least as often) and the share of suites where every case passed (score: every case
    within 1e-9 of 1)."""
    rng = np.random.default_rng([seed, CLUSTER_DESIGNS.index(design), clusters, round(p * 1000)])
    labels = np.repeat(np.arange(clusters), CLUSTER_SIZE).tolist()
    hit, old_hit, widths, zero, naive_widths, floor, perfect = [], [], [], 0, [], [], 0
    for _ in range(suites):
        if kind == "pass rate":
            drawn = clustered_pass_fail(rng, design, clusters, p)
            if drawn is None:
                return None
            x, truth = drawn
            e = stats.clustered_proportion_ci(x, labels)
            naive = stats.proportion_ci(int(x.sum()), x.size)
        else:
            x, truth = clustered_scores(rng, design, clusters, p)
            e = stats.clustered_mean_ci(x, labels, bounds=(0.0, 1.0))
            naive = stats.mean_ci(x, bounds=(0.0, 1.0))
        lo, hi = max(0.0, e.ci_low), min(1.0, e.ci_high)  # as aggregate_suite clips scores
        tol = 1e-12
        hit.append(lo - tol <= truth <= hi + tol)
        olo, ohi = old_clustered_t(x, labels)
        old_hit.append(olo - tol <= truth <= ohi + tol)
        widths.append(hi - lo)
        n_lo, n_hi = max(0.0, naive.ci_low), min(1.0, naive.ci_high)
        naive_widths.append(n_hi - n_lo)
        floor.append(n_lo - tol <= truth <= n_hi + tol)
        perfect += bool(x.min() >= 1.0 - 1e-9)
        zero += hi <= lo
    return {
        "coverage": float(np.mean(hit)),
        "old": float(np.mean(old_hit)),
        "width": float(np.mean(widths)),
        "naive_width": float(np.mean(naive_widths)),
        "zero_width": zero / suites,
        "floor": float(np.mean(floor)),
        "perfect": perfect / suites,
    }


def clustered_section(suites: int) -> None:
    print(
        f"## Clustered cases: 95 % interval coverage, clusters of {CLUSTER_SIZE} "
        "(in brackets: the interval before issue 13, CR1 t and the point without spread; in "
        "square brackets: the unclustered interval, the floor of the clustered one's coverage; "
        "after a slash: the share of suites where every case passed, where above 1 %)"
    )
    for kind in ("pass rate", "score"):
        for design in CLUSTER_DESIGNS:
            print(f"{kind}, {design}:")
            print("  clusters  " + "".join(f"{'p=' + format(p, 'g'):>28s}" for p in CLUSTER_RATES))
            for clusters in CLUSTER_COUNTS:
                cells = []
                for p in CLUSTER_RATES:
                    r = clustered_coverage(suites, design, clusters, p, kind=kind)
                    if r is None:
                        cells.append(f"{'n/a':>28s}")
                        continue
                    cell = (
                        f"{100 * r['coverage']:5.1f} ({100 * r['old']:5.1f}) "
                        f"[{100 * r['floor']:5.1f}]"
                    )
                    if 0.01 <= r["perfect"] < 1.0:
                        cell += f"/{100 * r['perfect']:.0f}"
                    if r["zero_width"]:
                        cell += "!"  # never expected: a zero-width interval was produced
                    cells.append(f"{cell:>28s}")
                print(f"  {clusters:8d}  " + "".join(cells))
    print(f"exactly identical cluster means, 8 clusters of 5: {exactly_identical_widths()}")
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
    # A perfect baseline: no spread to plan with; the Bernoulli bound (a drop d flips d of the
    # cases) gives the count, checked against the exact McNemar test on the simulated flips.
    n = stats.required_n_constant_baseline(0.05, baseline=1.0, binary=True)
    hits = [stats.mcnemar_exact(int(rng.binomial(n, 0.05)), 0) < 0.05 for _ in range(suites)]
    print(
        f"required_n_constant_baseline(0.05, baseline=1.0, binary=True) = {n}: simulated power "
        f"of exact McNemar {rate(hits)} (planned 80 %)"
    )
    print()


# --- variants: multiplicity across pairs and metrics (issue 18) ----------------------------

VARIANT_CASES = 100
VARIANT_NAMES = ("a", "b", "c", "d")


def variant_draws(
    rng: np.random.Generator, design: str, k: int, n: int, shift: float = 0.0
) -> dict[str, dict[str, np.ndarray]]:
    """Per variant, per metric, n per-case values. Every variant and metric of a case shares
    its latent quality (so pairs and metrics are correlated, as real variants are); given it,
    each variant's outcomes are independent draws, identical in law: no variant differs, except
    ``shift`` added to the last variant's ``m1`` (the partial null)."""
    if design == "continuous":
        mu = rng.uniform(0.3, 0.9, n)
    else:
        a, b = (0.25, 1 / 12) if design == "pass/fail, temperature 0" else (3.0, 1.0)
        q = rng.beta(a, b, n)
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, v in enumerate(VARIANT_NAMES[:k]):
        if design == "continuous":
            d = shift if i == k - 1 else 0.0
            m1 = rng.beta(10 * (mu + d), 10 * (1 - mu - d))
            m2 = rng.beta(10 * mu, 10 * (1 - mu))
            # The pass rate reads the case (all metrics >= 0.5 would tie it to m1's shift).
            out[v] = {"m1": m1, "m2": m2, PASS_RATE: (rng.random(n) < mu).astype(float)}
        else:
            out[v] = {m: (rng.random(n) < q).astype(float) for m in (PASS_RATE, "m1", "m2")}
    return out


def variant_run(draws: dict[str, dict[str, np.ndarray]]) -> RunResults:
    """The results ``assemble_run`` would hold for one suite's variants: cases and aggregates."""
    from pytest_mleval.results.aggregate import aggregate_suite

    run = RunResults()
    for v, metrics in draws.items():
        name = f"s[{v}]"
        cases = [
            CaseResult(
                suite=name,
                variant=v,
                case_id=f"c{i:03d}",
                passed=bool(metrics[PASS_RATE][i]),
                scores={
                    m: MetricScore(score=float(x[i]), threshold=0.5, passed=bool(x[i] >= 0.5))
                    for m, x in metrics.items()
                    if m != PASS_RATE
                },
            )
            for i in range(len(metrics[PASS_RATE]))
        ]
        run.cases.extend(cases)
        run.suites.append(SuiteInfo(name=name, variant=v, variant_of="s"))
        run.aggregates.extend(aggregate_suite(name, cases))
    return run


def variants_section(suites: int) -> None:
    from pytest_mleval.results.variants import VariantPlan, build_variant_sets

    print(
        f"## Variants: any pair declared better under no differences ({VARIANT_CASES} cases, "
        "3 metrics, alpha 0.05; family-wise error, BH's equals its FDR under the complete null)"
    )
    print(
        "design                       variants  comparisons   unadjusted     Holm       BH   'best' (Holm)"
    )
    designs = ("pass/fail, temperature 0", "pass/fail, sampled", "continuous")
    layouts = ((2, None), (3, None), (4, None), (4, "a"))
    for design in designs:
        for k, reference in layouts:
            rng = np.random.default_rng(18)
            names = VARIANT_NAMES[:k]
            raw, holm, bh, best = [], [], [], []
            m = 0
            for _ in range(suites):
                run = variant_run(variant_draws(rng, design, k, VARIANT_CASES))
                (vs,) = build_variant_sets(
                    run,
                    {"s": VariantPlan("s", names, reference=reference)},
                    n_resamples=2000,
                )
                pairs = vs.pairs
                m = len(pairs)
                # BH on the same p-values (what `multiplicity: bh` computes, tested for parity
                # with statsmodels), so the suite's paired tests run once.
                q = stats.benjamini_hochberg([p.p_value for p in pairs])
                raw.append(any(p.p_value < 0.05 for p in pairs))
                holm.append(any(p.better for p in pairs))
                bh.append(any(qi < 0.05 and p.diff != 0 for qi, p in zip(q, pairs, strict=True)))
                best.append(any(v.best for v in vs.verdicts))
            label = f"{k}{' vs ref' if reference else ''}"
            print(
                f"{design:28s} {label:>8s}  {m:11d}   {rate(raw):>10s} {rate(holm):>8s} "
                f"{rate(bh):>8s}   {rate(best):>8s}"
            )
    print(
        "partial null (continuous, 4 variants, d's m1 +0.05; 3 of 18 comparisons differ): "
        "errors over the 15 true nulls and power over the 3 differences"
    )
    rng = np.random.default_rng(19)
    fwer: dict[str, list[bool]] = {"holm": [], "bh": []}
    fdp: dict[str, list[float]] = {"holm": [], "bh": []}
    power: dict[str, list[float]] = {"holm": [], "bh": []}
    for _ in range(suites):
        run = variant_run(variant_draws(rng, "continuous", 4, VARIANT_CASES, shift=0.05))
        for how in ("holm", "bh"):
            (vs,) = build_variant_sets(
                run, {"s": VariantPlan("s", VARIANT_NAMES, multiplicity=how)}, n_resamples=2000
            )
            real = [p for p in vs.pairs if p.metric == "m1" and "d" in (p.a, p.b)]
            null = [p for p in vs.pairs if p not in real]
            false = sum(1 for p in null if p.better)
            declared = false + sum(1 for p in real if p.better)
            fwer[how].append(false > 0)
            fdp[how].append(false / declared if declared else 0.0)
            power[how].append(sum(1 for p in real if p.better == "d") / len(real))
    for how in ("holm", "bh"):
        print(
            f"  {how:4s}: family-wise error {rate(fwer[how])}   FDR "
            f"{100 * float(np.mean(fdp[how])):5.1f} %   power {100 * float(np.mean(power[how])):5.1f} %"
        )
    print()


# --- sequential: anytime-valid early stopping (issue 19) -----------------------------------

SEQ_ALPHA = 0.05
SEQ_CRIT = math.log(2 / SEQ_ALPHA)  # each side of the hedged capital at alpha / 2
SEQ_CHUNK = 250


def seq_pairs(
    rng: np.random.Generator, reps: int, n: int, kind: str, base: float, drop: float
) -> tuple[np.ndarray, np.ndarray]:
    """reps suites of n cases as rows: (baseline, candidate), candidate mean lower by ``drop``.
    Each case has a latent quality ~ Beta(4 p, 4 (1 - p)) shared by both runs (paired);
    pass/fail runs pass with that probability, scores are Beta(10 mu, 10 (1 - mu)) around it;
    the candidate scales it by 1 - drop / p."""
    mu = rng.beta(4 * base, 4 * (1 - base), (reps, n))
    mu_c = mu * (1 - drop / base)
    if kind == "pass/fail":
        return (rng.random((reps, n)) < mu).astype(float), (rng.random((reps, n)) < mu_c).astype(
            float
        )
    mu, mu_c = np.clip(mu, 1e-3, 1 - 1e-3), np.clip(mu_c, 1e-3, 1 - 1e-3)
    return rng.beta(10 * mu, 10 * (1 - mu)), rng.beta(10 * mu_c, 10 * (1 - mu_c))


def first_look(hit: np.ndarray) -> np.ndarray:
    """First look (1-based) where ``hit`` holds in each row; n + 1 where it never does."""
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, hit.shape[-1] + 1)


def crossed(log_k: np.ndarray) -> np.ndarray:
    return first_look(log_k >= SEQ_CRIT)


def seq_misses(x: np.ndarray, truth: np.ndarray | float, population: int | None) -> np.ndarray:
    """Whether the sequence ever excludes the truth (rows of x; truth per row or one value)."""
    out = np.empty(x.shape[0], dtype=bool)
    truths = np.broadcast_to(np.asarray(truth, dtype=float), (x.shape[0],))
    for i in range(x.shape[0]):
        plus, minus = stats.betting_log_capital(x[i], truths[i], population=population)
        out[i] = max(plus.max(), minus.max()) >= SEQ_CRIT
    return out


def seq_misses_fast(x: np.ndarray, truth: float, bounds: tuple[float, float]) -> np.ndarray:
    """seq_misses for one truth shared by all rows, vectorised over rows (infinite population)."""
    out = []
    for s in range(0, x.shape[0], SEQ_CHUNK):
        plus, minus = stats.betting_log_capital(x[s : s + SEQ_CHUNK], truth, bounds=bounds)
        out.append(np.maximum(plus.max(axis=1), minus.max(axis=1)) >= SEQ_CRIT)
    return np.concatenate(out)


def naive_misses(x: np.ndarray, truth: float, binary: bool) -> np.ndarray:
    """Whether a fixed-n 95 % interval (Wilson, or t) recomputed after every case from case 10
    on ever excludes the truth: what looking at an ordinary interval after every case does."""
    from scipy.special import stdtrit

    t = np.arange(1, x.shape[1] + 1, dtype=float)
    s = np.cumsum(x, axis=1)
    m = s / t
    if binary:
        z = 1.959963984540054
        denom = 1 + z * z / t
        centre = (m + z * z / (2 * t)) / denom
        half = z * np.sqrt(m * (1 - m) / t + z * z / (4 * t * t)) / denom
        lo, hi = centre - half, centre + half
    else:
        var = (np.cumsum(x * x, axis=1) - t * m * m) / np.maximum(t - 1, 1)
        q = stdtrit(np.maximum(t - 1, 1), 0.975)
        half = q * np.sqrt(np.maximum(var, 0) / t)
        lo, hi = m - half, m + half
    out = (lo > truth) | (hi < truth)
    return out[:, 9:].any(axis=1)


def regression_stops(b: np.ndarray, c: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(look at which the regression verdict is decided, whether it is 'regressed') per row,
    from the capital at -margin: the upper end passes below -margin when K- there reaches
    2 / alpha (regressed), the lower end reaches -margin when K+ does (not worse / improved)."""
    stop, regressed = [], []
    for s in range(0, b.shape[0], SEQ_CHUNK):
        d = c[s : s + SEQ_CHUNK] - b[s : s + SEQ_CHUNK]
        plus, minus = stats.betting_log_capital(d, -margin, bounds=(-1.0, 1.0))
        down, up = crossed(minus), crossed(plus)
        stop.append(np.minimum(down, up))
        regressed.append(down < up)
    return np.concatenate(stop), np.concatenate(regressed)


def gate_stops(x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(look at which a gate mean >= threshold is decided, whether it passes) per row, for the
    suite's own mean (finite population in random order): passes once the lower end reaches
    the threshold (K+ crosses there, or the seen cases alone guarantee it), fails once the
    upper end is below it."""
    n = x.shape[1]
    stop, passed = [], []
    for s in range(0, x.shape[0], SEQ_CHUNK):
        rows = x[s : s + SEQ_CHUNK]
        plus, minus = stats.betting_log_capital(rows, threshold, population=n)
        sure = np.cumsum(rows, axis=1) >= n * threshold - 1e-9
        up = first_look((plus >= SEQ_CRIT) | sure)
        down = crossed(minus)
        stop.append(np.minimum(np.minimum(up, down), n))
        passed.append(up <= down)
    return np.concatenate(stop), np.concatenate(passed)


def check_against_api(b: np.ndarray, c: np.ndarray, margin: float, threshold: float) -> int:
    """Replays a few suites through PairedConfidenceSequence / ConfidenceSequence and the
    decide_* helpers, look by look, and counts disagreements with the capital shortcut."""
    stop, reg = regression_stops(b, c, margin)
    g_stop, g_pass = gate_stops(c, threshold)
    n = b.shape[1]
    bad = 0
    for i in range(b.shape[0]):
        pcs = stats.PairedConfidenceSequence()
        cs = stats.ConfidenceSequence(population=n)
        r_at, r_what, g_at, g_what = n + 1, "", n, ""
        for t in range(n):
            iv = pcs.update(b[i, t], c[i, t])
            what = stats.decide_regression(iv, margin)
            if what != "undecided" and r_at == n + 1:
                r_at, r_what = t + 1, what
            gate = stats.decide_gate(cs.update(c[i, t]), threshold)
            if gate != "undecided" and not g_what:
                g_at, g_what = t + 1, gate
        bad += int(r_at != stop[i] or (r_at <= n and (r_what == "regressed") != reg[i]))
        bad += int(g_at != g_stop[i] or (g_what == "pass") != g_pass[i])
    return bad


def fixed_regressed(b: np.ndarray, c: np.ndarray, binary: bool) -> np.ndarray:
    """The fixed-n verdict at the last case as compare_runs reaches it (margin 0): McNemar for
    pass/fail, the sign-flip permutation test for scores (2,000 resamples here); regressed
    when p < 0.05 and the mean difference is negative."""
    out = np.empty(b.shape[0], dtype=bool)
    for i in range(b.shape[0]):
        r = stats.paired_test(
            b[i],
            c[i],
            test="mcnemar" if binary else "permutation",
            seed=i,
            n_resamples=2000,
        )
        out[i] = r.p_value < 0.05 and r.diff < 0
    return out


def pct(x: np.ndarray | float) -> str:
    return f"{100 * float(np.mean(x)):5.1f} %"


def sequential_section(suites: int, ns: tuple[int, ...] = (200, 1000)) -> None:
    print(
        "## Sequential (anytime-valid) evaluation: betting confidence sequences, alpha 0.05, "
        "a look after every case"
    )
    kinds = ("pass/fail", "scores")
    print("### Type-I error under no change (the truth ever excluded, at any look)")
    print(
        "kind        n     base   one sample   one sample, suite mean   paired diff   "
        "| fixed-n interval looked at after every case"
    )
    for kind in kinds:
        for n in ns:
            for base in (0.5, 0.7, 0.9):
                rng = np.random.default_rng(int(1000 * base) + n)
                b, c = seq_pairs(rng, suites, n, kind, base, 0.0)
                one = seq_misses_fast(c, base, (0.0, 1.0))
                wor = seq_misses(c, c.mean(axis=1), n)
                paired = seq_misses_fast(c - b, 0.0, (-1.0, 1.0))
                naive = naive_misses(c, base, kind == "pass/fail")
                print(
                    f"{kind:10s} {n:5d}   {base:4.2f}   {pct(one):>10s}   {pct(wor):>22s}   "
                    f"{pct(paired):>11s}   | {pct(naive)}"
                )
    print()
    drops = (0.0, 0.05, 0.10, 0.20)
    print("### Regression verdict (paired, base rate 0.7): cases saved and power")
    print(
        "kind        n   drop | margin 0: saved   'regressed' seq / fixed paired_test "
        "| margin 0.05: saved   regressed beyond it seq / fixed regression gate"
    )
    checked = bad = 0
    for kind in kinds:
        for n in ns:
            for drop in drops:
                rng = np.random.default_rng(7 + int(100 * drop) + n + (kind == "scores"))
                b, c = seq_pairs(rng, suites, n, kind, 0.7, drop)
                cells = []
                for margin in (0.0, 0.05):
                    stop, reg = regression_stops(b, c, margin)
                    if margin == 0.0:
                        fixed = fixed_regressed(b, c, kind == "pass/fail")
                    else:
                        fixed = np.array(
                            [
                                stats.regression_detected(c[i] - b[i], margin=margin)
                                for i in range(suites)
                            ]
                        )
                    saved = pct(1 - np.minimum(stop, n) / n)
                    cells.append(f"{saved:>7s}   {pct(reg & (stop <= n))} / {pct(fixed)}")
                print(f"{kind:10s} {n:5d}  {drop:4.2f} | {cells[0]}   | {cells[1]}")
                if n == min(ns) and drop == 0.10:
                    k = min(20, suites)
                    bad += check_against_api(b[:k], c[:k], 0.05, 0.6)
                    checked += k
    print(
        "(saved: mean share of cases never run, the verdict decided earlier; with margin 0 only a "
        "significant change stops a run, so at no change it runs every case; sequential: the "
        "confidence sequence at alpha 0.05, 0.025 per side; fixed: compare_runs' paired test at "
        "the last case, two-sided 0.05, and the regression gate, one-sided 0.05)"
    )
    print()
    print("### Gate mean >= min on the suite's own mean (finite population, random order)")
    print(
        "kind        n     | truth below the gate by 0.20 / 0.10 / 0.05 / 0 / above by 0.05 / 0.10 / 0.20: "
        "cases saved (decision differs from the full run)"
    )
    for kind in kinds:
        for n in ns:
            rng = np.random.default_rng(11 + n + (kind == "scores"))
            _, c = seq_pairs(rng, suites, n, kind, 0.7, 0.0)
            full = c.mean(axis=1)
            cells = []
            for gap in (-0.20, -0.10, -0.05, 0.0, 0.05, 0.10, 0.20):
                thr = 0.7 - gap
                stop, passed = gate_stops(c, thr)
                wrong = passed != (full >= thr - 1e-12)
                cells.append(f"{pct(1 - stop / n).strip()} ({pct(wrong).strip()})")
            print(f"{kind:10s} {n:5d}   | {' / '.join(cells)}")
    print(
        f"(capital shortcut replayed through PairedConfidenceSequence / ConfidenceSequence and "
        f"decide_regression / decide_gate on {checked} suites x 2: {bad} disagreements)"
    )
    print()


# --- judge scores on the human scale: prediction-powered inference (issue 19) --------------

PPI_JUDGED = 2000
PPI_LABELS = (50, 100, 200)


def ppi_draws(rng: np.random.Generator, design: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """People's and the judge's scores of n cases; the judge's mean is 0.1 above people's.

    ``scores``: people's score 0.8 Beta(2, 3) (mean 0.32), the judge's that plus 0.1 plus
    uniform noise of +-0.1 (never clipped, so the bias is exactly 0.1). ``pass/fail``: people
    pass 60 % of cases; the judge passes 95 % of those and 32.5 % of the others (mean 0.70).
    """
    if design == "scores":
        y = 0.8 * rng.beta(2.0, 3.0, n)
        return y, y + 0.1 + rng.uniform(-0.1, 0.1, n)
    y = (rng.random(n) < 0.6).astype(float)
    return y, (rng.random(n) < np.where(y == 1.0, 0.95, 0.325)).astype(float)


PPI_TRUTH = {"scores": 0.32, "pass/fail": 0.6}


def ppi_section(suites: int) -> None:
    print(
        f"## Judge scores on the human scale: PPI++ (95 %, {PPI_JUDGED} judged cases, "
        "a random n of them labelled; the judge's mean 0.1 above people's)"
    )
    for design, truth in PPI_TRUTH.items():
        rng = np.random.default_rng(19)
        print(f"{design} (people's mean {truth:g}):")
        for n in PPI_LABELS:
            keys = ("ppi++", "ppi++ normal", "ppi", "labels", "judge")
            cover: dict[str, list[bool]] = {k: [] for k in keys}
            width: dict[str, list[float]] = {k: [] for k in keys}
            lams = []
            for _ in range(suites):
                y, f = ppi_draws(rng, design, PPI_JUDGED)
                yl, fl, fu = y[:n], f[:n], f[n:]
                tuned = stats.ppi_mean_ci(yl, fl, fu, bounds=(0.0, 1.0))
                lams.append(tuned.lam)
                for key, e in (
                    ("ppi++", tuned),
                    ("ppi++ normal", stats.ppi_mean_ci(yl, fl, fu, interval="normal")),
                    ("ppi", stats.ppi_mean_ci(yl, fl, fu, lam=1.0, bounds=(0.0, 1.0))),
                    ("labels", stats.classical_mean_ci(yl, bounds=(0.0, 1.0))),
                    ("judge", stats.mean_ci(f, bounds=(0.0, 1.0))),
                ):
                    cover[key].append(e.ci_low <= truth <= e.ci_high)
                    width[key].append(e.ci_high - e.ci_low)
            w = {k: float(np.mean(v)) for k, v in width.items()}
            print(
                f"  n = {n:3d}: coverage PPI++ {rate(cover['ppi++'])} (normal, as ppi_py: "
                f"{rate(cover['ppi++ normal'])})  PPI {rate(cover['ppi'])}  labels only "
                f"{rate(cover['labels'])}  raw judge mean {rate(cover['judge'])}"
            )
            print(
                f"           mean width PPI++ {w['ppi++']:.4f}  PPI {w['ppi']:.4f}  labels only "
                f"{w['labels']:.4f} (PPI++ / labels {w['ppi++'] / w['labels']:.2f}); "
                f"lambda median {float(np.median(lams)):.2f}"
            )
    # The label planner: from 50 labels, how many it asks for to reach the mean width that
    # 200 labels give, and the width those labels then give.
    rng = np.random.default_rng(20)
    for design in PPI_TRUTH:
        widths: list[float] = []
        for _ in range(200):
            y, f = ppi_draws(rng, design, PPI_JUDGED)
            e = stats.ppi_mean_ci(y[:200], f[:200], f[200:])
            widths.append(e.ci_high - e.ci_low)
        target = float(np.mean(widths))
        planned: list[int] = []
        got: list[float] = []
        for _ in range(min(suites, 500)):
            y, f = ppi_draws(rng, design, PPI_JUDGED)
            plan = stats.ppi_labels_needed(y[:50], f[:50], f[50:], target)
            if plan.labels_needed is None:
                continue
            m = plan.labels_needed
            planned.append(m)
            e = stats.ppi_mean_ci(y[:m], f[:m], f[m:])
            got.append(e.ci_high - e.ci_low)
        q = np.percentile(planned, [25, 50, 75])
        print(
            f"label planner, {design}: from 50 labels to the width of 200 ({target:.4f}): asks "
            f"for {q[1]:.0f} (quartiles {q[0]:.0f}-{q[2]:.0f}); those give a mean width "
            f"{float(np.mean(got)):.4f}, within the target in {rate([g <= target for g in got])}"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suites", type=int, default=2000)
    parser.add_argument(
        "--sections",
        default="coverage,clustered,gate,power,variants,sequential,ppi",
        help="comma-separated: coverage, clustered, gate, power, variants, sequential, ppi",
    )
    parser.add_argument(
        "--sequential-n",
        default="200,1000",
        help="suite sizes of the sequential section (comma-separated; e.g. 200,1000,5000)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    sections = {
        "coverage": coverage_section,
        "clustered": clustered_section,
        "gate": gate_section,
        "power": size_power_section,
        "variants": variants_section,
        "sequential": lambda suites: sequential_section(
            suites, tuple(int(v) for v in args.sequential_n.split(","))
        ),
        "ppi": ppi_section,
    }
    for name in args.sections.split(","):
        sections[name.strip()](args.suites)
    print(f"({args.suites} simulated suites per figure, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
