"""Customer lifetime value over a finite horizon from a BG/NBD and a Gamma-Gamma model (discounted cash flow)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from userscore.btyd.bgnbd import BGNBDParams, expected_purchases
from userscore.btyd.gamma_gamma import GammaGammaParams, conditional_expected_average_value


def _step_ends(horizon_periods: float, step: float) -> np.ndarray:
    """End times t_1 < ... < t_K = horizon of steps of length `step` (the last one shorter if it does not divide)."""
    # The small slack keeps e.g. horizon=52.14, step=4.345 at 12 steps despite floating-point division.
    n_steps = max(1, math.ceil(horizon_periods / step - 1e-9))
    return np.minimum(step * np.arange(1, n_steps + 1), horizon_periods)


def customer_lifetime_value(
    bgnbd_params: BGNBDParams,
    gg_params: GammaGammaParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    m_x: npt.ArrayLike,
    *,
    horizon_periods: float,
    discount_rate_per_period: float,
    step: float = 1.0,
) -> np.ndarray:
    """Discounted expected spend in (T, T + horizon] per customer, vectorised over customers.

    All times are in the time unit the BG/NBD model was fitted in (a "period", e.g. a week):

        CLV = E[Z | x, m_x] · sum_{k=1..K} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1 + d)^{t_k}

    where E[Z | x, m_x] is the Gamma-Gamma expected value per purchase, E[Y(t)] the BG/NBD expected purchases
    in the next t periods (t_0 = 0), t_k = min(k · step, horizon) and d the discount rate per period. Each
    step's purchases are discounted as if they all happened at the step's end.

    lifetimes' `customer_lifetime_value(time=K, discount_rate=d_step, freq=...)` is the same sum with
    step = its `freq` factor (e.g. 4.345 for weekly data and monthly steps), horizon = K · step and
    d = (1 + d_step)^(1/step) - 1. For a yearly rate R and weekly periods pass d = (1 + R)^(1/52.18) - 1.

    Args:
        horizon_periods: length of the horizon in periods (> 0).
        discount_rate_per_period: d > -1 (0 = no discounting).
        step: length of one cash-flow step in periods (> 0); step = horizon gives a single step.

    Returns:
        CLV per customer in the currency of m_x; NaN where the Gamma-Gamma mean does not exist.
    """
    if not horizon_periods > 0:
        raise ValueError(f"horizon_periods must be > 0, got {horizon_periods}")
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    if not discount_rate_per_period > -1:
        raise ValueError(f"discount_rate_per_period must be > -1, got {discount_rate_per_period}")

    x_, t_x_, T_, m_x_ = (np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(x, t_x, T, m_x))
    value_per_purchase = conditional_expected_average_value(gg_params, x_, m_x_)
    discounted_purchases = np.zeros_like(x_)
    purchases_so_far = np.zeros_like(x_)
    # One vectorised BG/NBD evaluation per step (K is small: e.g. 12 monthly steps), never a loop over rows.
    for t_k in _step_ends(float(horizon_periods), float(step)):
        cumulative = expected_purchases(bgnbd_params, t_k, x_, t_x_, T_)
        discounted_purchases += (cumulative - purchases_so_far) / (1.0 + discount_rate_per_period) ** t_k
        purchases_so_far = cumulative
    return value_per_purchase * discounted_purchases
