"""Prediction-powered inference: parity with ppi_py, exact small cases, degenerate input, the
label planner."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import ppi_py
import pytest

from pytest_mleval import stats


def draws(seed: int, n: int, big_n: int, bias: float = 0.1) -> tuple[np.ndarray, ...]:
    """Human scores in [0, 1] and a judge biased by ``bias`` with noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    y = rng.beta(2.0, 3.0, n)
    yu = rng.beta(2.0, 3.0, big_n)
    f = np.clip(y + bias + rng.normal(0.0, 0.1, n), 0.0, 1.0)
    fu = np.clip(yu + bias + rng.normal(0.0, 0.1, big_n), 0.0, 1.0)
    return y, f, fu


def scalar(x: object) -> float:
    return float(np.ravel(np.asarray(x))[0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("n", "big_n"), [(5, 12), (50, 2000), (200, 300)])
@pytest.mark.parametrize("lam", [None, 1.0, 0.0, 0.37])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_parity_with_ppi_py(
    seed: int, n: int, big_n: int, lam: float | None, confidence: float
) -> None:
    y, f, fu = draws(seed, n, big_n)
    ours = stats.ppi_mean_ci(y, f, fu, confidence=confidence, lam=lam, interval="normal")
    lo, hi = ppi_py.ppi_mean_ci(y, f, fu, alpha=1 - confidence, lam=lam)
    point = ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam)
    # The same arithmetic in another order (and scipy's normal quantile against the pure
    # Python one): equal to a few ulps.
    assert ours.estimate == pytest.approx(scalar(point), abs=1e-12)
    assert ours.ci_low == pytest.approx(scalar(lo), abs=1e-12)
    assert ours.ci_high == pytest.approx(scalar(hi), abs=1e-12)
    assert ours.n == n and ours.n_unlabelled == big_n
    if lam is None:
        # The tuned weight is ppi_py's: its estimate at that fixed weight is the tuned one.
        weight = stats.ppi_lambda(y, f, fu)
        assert ours.lam == weight and 0.0 <= weight <= 1.0
        assert scalar(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=weight)) == pytest.approx(
            ours.estimate, abs=1e-12
        )
        assert ours.method.startswith("ppi++")
    else:
        assert ours.lam == lam and ours.method.startswith("ppi (")


@pytest.mark.parametrize("seed", range(4))
def test_classical_parity_with_ppi_py(seed: int) -> None:
    y, _, _ = draws(seed, 40, 1)
    ours = stats.classical_mean_ci(y, confidence=0.9, interval="normal")
    lo, hi = ppi_py.classical_mean_ci(y, alpha=0.1)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    assert ours.estimate == pytest.approx(float(y.mean()), abs=1e-15)


def test_clipping_of_lambda_matches_ppi_py() -> None:
    rng = np.random.default_rng(7)
    y = rng.random(30)
    yu = rng.random(300)
    # A judge on a third of the scale: Cov / Var ~ 3, clipped to 1.
    high = stats.ppi_mean_ci(y, y / 3, yu / 3, interval="normal")
    assert high.lam == 1.0
    # A judge that ranks backwards: Cov < 0, clipped to 0 (the labels alone).
    low = stats.ppi_mean_ci(y, 1 - y, 1 - yu, interval="normal")
    assert low.lam == 0.0
    classical = stats.classical_mean_ci(y, interval="normal")
    assert (low.estimate, low.ci_low, low.ci_high) == pytest.approx(
        (classical.estimate, classical.ci_low, classical.ci_high), abs=1e-12
    )
    for got, (y_, f_, fu_) in ((high, (y, y / 3, yu / 3)), (low, (y, 1 - y, 1 - yu))):
        lo, hi = ppi_py.ppi_mean_ci(y_, f_, fu_, alpha=0.05)
        assert (got.ci_low, got.ci_high) == pytest.approx((scalar(lo), scalar(hi)), abs=1e-12)


