"""Config section ``monitor``: the score ladder, drift (PSI), realised accuracy, alert rules and the report
(jobs/monitor.py, ``userscore monitor --as-of D``).

Which scores are watched follows the scoring section: every scored target's ``<prefix>_probability`` (with
its ``<prefix>_tier`` as the band column) plus the columns listed in ``scores`` (value_score with
its grade in conf/base). Model features come from the champions' MLflow runs; nothing here repeats those lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
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

    ladder: str
    drift: str
    accuracy: str
    alerts: str
    reference: str


@frozen
class PsiConfig:
    """Population stability index: sum over bins of (a - e) * ln(a / e), a and e the current and baseline
    shares of a bin, each floored at ``epsilon`` so an empty bin gives a large but finite term.

    Numeric columns are cut at the baseline's ``bins``-quantiles (ties merged, so a column with few
    distinct values gets fewer bins); missing values are a bin of their own; string columns bin by value.
    """

    bins: Annotated[int, Range(2, 100)]
    epsilon: Annotated[float, Range(0.0, 0.01, low_open=True, high_open=True)]
    quantile_relative_error: _QuantileError
    top_features: Count


@frozen
class AccuracyConfig:
    """Realised accuracy of earlier snapshots whose label window (S, S + horizon] has passed by D (and by
    the newest order or event in silver): the newest ``max_snapshots`` of them per target."""

    max_snapshots: Count
    quantile_relative_error: _QuantileError


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
    baseline: Baseline
    severity: Literal["warning", "critical"]
    description: str = ""

    def __post_init__(self):
        if self.metric in _SHARE_METRICS and self.above > 1:
            raise ValueError(f"above: a number in [0, 1] for metric {self.metric!r}")


@frozen
class ReportConfig:
    """The self-contained HTML report: where it goes and how much history it draws."""

    dir: str
    history_snapshots: Count
    log_to_mlflow: bool
    mlflow_experiment: str


@frozen
class MonitorConfig:
    """The monitor job's inputs, outputs, statistics, alert rules and report."""

    scores_table: str
    features_table: str
    tables: MonitorTables
    # Score columns watched besides the target probabilities: column -> its band column (or null).
    scores: Mapping[str, str | None]
    quantiles: tuple[Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)], ...]
    psi: PsiConfig
    accuracy: AccuracyConfig
    alerts: Mapping[str, AlertRule] = field(default_factory=dict)
    report: ReportConfig

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
