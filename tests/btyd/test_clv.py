"""Customer lifetime value: hand-worked discounting and lifetimes' published CDNOW example."""

from __future__ import annotations

import numpy as np
import pytest

from userscore.btyd import (
    BGNBDParams,
    GammaGammaParams,
    conditional_expected_average_value,
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
)

BG = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaParams(p=6.25, q=3.74, v=15.44)
X, T_X, T, M_X = np.array([0, 2, 7]), np.array([0.0, 30.43, 29.43]), np.full(3, 38.86), np.array([0, 22.35, 73.74])


def test_one_undiscounted_step_is_purchases_times_value() -> None:
    got = customer_lifetime_value(BG, GG, X, T_X, T, M_X, horizon_periods=39, discount_rate_per_period=0.0, step=39)
    expected = expected_purchases(BG, 39, X, T_X, T) * conditional_expected_average_value(GG, X, M_X)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_undiscounted_value_does_not_depend_on_step() -> None:
    one = customer_lifetime_value(BG, GG, X, T_X, T, M_X, horizon_periods=39, discount_rate_per_period=0.0, step=39)
    weekly = customer_lifetime_value(BG, GG, X, T_X, T, M_X, horizon_periods=39, discount_rate_per_period=0.0)
    np.testing.assert_allclose(weekly, one, rtol=1e-12)


def test_two_discounted_steps_hand_worked() -> None:
    d = 0.1
    e1, e2 = (expected_purchases(BG, t, X, T_X, T) for t in (1.0, 2.0))
    expected = conditional_expected_average_value(GG, X, M_X) * (e1 / 1.1 + (e2 - e1) / 1.1**2)
    got = customer_lifetime_value(BG, GG, X, T_X, T, M_X, horizon_periods=2, discount_rate_per_period=d)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_last_step_is_cut_at_the_horizon() -> None:
    # horizon 10 with step 4: cash flows at t = 4, 8 and 10.
    d = 0.02
    e4, e8, e10 = (expected_purchases(BG, t, X, T_X, T) for t in (4.0, 8.0, 10.0))
    expected = conditional_expected_average_value(GG, X, M_X) * (
        e4 / (1 + d) ** 4 + (e8 - e4) / (1 + d) ** 8 + (e10 - e8) / (1 + d) ** 10
    )
    got = customer_lifetime_value(BG, GG, X, T_X, T, M_X, horizon_periods=10, discount_rate_per_period=d, step=4)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_reproduces_lifetimes_published_clv(
    cdnow_rfm_groups: dict[str, np.ndarray], cdnow_spend_groups: dict[str, np.ndarray]
) -> None:
    # lifetimes quickstart: customer_lifetime_value(time=12, discount_rate=0.01) with its default freq="D"
    # on the weekly CDNOW summary, i.e. 12 steps of 30 weeks discounted at 1% per step.
    published = {  # customer: (x, t_x, T, zbar, clv)
        1: (2, 30.43, 38.86, 22.35, 140.096211),
        2: (1, 1.71, 38.86, 11.77, 18.943467),
        3: (0, 0.00, 38.86, 0.00, 38.180574),
        6: (7, 29.43, 38.86, 73.74, 1003.868107),
        7: (1, 5.00, 38.86, 11.77, 28.109683),
        9: (2, 35.71, 38.86, 25.55, 167.418216),
    }
    x, t_x, T, m_x, clv = (np.array(col) for col in zip(*published.values(), strict=True))
    g = cdnow_rfm_groups
    bg = fit_bgnbd(g["x"], g["t_x"], g["T"], g["weight"]).params
    gg = fit_gamma_gamma(cdnow_spend_groups["x"], cdnow_spend_groups["m_x"], cdnow_spend_groups["weight"]).params

    got = customer_lifetime_value(
        bg, gg, x, t_x, T, m_x, horizon_periods=12 * 30, step=30, discount_rate_per_period=1.01 ** (1 / 30) - 1
    )
    np.testing.assert_allclose(got, clv, rtol=2e-4)


def test_vectorised_over_any_length() -> None:
    for n in (0, 1, 500):
        x = np.arange(n) % 4
        got = customer_lifetime_value(
            BG,
            GG,
            x,
            3.0 * x,
            np.full(n, 20.0),
            10.0 + x,
            horizon_periods=52,
            discount_rate_per_period=0.002,
            step=4.345,
        )
        assert got.shape == (n,) and np.all(np.isfinite(got))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon_periods": 0, "discount_rate_per_period": 0.0}, "horizon_periods must be > 0"),
        ({"horizon_periods": 10, "discount_rate_per_period": 0.0, "step": 0}, "step must be > 0"),
        ({"horizon_periods": 10, "discount_rate_per_period": -1.0}, "discount_rate_per_period must be > -1"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        customer_lifetime_value(BG, GG, X, T_X, T, M_X, **kwargs)
