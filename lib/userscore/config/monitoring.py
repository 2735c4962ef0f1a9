"""Config section ``monitor``: the score ladder, drift (PSI), realised accuracy, alert rules and the report
(jobs/monitor.py, ``userscore monitor --as-of D``).

Which scores are watched follows the scoring section: every scored target's ``<prefix>_probability`` (with
its ``<prefix>_tier`` as the band column) plus the columns listed in ``scores`` (default value_score with
grade). Model features come from the champions' MLflow runs; nothing here repeats those lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Annotated, Literal

from userscore.config.typed import Count, KeyPath, NonNegative, Range, frozen

AlertMetric = Literal["score_psi", "feature_psi", "auc_drop", "band_share_change", "mean_change"]
Baseline = Literal["previous", "reference"]
# Spark's approxQuantile relative error: 0 is exact; beyond 0.1 the cut points are too coarse to mean much.
_QuantileError = Annotated[float, Range(0.0, 0.1, high_open=True)]
# Metrics that are differences of shares or AUCs: a threshold above 1 could never fire.
_SHARE_METRICS = ("auc_drop", "band_share_change")


@frozen
class MonitorTables:
    """Where the monitor writes (all partitioned by as_of_date, declared in conf/base/tables_monitor.yaml)."""

    ladder: str = "monitor.score_ladder"
    drift: str = "monitor.drift"
    accuracy: str = "monitor.accuracy"
    alerts: str = "monitor.alerts"
    reference: str = "monitor.reference"


@frozen
class PsiConfig:
    """Population stability index: sum over bins of (a - e) * ln(a / e), a and e the current and baseline
    shares of a bin, each floored at ``epsilon`` so an empty bin gives a large but finite term.

    Numeric columns are cut at the baseline's ``bins``-quantiles (ties merged, so a column with few
    distinct values gets fewer bins); missing values are a bin of their own; string columns bin by value.
    """

    bins: Annotated[int, Range(2, 100)] = 10
    epsilon: Annotated[float, Range(0.0, 0.01, low_open=True, high_open=True)] = 1e-4
    quantile_relative_error: _QuantileError = 1e-3
    top_features: Count = 10


@frozen
class AccuracyConfig:
    """Realised accuracy of earlier snapshots whose label window (S, S + horizon] has passed by D (and by
    the newest order or event in silver): the newest ``max_snapshots`` of them per target."""

    max_snapshots: Count = 6
    quantile_relative_error: _QuantileError = 1e-3


@frozen
class AlertRule:
    """Fires when ``metric`` is above ``above``.

    score_psi / feature_psi: PSI of a score / model feature against ``baseline``; auc_drop: training AUC
    of the model version minus the realised AUC on the newest matured snapshot; band_share_change: the
    absolute change of a tier or grade share against ``baseline``; mean_change: absolute change of a
    score's mean against ``baseline``.
    """

    metric: AlertMetric
    above: NonNegative
    baseline: Baseline = "reference"
    severity: Literal["warning", "critical"] = "warning"
    description: str = ""

    def __post_init__(self):
        if self.metric in _SHARE_METRICS and self.above > 1:
            raise ValueError(f"above: a number in [0, 1] for metric {self.metric!r}")


@frozen
class ReportConfig:
    """The self-contained HTML report: where it goes and how much history it draws."""

    dir: str = "reports/monitor"
    history_snapshots: Count = 12
    log_to_mlflow: bool = True
    mlflow_experiment: str = "userscore-monitor"


def _default_scores() -> Mapping[str, str | None]:
    return MappingProxyType({"value_score": "grade"})


def _default_quantiles() -> tuple[float, ...]:
    return (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@frozen
class MonitorConfig:
    """The monitor job's inputs, outputs, statistics, alert rules and report."""

    scores_table: str = "scores.user_scores"
    features_table: str = "features.user_features"
    tables: MonitorTables = MonitorTables()
    # Score columns watched besides the target probabilities: column -> its band column (or null).
    scores: Mapping[str, str | None] = field(default_factory=_default_scores)
    quantiles: tuple[Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)], ...] = field(
        default_factory=_default_quantiles
    )
    psi: PsiConfig = PsiConfig()
    accuracy: AccuracyConfig = AccuracyConfig()
    alerts: Mapping[str, AlertRule] = field(default_factory=dict)
    report: ReportConfig = ReportConfig()

    def __post_init__(self):
        qs = list(self.quantiles)
        if not qs or qs != sorted(set(qs)):
            raise ValueError(f"quantiles: strictly increasing probabilities in (0, 1), got {qs}")


def reference_errors(monitor: MonitorConfig, tables: Mapping[str, object]) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined tables the monitor reads or writes."""
    known = sorted(tables)
    for key in ("scores_table", "features_table"):
        name = getattr(monitor, key)
        if name not in tables:
            yield ("monitor", key), f"undefined table {name!r}", f"one of {known}"
    for key in ("ladder", "drift", "accuracy", "alerts", "reference"):
        name = getattr(monitor.tables, key)
        if name not in tables:
            yield ("monitor", "tables", key), f"undefined table {name!r}", f"one of {known}"
