"""Monitor snapshot D end to end: ladder, drift, realised accuracy, alerts -> monitor.* tables, the HTML
report and an MLflow run.

Spark does every per-user step; the driver receives per-snapshot statistics, bin counts and accuracy cells
only (bounded by scores x quantiles, features x bins, snapshots x deciles x tiers). Each table's partition
D is replaced in one commit, so re-running D gives the same rows (the MLflow run is new each time).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.config.monitoring import PsiConfig
from userscore.errors import InputError
from userscore.monitoring.accuracy import TIER, VERSION, P, matured_snapshots, realised_accuracy
from userscore.monitoring.alerts import evaluate_rules
from userscore.monitoring.ladder import AS_OF, Ladder, Watched, ladder, ladder_rows, watched_scores
from userscore.monitoring.models import ModelInfo, Registry
from userscore.monitoring.psi import Binning, binned_counts, fit_binnings, psi
from userscore.monitoring.reference import Reference, ensure_references, rows_frame

# Drift ranks compare PSIs to this many decimals (see _psi_rows).
RANK_DIGITS = 9


@dataclass
class MonitorOutcome:
    """Everything one monitor run computed, wrote and drew."""

    as_of: dt.date
    previous: dt.date | None
    watched: list[Watched]
    models: dict[str, ModelInfo]
    references: dict[str, Reference]
    history: Ladder
    ladder: list[dict]
    drift: list[dict]
    accuracy: list[dict]
    alerts: list[dict]
    drift_history: list[dict] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report_path: Path | None = None
    mlflow_run_id: str | None = None


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
    models: Mapping[str, ModelInfo] | None = None,
    logger: logging.Logger | None = None,
    stage: Callable[[str], contextlib.AbstractContextManager] | None = None,
) -> MonitorOutcome:
    """Monitor the scores of ``as_of`` (default: the newest scored snapshot).

    Args:
        registry: MLflow lookups (default: the configured store); ``models`` overrides the champions
            (target -> ModelInfo), e.g. in tests or to monitor a challenger.
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
    watched = watched_scores(scoring, config.scored_tiers(), mon)
    notes: list[str] = []
    t = mon.tables
    catalog.prepare(t.reference, t.ladder, t.drift, t.accuracy, t.alerts)

    with stage("champions"):
        if models is None:
            if registry is None:
                registry = Registry(config.models.tracking, config.models.promotion.alias, Path(config.root))
            found = {t: registry.champion(t) for t in scoring.targets}
            models = {t: i for t, i in found.items() if i is not None}
            notes += [f"no champion for {t}: no training reference" for t, i in found.items() if i is None]
        models = dict(models)
    writes: list[WriteResult] = []
    with stage("references"):
        references, written = ensure_references(
            catalog, mon, models, scoring.targets, config.scored_tiers(), registry, logger
        )
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
            numeric, categorical = _model_features(models, features.columns)
            drift += feature_drift(features, as_of, previous, numeric, categorical, references, mon.psi)
        else:
            notes.append(f"{features_table} does not exist: no feature drift")

    with stage("accuracy"):
        accuracy, acc_notes = _accuracy(catalog, config, scores, dates, as_of, models, registry)
        notes += acc_notes

    alerts = evaluate_rules(as_of, mon.alerts, lrows, drift, accuracy)
    with stage("write"):
        for table, rows in ((t.ladder, lrows), (t.drift, drift), (t.accuracy, accuracy), (t.alerts, alerts)):
            writes.append(catalog.overwrite_where(table, rows_frame(catalog, table, rows), {AS_OF: as_of}))

    outcome = MonitorOutcome(
        as_of, previous, watched, models, references, history, lrows, drift, accuracy, alerts, writes=writes,
        notes=notes,
    )  # fmt: skip
    outcome.drift_history = _drift_history(catalog, t.drift, window)
    with stage("report"):
        from userscore.monitoring.report import write_report

        path = report_path or config.path(mon.report.dir) / f"monitor-{as_of.isoformat()}.html"
        outcome.report_path = write_report(outcome, path, mon.psi.top_features)
    if log_to_mlflow and mon.report.log_to_mlflow:
        with stage("mlflow"):
            outcome.mlflow_run_id = _log_mlflow(config, outcome)
    for line in alert_lines(alerts):
        logger.warning("%s", line)
    return outcome