def test_exact_small_case_by_hand() -> None:
    # Four labelled pairs, four judged-only cases, worked in fractions.
    y = [1, 0, 1, 1]
    f = [1, 0, 0, 1]
    fu = [1, 1, 1, 0]
    n = big_n = 4
    fr = Fraction
    mean_y, mean_f, mean_u = fr(3, 4), fr(1, 2), fr(3, 4)
    cov = sum((fr(a) - mean_y) * (fr(b) - mean_f) for a, b in zip(y, f, strict=True)) / n
    assert cov == fr(1, 8)
    both = f + fu
    m_all = fr(sum(both), len(both))
    var_all = sum((fr(v) - m_all) ** 2 for v in both) / (len(both) - 1)
    assert var_all == fr(15, 56)
    lam = cov / ((1 + fr(n, big_n)) * var_all)
    assert lam == fr(7, 30)
    estimate = lam * mean_u + mean_y - lam * mean_f
    assert estimate == fr(97, 120)
    rect = [fr(a) - lam * b for a, b in zip(y, f, strict=True)]
    m_rect = sum(rect) / n
    var_rect = sum((r - m_rect) ** 2 for r in rect) / n
    var_u = sum((fr(v) - mean_u) ** 2 for v in fu) / big_n
    se = math.sqrt(float(lam**2 * var_u / big_n + var_rect / n))
    z = 1.959963984540054
    got = stats.ppi_mean_ci(y, f, fu, interval="normal")
    assert got.lam == pytest.approx(7 / 30, abs=1e-15)
    assert got.estimate == pytest.approx(97 / 120, abs=1e-15)
    assert got.se == pytest.approx(se, abs=1e-15)
    assert (got.ci_low, got.ci_high) == pytest.approx(
        (97 / 120 - z * se, 97 / 120 + z * se), abs=1e-14
    )
    assert got.judge_bias == pytest.approx(-0.25)
    # Plain PPI: the judged-only mean 3/4 plus the labels' mean error 1/4.
    plain = stats.ppi_mean_ci(y, f, fu, lam=1, interval="normal")
    assert plain.estimate == pytest.approx(1.0)
    assert plain.se == pytest.approx(math.sqrt((3 / 16) / 4 + (3 / 16) / 4))
    # The t interval: the same estimate and weight, divisors n - 1 and N - 1, and Student's
    # quantile on 3 degrees of freedom (3.1824463052837078).
    t = stats.ppi_mean_ci(y, f, fu)
    assert (t.estimate, t.lam) == (got.estimate, got.lam)
    se_t = math.sqrt(float(lam**2 * var_u * fr(4, 3) / big_n + var_rect * fr(4, 3) / n))
    assert t.se == pytest.approx(se_t, abs=1e-15)
    assert t.ci_high - t.estimate == pytest.approx(3.1824463052837078 * se_t, abs=1e-14)
    assert t.method.startswith("ppi++ (t, lambda=0.233")


def test_a_constant_bias_is_removed_exactly() -> None:
    # A judge always 0.1 too generous: plain PPI gives the human mean of the judged-only
    # cases exactly, the raw judge mean is 0.1 off.
    rng = np.random.default_rng(3)
    yu = rng.uniform(0.0, 0.8, 500)
    y = rng.uniform(0.0, 0.8, 20)
    got = stats.ppi_mean_ci(y, y + 0.1, yu + 0.1, lam=1)
    assert got.estimate == pytest.approx(float(yu.mean()), abs=1e-12)
    assert got.judge_bias == pytest.approx(0.1)
    assert float((yu + 0.1).mean()) - float(yu.mean()) == pytest.approx(0.1)


def test_more_informative_than_labels_alone() -> None:
    # A good judge on many cases: the PPI++ interval is well inside the labels-only one.
    y, f, fu = draws(11, 50, 2000)
    for interval in ("t", "normal"):
        ppi = stats.ppi_mean_ci(y, f, fu, interval=interval)  # type: ignore[arg-type]
        classical = stats.classical_mean_ci(y, interval=interval)  # type: ignore[arg-type]
        assert ppi.ci_high - ppi.ci_low < 0.7 * (classical.ci_high - classical.ci_low)


