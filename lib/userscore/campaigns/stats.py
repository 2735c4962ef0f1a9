"""Lift and its intervals from a cell's sufficient statistics (counts, sums, sums of squares): plain
Python and scipy on the driver, one call per cell, never per user.

- Conversion: absolute lift p_t - p_c with the unpooled two-proportion (Wald) interval
  d +- z sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c); relative lift p_t/p_c - 1 with the Katz interval of the log
  risk ratio, se = sqrt((1-p_t)/(n_t p_t) + (1-p_c)/(n_c p_c)).
- Revenue per user: difference of means with the Welch interval (t quantile at the Welch-Satterthwaite
  degrees of freedom), and a percentile bootstrap over random buckets of users (``bootstrap_interval``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float | None
    low: float | None
    high: float | None


NONE = Interval(None, None, None)


def z_value(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def absolute_lift(x_t: int, n_t: int, x_c: int, n_c: int, confidence: float) -> Interval:
    """p_t - p_c with the unpooled two-proportion interval (None without users in an arm)."""
    if n_t == 0 or n_c == 0:
        return NONE
    p_t, p_c = x_t / n_t, x_c / n_c
    d = p_t - p_c
    half = z_value(confidence) * math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    return Interval(d, d - half, d + half)


def relative_lift(x_t: int, n_t: int, x_c: int, n_c: int, confidence: float) -> Interval:
    """p_t / p_c - 1 with the Katz log-ratio interval (None when an arm has no users or no conversion)."""
    if n_t == 0 or n_c == 0 or x_t == 0 or x_c == 0:
        return NONE
    p_t, p_c = x_t / n_t, x_c / n_c
    log_ratio = math.log(p_t / p_c)
    half = z_value(confidence) * math.sqrt((1 - p_t) / x_t + (1 - p_c) / x_c)
    return Interval(p_t / p_c - 1, math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1)


def mean_difference(
    sum_t: float, sq_t: float, n_t: int, sum_c: float, sq_c: float, n_c: int, confidence: float
) -> Interval:
    """mean_t - mean_c with the Welch interval; the estimate alone when an arm has one user."""
    if n_t == 0 or n_c == 0:
        return NONE
    m_t, m_c = sum_t / n_t, sum_c / n_c
    d = m_t - m_c
    if n_t < 2 or n_c < 2:
        return Interval(d, None, None)
    v_t = max(sq_t - n_t * m_t * m_t, 0.0) / (n_t - 1) / n_t  # variance of the mean
    v_c = max(sq_c - n_c * m_c * m_c, 0.0) / (n_c - 1) / n_c
    se2 = v_t + v_c
    if se2 == 0:
        return Interval(d, d, d)
    df = se2 * se2 / (v_t * v_t / (n_t - 1) + v_c * v_c / (n_c - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(se2)
    return Interval(d, d - half, d + half)


def bootstrap_interval(
    treated: tuple[np.ndarray, np.ndarray],
    control: tuple[np.ndarray, np.ndarray],
    replicates: int,
    seed: int,
    confidence: float,
) -> Interval:
    """Percentile interval of mean_t - mean_c when every bucket of users (integer sums, e.g. cents, and
    counts per bucket) is drawn Poisson(1) times per replicate, independently per arm; replicates with an
    empty arm are left out. Integer weights times integer sums are exact, so the interval does not depend
    on the CPU's summation order."""
    (s_t, n_t), (s_c, n_c) = (tuple(np.asarray(a, dtype=np.int64) for a in arm) for arm in (treated, control))
    if n_t.sum() == 0 or n_c.sum() == 0:
        return NONE
    rng = np.random.Generator(np.random.PCG64(seed))
    w_t = rng.poisson(1.0, size=(replicates, len(s_t)))
    w_c = rng.poisson(1.0, size=(replicates, len(s_c)))
    users_t, users_c = w_t @ n_t, w_c @ n_c
    kept = (users_t > 0) & (users_c > 0)
    diff = (w_t @ s_t)[kept] / users_t[kept] - (w_c @ s_c)[kept] / users_c[kept]
    alpha = 1 - confidence
    low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    return Interval(float(s_t.sum() / n_t.sum() - s_c.sum() / n_c.sum()), float(low), float(high))