# -- drift -----------------------------------------------------------------------------------------------
def _psi_rows(
    kind: str,
    as_of: dt.date,
    counts: Mapping[tuple, Mapping[str, int]],
    baselines: Sequence[tuple[str, str, str, dt.date | None, str | None, Mapping[str, int]]],
    epsilon: float,
) -> list[dict]:
    """One drift row per (column, baseline); ``baselines``: (binning id, column, baseline, baseline date,
    target, baseline counts). Ranks PSI within each (baseline, target), largest first."""
    rows = []
    for binning_id, column, baseline, baseline_date, target, expected in baselines:
        actual = counts.get((as_of, binning_id), {})
        if not expected or not actual:
            continue
        rows.append(
            {
                "as_of_date": as_of,
                "kind": kind,
                "name": column,
                "baseline": baseline,
                "target": target or "",
                "baseline_date": baseline_date,
                "model_version": None,
                "psi": psi(expected, actual, epsilon),
                "bins": len(set(expected) | set(actual)),
                "rows": sum(actual.values()),
                "baseline_rows": sum(expected.values()),
            }
        )
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["baseline"], r["target"]), []).append(r)
    for group in groups.values():
        # Equal shares give PSIs equal up to the last bits of log() and of the summation order, which differ
        # between CPUs and runs: rank by PSI to RANK_DIGITS decimals, then by name, so ties rank the same
        # everywhere.
        for rank, r in enumerate(sorted(group, key=lambda r: (-round(r["psi"], RANK_DIGITS), r["name"])), start=1):
            r["rank"] = rank
    return rows


