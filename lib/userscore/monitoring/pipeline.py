"""Monitor snapshot D end to end: ladder, drift, realised accuracy, alerts -> monitor.* tables, the HTML
report and an MLflow run.

Spark does every per-user step; the driver receives per-snapshot statistics, bin counts and accuracy cells
only (bounded by scores x quantiles, features x bins, snapshots x deciles x tiers). Each table's partition
D is replaced in one commit, so re-running D gives the same rows (the MLflow run is new each time).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.errors import InputError
from userscore.models.registry import RunRecord
from userscore.monitoring.accuracy import target_accuracy
from userscore.monitoring.alerts import evaluate_rules
from userscore.monitoring.drift import drift_history, feature_drift, model_features, score_drift
from userscore.monitoring.ladder import AS_OF, ladder, ladder_rows, watched_scores
from userscore.monitoring.models import Registry
from userscore.monitoring.outcome import MonitorOutcome
from userscore.monitoring.reference import ensure_references, rows_frame
from userscore.monitoring.summary import alert_lines
from userscore.monitoring.tracking import log_run


def _dates(df: DataFrame) -> list[dt.date]:
    """Distinct snapshot dates (a partition-column aggregate: bounded by the number of snapshots)."""
    return sorted(r[0] for r in df.select(AS_OF).distinct().collect())


def monitor_snapshot(
    catalog: Catalog,
    config: Config,
    as_of: dt.date | None = None,
    *,
    report_path: Path | None = None,
    log_to_mlflow: bool = True,
    registry: Registry | None = None,
    models: Mapping[str, RunRecord] | None = None,
    logger: logging.Logger | None = None,
    stage: Callable[[str], contextlib.AbstractContextManager] | None = None,
) -> MonitorOutcome:
    """Monitor the scores of ``as_of`` (default: the newest scored snapshot).

    Args:
        registry: MLflow lookups (default: the configured store); ``models`` overrides the champions
            (target -> RunRecord), e.g. in tests or to monitor a challenger.
        report_path: the HTML report (default ``<monitor.report.dir>/monitor-<D>.html``); None-able.
    """
    logger = logger or logging.getLogger("userscore.monitor")
    stage = stage or (lambda name: contextlib.nullcontext())
    mon, scoring = config.monitor, config.scoring
    if not catalog.exists(mon.scores_table):
        raise InputError(f"{mon.scores_table} does not exist: run `userscore score --as-of D` first")
    scores = catalog.read(mon.scores_table)
    dates = _dates(scores)
    if as_of is None:
        if not dates:
            raise InputError(f"{mon.scores_table} has no snapshot: run `userscore score --as-of D` first")
        as_of = dates[-1]
    if as_of not in dates:
        raise InputError(f"{mon.scores_table} has no partition as_of_date={as_of}; scored snapshots: "
                         f"{[d.isoformat() for d in dates[-12:]]}")  # fmt: skip
    earlier = [d for d in dates if d < as_of]
    previous = earlier[-1] if earlier else None
    watched = watched_scores(scoring, mon)
    notes: list[str] = []
    t = mon.tables
    catalog.prepare(t.reference, t.ladder, t.drift, t.accuracy, t.alerts)

    with stage("champions"):
        if models is None:
            if registry is None:
                registry = Registry(config)
            found = {t: registry.champion(t) for t in scoring.targets}
            models = {t: i for t, i in found.items() if i is not None}
            notes += [f"no champion for {t}: no training reference" for t, i in found.items() if i is None]
        models = dict(models)
    writes: list[WriteResult] = []
    with stage("references"):
        references, written = ensure_references(catalog, mon, models, scoring.targets, registry, logger)
        writes += written
        notes += [f"{t} v{models[t].version}: no training reference" for t in models if t not in references]

    with stage("ladder"):
        window = [d for d in dates if d <= as_of][-mon.report.history_snapshots :]
        history = ladder(
            scores.where(F.col(AS_OF).isin(window)), watched, mon.quantiles, mon.psi.quantile_relative_error
        )
        ref_cells = {r.score: (r.version, r.cells) for r in references.values()}
        lrows = ladder_rows(as_of, history.get(as_of, {}), previous, history.get(previous, {}), ref_cells)

    with stage("drift"):
        scored = [w.score for w in watched if w.score in history.get(as_of, {})]
        drift = score_drift(scores, as_of, previous, scored, references, mon.psi)
        features_table = mon.features_table
        if catalog.exists(features_table):
            features = catalog.read(features_table)
            numeric, categorical = model_features(models, features.columns)
            drift += feature_drift(features, as_of, previous, numeric, categorical, references, mon.psi)
        else:
            notes.append(f"{features_table} does not exist: no feature drift")

    with stage("accuracy"):
        accuracy, acc_notes = target_accuracy(catalog, config, scores, dates, as_of, models, registry)
        notes += acc_notes

    alerts = evaluate_rules(as_of, mon.alerts, lrows, drift, accuracy)
    with stage("write"):
        for table, rows in ((t.ladder, lrows), (t.drift, drift), (t.accuracy, accuracy), (t.alerts, alerts)):
            writes.append(catalog.overwrite_where(table, rows_frame(catalog, table, rows), {AS_OF: as_of}))

    outcome = MonitorOutcome(
        as_of, previous, watched, models, references, history, lrows, drift, accuracy, alerts, writes=writes,
        notes=notes,
    )  # fmt: skip
    outcome.drift_history = drift_history(catalog, t.drift, window)
    with stage("report"):
        from userscore.monitoring.report import write_report  # matplotlib loads only when a report is drawn

        path = report_path or config.path(mon.report.dir) / f"monitor-{as_of.isoformat()}.html"
        outcome.report_path = write_report(outcome, path, mon.psi.top_features)
    if log_to_mlflow and mon.report.log_to_mlflow:
        with stage("mlflow"):
            outcome.mlflow_run_id = log_run(config, outcome)
    for line in alert_lines(alerts):
        logger.warning("%s", line)
    return outcome
