"""Config section ``btyd``: the buy-till-you-die models (BG/NBD purchases, Gamma-Gamma spend, CLV).

The calibration summary at snapshot D reads orders with order_ts < D (the day before D is the last
observed day); the fit runs on the distinct sufficient-statistic groups; the champion's parameters
score every customer in the fused scoring stage. Times are stored as whole days and converted to
``time_unit`` for the fit, so changing the unit needs no new summary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from userscore.config.tables import TableSpec
from userscore.config.typed import Days, KeyPath, NonNegative, Range, Share, frozen

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, int] = {"days": 1, "weeks": 7}


def fit_resolution(time_unit: str, fit_resolution_days: int | None) -> int:
    """The effective fit resolution in days: ``fit_resolution_days``, or one ``time_unit`` when null."""
    return UNIT_DAYS[time_unit] if fit_resolution_days is None else fit_resolution_days


# Score column names (the fused scoring stage writes them; tags and segments may use them).
P_ALIVE = "p_alive"
EXPECTED_AVG_VALUE = "expected_avg_value"
MODEL_VERSION = "btyd_model_version"


def expected_purchases_column(horizon_days: int) -> str:
    return f"expected_purchases_{horizon_days}d"


def clv_column(horizon_days: int) -> str:
    return f"clv_{horizon_days}d"


# The silver.orders columns the summary reads (the contract with ingest), checked in reference_errors.
ORDER_COLUMNS = ("user_id", "order_ts", "amount", "is_refunded", "refunded_at")
SUMMARY_COLUMNS = ("user_id", "as_of_date", "x", "t_x_days", "t_cal_days", "m_x")
# A relative error tolerance of the promotion gate: above 0 (0 would reject every fit), at most 100%.
_ErrorShare = Annotated[float, Range(0.0, 1.0, low_open=True)]


@frozen
class BTYDScoring:
    """What the fused scoring stage adds per customer.

    horizons_days: one ``expected_purchases_<h>d`` column per horizon (days after D).
    clv_horizon_days / clv_step_days: ``clv_<h>d`` sums the expected spend of each step, discounted at the
    step's end with ``annual_discount_rate`` (per year of 365.25 days; 0 = no discounting).
    """

    horizons_days: tuple[Days, ...]
    clv_horizon_days: Days
    clv_step_days: Days
    annual_discount_rate: Annotated[float, Range(-1.0, 10.0, low_open=True, high_open=True)]

    def __post_init__(self):
        if not self.horizons_days or len(set(self.horizons_days)) != len(self.horizons_days):
            raise ValueError(f"horizons_days: distinct horizons, got {list(self.horizons_days)}")
        if self.clv_step_days > self.clv_horizon_days:
            raise ValueError(f"clv_step_days: between 1 and clv_horizon_days, got {self.clv_step_days}")

    @property
    def columns(self) -> list[str]:
        """The score columns, in order: p_alive, expected purchases per horizon, average value, CLV."""
        return [
            P_ALIVE,
            *(expected_purchases_column(h) for h in self.horizons_days),
            EXPECTED_AVG_VALUE,
            clv_column(self.clv_horizon_days),
        ]


@frozen
class BTYDGate:
    """When a new fit becomes champion (docs/btyd.md, "The champion gate").

    max_repeat_error: BG/NBD's expected repeat purchases of the calibration customers (each over their own
    age T) may differ from the observed total by at most this share (in sample, at D).
    spend_holdout_days: the spend backtest: Gamma-Gamma is fitted at S = D - spend_holdout_days and predicts
    the spend per purchase of the customers who bought before S and again in [S, D)
    (userscore.btyd.spend_check).
    max_spend_bias: its predicted spend of those purchases may differ from their actual spend by at most
    this share (what a CLV total inherits).
    max_spend_rmse_excess: its per-customer error (RMSE, each holdout purchase weighted once) may exceed
    the better naive rule's (the customer's own mean spend, or everyone's) by at most this share.
    """

    max_repeat_error: _ErrorShare
    spend_holdout_days: Days
    max_spend_bias: _ErrorShare
    max_spend_rmse_excess: Share


@frozen
class BTYDConfig:
    """Summary, fit, registration and scoring settings of the BTYD models.

    calibration_days: only orders in [D - calibration_days, D) count (null: all history before D); a
    customer's first purchase is then their first one inside that window.
    exclude_refunded: refunded orders are no purchase occasions (as in the RFM features).
    m_x_significant_digits: m_x is rounded to this many significant digits before the (x, m_x) groups of
    the Gamma-Gamma fit are formed, which bounds their number by decades of spend, not by customers.
    fit_resolution_days: t_x and T are rounded to the nearest multiple of this many days before the
    (x, t_x, T) groups of the BG/NBD fit are formed; null (as in conf/base) = one time_unit (7 for weeks),
    1 = exact days. At day resolution the groups approach one per customer at millions of customers
    (653,874 groups for 845,755 customers in the 1M benchmark); one time unit bounds them by the history
    length in units, and moves the parameters by about 1-2% (docs/benchmarks.md, docs/validation.md).
    Scores always use each customer's exact days.
    """

    orders_table: str
    summary_table: str
    time_unit: TimeUnit
    calibration_days: Days | None = None
    exclude_refunded: bool
    m_x_significant_digits: Annotated[int, Range(1, 15)]  # a double holds 15-17 significant digits
    fit_resolution_days: Annotated[int, Range(1, 28)] | None = None
    penalizer: NonNegative
    max_iter: Annotated[int, Range(10)]
    model_name: str
    gate: BTYDGate
    scoring: BTYDScoring

    def __post_init__(self):
        if not self.model_name.strip():
            raise ValueError("model_name: a registered model name")

    @property
    def unit_days(self) -> int:
        return UNIT_DAYS[self.time_unit]

    @property
    def resolution_days(self) -> int:
        """The effective fit resolution in days (:func:`fit_resolution`)."""
        return fit_resolution(self.time_unit, self.fit_resolution_days)


def reference_errors(btyd: BTYDConfig, tables: Mapping[str, TableSpec]) -> Iterator[tuple[KeyPath, str, str]]:
    """The orders table must declare the columns the summary reads; the summary table its columns."""
    known = sorted(tables)
    for key, table, columns in (
        ("orders_table", btyd.orders_table, ORDER_COLUMNS),
        ("summary_table", btyd.summary_table, SUMMARY_COLUMNS),
    ):
        at: KeyPath = ("btyd", key)
        if table not in tables:
            yield at, f"undefined table {table!r}", f"one of {known}"
            continue
        missing = [c for c in columns if c not in tables[table].column_names]
        if missing:
            yield at, f"table {table} without columns {missing}", f"a table declaring columns {list(columns)}"