def _drift(
    kind: str,
    frame: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    numeric: Sequence[str],
    categorical: Sequence[str],
    references: Mapping[str, Reference],
    columns_of: Callable[[Reference], Sequence[str]],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of columns at ``as_of`` vs ``previous`` (bins at previous's quantiles) and vs each reference
    (its stored bins): one quantile job on the previous snapshot and ONE count job over both snapshots."""
    dates = [as_of] if previous is None else [as_of, previous]
    both = frame.where(F.col(AS_OF).isin(dates))
    binnings: list[Binning] = []
    baselines: list = []
    if previous is not None:
        prior = fit_binnings(both.where(F.col(AS_OF) == F.lit(previous)), numeric, categorical, cfg.bins,
                             cfg.quantile_relative_error)  # fmt: skip
        binnings += [b.renamed(f"previous|{c}") for c, b in prior.items()]
    for target, ref in references.items():
        for column in columns_of(ref):
            if column in ref.binnings and column in frame.columns:
                binnings.append(ref.binnings[column].renamed(f"reference|{target}|{column}"))
                baselines.append((f"reference|{target}|{column}", column, "reference", ref.date, target,
                                  ref.counts[column]))  # fmt: skip
    counts = binned_counts(both, binnings, by=[AS_OF])
    if previous is not None:
        for column in (*numeric, *categorical):
            key = f"previous|{column}"
            baselines.insert(0, (key, column, "previous", previous, None, counts.get((previous, key), {})))
    rows = _psi_rows(kind, as_of, counts, baselines, cfg.epsilon)
    for r in rows:
        if r["baseline"] == "reference":
            r["model_version"] = references[r["target"]].version
    return rows


def score_drift(
    scores: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    columns: Sequence[str],
    references: Mapping[str, Reference],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of every watched score vs the previous snapshot, and of each target's probability vs its reference."""
    present = [c for c in columns if c in scores.columns]
    return _drift("score", scores, as_of, previous, present, [], references, lambda r: [r.score], cfg)


def feature_drift(
    features: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    numeric: Sequence[str],
    categorical: Sequence[str],
    references: Mapping[str, Reference],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of model features vs the previous snapshot and vs each champion's reference (its own inputs)."""

    def inputs(ref: Reference) -> list[str]:
        return [c for c in ref.binnings if c != ref.score]

    return _drift("feature", features, as_of, previous, numeric, categorical, references, inputs, cfg)


def _model_features(models: Mapping[str, ModelInfo], columns: Sequence[str]) -> tuple[list[str], list[str]]:
    numeric = sorted({c for i in models.values() for c in i.numeric_features if c in columns})
    categorical = sorted({c for i in models.values() for c in i.categorical_features if c in columns})
    return numeric, categorical


def _drift_history(catalog: Catalog, table: str, window: Sequence[dt.date]) -> list[dict]:
    """Drift rows of the monitored dates in the report window (earlier runs and this one)."""
    if not catalog.exists(table) or not window:
        return []
    cols = ["as_of_date", "kind", "name", "baseline", "target", "psi"]
    return [r.asDict() for r in catalog.read(table).where(F.col(AS_OF).isin(list(window))).select(*cols).collect()]


# -- accuracy --------------------------------------------------------------------------------------------
def _accuracy(
    catalog: Catalog,
    config: Config,
    scores: DataFrame,
    dates: Sequence[dt.date],
    as_of: dt.date,
    models: Mapping[str, ModelInfo],
    registry: Registry | None,
) -> tuple[list[dict], list[str]]:
    from userscore.models.dataset import latest_event_time
    from userscore.models.targets import required_inputs

    inputs = config.models.inputs
    tables = {"orders": inputs.orders, "events": inputs.events, "level_changes": inputs.level_changes}
    silver = {name: catalog.read(t) for name, t in tables.items() if catalog.exists(t)}
    if not silver:
        return [], ["no silver tables: no realised accuracy"]
    latest = latest_event_time(silver)
    cutoff = dt.datetime.combine(as_of, dt.time())
    cutoff = min(cutoff, latest) if latest is not None else cutoff
    rows, notes = [], []
    for target, output in config.scoring.targets.items():
        spec = config.models.targets.get(target)
        p, tier, version = (output.column(s) for s in ("probability", "tier", "model_version"))
        if spec is None or p not in scores.columns:
            continue
        missing = [i for i in required_inputs(spec) if i not in silver]
        if missing:
            notes.append(f"{target}: silver inputs {missing} missing: no realised accuracy")
            continue
        matured = matured_snapshots(dates, as_of, spec.horizon_days, cutoff, config.monitor.accuracy.max_snapshots)
        if not matured:
            notes.append(f"{target}: no scored snapshot has matured its {spec.horizon_days}-day horizon by {cutoff}")
            continue
        scored = scores.select(
            "user_id",
            AS_OF,
            F.col(p).alias(P),
            F.col(tier).alias(TIER),
            F.coalesce(F.col(version).cast("string"), F.lit("")).alias(VERSION)
            if version in scores.columns
            else F.lit("").alias(VERSION),
        )
        tiers = [b.name for b in spec.tiers]
        found = realised_accuracy(scored, spec, silver, matured, tiers, config.monitor.accuracy.quantile_relative_error)
        for r in found:
            info = models.get(target)
            if registry is not None and r["model_version"]:
                info = registry.version(target, r["model_version"]) or (
                    info if info and info.version == r["model_version"] else None
                )
            elif info is not None and info.version != r["model_version"]:
                info = None
            training = info.training_auc if info else None
            overall = r["level"] == "overall"
            r |= {
                "as_of_date": as_of,
                "target": target,
                "training_auc": training if overall else None,
                "auc_drop": (training - r["auc"])
                if overall and training is not None and r["auc"] is not None
                else None,
            }
        rows += found
    return rows, notes


# -- output ----------------------------------------------------------------------------------------------
def alert_lines(alerts: Sequence[Mapping]) -> list[str]:
    return [f"ALERT [{a['severity']}] {a['rule']}: {a['message']}" for a in alerts]


def _log_mlflow(config: Config, outcome: MonitorOutcome) -> str | None:
    """One MLflow run per monitor run: headline metrics and the report as an artifact."""
    import mlflow

    from userscore.models.tracking import connect, resolve

    store = resolve(config.models.tracking, Path(config.root))
    store = dataclasses.replace(store, experiment=config.monitor.report.mlflow_experiment)
    _, experiment_id = connect(store)
    metrics = {"alerts": float(len(outcome.alerts))}
    for r in outcome.drift:
        key = f"psi_{r['kind']}_{r['baseline']}_max"
        metrics[key] = max(metrics.get(key, 0.0), r["psi"])
    for r in outcome.accuracy:
        if r["level"] == "overall" and r["auc"] is not None:
            metrics[f"auc_{r['target']}"] = r["auc"]
    tags = {"as_of_date": outcome.as_of.isoformat(), "previous_snapshot": str(outcome.previous or "")}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"monitor {outcome.as_of}", tags=tags) as run:
        mlflow.log_metrics(metrics)
        if outcome.report_path is not None:
            mlflow.log_artifact(str(outcome.report_path), artifact_path="report")
    return run.info.run_id


def summary_lines(outcome: MonitorOutcome) -> list[str]:
    """What the job prints: the ladder at D, top drift, realised AUCs, alerts and the report's path."""
    lines = [f"snapshot {outcome.as_of} (previous {outcome.previous or '-'})"]
    lines.append(
        "champions: "
        + (", ".join(f"{i.model_name} v{i.version} (reference {i.validation_date})" for i in outcome.models.values())
           or "none")
    )  # fmt: skip
    lines.append(f"{'score':<26} {'mean':>8} {'p50':>8} {'Δprev':>8} {'Δref':>8}  bands (share)")
    by_score: dict[str, dict[str, dict]] = {}
    for r in outcome.ladder:
        by_score.setdefault(r["score"], {})[f"{r['kind']}:{r['key']}"] = r
    for score, cells in by_score.items():
        mean, p50 = cells.get("stat:mean", {}), cells.get("stat:p50", {})
        bands = ", ".join(
            f"{k[5:]} {c['value']:.2f}" for k, c in cells.items() if k.startswith("band:") and c["value"] is not None
        )
        lines.append(
            f"{score:<26} {_n(mean.get('value')):>8} {_n(p50.get('value')):>8} {_n(mean.get('change_vs_previous')):>8} "
            f"{_n(mean.get('change_vs_reference')):>8}  {bands}"
        )
    top = sorted((r for r in outcome.drift if r["kind"] == "feature"), key=lambda r: -r["psi"])[:5]
    if top:
        shown = [f"{r['name']} {r['psi']:.3f} ({r['baseline']} {r['target']})".replace(" )", ")") for r in top]
        lines.append("top drifting features: " + ", ".join(shown))
    for r in outcome.accuracy:
        if r["level"] == "overall":
            lines.append(
                f"realised {r['target']} @ {r['snapshot_date']} v{r['model_version']}: AUC {_n(r['auc'])} "
                f"(training {_n(r['training_auc'])}), {r['rows']:,} users, observed {_n(r['observed_rate'])} "
                f"vs predicted {_n(r['mean_predicted'])}"
            )
    lines += outcome.notes
    lines += alert_lines(outcome.alerts) or ["no alerts"]
    if outcome.report_path:
        lines.append(f"report: {outcome.report_path}")
    if outcome.mlflow_run_id:
        lines.append(f"MLflow run: {outcome.mlflow_run_id}")
    return lines


def _n(value) -> str:
    return "-" if value is None else f"{value:.4f}"
