"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Per customer the sufficient statistics are x (repeat purchases, i.e. purchase occasions after the first),
t_x (time of the last purchase, measured from the first) and T (time from the first purchase to the end of
the observation period), all in one time unit chosen by the caller (e.g. weeks). Fitting works on distinct
(x, t_x, T) groups with a count `weight`, so the driver never needs per-customer rows. The prediction
functions are vectorised numpy (no per-row Python), safe to call on a pandas UDF batch of any length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln, hyp2f1

from userscore.btyd._optimize import (
    as_1d_float,
    canonical_groups,
    check_columns,
    check_solution,
    minimize_log_params,
    require_rows,
)
from userscore.btyd.errors import FitError
from userscore.btyd.identification import limit_fitting_as_well

_PARAM_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters.

    r, alpha: shape and rate of the gamma distribution of purchase rates (alpha is in the time unit of the data).
    a, b: beta distribution of the probability of dropping out after each purchase.
    """

    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class BGNBDFit:
    """Result of `fit_bgnbd`.

    log_likelihood is the unpenalised total (weighted) log-likelihood at `params`; n_customers is the sum of
    the weights; n_groups the number of distinct (x, t_x, T) rows with positive weight.
    """

    params: BGNBDParams
    log_likelihood: float
    n_customers: float
    n_groups: int
    iterations: int
    converged: bool
    message: str


def _as_arrays(*values: npt.ArrayLike) -> list[np.ndarray]:
    return [np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(*values)]


def _log_terms(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of the individual log-likelihood: LL = A1 + A2 + logaddexp(A3, A4), A4 = -inf when x == 0."""
    has_repeat = x > 0
    # b + x - 1 can be <= 0 only when x == 0, where the term is unused; keep it finite to avoid warnings.
    b_x_1 = np.where(has_repeat, b + x - 1.0, 1.0)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(has_repeat, np.log(a) - np.log(b_x_1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1, a2, a3, a4, b_x_1


def _individual_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    a1, a2, a3, a4, _ = _log_terms(r, alpha, a, b, x, t_x, T)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_log_likelihood(
    params: BGNBDParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike, weight: npt.ArrayLike
) -> float:
    """Total log-likelihood: the weight-weighted sum of the individual log-likelihoods."""
    x_, t_x_, T_, w_ = _as_arrays(x, t_x, T, weight)
    ll = _individual_log_likelihood(params.r, params.alpha, params.a, params.b, x_, t_x_, T_)
    return float(np.sum(w_ * ll))


def _objective(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weight: np.ndarray,
    n_customers: float,
    penalizer: float,
) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood per customer plus an L2 penalty, and its gradient w.r.t. log-parameters.

    Sums use np.sum (pairwise, single-threaded) rather than np.dot: BLAS may split a dot product across
    threads differently from machine to machine, and a re-run must give bit-identical parameters.
    """
    params = np.exp(log_params)
    r, alpha, a, b = params
    a1, a2, a3, a4, b_x_1 = _log_terms(r, alpha, a, b, x, t_x, T)
    tail = np.logaddexp(a3, a4)
    ll = a1 + a2 + tail
    # Share of the "still alive at T" term vs the "dropped out after t_x" term in the log-sum-exp.
    w4 = np.exp(a4 - tail)
    w3 = 1.0 - w4
    has_repeat = x > 0

    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x) + np.where(has_repeat, w4 / a, 0.0)
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - np.where(has_repeat, w4 / b_x_1, 0.0)

    grads = np.array([np.sum(weight * d) for d in (d_r, d_alpha, d_a, d_b)])
    value = -np.sum(weight * ll) / n_customers + penalizer * np.sum(params**2)
    grad = -grads * params / n_customers + 2.0 * penalizer * params**2
    return float(value), grad


def _validated_groups(
    x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike, weight: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    columns = {"x": as_1d_float("x", x), "t_x": as_1d_float("t_x", t_x), "T": as_1d_float("T", T)}
    w = as_1d_float("weight", weight)
    check_columns(columns, w)
    if w.size == 0 or w.sum() <= 0:
        raise FitError(f"BG/NBD fit needs customers: got {w.size} group(s) with total weight {w.sum():g}")
    x_, t_x_, T_ = columns.values()
    require_rows((x_ >= 0) & (x_ == np.round(x_)), "x being a non-negative integer", columns)
    # t_x and T come from the same day arithmetic, so only allow rounding noise between them.
    require_rows((t_x_ >= 0) & (t_x_ <= T_ * (1 + 1e-12) + 1e-12), "0 <= t_x <= T", columns)
    (gx, gt_x, gT), gw = canonical_groups([x_, t_x_, T_], w)
    if not (gx > 0).any():
        # With no repeat purchase the likelihood keeps rising as r -> 0: there is no optimum to find.
        raise FitError(f"BG/NBD fit needs repeat purchases: none of the {gw.sum():g} customers has x > 0")
    return gx, gt_x, gT, gw


def fit_bgnbd(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weight: npt.ArrayLike,
    *,
    initial: BGNBDParams | None = None,
    penalizer: float = 0.0,
    max_iter: int = 1000,
) -> BGNBDFit:
    """Fit BG/NBD by maximum likelihood on weighted (x, t_x, T) groups.

    Minimises the mean negative log-likelihood per customer plus `penalizer * (r² + alpha² + a² + b²)`
    (lifetimes' penalizer convention) over log-parameters. Rows may repeat: identical rows are merged first,
    so per-customer rows and pre-aggregated groups give the same fit.

    Raises:
        FitError: the input is empty or invalid, or the optimiser did not converge to a finite, identified optimum.
    """
    if penalizer < 0:
        raise FitError(f"penalizer must be >= 0, got {penalizer}")
    gx, gt_x, gT, gw = _validated_groups(x, t_x, T, weight)
    n_customers = float(gw.sum())
    if initial is None:
        # alpha is a time scale: start it at the mean observation length so the start fits any time unit.
        mean_T = float(np.sum(gw * gT) / n_customers)
        initial = BGNBDParams(r=1.0, alpha=mean_T if mean_T > 0 else 1.0, a=1.0, b=1.0)
    start_params = np.array([initial.r, initial.alpha, initial.a, initial.b], dtype=np.float64)
    if not np.all(np.isfinite(start_params) & (start_params > 0)):
        raise FitError(f"initial parameters must be positive and finite, got {initial}")
    start = np.log(start_params)

    solution = minimize_log_params(
        lambda z: _objective(z, gx, gt_x, gT, gw, n_customers, penalizer), start, max_iter=max_iter
    )
    # A penalty grows without bound at every limit, so penalised fits are identified by construction.
    limits = None if penalizer > 0 else lambda p: limit_fitting_as_well(p, gx, gt_x, gT, gw)
    fitted = check_solution("BG/NBD", _PARAM_NAMES, solution, limit_fitting_as_well=limits)
    params = BGNBDParams(*(float(v) for v in fitted))
    return BGNBDFit(
        params=params,
        log_likelihood=bgnbd_log_likelihood(params, gx, gt_x, gT, gw),
        n_customers=n_customers,
        n_groups=int(gx.size),
        iterations=solution.iterations,
        converged=solution.converged,
        message=solution.message,
    )


def probability_alive(params: BGNBDParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> np.ndarray:
    """P(customer still alive at T | x, t_x, T); exactly 1 when x == 0.

    Computed as a logistic of the log-odds of having dropped out, which is stable for heavy buyers
    where the ratio ((alpha+T)/(alpha+t_x))^(r+x) overflows.
    """
    x_, t_x_, T_ = _as_arrays(x, t_x, T)
    return expit(-_log_odds_dead(params, x_, t_x_, T_))


def _log_odds_dead(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log[ a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) ] for x > 0, -inf for x == 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    has_repeat = x > 0
    b_x_1 = np.where(has_repeat, b + x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(b_x_1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(has_repeat, log_odds, -np.inf)


def _discounted_survival_term(params: BGNBDParams, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(1-z)^(r+x) · 2F1(r+x, b+x; a+b+x-1; z), the part of the conditional expectation that needs care.

    Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) gives the equal form
    (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z). The direct form overflows (inf · 0) for heavy buyers
    (large x), the Euler form for large a and b (little heterogeneity in the dropout probability), so each
    row uses the form whose arguments are smaller and falls back to the other if that is not finite
    (lifetimes only falls back from direct to Euler).
    """
    r, a, b = params.r, params.a, params.b
    x, z = np.broadcast_arrays(x, z)
    c = a + b + x - 1.0

    def direct(i: np.ndarray) -> np.ndarray:
        return (1.0 - z[i]) ** (r + x[i]) * hyp2f1(r + x[i], b + x[i], c[i], z[i])

    def euler(i: np.ndarray) -> np.ndarray:
        return (1.0 - z[i]) ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c[i], z[i])

    use_euler = x > a
    out = np.empty(x.shape, dtype=np.float64)
    out[use_euler] = euler(use_euler)
    out[~use_euler] = direct(~use_euler)
    bad = ~np.isfinite(out)
    if bad.any():
        retry_euler = bad & ~use_euler
        retry_direct = bad & use_euler
        out[retry_euler] = euler(retry_euler)
        out[retry_direct] = direct(retry_direct)
    return out


def expected_purchases(
    params: BGNBDParams, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> np.ndarray:
    """E[number of purchases in (T, T+t] | x, t_x, T] (paper eq. 10), vectorised over all arguments.

    E = (a+b+x-1)/(a-1) · [1 - ((alpha+T)/(alpha+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
        · P(alive | x, t_x, T)
    The formula has a removable singularity at a == 1 exactly (fitted values never land on it).
    """
    t_, x_, t_x_, T_ = _as_arrays(t, x, t_x, T)
    a, b = params.a, params.b
    z = t_ / (params.alpha + T_ + t_)
    bracket = 1.0 - _discounted_survival_term(params, x_, z)
    # + 0.0 turns the -0.0 that t == 0 gives for a < 1 into a plain 0.0.
    return (a + b + x_ - 1.0) / (a - 1.0) * bracket * expit(-_log_odds_dead(params, x_, t_x_, T_)) + 0.0


def expected_purchases_new_customer(params: BGNBDParams, t: npt.ArrayLike) -> np.ndarray:
    """Unconditional E[X(t)]: purchases in (0, t] of a customer picked at random at time 0.

    E[X(t)] = (a+b-1)/(a-1) · [1 - (alpha/(alpha+t))^r · 2F1(r, b; a+b-1; t/(alpha+t))]
    """
    t_ = np.asarray(t, dtype=np.float64)
    a, b = params.a, params.b
    z = t_ / (params.alpha + t_)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - _discounted_survival_term(params, np.zeros_like(t_), z)) + 0.0
