"""Bradley-Terry strengths and win rates: parity with a direct scipy maximum-likelihood fit and
statsmodels' Wilson interval, known rankings, ties, a variant that never loses, the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from pytest_mleval import stats
from pytest_mleval.stats import (
    FALLBACK_PRIOR,
    bradley_terry_ci,
    bradley_terry_exists,
    bradley_terry_fit,
    win_rate_ci,
)


def scipy_fit(wins: np.ndarray, prior: float = 0.0) -> np.ndarray:
    """The Bradley-Terry MLE written out independently: every comparison's likelihood summed
    pair by pair, minimised by BFGS with the first strength held at 0, then centred."""
    k = wins.shape[0]
    w = wins.astype(float).copy()
    for i in range(k):
        for j in range(k):
            if i != j and (wins[i, j] + wins[j, i]) > 0:
                w[i, j] += prior / 2

    def nll(free: np.ndarray) -> float:
        s = np.concatenate([[0.0], free])
        total = 0.0
        for i in range(k):
            for j in range(k):
                if i != j and w[i, j]:
                    p = np.exp(s[i]) / (np.exp(s[i]) + np.exp(s[j]))
                    total -= w[i, j] * np.log(p)
        return float(total)

    res = minimize(nll, np.zeros(k - 1), method="BFGS", options={"gtol": 1e-11})
    s = np.concatenate([[0.0], res.x])
    return s - s.mean()


FIXED = np.array(
    [
        [0, 7, 9, 6.5],
        [3, 0, 6, 5],
        [1, 4, 0, 5.5],
        [3.5, 5, 4.5, 0],
    ]
)


def test_strengths_match_a_direct_maximum_likelihood_fit() -> None:
    ours = bradley_terry_fit(FIXED)
    ref = scipy_fit(FIXED)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert abs(ours.mean()) < 1e-12
    # Not a trivial answer: the strengths are spread.
    assert ours.max() - ours.min() > 0.5


def test_the_fit_with_a_prior_matches_the_penalised_likelihood() -> None:
    never_loses = np.array([[0, 4, 3], [0, 0, 2], [0, 1, 0]], dtype=float)
    np.testing.assert_allclose(
        bradley_terry_fit(never_loses, prior=FALLBACK_PRIOR),
        scipy_fit(never_loses, prior=FALLBACK_PRIOR),
        atol=1e-6,
    )


def test_known_strengths_are_recovered_and_ranked() -> None:
    truth = np.array([1.0, 0.3, -0.2, -1.1])
    truth -= truth.mean()
    n = 20_000
    rng = np.random.default_rng(7)
    wins = np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1, 4):
            p = 1 / (1 + np.exp(truth[j] - truth[i]))
            won = rng.binomial(n, p)
            wins[i, j], wins[j, i] = won, n - won
    fitted = bradley_terry_fit(wins)
    np.testing.assert_allclose(fitted, truth, atol=0.03)
    assert list(np.argsort(-fitted)) == [0, 1, 2, 3]


def test_ties_as_half_wins_and_all_ties_give_equal_strengths() -> None:
    all_ties = np.full((3, 3), 2.5)
    np.testing.assert_allclose(bradley_terry_fit(all_ties), 0.0, atol=1e-12)
    # Two variants: exp(s_a - s_b) is the odds of a's (fractional) wins.
    s = bradley_terry_fit(np.array([[0, 3.5], [1.5, 0]]))
    assert s[0] - s[1] == pytest.approx(np.log(3.5 / 1.5), abs=1e-9)


def test_a_variant_that_never_loses_has_no_mle_and_is_fitted_with_the_prior() -> None:
    never_loses = np.array([[0, 5, 5], [0, 0, 3], [0, 2, 0]], dtype=float)
    assert not bradley_terry_exists(never_loses)
    assert bradley_terry_exists(FIXED)
    with pytest.raises(ValueError, match="do not exist"):
        bradley_terry_fit(never_loses)
    fitted = bradley_terry_fit(never_loses, prior=FALLBACK_PRIOR)
    assert np.isfinite(fitted).all()
    assert fitted.argmax() == 0
    per_case = np.zeros((5, 3, 3))
    per_case[:, 0, 1] = per_case[:, 0, 2] = 1.0
    per_case[:3, 1, 2] = 1.0
    per_case[3:, 2, 1] = 1.0
    result = bradley_terry_ci(per_case, seed=1, n_resamples=300)
    assert not result.mle
    assert result.regularised_resamples == 300
    assert np.isfinite(result.ci_high).all()
    assert result.strengths.argmax() == 0


def test_variants_never_compared_with_the_others_are_an_error() -> None:
    apart = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 2], [0, 0, 1, 0]], dtype=float)
    with pytest.raises(ValueError, match="never compared"):
        bradley_terry_fit(apart, prior=1.0)


def test_bootstrap_intervals_hold_the_estimate_are_reproducible_and_shrink_with_cases() -> None:
    rng = np.random.default_rng(3)

    def cases(n: int) -> np.ndarray:
        x = np.zeros((n, 3, 3))
        for c in range(n):
            for i, j, p in ((0, 1, 0.7), (0, 2, 0.8), (1, 2, 0.6)):
                won = rng.random() < p
                x[c, i, j], x[c, j, i] = (1.0, 0.0) if won else (0.0, 1.0)
        return x

    few, many = cases(30), cases(300)
    a = bradley_terry_ci(few, seed=5, n_resamples=500)
    b = bradley_terry_ci(few, seed=5, n_resamples=500)
    np.testing.assert_array_equal(a.ci_low, b.ci_low)
    np.testing.assert_array_equal(a.ci_high, b.ci_high)
    np.testing.assert_allclose(a.strengths, bradley_terry_fit(few.sum(axis=0)))
    assert (a.ci_low <= a.strengths).all() and (a.strengths <= a.ci_high).all()
    big = bradley_terry_ci(many, seed=5, n_resamples=500)
    assert ((big.ci_high - big.ci_low) < (a.ci_high - a.ci_low)).all()
    assert big.mle and big.unplaced_resamples == 0


@pytest.mark.parametrize(
    ("wins", "losses", "ties"),
    [(7, 2, 1), (0, 5, 0), (5, 0, 0), (3, 3, 4), (0, 0, 1), (12, 30, 9)],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_win_rate_matches_statsmodels_wilson(
    wins: int, losses: int, ties: int, confidence: float
) -> None:
    from statsmodels.stats.proportion import proportion_confint

    scores = [1.0] * wins + [0.0] * losses + [0.5] * ties
    n = len(scores)
    est = win_rate_ci(scores, confidence=confidence)
    lo, hi = proportion_confint(wins + ties / 2, n, alpha=1 - confidence, method="wilson")
    assert est.estimate == pytest.approx((wins + ties / 2) / n)
    assert est.ci_low == pytest.approx(lo, abs=1e-9)
    assert est.ci_high == pytest.approx(hi, abs=1e-9)
    assert est.n == n and est.method == "wilson"


def test_win_rate_edge_cases() -> None:
    none = win_rate_ci([])
    assert (none.estimate, none.ci_low, none.ci_high, none.n) == (0.5, 0.0, 1.0, 0)
    with pytest.raises(ValueError):
        win_rate_ci([1.5])
    with pytest.raises(ValueError):
        win_rate_ci([float("nan")])


def test_the_names_load_lazily_from_the_package() -> None:
    assert stats.bradley_terry_fit is bradley_terry_fit
    assert "win_rate_ci" in stats.__all__
