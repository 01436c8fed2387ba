"""Intervals never narrower than the data justify (issue 13, item 2), and unbounded metrics in
their own units (item 6).

- A clustered interval is never narrower than the unclustered one: pass rates by Wilson on a
  design-effect-adjusted effective sample size (never above n), scores by max(CR1, naive) SE.
- A bounded metric whose sample variance is zero gets an interval valid for any variable on
  [0, 1] (at 0 or 1 the Wilson interval of n passes in n), never zero width.
- ``cost_usd``, ``latency_ms`` and any metric with values outside [0, 1] are means with a t
  interval in their units, never a Wilson interval.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from pytest_mleval import stats
from pytest_mleval.cases.schema import GateSpec
from pytest_mleval.results.aggregate import aggregate_suite, evaluate_gates
from pytest_mleval.results.records import CaseResult, MetricScore
from pytest_mleval.stats import _common


def cases(
    passed: list[bool],
    clusters: Sequence[str | None] | None = None,
    scores: dict[str, list[float]] | None = None,
) -> list[CaseResult]:
    out = []
    for i, ok in enumerate(passed):
        out.append(
            CaseResult(
                suite="s",
                case_id=f"c{i}",
                passed=ok,
                cluster=None if clusters is None else clusters[i],
                scores={k: MetricScore(score=v[i]) for k, v in (scores or {}).items()},
            )
        )
    return out


def by_metric(aggs: list) -> dict:  # type: ignore[type-arg]
    return {a.metric: a for a in aggs}


EIGHT_OF_FIVE = [f"g{i // 5}" for i in range(40)]  # 8 clusters of 5 cases


# --- the reported defects, through aggregate_suite ------------------------------------------


def test_all_passing_in_clusters_is_at_least_as_wide_as_unclustered_wilson() -> None:
    agg = by_metric(aggregate_suite("s", cases([True] * 40, EIGHT_OF_FIVE)))["pass_rate"]
    wilson = stats.proportion_ci(40, 40)
    assert agg.estimate == 1.0
    assert round(wilson.ci_low, 3) == 0.912
    # Before the fix: [1.000, 1.000], "clustered t (zero variance)".
    assert agg.ci_low <= wilson.ci_low + 1e-12 and agg.ci_high == 1.0
    assert "zero variance" not in agg.method


def test_one_failure_per_cluster_never_collapses_to_a_point() -> None:
    passed = [i % 5 != 0 for i in range(40)]  # 32/40, one failure in each cluster of 5
    agg = by_metric(aggregate_suite("s", cases(passed, EIGHT_OF_FIVE)))["pass_rate"]
    wilson = stats.proportion_ci(32, 40)
    assert agg.estimate == pytest.approx(0.8)
    # Before the fix: [0.800, 0.800] (CR1 variance 0: identical cluster means).
    assert agg.ci_low <= wilson.ci_low + 1e-12 and agg.ci_high >= wilson.ci_high - 1e-12
    assert agg.ci_low < 0.7 and agg.ci_high > 0.88


def test_ci_low_gate_fails_on_a_perfect_clustered_suite_that_cannot_show_0_95() -> None:
    suite = cases([True] * 40, EIGHT_OF_FIVE)
    aggs = aggregate_suite("s", suite)
    gate = GateSpec(metric="pass_rate", min=0.95, on="ci_low")
    (result,) = evaluate_gates("s", [gate], suite, aggs)
    # 40 passes cannot show a pass rate of at least 0.95 with 95 % confidence (Wilson 0.912).
    assert not result.passed and result.ci_low is not None and result.ci_low < 0.95


def test_clustered_pass_rate_with_correlated_failures_is_wider_than_wilson() -> None:
    # Whole clusters fail together: 3 of 8 clusters fail entirely.
    passed = [i // 5 >= 3 for i in range(40)]
    agg = by_metric(aggregate_suite("s", cases(passed, EIGHT_OF_FIVE)))["pass_rate"]
    wilson = stats.proportion_ci(25, 40)
    assert agg.ci_high - agg.ci_low > 1.5 * (wilson.ci_high - wilson.ci_low)
    assert agg.ci_low >= 0.0 and agg.ci_high <= 1.0
    assert "design effect" in (agg.note or "")


def test_metric_pass_rate_gate_is_clustered_too() -> None:
    # The share of cases where metric m passed, with whole clusters failing together.
    ok = [i // 5 >= 3 for i in range(40)]
    suite = cases(ok, EIGHT_OF_FIVE, scores={"m": [1.0 if v else 0.0 for v in ok]})
    for c, v in zip(suite, ok, strict=True):
        c.scores["m"] = MetricScore(score=1.0 if v else 0.0, threshold=0.5, passed=v)
    gate = GateSpec(metric="m", stat="pass_rate", min=0.4, on="ci_low")
    (result,) = evaluate_gates("s", [gate], suite, aggregate_suite("s", suite))
    wilson = stats.proportion_ci(25, 40)  # [0.470, 0.763]: the gate passed before the fix
    assert result.ci_low is not None and result.ci_low < wilson.ci_low - 0.05
    assert not result.passed


def no_spread_bound(v: float, n: float) -> tuple[float, float]:
    """n draws all equal to v on [0, 1]: the share q of the distribution away from v is at most
    the Wilson upper bound of 0 in n, and the mean is within q (v - 0) below, q (1 - v) above."""
    z2 = _common._z(0.975) ** 2
    q = z2 / (n + z2)
    return v - q * v, v + q * (1 - v)


def clustered_n_eff(n: int, size: float) -> float:
    """n over the design effect one differing case cannot rule out (clusters of ``size``)."""
    z2 = _common._z(0.975) ** 2
    return n / (1 + (size - 1) * z2 / (size - 1 + z2))


def test_bounded_score_without_spread_is_never_zero_width() -> None:
    for clusters in (None, EIGHT_OF_FIVE):
        scores = {"faith": [1.0] * 40, "half": [0.5] * 40, "judge": [0.75] * 40}
        aggs = by_metric(aggregate_suite("s", cases([True] * 40, clusters, scores=scores)))
        # In clusters the share that could differ is bounded on the effective n that no
        # spread can rule out (8 clusters of 5: 13.5), as for a perfect clustered pass rate.
        n = 40 if clusters is None else clustered_n_eff(40, 5.0)
        for name, mean in (("faith", 1.0), ("half", 0.5), ("judge", 0.75)):
            a = aggs[name]
            # Before the fix: the point, "t (zero variance)" / "clustered t (zero variance)".
            assert a.estimate == mean and a.ci_high > a.ci_low, (clusters, name, a)
            assert (a.ci_low, a.ci_high) == pytest.approx(no_spread_bound(mean, n))
        # At the bound it is the pass rate's interval of 40 passes in 40.
        rate = by_metric(aggregate_suite("s", cases([True] * 40, clusters)))["pass_rate"]
        assert (aggs["faith"].ci_low, aggs["faith"].ci_high) == pytest.approx(
            (rate.ci_low, rate.ci_high)
        )


def test_no_spread_bound_covers_any_distribution_on_0_1() -> None:
    # Worst cases for the bound: a point mass at v with the rest of the mass at 0 or at 1.
    rng = np.random.default_rng(11)
    n, suites = 30, 20_000
    for v, other in ((0.75, 0.0), (0.75, 1.0), (1.0, 0.0), (0.3, 1.0)):
        # Every sample without spread is n copies of v: one interval answers for all of them.
        e = stats.mean_ci([v] * n, bounds=(0.0, 1.0))
        for q in (0.02, 0.06, 0.1, 0.12, 0.2):
            x = np.where(rng.random((suites, n)) < q, other, v)
            truth = (1 - q) * v + q * other
            flat = np.ptp(x, axis=1) == 0
            # Suites whose sample had no spread and whose interval misses the truth: at most
            # about 2.5 % (the one-sided level), at q just above the bound (0.88^30 = 2.2 %).
            missed = flat & ~((e.ci_low <= truth) & (truth <= e.ci_high))
            assert missed.mean() <= 0.03, (v, other, q, missed.mean())


def test_clustered_score_interval_is_never_narrower_than_the_naive_one() -> None:
    # Identical cluster means (each cluster holds the same five scores): CR1 variance is 0.
    pattern = [0.2, 0.4, 0.6, 0.8, 1.0]
    values = pattern * 8
    suite = cases([True] * 40, EIGHT_OF_FIVE, scores={"m": values})
    a = by_metric(aggregate_suite("s", suite))["m"]
    naive = stats.mean_ci(values)
    # The naive t interval, or its Wilson form on [0, 1] (mean 0.6: a little lower).
    assert a.ci_low <= naive.ci_low + 1e-12 and a.ci_high >= naive.ci_high - 1e-12
    assert a.ci_high == pytest.approx(naive.ci_high) and a.ci_low > naive.ci_low - 0.01
    assert a.ci_high - a.ci_low > 0.1


# --- the statistics functions ----------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    hs.lists(hs.integers(0, 1), min_size=2, max_size=60),
    hs.integers(2, 12),
    hs.integers(0, 10_000),
)
def test_clustered_proportion_never_narrower_than_wilson(
    outcomes: list[int], k: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, len(outcomes)).tolist()
    e = stats.clustered_proportion_ci(outcomes, labels)
    w = stats.proportion_ci(sum(outcomes), len(outcomes))
    assert e.ci_low <= w.ci_low + 1e-12 and e.ci_high >= w.ci_high - 1e-12
    assert 0.0 <= e.ci_low <= e.estimate <= e.ci_high <= 1.0
    assert e.ci_high > e.ci_low


@settings(max_examples=80, deadline=None)
@given(
    hs.lists(hs.floats(0, 1, allow_nan=False), min_size=2, max_size=60),
    hs.integers(2, 12),
    hs.integers(0, 10_000),
)
def test_clustered_mean_never_narrower_than_naive(values: list[float], k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, len(values)).tolist()
    e = stats.clustered_mean_ci(values, labels, bounds=(0.0, 1.0))
    naive = stats.mean_ci(values, bounds=(0.0, 1.0))
    assert e.ci_low <= naive.ci_low + 1e-12 and e.ci_high >= naive.ci_high - 1e-12
    assert e.ci_high > e.ci_low
    assert all(math.isfinite(v) for v in (e.estimate, e.ci_low, e.ci_high))


def test_clustered_interval_uses_cr1_when_it_is_wider() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(12), 6)
    x = rng.normal(0, 0.3, 12)[labels] + rng.normal(0.5, 0.1, labels.size)
    fit = sm.OLS(x, np.ones(x.size)).fit(
        cov_type="cluster", cov_kwds={"groups": labels}, use_t=True
    )
    e = stats.clustered_mean_ci(x, labels.tolist())
    assert e.method == "clustered t (CR1, 12 clusters)"
    lo, hi = fit.conf_int(0.05)[0]
    # statsmodels' cluster-robust interval is t on C-1 df: the same interval when CR1 wins.
    assert (e.ci_low, e.ci_high) == pytest.approx((lo, hi), rel=1e-10)


def test_few_clusters_use_t_on_c_minus_1_and_say_so() -> None:
    x = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.9, 0.7, 0.8]
    labels = ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    e = stats.clustered_mean_ci(x, labels)
    naive = stats.mean_ci(x)
    assert "3 clusters" in (e.note or "") and "C-1" in (e.note or "")
    assert e.ci_high - e.ci_low > naive.ci_high - naive.ci_low
    p = stats.clustered_proportion_ci([1, 1, 1, 1, 0, 1, 1, 1, 1], labels)
    assert "3 clusters" in (p.note or "")
    assert p.ci_low < stats.proportion_ci(8, 9).ci_low


def test_zero_variance_bounded_paths_are_never_zero_width() -> None:
    flat = [0.75] * 20
    lo, hi = no_spread_bound(0.75, 20)
    for e in (
        stats.mean_ci(flat, bounds=(0.0, 1.0)),
        stats.mean_ci(flat, method="bca", bounds=(0.0, 1.0)),
        stats.bootstrap_ci(flat, np.mean, bounds=(0.0, 1.0)),
    ):
        assert (e.ci_low, e.ci_high) == pytest.approx((lo, hi)), e
        assert e.note and "[0, 1]" in e.note
    # In 4 clusters of 5 on the effective n that no spread can rule out (as a pass rate).
    c_lo, c_hi = no_spread_bound(0.75, clustered_n_eff(20, 5.0))
    for e in (
        stats.clustered_mean_ci(flat, [i % 4 for i in range(20)], bounds=(0.0, 1.0)),
        stats.cluster_bootstrap_ci(flat, [i % 4 for i in range(20)], bounds=(0.0, 1.0)),
    ):
        assert (e.ci_low, e.ci_high) == pytest.approx((c_lo, c_hi)), e
        assert e.note and "[0, 1]" in e.note and "n_eff" in e.note
        assert c_lo < lo and c_hi > hi
    # Other bounds are rescaled: a score on [0, 10] of 7.5 everywhere.
    e = stats.mean_ci([7.5] * 20, bounds=(0.0, 10.0))
    assert (e.ci_low, e.ci_high) == pytest.approx((10 * lo, 10 * hi))
    # One case on [0, 1]: the Wilson interval of 1 pass in 1, wide but valid.
    one = stats.mean_ci([1.0], bounds=(0.0, 1.0))
    assert one.ci_high == 1.0 and one.ci_low == pytest.approx(stats.proportion_ci(1, 1).ci_low)
    # Without bounds (an unbounded measure) there is no interval to give: the point, said so.
    unb = stats.mean_ci([0.75] * 20)
    assert unb.ci_low == unb.ci_high == 0.75 and unb.note


def test_cluster_bootstrap_is_never_narrower_than_the_naive_interval() -> None:
    pattern = [0.2, 0.4, 0.6, 0.8, 1.0]
    x = pattern * 8
    labels = EIGHT_OF_FIVE
    e = stats.cluster_bootstrap_ci(x, labels, seed=0, n_resamples=500)
    naive = stats.mean_ci(x)
    assert e.ci_low <= naive.ci_low + 1e-12 and e.ci_high >= naive.ci_high - 1e-12


# --- unbounded metrics: means in their units --------------------------------------------------


def test_cost_and_latency_aggregate_as_means_in_their_units() -> None:
    n = 30
    suite = cases(
        [True] * n,
        scores={
            "cost_usd": [0.0] * n,  # every call free (or unpriced): 0/1-valued, not a pass rate
            "latency_ms": [100.0 + 10 * (i % 7) for i in range(n)],
            "out_tokens": [float(i % 3) for i in range(n)],  # unknown anywhere, not in [0, 1]
            "ttft_ms": [float(i % 2) for i in range(n)],  # 0 or 1 ms: a measure, not a pass
        },
    )
    aggs = by_metric(aggregate_suite("s", suite))
    cost = aggs["cost_usd"]
    # Before the fix: "wilson" on 0 of 30 "passes": an interval [0, 0.114] in dollars.
    assert "wilson" not in cost.method
    assert (cost.estimate, cost.ci_low, cost.ci_high) == (0.0, 0.0, 0.0)
    lat = aggs["latency_ms"]
    ref = stats.mean_ci([100.0 + 10 * (i % 7) for i in range(n)])
    assert lat.method == "t" and (lat.ci_low, lat.ci_high) == pytest.approx(
        (ref.ci_low, ref.ci_high)
    )
    assert lat.ci_high > 100.0  # not clipped to [0, 1]
    ttft = aggs["out_tokens"]
    # Before the fix: a t interval clipped to [0, 1] around a mean of 1 ms.
    assert ttft.method == "t" and ttft.ci_high > 1.0 and "clipped" not in (ttft.note or "")
    assert aggs["ttft_ms"].method == "t"


def test_raw_metric_with_values_inside_0_1_is_not_a_pass_rate() -> None:
    # Costs of a cent or two: every value in [0, 1], some 0, but dollars, not a proportion.
    costs = [0.0, 0.01, 0.02, 0.0, 0.01] * 6
    suite = cases([True] * 30, scores={"cost_usd": costs})
    cost = by_metric(aggregate_suite("s", suite))["cost_usd"]
    ref = stats.mean_ci(costs)
    assert cost.method == "t"
    assert (cost.ci_low, cost.ci_high) == pytest.approx((ref.ci_low, ref.ci_high))
    # A flat cent is not a bounded score: no Wilson-of-the-mean interval in dollars either.
    flat = by_metric(aggregate_suite("s", cases([True] * 30, scores={"cost_usd": [0.01] * 30})))
    assert flat["cost_usd"].ci_low == flat["cost_usd"].ci_high == pytest.approx(0.01)


def test_clustered_raw_metric_is_a_clustered_mean_in_its_units() -> None:
    lat = [200.0 + 50 * (i // 5) + (i % 5) for i in range(40)]
    suite = cases([True] * 40, EIGHT_OF_FIVE, scores={"latency_ms": lat})
    a = by_metric(aggregate_suite("s", suite))["latency_ms"]
    assert a.method.startswith("clustered t") and a.ci_high > 300.0
    assert a.ci_low <= stats.mean_ci(lat).ci_low


# --- end to end ---------------------------------------------------------------------------------

APP = """
def answer(case):
    return "no" if str(case.input).startswith("bad") else "yes"
