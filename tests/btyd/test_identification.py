"""BG/NBD identification: limit models against numerical integration, and a verdict that no ridge position moves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from userscore.btyd.bgnbd import BGNBDParams, bgnbd_log_likelihood
from userscore.btyd.identification import LIMITS, TOLERANCE, limit_fitting_as_well, log_likelihoods

SAME_DROPOUT, NO_DROPOUT, SAME_RATE = LIMITS
# (x, t_x, T): a one-off buyer, a customer whose last purchase was long ago, a recent heavy buyer.
ROWS = np.array([[0, 0.0, 7.5], [2, 3.0, 30.0], [9, 28.5, 30.0]])
PARAMS = np.array([0.8, 6.0, 0.7, 2.5])  # r, alpha, a, b


def _integrated(x: float, t_x: float, T: float, rate_density, dropout_density) -> float:
    """log L by integrating the BG/NBD story over the purchase rate and the dropout probability (either may
    be a point mass, given as a float): x purchases and alive at T, or dropped out right after t_x."""

    def given(rate: float, p: float) -> float:
        alive = (1 - p) ** x * rate**x * math.exp(-rate * T)
        dead = p * (1 - p) ** (x - 1) * rate**x * math.exp(-rate * t_x) if x > 0 else 0.0
        return alive + dead

    def over_p(rate: float) -> float:
        if isinstance(dropout_density, float):
            return given(rate, dropout_density)
        return integrate.quad(lambda p: dropout_density(p) * given(rate, p), 0, 1, epsabs=0, epsrel=1e-12)[0]

    if isinstance(rate_density, float):
        return math.log(over_p(rate_density))
    return math.log(integrate.quad(lambda v: rate_density(v) * over_p(v), 0, np.inf, epsabs=0, epsrel=1e-12)[0])


def test_fitted_terms_equal_the_published_likelihood() -> None:
    got = log_likelihoods(PARAMS, *ROWS.T)["fitted"]
    for row, value in zip(ROWS, got, strict=True):
        expected = bgnbd_log_likelihood(BGNBDParams(*PARAMS), [row[0]], [row[1]], [row[2]], [1.0])
        assert value == pytest.approx(expected, rel=1e-12)


def test_limits_equal_numerical_integration() -> None:
    r, alpha, a, b = PARAMS
    rate = stats.gamma(r, scale=1 / alpha).pdf
    dropout = stats.beta(a, b).pdf
    got = log_likelihoods(PARAMS, *ROWS.T)
    for i, (x, t_x, T) in enumerate(ROWS):
        assert got[SAME_DROPOUT][i] == pytest.approx(_integrated(x, t_x, T, rate, a / (a + b)), rel=1e-9)
        assert got[NO_DROPOUT][i] == pytest.approx(_integrated(x, t_x, T, rate, 0.0), rel=1e-9)
        assert got[SAME_RATE][i] == pytest.approx(_integrated(x, t_x, T, r / alpha, dropout), rel=1e-9)


def test_likelihood_at_huge_parameters_tends_to_the_limit_without_cancelling() -> None:
    # gammaln(1e13) has an ulp of 0.06; the product form gives the limit to rounding, 1/s away from it.
    for scale in (1e6, 1e13):
        params = np.array([0.8, 6.0, 0.3 * scale, 0.7 * scale])
        got = log_likelihoods(params, *ROWS.T)
        np.testing.assert_allclose(got["fitted"], got[SAME_DROPOUT], rtol=0, atol=20 / scale)


# The population: four groups, no evidence that dropout probabilities differ.
RIDGE = (np.array([0, 1, 2, 3]), np.array([0.0, 1, 2, 3]), np.array([5.0, 5, 5, 5]), np.array([10.0, 5, 3, 1]))


@pytest.mark.parametrize(
    "a_plus_b",
    # 1e3: an early stop; 2.3e6 and 1.5e7: where L-BFGS-B stopped on two CPUs; e^30 * 1.87: the log bound.
    [1e3, 2.3e6, 1.5e7, math.exp(30) * 1.87],
)
def test_the_verdict_is_the_same_wherever_the_optimiser_stops_on_the_ridge(a_plus_b: float) -> None:
    p = 0.533
    params = np.array([0.4618, 1.4331, p * a_plus_b, (1 - p) * a_plus_b])
    assert limit_fitting_as_well(params, *RIDGE) == SAME_DROPOUT


def test_identified_fit_beats_every_limit_by_far_more_than_the_tolerance(cdnow_rfm_groups) -> None:
    # Fader, Hardie & Lee's published CDNOW estimates.
    published = np.array([0.243, 4.414, 0.793, 2.426])
    g = cdnow_rfm_groups
    assert limit_fitting_as_well(published, g["x"], g["t_x"], g["T"], g["weight"]) is None
    lls = log_likelihoods(published, g["x"], g["t_x"], g["T"])
    gaps = {name: float(np.sum(g["weight"] * (lls["fitted"] - ll)) / g["weight"].sum()) for name, ll in lls.items()}
    assert min(v for k, v in gaps.items() if k != "fitted") > 1e4 * TOLERANCE
