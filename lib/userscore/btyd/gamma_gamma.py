"""Gamma-Gamma model of spend per transaction (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's transaction values are gamma(p, nu) around their own mean p/nu, and nu is gamma(q, v) across
customers. The paper calls the last parameter gamma; it is named `v` here as in lifetimes. The model is fitted
on the mean value m_x of each customer's x repeat transactions, for customers with x > 0 only, and assumes
spend is independent of the purchase process (check the correlation of x and m_x before relying on it).
Fitting works on distinct (x, m_x) rows with a count `weight`; predictions are vectorised numpy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from userscore.btyd._optimize import (
    as_1d_float,
    canonical_groups,
    check_columns,
    check_solution,
    minimize_log_params,
    require_rows,
)
from userscore.btyd.errors import FitError

_PARAM_NAMES = ("p", "q", "v")


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters.

    p: shape of the gamma distribution of one customer's transaction values.
    q, v: shape and rate of the gamma distribution of that distribution's rate across customers
        (the paper's gamma; v has the currency unit, the mean spend across customers is p*v/(q-1)).
    """

    p: float
    q: float
    v: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of `fit_gamma_gamma`.

    log_likelihood is the unpenalised total (weighted) log-likelihood of the x > 0 rows at `params`;
    n_customers their total weight; n_groups the number of distinct (x, m_x) rows used;
    n_excluded_no_repeat the total weight of the x == 0 rows left out of the fit.
    """

    params: GammaGammaParams
    log_likelihood: float
    n_customers: float
    n_groups: int
    n_excluded_no_repeat: float
    iterations: int
    converged: bool
    message: str


def _individual_log_likelihood(p: float, q: float, v: float, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """log f(m_x | p, q, v, x): density of the mean of x transaction values (x > 0, m_x > 0)."""
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m_x)
    )


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike, weight: npt.ArrayLike
) -> float:
    """Total log-likelihood: weight-weighted sum over rows with x > 0 (rows with x == 0 carry no spend data)."""
    x_, m_x_, w_ = (np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(x, m_x, weight))
    used = x_ > 0
    ll = _individual_log_likelihood(params.p, params.q, params.v, x_[used], m_x_[used])
    return float(np.sum(w_[used] * ll))


def _objective(
    log_params: np.ndarray,
    x: np.ndarray,
    m_x: np.ndarray,
    log_m_x: np.ndarray,
    log_x: np.ndarray,
    weight: np.ndarray,
    n_customers: float,
    penalizer: float,
) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood per customer plus an L2 penalty, and its gradient w.r.t. log-parameters.

    Sums use np.sum (pairwise, single-threaded) rather than np.dot: BLAS may split a dot product across
    threads differently from machine to machine, and a re-run must give bit-identical parameters.
    """
    params = np.exp(log_params)
    p, q, v = params
    px = p * x
    log_v_xm = np.log(v + x * m_x)
    psi_pxq = digamma(px + q)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * log_m_x
        + px * log_x
        - (px + q) * log_v_xm
    )
    d_p = x * (psi_pxq - digamma(px) + log_m_x + log_x - log_v_xm)
    d_q = psi_pxq - digamma(q) + np.log(v) - log_v_xm
    d_v = q / v - (px + q) / (v + x * m_x)

    grads = np.array([np.sum(weight * d) for d in (d_p, d_q, d_v)])
    value = -np.sum(weight * ll) / n_customers + penalizer * np.sum(params**2)
    grad = -grads * params / n_customers + 2.0 * penalizer * params**2
    return float(value), grad


def fit_gamma_gamma(
    x: npt.ArrayLike,
    m_x: npt.ArrayLike,
    weight: npt.ArrayLike,
    *,
    initial: GammaGammaParams | None = None,
    penalizer: float = 0.0,
    max_iter: int = 1000,
) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood on weighted (x, m_x) rows.

    Rows with x == 0 are dropped (they have no repeat transaction, so no spend information; their weight is
    reported as n_excluded_no_repeat). Minimises the mean negative log-likelihood per customer plus
    `penalizer * (p² + q² + v²)` over log-parameters; identical rows are merged first, so per-customer rows
    and pre-aggregated groups give the same fit.

    Raises:
        FitError: no customer with x > 0, invalid input (e.g. m_x <= 0 where x > 0: filter those customers
            out first), or the optimiser did not converge to a finite, identified optimum.
    """
    if penalizer < 0:
        raise FitError(f"penalizer must be >= 0, got {penalizer}")
    columns = {"x": as_1d_float("x", x), "m_x": as_1d_float("m_x", m_x)}
    w = as_1d_float("weight", weight)
    check_columns(columns, w)
    x_, m_x_ = columns.values()
    require_rows((x_ >= 0) & (x_ == np.round(x_)), "x being a non-negative integer", columns)
    repeat = (x_ > 0) & (w > 0)
    n_excluded = float(w[~repeat].sum())
    if not repeat.any():
        raise FitError(
            f"Gamma-Gamma fit needs customers with x > 0 (a repeat purchase): got {x_.size} row(s), "
            f"total weight {w.sum():g}, none with x > 0 and weight > 0"
        )
    used = {name: col[repeat] for name, col in columns.items()}
    require_rows(used["m_x"] > 0, "m_x > 0 where x > 0 (the model needs positive spend)", used)
    (gx, gm), gw = canonical_groups([used["x"], used["m_x"]], w[repeat])
    n_customers = float(gw.sum())
    if initial is None:
        # Start with the population mean spend p*v/(q-1) equal to the observed mean, whatever the currency.
        initial = GammaGammaParams(p=1.0, q=2.0, v=float(np.sum(gw * gm) / n_customers))
    start_params = np.array([initial.p, initial.q, initial.v], dtype=np.float64)
    if not np.all(np.isfinite(start_params) & (start_params > 0)):
        raise FitError(f"initial parameters must be positive and finite, got {initial}")
    start = np.log(start_params)

    log_m, log_x = np.log(gm), np.log(gx)
    solution = minimize_log_params(
        lambda z: _objective(z, gx, gm, log_m, log_x, gw, n_customers, penalizer), start, max_iter=max_iter
    )
    params = GammaGammaParams(*(float(val) for val in check_solution("Gamma-Gamma", _PARAM_NAMES, solution)))
    return GammaGammaFit(
        params=params,
        log_likelihood=gamma_gamma_log_likelihood(params, gx, gm, gw),
        n_customers=n_customers,
        n_groups=int(gx.size),
        n_excluded_no_repeat=n_excluded,
        iterations=solution.iterations,
        converged=solution.converged,
        message=solution.message,
    )


def conditional_expected_average_value(params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike) -> np.ndarray:
    """E[mean transaction value | x, m_x] = p (v + x m_x) / (p x + q - 1), vectorised.

    A weighted average of the population mean p v / (q - 1) and the customer's own mean m_x, with weight
    p x / (p x + q - 1) on m_x; for x == 0 it is the population mean. NaN where p x + q <= 1 (no finite mean).
    """
    x_, m_x_ = (np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(x, m_x))
    p, q, v = params.p, params.q, params.v
    denom = p * x_ + q - 1.0
    # Ignore m_x when x == 0 so a placeholder (0 or NaN) for "no repeat purchase" cannot leak in.
    own = np.where(x_ > 0, x_ * m_x_, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, p * (v + own) / denom, np.nan)