def test_t_interval_against_the_normal_one() -> None:
    # The t interval is the normal one widened by t/z and sqrt of the divisors; the labels-only
    # t interval is mean_ci's.
    y, f, fu = draws(12, 30, 400)
    t = stats.ppi_mean_ci(y, f, fu, lam=0.6)
    normal = stats.ppi_mean_ci(y, f, fu, lam=0.6, interval="normal")
    assert t.estimate == normal.estimate
    rect = y - 0.6 * f
    se = math.sqrt(0.36 * float(np.var(fu, ddof=1)) / 400 + float(np.var(rect, ddof=1)) / 30)
    assert t.se == pytest.approx(se, rel=1e-13)
    assert t.ci_high - t.ci_low == pytest.approx(2 * 2.045229642132703 * se, rel=1e-13)
    alone = stats.classical_mean_ci(y)
    mean = stats.mean_ci(y)
    assert (alone.ci_low, alone.ci_high) == pytest.approx((mean.ci_low, mean.ci_high), abs=1e-15)
    with pytest.raises(ValueError, match="interval"):
        stats.ppi_mean_ci(y, f, fu, interval="z")  # type: ignore[arg-type]


def test_degenerate_inputs_say_why() -> None:
    none = stats.ppi_mean_ci([], [], [0.5, 0.7])
    assert (none.estimate, none.n, none.n_unlabelled) == (0.0, 0, 2)
    assert "no labels" in none.method and none.note and "no labels" in none.note
    one = stats.ppi_mean_ci([0.8], [0.9], [0.1, 0.5, 0.7], bounds=(0.0, 1.0))
    assert one.estimate == 0.8 and one.ci_low < 0.8 < one.ci_high and "one label" in one.method
    all_labelled = stats.ppi_mean_ci([0.2, 0.9, 0.5], [0.3, 0.8, 0.5], [])
    classical = stats.classical_mean_ci([0.2, 0.9, 0.5])
    assert "every judged case is labelled" in all_labelled.method
    assert (all_labelled.ci_low, all_labelled.ci_high) == (classical.ci_low, classical.ci_high)
    flat_judge = stats.ppi_mean_ci([0.2, 0.9, 0.5], [0.5, 0.5, 0.5], [0.5] * 10)
    assert flat_judge.lam == 0.0 and flat_judge.note and "same score" in flat_judge.note
    # Nothing varies: a bounded score still gets an interval of positive width.
    flat = stats.ppi_mean_ci([1, 1, 1], [1, 1, 1], [1] * 50, bounds=(0.0, 1.0), lam=1)
    assert flat.estimate == 1.0 and flat.ci_low < 1.0 and flat.ci_high == 1.0
    assert "bounded" in flat.method
    point = stats.ppi_mean_ci([1, 1, 1], [1, 1, 1], [1] * 50, lam=1)
    assert point.ci_low == point.ci_high == 1.0 and point.note
    with pytest.raises(ValueError, match="length"):
        stats.ppi_mean_ci([1, 0], [1], [0.5])
    with pytest.raises(ValueError, match="finite"):
        stats.ppi_mean_ci([1, math.nan], [1, 0], [0.5])
    with pytest.raises(ValueError, match="confidence"):
        stats.ppi_mean_ci([1, 0], [1, 0], [0.5], confidence=1.0)


@pytest.mark.parametrize("lam", [None, 0.0, 1.0])
def test_labels_that_alone_inform_never_read_better_than_perfect_ones(lam: float | None) -> None:
    # Before: with a judge that scored every case 1.0 (it carries nothing), 19 labels of 1.0
    # and one of 0.99 read ci_low 0.998, twenty 1.0s 0.839: a gate on the human-scale mean
    # failed the perfect suite and passed the worse one. The labels' own interval now gets
    # mean_ci's bounded widenings, in ppi_mean_ci and in classical_mean_ci.
    judged, rest = [1.0] * 20, [1.0] * 200
    perfect = stats.ppi_mean_ci([1.0] * 20, judged, rest, bounds=(0.0, 1.0), lam=lam)
    for v in np.linspace(0.0, 0.999, 60):
        y = [1.0] * 19 + [float(v)]
        e = stats.ppi_mean_ci(y, judged, rest, bounds=(0.0, 1.0), lam=lam)
        assert e.ci_low <= perfect.ci_low + 1e-12, (v, e)
        alone = stats.classical_mean_ci(y, bounds=(0.0, 1.0))
        assert alone.ci_low <= perfect.ci_low + 1e-12, (v, alone)
    assert perfect.ci_low == pytest.approx(stats.mean_ci([1.0] * 20, bounds=(0.0, 1.0)).ci_low)
    # A judge that does inform keeps PPI's gain: the widening is for the labels alone.
    y, f, fu = draws(6, 50, 950)
    free = stats.ppi_mean_ci(y, f, fu, bounds=(0.0, 1.0))
    assert free.lam > 0 and free.ci_high - free.ci_low == pytest.approx(
        stats.ppi_mean_ci(y, f, fu).ci_high - stats.ppi_mean_ci(y, f, fu).ci_low
    )


