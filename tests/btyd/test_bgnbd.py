"""BG/NBD: published CDNOW estimates, hand-worked cases, weighting and failure modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import hyp2f1

from userscore.btyd import (
    BGNBDParams,
    FitError,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    probability_alive,
)
from userscore.btyd.bgnbd import _objective

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample, weeks 1-39 of 1997.
PUBLISHED = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_LL = -9582.4
# Same paper: a customer with x=2, t_x=30.43, T=38.86 is expected to make 1.226 purchases in the next 39 weeks.
PUBLISHED_CUSTOMER = {"x": 2, "t_x": 30.43, "T": 38.86}
PUBLISHED_NEXT_39_WEEKS = 1.226

HAND = BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=2.0)


def _fit_groups(groups: dict[str, np.ndarray], **kwargs: object):
    return fit_bgnbd(groups["x"], groups["t_x"], groups["T"], groups["weight"], **kwargs)


def test_calibration_summary_matches_published_customer(cdnow_summary: dict[str, np.ndarray]) -> None:
    # The first customer of CDNOW_sample as printed in the paper's data set (x=2, t_x=30.43, T=38.86, zbar 22.35).
    first = {name: float(col[0]) for name, col in cdnow_summary.items()}
    assert len(cdnow_summary["x"]) == 2357
    assert first == pytest.approx({"x": 2, "t_x": 30.43, "T": 38.86, "m_x": 22.35}, abs=0.005 + 1e-9)


def test_fit_reproduces_published_cdnow_estimates(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    fit = _fit_groups(cdnow_rfm_groups)

    assert fit.converged
    # Published to 3 decimals: the fit must round to them (half a unit in the last digit is 5e-4).
    assert fit.params.to_dict() == pytest.approx(PUBLISHED.to_dict(), abs=1e-3)
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.1)
    assert fit.n_customers == 2357
    assert fit.n_groups == len(cdnow_rfm_groups["weight"])


def test_published_conditional_expectation(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    fitted = _fit_groups(cdnow_rfm_groups).params
    for params in (PUBLISHED, fitted):
        got = expected_purchases(params, 39.0, **PUBLISHED_CUSTOMER)
        assert float(got) == pytest.approx(PUBLISHED_NEXT_39_WEEKS, abs=1e-3)


def test_fit_on_groups_equals_fit_on_customer_rows(
    cdnow_summary: dict[str, np.ndarray], cdnow_rfm_groups: dict[str, np.ndarray]
) -> None:
    # One row per customer, in a shuffled order, each with weight 1: what a driver would see without grouping.
    rows = np.column_stack([cdnow_summary["x"], cdnow_summary["t_x"], cdnow_summary["T"]])
    rows = rows[np.random.default_rng(7).permutation(len(rows))]
    per_customer = fit_bgnbd(rows[:, 0], rows[:, 1], rows[:, 2], np.ones(len(rows)))
    grouped = _fit_groups(cdnow_rfm_groups)

    assert per_customer.params.to_dict() == pytest.approx(grouped.params.to_dict(), rel=1e-9, abs=1e-12)
    assert per_customer.log_likelihood == pytest.approx(grouped.log_likelihood, rel=1e-9)
    assert (per_customer.n_customers, per_customer.n_groups) == (grouped.n_customers, grouped.n_groups)


def test_log_likelihood_hand_worked() -> None:
    # x=0: L = (alpha/(alpha+T))^r = 1/4 for T=3.
    # x=1, t_x=1, T=3: L = B(1,3)/B(1,2) / 4^2 + B(2,2)/B(1,2) / 2^2 = (2/3)/16 + (1/3)/4 = 1/8.
    assert bgnbd_log_likelihood(HAND, [0], [0], [3], [1]) == pytest.approx(math.log(1 / 4), rel=1e-12)
    assert bgnbd_log_likelihood(HAND, [1], [1], [3], [1]) == pytest.approx(math.log(1 / 8), rel=1e-12)


def test_weighted_log_likelihood_equals_expanded_rows() -> None:
    x, t_x, T, w = [0, 1, 3, 0], [0.0, 2.5, 7.0, 0.0], [10.0, 9.0, 8.0, 4.0], [3, 1, 2, 5]
    expanded = [(xi, ti, Ti) for xi, ti, Ti, wi in zip(x, t_x, T, w, strict=True) for _ in range(wi)]
    ex, et, eT = (list(col) for col in zip(*expanded, strict=True))

    weighted = bgnbd_log_likelihood(PUBLISHED, x, t_x, T, w)
    assert weighted == pytest.approx(bgnbd_log_likelihood(PUBLISHED, ex, et, eT, np.ones(len(ex))), rel=1e-12)


def test_gradient_matches_finite_differences() -> None:
    x, t_x, T, w = (np.array(v, dtype=float) for v in ([0, 1, 4, 2], [0, 2, 9, 3], [10, 9, 10, 6], [5, 2, 1, 3]))
    z = np.log([0.5, 3.0, 0.8, 2.5])
    _, grad = _objective(z, x, t_x, T, w, float(w.sum()), 0.01)
    h = 1e-6
    numeric = [
        (
            _objective(z + h * e, x, t_x, T, w, float(w.sum()), 0.01)[0]
            - _objective(z - h * e, x, t_x, T, w, float(w.sum()), 0.01)[0]
        )
        / (2 * h)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_probability_alive_is_one_without_repeat_purchase() -> None:
    got = probability_alive(PUBLISHED, np.zeros(3), np.zeros(3), np.array([0.0, 5.0, 38.86]))
    np.testing.assert_array_equal(got, np.ones(3))


def test_probability_alive_hand_worked() -> None:
    # Odds of having dropped out = a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) = 1/2 * (4/2)^2 = 2, so P = 1/3.
    assert float(probability_alive(HAND, 1, 1.0, 3.0)) == pytest.approx(1 / 3, rel=1e-12)


def test_heavy_buyer_is_finite_and_matches_direct_formula() -> None:
    x = np.array([1.0, 5.0, 20.0, 60.0])
    t_x, T, t = 0.8 * 38.0, np.full(4, 38.0), 39.0
    got = expected_purchases(PUBLISHED, t, x, t_x, T)
    # The paper's formula as printed (direct 2F1), evaluated where it does not overflow.
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    z = t / (alpha + T + t)
    direct = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )
    np.testing.assert_allclose(got, direct, rtol=1e-9)

    very_heavy = expected_purchases(PUBLISHED, t, np.array([500.0, 2000.0]), 37.9, 38.0)
    assert np.all(np.isfinite(very_heavy)) and np.all(very_heavy > 0)


def test_predictions_are_vectorised_over_any_length() -> None:
    for n in (0, 1, 1000):
        x = np.arange(n, dtype=float) % 7
        t_x = np.where(x > 0, 10.0, 0.0)
        T = np.full(n, 30.0)
        assert expected_purchases(PUBLISHED, 4.0, x, t_x, T).shape == (n,)
        assert probability_alive(PUBLISHED, x, t_x, T).shape == (n,)
    x = np.array([0.0, 1.0, 3.0])
    one_by_one = [float(expected_purchases(PUBLISHED, 10.0, xi, 5.0 * xi, 20.0)) for xi in x]
    np.testing.assert_allclose(expected_purchases(PUBLISHED, 10.0, x, 5.0 * x, 20.0), one_by_one, rtol=1e-14)


def test_expected_purchases_zero_horizon_is_zero() -> None:
    np.testing.assert_array_equal(expected_purchases(PUBLISHED, 0.0, [0, 2], [0, 10], [20, 20]), [0.0, 0.0])


def test_new_customer_expectation() -> None:
    t = np.array([1e-7, 10.0, 52.0])
    new = expected_purchases_new_customer(PUBLISHED, t)
    # A brand-new customer is a customer with x=0 observed for T=0.
    np.testing.assert_allclose(new, expected_purchases(PUBLISHED, t, 0, 0.0, 0.0), rtol=1e-12)
    # At t -> 0 everybody is alive and buys at the mean rate r/alpha.
    assert new[0] / t[0] == pytest.approx(PUBLISHED.r / PUBLISHED.alpha, rel=1e-5)
    assert np.all(np.diff(new) > 0)


@pytest.mark.parametrize(
    ("x", "t_x", "T", "w", "match"),
    [
        ([], [], [], [], "needs customers"),
        ([1, 2], [1, 2], [3, 4], [0, 0], "total weight 0"),
        ([0, 0], [0, 0], [5, 9], [3, 4], "needs repeat purchases"),
        ([1], [5], [3], [1], "0 <= t_x <= T"),
        ([1.5], [1], [3], [1], "non-negative integer"),
        ([1], [float("nan")], [3], [1], "t_x has 1 non-finite"),
        ([1, 2], [1, 2], [3, 4], [1, -1], "weight must be >= 0"),
        ([1, 2], [1, 2], [3, 4], [1], "same length"),
    ],
)
def test_unusable_input_raises_fit_error(x: list, t_x: list, T: list, w: list, match: str) -> None:
    with pytest.raises(FitError, match=match):
        fit_bgnbd(x, t_x, T, w)


def test_non_convergence_raises_fit_error_with_optimiser_message(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    with pytest.raises(FitError, match=r"did not converge .*ITERATIONS REACHED LIMIT.*last parameters: r=") as err:
        _fit_groups(cdnow_rfm_groups, max_iter=1)
    assert "alpha=" in str(err.value) and "b=" in str(err.value)


def test_unidentified_parameters_raise_fit_error() -> None:
    # Four customers with no evidence that their dropout probabilities differ: a and b run off to infinity
    # together. Where the optimiser stops on that ridge depends on the CPU; the verdict does not.
    with pytest.raises(FitError, match=r"degenerate: a and b ran off together .* try a penalizer > 0"):
        fit_bgnbd([0, 1, 2, 3], [0, 1, 2, 3], [5, 5, 5, 5], [10, 5, 3, 1])


def test_penalizer_shrinks_parameters(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    plain = _fit_groups(cdnow_rfm_groups).params
    shrunk = _fit_groups(cdnow_rfm_groups, penalizer=0.1).params
    assert shrunk.alpha < plain.alpha and shrunk.b < plain.b


def test_fit_does_not_depend_on_the_start(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    default = _fit_groups(cdnow_rfm_groups).params
    from_published = _fit_groups(cdnow_rfm_groups, initial=PUBLISHED).params
    far = _fit_groups(cdnow_rfm_groups, initial=BGNBDParams(r=5.0, alpha=0.1, a=10.0, b=0.1)).params
    assert from_published.to_dict() == pytest.approx(default.to_dict(), rel=1e-5)
    assert far.to_dict() == pytest.approx(default.to_dict(), rel=1e-5)


def test_non_positive_initial_parameters_raise_fit_error(cdnow_rfm_groups: dict[str, np.ndarray]) -> None:
    with pytest.raises(FitError, match="initial parameters must be positive"):
        _fit_groups(cdnow_rfm_groups, initial=BGNBDParams(r=0.0, alpha=1.0, a=1.0, b=1.0))


def _simulate(n: int, params: BGNBDParams, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of n customers drawn from the BG/NBD story itself, first purchases spread over 2 years."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1 / params.alpha, n)  # numpy's gamma takes a scale, i.e. 1/rate
    p_drop = rng.beta(params.a, params.b, n)
    T = rng.integers(1, 2 * 364 + 1, n) / 7
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        i = np.flatnonzero(active)
        nxt = now[i] + rng.exponential(1 / rate[i])
        bought = nxt <= T[i]
        active[i[~bought]] = False
        i, nxt = i[bought], nxt[bought]
        now[i], t_x[i], x[i] = nxt, nxt, x[i] + 1
        active[i[rng.random(i.size) < p_drop[i]]] = False  # may drop out after each repeat purchase
    return x, t_x, T


def test_fit_recovers_simulated_parameters() -> None:
    x, t_x, T = _simulate(20_000, PUBLISHED, seed=0)
    fit = fit_bgnbd(x, t_x, T, np.ones(len(x)))
    # Loose: sampling error with 20k customers is a few percent per parameter.
    assert fit.params.to_dict() == pytest.approx(PUBLISHED.to_dict(), rel=0.15)
