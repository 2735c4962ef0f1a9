"""Is a BG/NBD fit identified? Compare it with the models at the edges of its parameter space.

Some populations have no finite maximum-likelihood estimate. Without evidence that customers differ in how
likely they are to drop out, a and b run off to infinity together (every customer drops out with the same
probability a/(a+b)); without evidence of dropout at all, a runs to 0; without evidence that purchase rates
differ, r and alpha run off together. Along such a ridge the likelihood is flat to its last bits, so where the
optimiser stops (a = 1e6 on one CPU, 8e6 on another, the log bound on a third; "converged" on one, "ABNORMAL"
on another) depends on how the machine rounds exp and log.

The decision does not: a fit is degenerate when one of the limit models, whose likelihood has a closed form,
fits the data at least as well as the fitted parameters, within `TOLERANCE` nats per customer. Both sides are
computed in a form that does not cancel for huge parameters: with integer x, Gamma(r+x)/Gamma(r) and
B(a, b+x)/B(a, b) are products of x factors (gammaln of 1e13 has an ulp of 0.06, its products of ratios do not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

# How much better than every limit model (mean nats per customer) a fit must be to count as identified. Far
# above the rounding noise of the stable log-likelihoods (~1e-13), far below any difference a likelihood-ratio
# test would notice: 1e-6 per customer is a total of 1 nat only at a million customers.
TOLERANCE = 1e-6


@dataclass(frozen=True)
class _Groups:
    x: np.ndarray  # repeat purchases, integers as int64
    t_x: np.ndarray
    T: np.ndarray


@dataclass(frozen=True)
class _Terms:
    """log-likelihood pieces: LL = logaddexp(buy_to_T + alive, buy_to_t_x + dead)."""

    buy_to_T: np.ndarray  # log E[lambda^x exp(-lambda T)]: x purchases and none after, to T
    buy_to_t_x: np.ndarray  # log E[lambda^x exp(-lambda t_x)]: the same, up to the last purchase
    alive: np.ndarray  # log E[(1-p)^x]: survived every purchase
    dead: np.ndarray  # log E[p (1-p)^(x-1)]: dropped out right after the last purchase (x > 0)


def _cumulative(steps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum(steps[:k]) for each k in x, accumulated in one fixed order."""
    return np.concatenate([[0.0], np.cumsum(steps)])[x]


def _gamma_poisson(r: float, alpha: float, g: _Groups, t: np.ndarray) -> np.ndarray:
    """log[Gamma(r+x)/Gamma(r) * alpha^r / (alpha+t)^(r+x)], with Gamma(r+x)/Gamma(r) as a product."""
    rising = _cumulative(np.log(r + np.arange(g.x.max())), g.x)
    return rising - g.x * np.log(alpha + t) - r * np.log1p(t / alpha)


def _beta_geometric(a: float, b: float, g: _Groups) -> tuple[np.ndarray, np.ndarray]:
    """(log B(a, b+x)/B(a, b), log B(a+1, b+x-1)/B(a, b)), the first as a product of (b+i)/(a+b+i)."""
    alive = _cumulative(np.log1p(-a / (a + b + np.arange(g.x.max()))), g.x)
    has_repeat = g.x > 0
    dead = np.where(has_repeat, alive + np.log(a) - np.log(np.where(has_repeat, b + g.x - 1.0, 1.0)), -np.inf)
    return alive, dead


def _fitted(params: np.ndarray, g: _Groups) -> _Terms:
    r, alpha, a, b = params
    return _Terms(_gamma_poisson(r, alpha, g, g.T), _gamma_poisson(r, alpha, g, g.t_x), *_beta_geometric(a, b, g))


def _same_dropout(params: np.ndarray, g: _Groups, fitted: _Terms) -> _Terms:
    """a, b -> infinity with p = a/(a+b) held: every customer drops out with probability p."""
    _, _, a, b = params
    p = a / (a + b)
    dead = np.where(g.x > 0, np.log(p) + (g.x - 1) * np.log1p(-p), -np.inf)
    return replace(fitted, alive=g.x * np.log1p(-p), dead=dead)


def _no_dropout(params: np.ndarray, g: _Groups, fitted: _Terms) -> _Terms:
    """a -> 0: nobody drops out (the NBD model)."""
    return replace(fitted, alive=np.zeros(len(g.x)), dead=np.full(len(g.x), -np.inf))


def _same_rate(params: np.ndarray, g: _Groups, fitted: _Terms) -> _Terms:
    """r, alpha -> infinity with lambda = r/alpha held: every customer buys at rate lambda."""
    r, alpha, _, _ = params
    rate = r / alpha
    return replace(fitted, buy_to_T=g.x * np.log(rate) - rate * g.T, buy_to_t_x=g.x * np.log(rate) - rate * g.t_x)


LIMITS: dict[str, Callable[[np.ndarray, _Groups, _Terms], _Terms]] = {
    "a and b ran off together (every customer would drop out with the same probability a/(a+b))": _same_dropout,
    "a ran to 0 (nobody would ever drop out)": _no_dropout,
    "r and alpha ran off together (every customer would buy at the same rate r/alpha)": _same_rate,
}


def log_likelihoods(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row log-likelihoods at `params` (r, alpha, a, b), keyed "fitted", then by each limit's description."""
    groups = _Groups(x.astype(np.int64), t_x, T)
    fitted = _fitted(params, groups)
    terms = {"fitted": fitted} | {name: limit(params, groups, fitted) for name, limit in LIMITS.items()}
    return {name: np.logaddexp(t.buy_to_T + t.alive, t.buy_to_t_x + t.dead) for name, t in terms.items()}


def limit_fitting_as_well(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray
) -> str | None:
    """The first limit model (its description) that fits the (x, t_x, T) groups at least as well as `params`
    (r, alpha, a, b), within TOLERANCE; None when the fit beats them all, i.e. is identified."""
    mean_nll = {
        name: float(-np.sum(weight * ll) / np.sum(weight)) for name, ll in log_likelihoods(params, x, t_x, T).items()
    }
    fitted = mean_nll.pop("fitted")
    if not np.isfinite(fitted):
        return None  # check_solution reports a non-finite fit
    return next((name for name, value in mean_nll.items() if value <= fitted + TOLERANCE), None)
