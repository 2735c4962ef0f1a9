"""A fitted BTYD model (BG/NBD + Gamma-Gamma parameters, time unit, snapshot), its fit on the driver's
distinct groups, the per-customer score formulas and the champion gate (with the spend backtest of
userscore.btyd.spend_check).

Score columns (all doubles; null where the inputs are null, e.g. a user without purchases before D):
    p_alive                   P(still a customer at D | x, t_x, T)
    expected_purchases_<h>d   expected purchases in the h days after D, one per configured horizon
    expected_avg_value        Gamma-Gamma expected spend per future purchase
    clv_<h>d                  discounted expected spend in the h days after D (CLV horizon)
Inputs are the summary columns x, t_x_days, t_cal_days, m_x; times are whole days, converted with the
model's unit here, so a caller never has to know the unit the model was fitted in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from userscore.btyd.bgnbd import (
    BGNBDFit,
    BGNBDParams,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    probability_alive,
)
from userscore.btyd.clv import customer_lifetime_value
from userscore.btyd.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_average_value,
    fit_gamma_gamma,
)
from userscore.btyd.spend_check import GAMMA_GAMMA, SpendCheck
from userscore.btyd.summary import SufficientStats
from userscore.config.btyd import (
    EXPECTED_AVG_VALUE,
    P_ALIVE,
    UNIT_DAYS,
    BTYDGate,
    BTYDScoring,
    clv_column,
    expected_purchases_column,
)
from userscore.models.promotion import Decision

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class ScoreSettings:
    """Which score columns are computed: horizons in days, the CLV horizon, step and yearly discount rate."""

    horizons_days: tuple[int, ...]
    clv_horizon_days: int
    clv_step_days: int
    annual_discount_rate: float

    @property
    def columns(self) -> list[str]:
        return BTYDScoring(**asdict(self)).columns

    @classmethod
    def of(cls, scoring: Any) -> ScoreSettings:
        """From the ``btyd.scoring`` config section."""
        return cls(
            tuple(scoring.horizons_days), scoring.clv_horizon_days, scoring.clv_step_days, scoring.annual_discount_rate
        )


@dataclass(frozen=True)
class BTYDModel:
    """Fitted parameters of both models, the time unit they are in and the snapshot D they were fitted at."""

    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams
    time_unit: str
    observation_end: dt.date

    def __post_init__(self):
        if self.time_unit not in UNIT_DAYS:
            raise ValueError(f"time_unit must be one of {sorted(UNIT_DAYS)}, got {self.time_unit!r}")

    @property
    def unit_days(self) -> int:
        return UNIT_DAYS[self.time_unit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bgnbd": self.bgnbd.to_dict(),
            "gamma_gamma": self.gamma_gamma.to_dict(),
            "time_unit": self.time_unit,
            "observation_end": self.observation_end.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BTYDModel:
        return cls(
            bgnbd=BGNBDParams(**data["bgnbd"]),
            gamma_gamma=GammaGammaParams(**data["gamma_gamma"]),
            time_unit=data["time_unit"],
            observation_end=dt.date.fromisoformat(data["observation_end"]),
        )

    def scores(
        self,
        x: npt.ArrayLike,
        t_x_days: npt.ArrayLike,
        t_cal_days: npt.ArrayLike,
        m_x: npt.ArrayLike,
        settings: ScoreSettings,
    ) -> dict[str, np.ndarray]:
        """Every score column for a batch of customers, vectorised (NaN where x, t_x or T is NaN)."""
        x_, t_x_, t_cal_, m_x_ = (
            np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(x, t_x_days, t_cal_days, m_x)
        )
        known = np.isfinite(x_) & np.isfinite(t_x_) & np.isfinite(t_cal_)
        # Unknown rows get a harmless placeholder (the formulas treat a NaN x as x == 0) and NaN at the end.
        x_ = np.where(known, x_, 0.0)
        t_x = np.where(known, t_x_, 0.0) / self.unit_days
        T = np.where(known, t_cal_, 0.0) / self.unit_days
        unit = self.unit_days
        out = {P_ALIVE: probability_alive(self.bgnbd, x_, t_x, T)}
        for h in settings.horizons_days:
            out[expected_purchases_column(h)] = expected_purchases(self.bgnbd, h / unit, x_, t_x, T)
        out[EXPECTED_AVG_VALUE] = conditional_expected_average_value(self.gamma_gamma, x_, m_x_)
        out[clv_column(settings.clv_horizon_days)] = customer_lifetime_value(
            self.bgnbd,
            self.gamma_gamma,
            x_,
            t_x,
            T,
            m_x_,
            horizon_periods=settings.clv_horizon_days / unit,
            discount_rate_per_period=(1.0 + settings.annual_discount_rate) ** (unit / DAYS_PER_YEAR) - 1.0,
            step=settings.clv_step_days / unit,
        )
        return {name: np.where(known, values, np.nan) for name, values in out.items()}


@dataclass(frozen=True)
class Diagnostics:
    """In-sample checks of a fit, computed from the groups (bounded work)."""

    observed_repeat_purchases: float
    expected_repeat_purchases: float
    observed_mean_spend: float
    model_mean_spend: float
    spend_frequency_correlation: float
    share_without_repeat: float

    @property
    def repeat_error(self) -> float:
        """|expected / observed repeat purchases - 1| (inf when nobody repeats)."""
        return _relative_error(self.expected_repeat_purchases, self.observed_repeat_purchases)

    @property
    def spend_error(self) -> float:
        """|Gamma-Gamma population mean spend / observed mean m_x - 1| (inf when the mean is not finite).

        Logged, not gated: with a heavy-tailed spend across customers (q near 1) it is large even when the
        per-customer predictions are good (docs/btyd.md)."""
        return _relative_error(self.model_mean_spend, self.observed_mean_spend)

    def metrics(self) -> dict[str, float]:
        return {
            "observed_repeat_purchases": self.observed_repeat_purchases,
            "expected_repeat_purchases": self.expected_repeat_purchases,
            "repeat_error": self.repeat_error,
            "observed_mean_spend": self.observed_mean_spend,
            "model_mean_spend": self.model_mean_spend,
            "spend_error": self.spend_error,
            "spend_frequency_correlation": self.spend_frequency_correlation,
            "share_without_repeat": self.share_without_repeat,
        }


def _relative_error(got: float, want: float) -> float:
    if not (np.isfinite(got) and want > 0):
        return float("inf")
    return abs(got / want - 1.0)


@dataclass(frozen=True)
class BTYDFit:
    """A fitted model with both optimiser results, the group counts and the in-sample diagnostics."""

    model: BTYDModel
    bgnbd: BGNBDFit
    gamma_gamma: GammaGammaFit
    n_customers: int
    n_rfm_groups: int
    n_spend_groups: int
    resolution_days: int
    diagnostics: Diagnostics

    def metrics(self) -> dict[str, float]:
        """Everything numeric worth logging: parameters, log-likelihoods, iterations, groups, diagnostics."""
        out = {f"bgnbd_{k}": v for k, v in self.model.bgnbd.to_dict().items()}
        out |= {f"gg_{k}": v for k, v in self.model.gamma_gamma.to_dict().items()}
        out |= {
            "bgnbd_log_likelihood": self.bgnbd.log_likelihood,
            "bgnbd_log_likelihood_per_customer": self.bgnbd.log_likelihood / self.bgnbd.n_customers,
            "bgnbd_iterations": float(self.bgnbd.iterations),
            "gg_log_likelihood": self.gamma_gamma.log_likelihood,
            "gg_log_likelihood_per_customer": self.gamma_gamma.log_likelihood / self.gamma_gamma.n_customers,
            "gg_iterations": float(self.gamma_gamma.iterations),
            "gg_customers": self.gamma_gamma.n_customers,
            "customers": float(self.n_customers),
            "rfm_groups": float(self.n_rfm_groups),
            "spend_groups": float(self.n_spend_groups),
            "fit_resolution_days": float(self.resolution_days),
        }
        return out | self.diagnostics.metrics()


def fit_btyd(
    stats: SufficientStats,
    *,
    time_unit: str,
    observation_end: dt.date,
    penalizer: float = 0.0,
    max_iter: int = 1000,
) -> BTYDFit:
    """Fit BG/NBD on the (x, t_x, T) groups and Gamma-Gamma on the (x, m_x) groups, by maximum likelihood.

    The cost depends on the number of groups only, never on the number of customers: the optimiser's arrays
    have one entry per group, and customers only enter as the groups' weights.

    Raises:
        FitError: no customers, no repeat purchase, or an optimiser that does not converge (with its message).
    """
    unit = UNIT_DAYS[time_unit]
    t_x, T = stats.t_x_days / unit, stats.t_cal_days / unit
    bg = fit_bgnbd(stats.x, t_x, T, stats.weight, penalizer=penalizer, max_iter=max_iter)
    gg = fit_gamma_gamma(stats.spend_x, stats.spend_m_x, stats.spend_weight, penalizer=penalizer, max_iter=max_iter)
    model = BTYDModel(bg.params, gg.params, time_unit, observation_end)
    return BTYDFit(
        model=model,
        bgnbd=bg,
        gamma_gamma=gg,
        n_customers=stats.n_customers,
        n_rfm_groups=stats.n_rfm_groups,
        n_spend_groups=stats.n_spend_groups,
        resolution_days=stats.resolution_days,
        diagnostics=_diagnostics(model, stats, T),
    )


def _diagnostics(model: BTYDModel, stats: SufficientStats, T: np.ndarray) -> Diagnostics:
    w, sw = stats.weight, stats.spend_weight
    p, q, v = model.gamma_gamma.p, model.gamma_gamma.q, model.gamma_gamma.v
    spenders = float(sw.sum())
    mean_x = float(np.sum(sw * stats.spend_x) / spenders)
    mean_m = float(np.sum(sw * stats.spend_m_x) / spenders)
    cov = float(np.sum(sw * (stats.spend_x - mean_x) * (stats.spend_m_x - mean_m)) / spenders)
    sd_x = float(np.sqrt(np.sum(sw * (stats.spend_x - mean_x) ** 2) / spenders))
    sd_m = float(np.sqrt(np.sum(sw * (stats.spend_m_x - mean_m) ** 2) / spenders))
    return Diagnostics(
        observed_repeat_purchases=float(np.sum(w * stats.x)),
        # Each customer's expected repeat purchases over their own age T, from the population-level model.
        expected_repeat_purchases=float(np.sum(w * expected_purchases_new_customer(model.bgnbd, T))),
        observed_mean_spend=mean_m,
        model_mean_spend=p * v / (q - 1.0) if q > 1.0 else float("inf"),
        spend_frequency_correlation=cov / (sd_x * sd_m) if sd_x > 0 and sd_m > 0 else 0.0,
        share_without_repeat=float(np.sum(w[stats.x == 0]) / np.sum(w)),
    )


def gate(diagnostics: Diagnostics, spend: SpendCheck, limits: BTYDGate) -> Decision:
    """The champion gate: BG/NBD reproduces the in-sample repeat purchases, Gamma-Gamma has a finite mean spend
    at D, and it passes the spend backtest (userscore.btyd.spend_check): no larger total bias than allowed,
    and a per-customer error at most ``max_spend_rmse_excess`` above the better naive rule's.

    (A converged fit is a precondition: fit_btyd raises otherwise. Comparing with the champion's likelihood
    would be moot: the new fit is the maximum on these groups. The in-sample mean spend, p*v/(q-1) against
    the mean m_x, is logged but not gated: it is what a customer without a repeat purchase gets, and the
    backtest scores those customers too, on what they spent next.)
    """
    passed = diagnostics.repeat_error <= limits.max_repeat_error
    reasons = [
        f"repeat purchases error {diagnostics.repeat_error:.4f} {'<=' if passed else '>'} "
        f"limit {limits.max_repeat_error:.4f}"
    ]
    if not np.isfinite(diagnostics.model_mean_spend):
        # q <= 1: no expected spend for a customer without a repeat purchase, so no CLV for them.
        passed = False
        reasons.append("Gamma-Gamma has no finite mean spend at D (q <= 1)")
    if spend.failure is not None:
        return Decision(False, (*reasons, f"spend backtest impossible: {spend.failure}"))
    bias = spend.bias[GAMMA_GAMMA]
    bias_ok = abs(bias) <= limits.max_spend_bias
    reasons.append(
        f"spend bias {bias:+.4f} {'within' if bias_ok else 'outside'} +-{limits.max_spend_bias:.4f} "
        f"on {spend.purchases:,.0f} purchases from {spend.split_date}"
    )
    rmse, baseline = spend.rmse[GAMMA_GAMMA], spend.best_baseline
    ceiling = spend.rmse[baseline] * (1.0 + limits.max_spend_rmse_excess)
    rmse_ok = rmse <= ceiling
    reasons.append(
        f"spend RMSE {rmse:.2f} {'<=' if rmse_ok else '>'} {baseline} {spend.rmse[baseline]:.2f} "
        f"x (1 + {limits.max_spend_rmse_excess:.4f})"
    )
    return Decision(passed and bias_ok and rmse_ok, tuple(reasons))
