"""Gamma-Gamma: published CDNOW estimates, hand-worked cases, weighting and failure modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from userscore.btyd import (
    FitError,
    GammaGammaParams,
    conditional_expected_average_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)
from userscore.btyd.gamma_gamma import _objective

# Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013), CDNOW sample, 946 repeat buyers in
# weeks 1-39 of 1997: p=6.25, q=3.74, gamma=15.44 (lifetimes' quickstart prints v=15.45 from its own fit).
PUBLISHED = GammaGammaParams(p=6.25, q=3.74, v=15.44)
# lifetimes quickstart, conditional_expected_average_profit on the published CDNOW summary (x, zbar rounded).
PUBLISHED_AVERAGE_VALUES = [
    (0, 0.00, 35.170981),
    (1, 11.77, 18.911489),
    (2, 22.35, 24.658619),
    (2, 25.55, 27.282408),
    (7, 73.74, 71.462843),
]


def _fit_groups(groups: dict[str, np.ndarray], **kwargs: object):
    return fit_gamma_gamma(groups["x"], groups["m_x"], groups["weight"], **kwargs)


def test_fit_reproduces_published_cdnow_estimates(cdnow_spend_groups: dict[str, np.ndarray]) -> None:
    fit = _fit_groups(cdnow_spend_groups)

    assert fit.converged
    assert fit.params.to_dict() == pytest.approx(PUBLISHED.to_dict(), abs=1e-2)
    assert (fit.n_customers, fit.n_excluded_no_repeat) == (946, 2357 - 946)


def test_published_conditional_average_values(cdnow_spend_groups: dict[str, np.ndarray]) -> None:
    fitted = _fit_groups(cdnow_spend_groups).params
    x, m_x, published = (np.array(col) for col in zip(*PUBLISHED_AVERAGE_VALUES, strict=True))
    np.testing.assert_allclose(conditional_expected_average_value(fitted, x, m_x), published, atol=5e-3)


def test_conditional_average_value_hand_worked() -> None:
    params = GammaGammaParams(p=2.0, q=3.0, v=4.0)
    # p (v + x m_x) / (p x + q - 1) = 2 (4 + 2*5) / (4 + 3 - 1) = 28/6; x == 0 gives the mean p v / (q - 1) = 4
    # whatever placeholder sits in m_x.
    got = conditional_expected_average_value(params, [2, 0, 0], [5.0, 0.0, np.nan])
    np.testing.assert_allclose(got, [28 / 6, 4.0, 4.0], rtol=1e-14)
    # No finite mean when p x + q <= 1.
    assert np.isnan(conditional_expected_average_value(GammaGammaParams(p=2.0, q=0.5, v=4.0), 0, 0.0))


def test_log_likelihood_hand_worked() -> None:
    # x = 1: m_x is one transaction value z; with p = q = v = 1 its density is v^q p z^(p-1) / (v+z)^2 = 1/(1+z)^2.
    assert gamma_gamma_log_likelihood(GammaGammaParams(1.0, 1.0, 1.0), [1], [1.0], [1]) == pytest.approx(
        math.log(1 / 4), rel=1e-12
    )


def test_density_of_mean_spend_integrates_to_one() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, v=15.44)

    def density(m: float) -> float:
        return math.exp(gamma_gamma_log_likelihood(params, [3], [m], [1]))

    total, _ = quad(density, 0, np.inf)
    assert total == pytest.approx(1.0, abs=1e-8)


def _simulate(n: int, params: GammaGammaParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x in 1..8 and the mean of x transaction values drawn from the Gamma-Gamma model itself."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 9, size=n)
    nu = rng.gamma(params.q, 1 / params.v, size=n)  # numpy's gamma takes a scale, i.e. 1/rate
    # The sum of x independent gamma(p, nu) values is gamma(p x, nu), so draw the mean in one go.
    m_x = rng.gamma(params.p * x, 1 / nu) / x
    return x.astype(float), m_x


def test_fit_recovers_simulated_parameters() -> None:
    truth = GammaGammaParams(p=4.0, q=3.0, v=20.0)
    x, m_x = _simulate(20_000, truth, seed=3)
    fit = fit_gamma_gamma(x, m_x, np.ones(len(x)))
    # Loose: p and v are strongly correlated, so with 20k customers each is only known to ~5-10%.
    assert fit.params.to_dict() == pytest.approx(truth.to_dict(), rel=0.15)


def test_no_repeat_rows_are_ignored() -> None:
    x, m_x = _simulate(300, PUBLISHED, seed=5)
    w = np.ones(len(x))
    with_zeros = fit_gamma_gamma([*x, 0, 0], [*m_x, 0.0, 0.0], [*w, 7, 3])
    without = fit_gamma_gamma(x, m_x, w)

    assert with_zeros.params == without.params
    assert with_zeros.n_excluded_no_repeat == 10 and without.n_excluded_no_repeat == 0
    ll = gamma_gamma_log_likelihood(PUBLISHED, [*x, 0], [*m_x, 0.0], [*w, 5])
    assert ll == pytest.approx(gamma_gamma_log_likelihood(PUBLISHED, x, m_x, w), rel=1e-14)


def test_weighted_log_likelihood_equals_expanded_rows() -> None:
    x, m_x, w = [1, 2, 4], [12.5, 30.0, 21.0], [3, 1, 2]
    ex = [xi for xi, wi in zip(x, w, strict=True) for _ in range(wi)]
    em = [mi for mi, wi in zip(m_x, w, strict=True) for _ in range(wi)]
    weighted = gamma_gamma_log_likelihood(PUBLISHED, x, m_x, w)
    assert weighted == pytest.approx(gamma_gamma_log_likelihood(PUBLISHED, ex, em, np.ones(len(ex))), rel=1e-12)


def test_fit_on_groups_equals_fit_on_customer_rows(
    cdnow_summary: dict[str, np.ndarray], cdnow_spend_groups: dict[str, np.ndarray]
) -> None:
    order = np.random.default_rng(11).permutation(len(cdnow_summary["x"]))
    x, m_x = cdnow_summary["x"][order], cdnow_summary["m_x"][order]
    per_customer = fit_gamma_gamma(x, m_x, np.ones(len(x)))
    grouped = _fit_groups(cdnow_spend_groups)

    assert per_customer.params.to_dict() == pytest.approx(grouped.params.to_dict(), rel=1e-9, abs=1e-12)
    assert per_customer.log_likelihood == pytest.approx(grouped.log_likelihood, rel=1e-9)
    assert per_customer.n_groups == grouped.n_groups


def test_gradient_matches_finite_differences() -> None:
    x, m, w = np.array([1.0, 2.0, 5.0]), np.array([10.0, 25.0, 40.0]), np.array([3.0, 2.0, 1.0])
    args = (x, m, np.log(m), np.log(x), w, float(w.sum()), 0.01)
    z = np.log([3.0, 2.5, 20.0])
    _, grad = _objective(z, *args)
    h = 1e-6
    numeric = [(_objective(z + h * e, *args)[0] - _objective(z - h * e, *args)[0]) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("x", "m_x", "w", "match"),
    [
        ([], [], [], "needs customers with x > 0"),
        ([0, 0], [0.0, 0.0], [5, 2], "needs customers with x > 0"),
        ([1, 2], [10.0, 20.0], [0, 0], "needs customers with x > 0"),
        ([1, 2], [10.0, 0.0], [1, 1], r"m_x > 0 where x > 0"),
        ([1, 2], [10.0, float("inf")], [1, 1], "m_x has 1 non-finite"),
        ([1, 2.5], [10.0, 20.0], [1, 1], "non-negative integer"),
    ],
)
def test_unusable_input_raises_fit_error(x: list, m_x: list, w: list, match: str) -> None:
    with pytest.raises(FitError, match=match):
        fit_gamma_gamma(x, m_x, w)


def test_non_convergence_raises_fit_error_with_optimiser_message(cdnow_spend_groups: dict[str, np.ndarray]) -> None:
    with pytest.raises(FitError, match=r"Gamma-Gamma fit did not converge .*last parameters: p=.*q=.*v="):
        _fit_groups(cdnow_spend_groups, max_iter=1)