"""


def _suite_yaml(n_clusters: int, fail_first: bool) -> str:
    lines = ["suite: clus", "target: python:app:answer", "metrics:", "  - contains: {value: yes}"]
    lines.append("cases:")
    for g in range(n_clusters):
        for j in range(5):
            bad = fail_first and j == 0
            lines += [
                f"  - id: g{g}c{j}",
                f"    input: {'bad' if bad else 'good'} {g}-{j}",
                f"    cluster: g{g}",
            ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fail_first", [False, True])
def test_end_to_end_clustered_pass_rate(pytester: pytest.Pytester, fail_first: bool) -> None:
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", clus=_suite_yaml(8, fail_first))
    pytester.syspathinsert()
    pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    data = json.loads((Path(pytester.path) / "reports" / "mleval-results.json").read_text())
    (agg,) = [a for a in data["aggregates"] if a["metric"] == "pass_rate"]
    k = 32 if fail_first else 40
    wilson = stats.proportion_ci(k, 40)
    assert agg["estimate"] == pytest.approx(k / 40)
    assert agg["ci_low"] <= wilson.ci_low + 1e-9 and agg["ci_high"] >= wilson.ci_high - 1e-9
    assert agg["ci_high"] > agg["ci_low"]


# --- power for a perfect baseline ----------------------------------------------------------------


def test_required_n_for_a_perfect_baseline_uses_the_bernoulli_bound() -> None:
    from pytest_mleval.stats import power

    # All cases pass: a drop of 0.05 means 5 % of cases flip to failing (discordant = 0.05).
    n = power.required_n_constant_baseline(0.05, baseline=1.0, binary=True)
    assert n == stats.required_n_binary(0.05, discordant=0.05)
    # Connor's formula at psi = delta: (z_a sqrt(d) + z_b sqrt(d (1 - d)))^2 / d^2.
    za, zb = 1.959963984540054, 0.8416212335729143
    assert n == math.ceil((za * math.sqrt(0.05) + zb * math.sqrt(0.05 * 0.95)) ** 2 / 0.05**2)
    mde = power.min_detectable_effect_constant_baseline(n, baseline=1.0, binary=True)
    assert 0.0 < mde <= 0.05 and power.required_n_constant_baseline(mde, baseline=1.0, binary=True)
    # A constant score b on [0, 1] that drops by d: Var(diff) <= (b - d)(1 - b + d) (Bhatia-Davis).
    m = power.required_n_constant_baseline(0.05, baseline=0.7)
    assert m == stats.required_n(0.05, sd_diff=math.sqrt(0.65 * 0.35))
    one = power.required_n_constant_baseline(0.05, baseline=1.0)
    assert one == stats.required_n(0.05, sd_diff=math.sqrt(0.95 * 0.05))
    mde_c = power.min_detectable_effect_constant_baseline(one, baseline=1.0)
    assert mde_c <= 0.05 + 1e-9
    assert power.required_n_constant_baseline(mde_c * 1.0001, baseline=1.0) <= one
    with pytest.raises(ValueError, match="cannot drop"):
        power.required_n_constant_baseline(0.05, baseline=0.0, binary=True)


def test_cli_power_answers_for_a_perfect_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_mleval.cli import main
    from pytest_mleval.results.records import RunResults, write_results
    from pytest_mleval.stats import power

    run = RunResults(cases=cases([True] * 50, scores={"m": [1.0] * 50}))
    b = tmp_path / "b.json"
    write_results(b, run)
    assert main(["power", "--baseline", str(b), "--metric", "pass_rate", "--effect", "0.05"]) == 0
    out = capsys.readouterr().out
    need = power.required_n_constant_baseline(0.05, baseline=1.0, binary=True)
    mde = power.min_detectable_effect_constant_baseline(50, baseline=1.0, binary=True)
    # Before the fix: "every score is identical: ... no estimate needed", no case count.
    assert f"cases needed to detect 0.05: {need} ({need - 50} more needed)" in out
    assert f"minimum detectable effect at n=50 (alpha=0.05, power=0.8): {mde:.4f}" in out
    assert "Bernoulli" in out
    assert main(["power", "--baseline", str(b), "--metric", "m", "--effect", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "cases needed to detect 0.2: " in out and "(enough)" in out


def test_a_metric_registered_raw_is_a_measure_even_inside_0_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_mleval.metrics import registry as metrics

    monkeypatch.setitem(
        metrics._REGISTRY,
        "gpu_hours",
        metrics.MetricDef(name="gpu_hours", fn=lambda sample: 0.0, raw=True),
    )
    suite = cases([True] * 20, scores={"gpu_hours": [0.0, 1.0] * 10, "plain": [0.0, 1.0] * 10})
    aggs = by_metric(aggregate_suite("s", suite))
    assert aggs["gpu_hours"].method == "t"
    # The same 0/1 values of an ordinary metric are a proportion (Wilson).
    assert aggs["plain"].method == "wilson"


def test_cli_power_on_a_constant_unbounded_measure_says_it_cannot_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_mleval.cli import main
    from pytest_mleval.results.records import RunResults, write_results

    b = tmp_path / "b.json"
    write_results(b, RunResults(cases=cases([True] * 20, scores={"cost_usd": [0.0] * 20})))
    assert main(["power", "--baseline", str(b), "--metric", "cost_usd", "--effect", "0.01"]) == 0
    out = capsys.readouterr().out
    # Not "every case fails" (0 dollars is not a failing pass rate) and no made-up count.
    assert "unbounded measure has no variance bound" in out and "cases needed" not in out


def test_cli_power_on_a_perfect_score_does_not_call_it_passing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_mleval.cli import main
    from pytest_mleval.results.records import RunResults, write_results

    b = tmp_path / "b.json"
    write_results(b, RunResults(cases=cases([True] * 40, scores={"rouge_l": [1.0] * 40})))
    assert main(["power", "--baseline", str(b), "--metric", "rouge_l", "--effect", "0.1"]) == 0
    score_out = capsys.readouterr().out
    # rouge_l has no threshold here: every score is 1, which is not "every case passes".
    assert "every score is 1" in score_out and "passes" not in score_out
    assert main(["power", "--baseline", str(b), "--metric", "pass_rate", "--effect", "0.1"]) == 0
    rate_out = capsys.readouterr().out
    assert "every case passes" in rate_out
    # The same planning (a drop of d flips d of the cases) gives the same count either way.
    assert score_out.splitlines()[-1] == rate_out.splitlines()[-1]


# --- paired differences without spread ----------------------------------------------------------


def test_paired_pass_fail_without_changes_gets_tangos_interval_not_a_point() -> None:
    # Two runs where all 40 cases pass in both: no case flipped, which does not prove that no
    # case ever would; Tango's score interval says how large a change is still plausible.
    r = stats.paired_test([1.0] * 40, [1.0] * 40, test="mcnemar")
    _, lo, hi = stats.paired_proportion_ci([1.0] * 40, [1.0] * 40)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))
    assert r.ci_low < -0.05 and r.ci_high > 0.05 and r.p_value == 1.0


def test_paired_bounded_scores_without_spread_get_the_no_spread_bound() -> None:
    same = stats.paired_test([0.5] * 40, [0.5] * 40, bounds=(-1.0, 1.0))
    q = stats.proportion_ci(0, 40).ci_high
    assert (same.ci_low, same.ci_high) == pytest.approx((-q, q))
    assert same.note and "[-1, 1]" in same.note
    shift = stats.paired_test([0.4] * 40, [0.5] * 40, test="t", bounds=(-1.0, 1.0))
    assert shift.ci_low == pytest.approx(0.1 - q * 1.1) and shift.ci_high == pytest.approx(
        0.1 + q * 0.9
    )
    # Without bounds (differences of an unbounded measure) the point stays, said so.
    flat = stats.paired_test([10.0] * 5, [12.0] * 5, test="t")
    assert flat.ci_low == flat.ci_high == pytest.approx(2.0) and flat.note


def test_pairwise_win_rate_in_clusters_is_never_narrower_than_the_clustered_interval() -> None:
    # Whole clusters win or lose together: 5 of 8 clusters won every comparison.
    outcomes = [1.0 if i // 5 >= 3 else 0.0 for i in range(40)]
    suite = cases([True] * 40, EIGHT_OF_FIVE, scores={"pairwise": outcomes})
    a = by_metric(aggregate_suite("s", suite))["pairwise"]
    clustered = stats.clustered_mean_ci(outcomes, EIGHT_OF_FIVE, bounds=(0.0, 1.0))
    wilson = stats.proportion_ci(25, 40)
    # Before the fix: the plain Wilson interval [0.470, 0.763], as if cases were independent.
    assert a.ci_low <= max(0.0, clustered.ci_low) + 1e-12 and a.ci_low < wilson.ci_low - 0.05
    assert a.estimate == pytest.approx(25 / 40) and "win rate" in a.method