def test_label_plan() -> None:
    y, f, fu = draws(5, 50, 1950)
    # The plan's width now is the interval's, for either interval.
    t_now = stats.ppi_mean_ci(y, f, fu)
    t_same = stats.ppi_labels_needed(y, f, fu, t_now.ci_high - t_now.ci_low)
    assert t_same.width == pytest.approx(t_now.ci_high - t_now.ci_low, abs=1e-12)
    assert t_same.labels_needed == 50
    # Labelling every case: the t interval of all people's scores (by the labels' variance).
    t_all = stats.ppi_labels_needed(y, f, fu, 1e-9)
    assert t_all.labels_needed is None
    now = stats.ppi_mean_ci(y, f, fu, interval="normal")
    width = now.ci_high - now.ci_low
    same = stats.ppi_labels_needed(y, f, fu, width, interval="normal")
    assert same.width == pytest.approx(width, abs=1e-12)
    assert same.labels_needed == 50 and same.more == 0 and same.judged == 2000
    half = stats.ppi_labels_needed(y, f, fu, width / 2, interval="normal")
    assert half.labels_needed is not None and half.labels_needed > 100 and half.more
    # Labelling every case gives the labels-only width over all of them, nothing narrower.
    z = 1.959963984540054
    all_width = 2 * z * float(np.std(y)) / math.sqrt(2000)
    assert half.best_width <= all_width + 1e-12
    unreachable = stats.ppi_labels_needed(y, f, fu, half.best_width * 0.99, interval="normal")
    assert unreachable.labels_needed is None and unreachable.more is None
    # The width the plan promises at its count, by the formula written out.
    m = half.labels_needed
    rest = 2000 - m
    cov = float(np.mean((y - y.mean()) * (f - f.mean())))
    var_all = float(np.var(np.concatenate([f, fu]), ddof=1))
    lam = min(1.0, max(0.0, cov / ((1 + m / rest) * var_all)))
    rect = float(np.var(y)) - 2 * lam * cov + lam**2 * float(np.var(f))
    w = 2 * z * math.sqrt(rect / m + lam**2 * float(np.var(fu)) / rest)
    assert w <= width / 2
    m1 = m - 1
    lam1 = min(1.0, max(0.0, cov / ((1 + m1 / (2000 - m1)) * var_all)))
    rect1 = float(np.var(y)) - 2 * lam1 * cov + lam1**2 * float(np.var(f))
    assert 2 * z * math.sqrt(rect1 / m1 + lam1**2 * float(np.var(fu)) / (2000 - m1)) > width / 2
    with pytest.raises(ValueError, match="2 labelled"):
        stats.ppi_labels_needed([1], [1], [0.5], 0.1)
    with pytest.raises(ValueError, match="positive"):
        stats.ppi_labels_needed(y, f, fu, 0.0)


def test_t_label_plan_by_brute_force() -> None:
    # Every m's width with Student's exact quantile: the planner's series for large m must
    # pick the same count.
    from scipy import special

    y, f, fu = draws(8, 40, 1460)
    now = stats.ppi_mean_ci(y, f, fu)
    target = (now.ci_high - now.ci_low) * 0.4
    plan = stats.ppi_labels_needed(y, f, fu, target)
    n, total = 40, 1500
    cov = float(np.mean((y - y.mean()) * (f - f.mean())))
    var_all = float(np.var(np.concatenate([f, fu]), ddof=1))
    widths = []
    for m in range(n, total + 1):
        rest = total - m
        lam = min(1.0, max(0.0, cov / ((1 + m / rest) * var_all))) if rest else 0.0
        rect = n / (n - 1) * (float(np.var(y)) - 2 * lam * cov + lam**2 * float(np.var(f)))
        var = rect / m + (lam**2 * float(np.var(fu, ddof=1)) / rest if rest else 0.0)
        widths.append(2 * float(special.stdtrit(m - 1, 0.975)) * math.sqrt(var))
    first = next(m for m, w in zip(range(n, total + 1), widths, strict=True) if w <= target)
    assert plan.labels_needed == first and first > 300
    assert plan.best_width == pytest.approx(min(widths), rel=1e-9)
