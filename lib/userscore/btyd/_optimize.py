"""Shared input checks, grouping and log-parameter optimisation for the BTYD fits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeResult, minimize

from userscore.btyd.errors import FitError

# Parameters are optimised as logs so they stay positive; bounding the logs keeps exp() finite and lets us
# tell "ran off to 0 or infinity" (the data does not identify a parameter) apart from a real optimum.
LOG_BOUND = 30.0
# L-BFGS-B often ends with ABNORMAL_TERMINATION_IN_LNSRCH right at the optimum once the objective is flat to
# machine precision; a projected gradient this small on the per-customer objective is a converged fit.
_GRAD_ACCEPT = 1e-6
# Nelder-Mead is only a rescue after two L-BFGS-B runs failed; cap it so a hopeless fit fails fast.
_NELDER_MEAD_EVALS_PER_PARAM = 200

ObjectiveAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class LogParamSolution:
    """Outcome of `minimize_log_params`: optimum on the log scale plus bookkeeping."""

    log_params: np.ndarray
    objective: float
    iterations: int
    converged: bool
    # The last stage stopped at its iteration or evaluation cap: the fit was cut short, not stuck.
    exhausted: bool
    message: str


def as_1d_float(name: str, values: npt.ArrayLike) -> np.ndarray:
    """Return `values` as a 1-D float64 array, or raise FitError if it is not one-dimensional."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise FitError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def check_columns(columns: dict[str, np.ndarray], weight: np.ndarray) -> None:
    """Raise FitError unless all columns and the weight have one length and hold finite values, weight >= 0."""
    lengths = {name: len(col) for name, col in {**columns, "weight": weight}.items()}
    if len(set(lengths.values())) != 1:
        raise FitError(f"input arrays must have the same length, got {lengths}")
    for name, col in {**columns, "weight": weight}.items():
        bad = ~np.isfinite(col)
        if bad.any():
            raise FitError(
                f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), e.g. at index "
                f"{int(np.flatnonzero(bad)[0])}"
            )
    if (weight < 0).any():
        raise FitError(f"weight must be >= 0, got {int((weight < 0).sum())} negative value(s)")


def require_rows(mask: np.ndarray, what: str, columns: dict[str, np.ndarray]) -> None:
    """Raise FitError naming the first offending row unless `mask` holds for every row."""
    bad = np.flatnonzero(~mask)
    if bad.size:
        i = int(bad[0])
        row = ", ".join(f"{name}={float(col[i]):g}" for name, col in columns.items())
        raise FitError(f"{bad.size} row(s) violate {what}; first at index {i}: {row}")


def canonical_groups(columns: Sequence[np.ndarray], weight: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Merge rows with identical column values, summing their weights; drop zero-weight rows.

    The likelihood only depends on the distinct rows and their total weight, so fitting on this canonical
    form gives bit-identical results whether the caller passes per-customer rows or pre-aggregated groups.
    Rows come back sorted, which also makes the floating-point summation order deterministic.
    """
    keep = weight > 0
    stacked = np.column_stack([col[keep] for col in columns])
    unique_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weight[keep], minlength=len(unique_rows))
    return [unique_rows[:, j].copy() for j in range(unique_rows.shape[1])], summed


def _projected_grad_norm(objective: ObjectiveAndGrad, log_params: np.ndarray) -> float:
    """Max-norm of the gradient, ignoring components that push against an active bound."""
    _, grad = objective(log_params)
    at_upper = (log_params >= LOG_BOUND) & (grad < 0)
    at_lower = (log_params <= -LOG_BOUND) & (grad > 0)
    return float(np.max(np.abs(np.where(at_upper | at_lower, 0.0, grad))))


def _lbfgsb(objective: ObjectiveAndGrad, start: np.ndarray, max_iter: int) -> OptimizeResult:
    return minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * len(start),
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-10},
    )


def minimize_log_params(objective: ObjectiveAndGrad, start: np.ndarray, *, max_iter: int) -> LogParamSolution:
    """Minimise `objective` (value and gradient w.r.t. log-parameters) with L-BFGS-B.

    If L-BFGS-B does not converge, restart it once from where it stopped (a fresh curvature model clears most
    line-search failures); if that fails too, take a bounded Nelder-Mead run (derivative-free) and polish
    its result with L-BFGS-B. Every stage is capped (`max_iter` iterations; Nelder-Mead also by evaluations),
    so a failing fit costs a bounded number of objective evaluations before FitError.
    """
    res = _lbfgsb(objective, start, max_iter)
    iterations = int(res.nit)
    converged = _is_converged(objective, res)
    if not converged:
        res = _lbfgsb(objective, res.x, max_iter)
        iterations += int(res.nit)
        converged = _is_converged(objective, res)
    if not converged:
        nm = minimize(
            lambda z: objective(np.clip(z, -LOG_BOUND, LOG_BOUND))[0],
            res.x,
            method="Nelder-Mead",
            options={
                "maxiter": max_iter,
                "maxfev": _NELDER_MEAD_EVALS_PER_PARAM * len(start),
                "xatol": 1e-10,
                "fatol": 1e-14,
            },
        )
        res = _lbfgsb(objective, np.clip(nm.x, -LOG_BOUND, LOG_BOUND), max_iter)
        iterations += int(nm.nit) + int(res.nit)
        converged = _is_converged(objective, res)
    return LogParamSolution(
        log_params=np.asarray(res.x, dtype=np.float64),
        objective=float(res.fun),
        iterations=iterations,
        converged=converged,
        exhausted=int(res.status) == 1,
        message=str(res.message),
    )


def _is_converged(objective: ObjectiveAndGrad, res: OptimizeResult) -> bool:
    return bool(res.success) or _projected_grad_norm(objective, res.x) <= _GRAD_ACCEPT


def check_solution(
    model: str,
    names: Sequence[str],
    solution: LogParamSolution,
    *,
    limit_fitting_as_well: Callable[[np.ndarray], str | None] | None = None,
) -> np.ndarray:
    """Return the fitted parameters, or raise FitError if the fit is degenerate or did not converge.

    `limit_fitting_as_well(params)` describes a limit model that fits as well as `params`, or returns None (see
    btyd/identification.py). Unless the optimiser was cut short by its cap, such a fit is degenerate whatever the
    optimiser reported: where it stops on a ridge toward the limit is a matter of rounding.
    """
    params = np.exp(solution.log_params)
    shown = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, params, strict=True))
    limit = None if solution.exhausted or limit_fitting_as_well is None else limit_fitting_as_well(params)
    if limit is not None:
        raise FitError(
            f"{model} fit is degenerate: {limit}, and that limit fits these customers as well as any finite "
            f"parameters, so the data does not identify them; try a penalizer > 0; last parameters: {shown}"
        )
    if not solution.converged:
        raise FitError(
            f"{model} fit did not converge after {solution.iterations} iterations: "
            f"{solution.message}; last parameters: {shown}"
        )
    if not (np.isfinite(solution.objective) and np.all(np.isfinite(params))):
        raise FitError(
            f"{model} fit ended on a non-finite value (objective={solution.objective}); last parameters: {shown}"
        )
    at_bound = [n for n, z in zip(names, solution.log_params, strict=True) if abs(z) >= LOG_BOUND - 1e-6]
    if at_bound:
        raise FitError(
            f"{model} fit is degenerate: {', '.join(at_bound)} ran to exp(+/-{LOG_BOUND:g}), so the "
            f"data does not identify it (too few customers or repeat purchases?); try a penalizer > 0; "
            f"last parameters: {shown}"
        )
    return params
