"""Train targets: labelled sample -> GBT + LR baseline + calibration -> validation metrics, the naive
baselines' AUCs on the same rows, plots -> one MLflow run -> registered version (:func:`train`);
``train_targets`` then validates and promotes each version through userscore.models.lifecycle, the steps
``userscore models validate / promote`` run on their own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.models import TargetConfig, input_tables
from userscore.errors import InputError
from userscore.models import plots, registry
from userscore.models.baselines import Baselines, available, evaluate_baselines
from userscore.models.calibration import PREDICTION, positive_probability
from userscore.models.dataset import (
    SPLIT,
    VALIDATION,
    SnapshotSplit,
    TrainingSet,
    aggregate_example,
    latest_event_time,
    pandas_example,
    snapshot_dates,
    split_snapshots,
    training_set,
)
from userscore.models.evaluation import Evaluation, area_under, evaluate
from userscore.models.lifecycle import promote, validate
from userscore.models.promotion import Decision
from userscore.models.registry import RunRecord
from userscore.models.targets import LABEL
from userscore.models.tracking import (
    Store,
    config_hash,
    connect,
    flat_params,
    git_commit,
    load_spark_model,
    log_model,
    plain,
    reader,
    store_of,
)
from userscore.models.training import LR_PROBABILITY, FittedModels, fit_models
from userscore.persons import PersonMaps, person_maps


@dataclass
class TargetReport:
    """What one target's training produced and decided."""

    target: str
    model_name: str
    run_id: str
    version: str
    decision: Decision
    snapshots: SnapshotSplit
    rows: dict[str, dict[int, int]]
    served: Evaluation
    raw: Evaluation
    baseline: Evaluation
    champion_auc: float | None
    importances: list[tuple[str, float]]
    seconds: dict[str, float] = field(default_factory=dict)
    baselines: Baselines = field(default_factory=Baselines)
    calibration: str = ""


@dataclass
class TrainingOutcome:
    reports: list[TargetReport]
    store: Store
    cutoff: dt.datetime


def train_targets(
    catalog: Catalog, config: Config, names: Sequence[str], cutoff: dt.date | None, logger: logging.Logger
) -> TrainingOutcome:
    """Train, evaluate, log, register and gate each target in ``names`` (all inputs checked first)."""
    models = config.models
    unknown = [n for n in names if n not in models.targets]
    if unknown or not names:
        raise InputError(
            f"unknown targets {unknown or names}: defined in conf (models.targets) are {sorted(models.targets)}"
        )
    features, silver, dates, cut, persons = training_inputs(catalog, config, [models.targets[n] for n in names], cutoff)
    for name in names:  # every target's snapshots and baseline columns are checked before any training or logging
        target = models.targets[name]
        split_snapshots(dates, target.horizon_days, cut, target.split)
        available(target, features.schema)
    store = store_of(config)
    reports = []
    for name in names:
        logger.info("target %s: cut-off %s, snapshots %s", name, cut, [d.isoformat() for d in dates])
        record, trained = train(name, config, features, silver, dates, cut, store, logger, persons)
        reports.append(_validate_and_promote(record, trained, config, store, logger))
    return TrainingOutcome(reports, store, cut)


def training_inputs(
    catalog: Catalog, config: Config, targets: Sequence[TargetConfig], cutoff: dt.date | None
) -> tuple[DataFrame, dict[str, DataFrame], list[dt.date], dt.datetime, PersonMaps | None]:
    """What labelling ``targets`` reads: the features table, the silver inputs they need, the snapshot dates,
    the cut-off (``cutoff`` at 00:00, default: the newest order or event in silver) and, with identity.resolve,
    the person maps the snapshots were keyed by."""
    models = config.models
    features = catalog.read(models.inputs.features)
    tables = input_tables(models.inputs)
    needed = {i for target in targets for i in target.inputs()}
    needed = sorted(needed | ({"orders", "events"} if cutoff is None else set()))
    silver = {name: catalog.read(tables[name]) for name in needed}
    dates = snapshot_dates(features)
    if not dates:
        raise InputError(f"{models.inputs.features} has no snapshots: compute features first")
    identity = config.identity
    persons = person_maps(catalog, identity.person_map_table, dates) if identity.resolve else None
    if cutoff is not None:
        return features, silver, dates, dt.datetime.combine(cutoff, dt.time()), persons
    cut = latest_event_time(silver)
    if cut is None:
        raise InputError(f"no orders or events in {tables['orders']} / {tables['events']}: nothing to label")
    return features, silver, dates, cut, persons


@dataclass
class Trained:
    """What fitting and evaluating one target produced, before anything is logged."""

    data: TrainingSet
    fitted: FittedModels
    served: Evaluation
    raw: Evaluation
    baseline: Evaluation
    importances: list[tuple[str, float]]
    rows: dict[str, dict[int, int]]
    seconds: dict[str, float]
    baselines: Baselines


def train(
    name: str,
    config: Config,
    features: DataFrame,
    silver: dict[str, DataFrame],
    dates: list[dt.date],
    cutoff: dt.datetime,
    store: Store,
    logger: logging.Logger,
    persons: PersonMaps | None = None,
) -> tuple[RunRecord, Trained]:
    """Fit and evaluate one target, score the naive baselines and re-score the current champion on the same
    validation rows, log one run and register the served model as a new version (not gated, no alias moved)."""
    models = config.models
    target = models.targets[name]
    seconds: dict[str, float] = {}
    present, skipped = available(target, features.schema)
    for baseline, reason in skipped.items():
        logger.info("target %s: baseline %s skipped: %s", name, baseline, reason)
    started = time.perf_counter()
    data = training_set(features, silver, target, cutoff, dates, carry=[b.column for b in present], persons=persons)
    rows = _sampled_rows(data)
    seconds["dataset"] = time.perf_counter() - started
    split = data.snapshots
    logger.info(
        "target %s: train snapshots %s .. %s (%d), validation %s, unmatured %s; sampled rows per split/class %s",
        name, split.train[0], split.train[-1], len(split.train), split.validation,
        [d.isoformat() for d in split.unmatured], rows,
    )  # fmt: skip

    fitted = fit_models(data, target, checkpoint_dir(config), models.training_partitions, models.evaluation.ece_bins)
    seconds.update(fitted.seconds)

    started = time.perf_counter()
    scored = score_validation(fitted, data.part(VALIDATION)).persist()
    served = evaluate(scored, "served", LABEL, target.tiers, models.evaluation)
    raw = evaluate(scored, "raw", LABEL, target.tiers, models.evaluation)
    baseline = evaluate(scored, "lr", LABEL, target.tiers, models.evaluation)
    importances = sorted(
        zip(fitted.feature_names, (float(v) for v in fitted.gbt.featureImportances.toArray()), strict=True),
        key=lambda item: -item[1],
    )[: models.evaluation.top_features]
    scored.unpersist()
    baselines = evaluate_baselines(data.part(VALIDATION), LABEL, present, skipped)
    seconds["evaluate"] = time.perf_counter() - started
    logger.info("target %s: baseline AUCs %s (served model %.4f)", name, dict(baselines.aucs), served.metrics["auc"])
    trained = Trained(data, fitted, served, raw, baseline, importances, rows, seconds, baselines)

    model_name = f"{models.tracking.model_prefix}{name}"
    client, experiment_id = connect(store)
    champion = registry.champion(client, model_name, models.promotion.alias)
    champion_auc, champion_note = _champion_auc(champion, store, data.part(VALIDATION))
    record = RunRecord(
        target=name,
        model_name=model_name,
        version="",
        run_id="",
        metrics=_metrics(trained),
        validation_date=split.validation,
        train_snapshots=split.train,
        calibration_snapshots=split.calibration,
        cutoff=split.cutoff,
        numeric_features=tuple(data.features.numeric),
        categorical_features=tuple(data.features.categorical),
        champion_version=champion.version if champion else None,
        champion_auc=champion_auc,
        champion_note=champion_note,
        baseline_best=baselines.best[0] if baselines.best else "",
        config_hash=config_hash(target, models.promotion, models.evaluation),
        git_commit=git_commit(Path(config.root)),
    )
    started = time.perf_counter()
    run_id, version = _log_run(record, trained, target, store, experiment_id)
    seconds["mlflow"] = time.perf_counter() - started
    data.rows.unpersist()
    logger.info("target %s: registered %s version %s (run %s)", name, model_name, version, run_id)
    return dataclasses.replace(record, run_id=run_id, version=version), trained


def _validate_and_promote(
    record: RunRecord, trained: Trained, config: Config, store: Store, logger: logging.Logger
) -> TargetReport:
    """The steps after ``train`` in a row: validate the new version, promote it when the gate passes."""
    policy, alias = config.models.promotion, config.models.promotion.alias
    name = record.target
    client = reader(store)
    _, decision = validate(client, record.model_name, record.version, policy, alias)
    if decision.promote:
        promote(client, record.model_name, record.version, alias)
    logger.info("target %s: %s version %s: %s", name, record.model_name, record.version, decision)
    return TargetReport(
        name, record.model_name, record.run_id, record.version, decision, trained.data.snapshots, trained.rows,
        trained.served, trained.raw, trained.baseline, record.champion_auc, trained.importances, trained.seconds,
        trained.baselines, trained.fitted.calibration.describe(),
    )  # fmt: skip


def checkpoint_dir(config: Config) -> str:
    """The configured checkpoint folder, else ``_checkpoints`` under the catalog root."""
    return str(config.path(config.models.checkpoint_dir or f"{config.catalog.root}/_checkpoints"))


def _sampled_rows(data: TrainingSet) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    for r in data.rows.groupBy(SPLIT, LABEL).count().collect():
        out.setdefault(r[SPLIT], {})[int(r[LABEL])] = int(r["count"])
    return out


def score_validation(fitted: FittedModels, validation: DataFrame) -> DataFrame:
    """Validation rows with the served (calibrated), raw GBT and LR probabilities: one pass of both."""
    scored = fitted.baseline.transform(fitted.served.transform(validation))
    return scored.select(
        F.col(LABEL),
        F.col(PREDICTION).alias("served"),
        positive_probability().alias("raw"),
        positive_probability(LR_PROBABILITY).alias("lr"),
    )


def _champion_auc(champion: RunRecord | None, store: Store, validation: DataFrame) -> tuple[float | None, str]:
    """The champion's AUC on this run's validation rows; its logged AUC if it cannot score them."""
    if champion is None:
        return None, ""
    try:
        model = load_spark_model(store, champion.model_name, champion.version)
        scored = model.transform(validation).select(
            F.col(PREDICTION).alias("s"), F.col(LABEL).cast("double").alias("y")
        )
        return area_under(scored, "s", "y", "areaUnderROC"), f"champion v{champion.version} re-scored on the same rows"
    except Exception as exc:  # noqa: BLE001 - any failure to re-score falls back to the logged metric
        note = f"champion v{champion.version} could not score these rows ({type(exc).__name__}); its logged AUC used"
        return champion.training_auc, note


def _metrics(trained: Trained) -> dict[str, float]:
    """The run's metrics: served, raw GBT and LR evaluation, the naive baselines' AUCs, the calibration
    methods' out-of-fold ECE, stage seconds, rows and positive rate per split."""
    metrics = dict(trained.served.metrics)
    metrics |= {f"raw_{k}": v for k, v in trained.raw.metrics.items()}
    metrics |= {f"lr_{k}": v for k, v in trained.baseline.metrics.items()}
    metrics |= trained.baselines.metrics()
    metrics |= trained.fitted.calibration.metrics()  # each calibration method's out-of-fold ECE
    metrics |= {f"seconds_{k}": v for k, v in trained.seconds.items()}
    for split, by_class in trained.rows.items():
        total = sum(by_class.values())
        metrics[f"{split}_rows"] = float(total)
        metrics[f"{split}_positive_rate"] = by_class.get(1, 0) / total if total else 0.0
    return metrics


def _log_run(
    record: RunRecord, trained: Trained, target: TargetConfig, store: Store, experiment_id: str
) -> tuple[str, str]:
    """Log ``record`` with the target's params, the evaluation report and plots, and the served model
    (registered as ``record.model_name``); return (run id, version)."""
    import mlflow
    import pyspark

    data, served, raw, baseline = trained.data, trained.served, trained.raw, trained.baseline
    tags, record_params, metrics = record.run_fields()
    params = (
        flat_params(target)
        | record_params
        | {
            "features.count": str(len(trained.fitted.feature_names)),
            "class_weights": json.dumps({str(k): round(v, 6) for k, v in data.class_weights.items()}),
            "sample_fractions": json.dumps({f"{s}/{c}": round(f, 6) for (s, c), f in sorted(data.fractions.items())}),
            "eligible_counts": json.dumps({f"{s}/{c}": n for (s, c), n in sorted(data.counts.items())}),
        }
        | trained.fitted.calibration.params()
    )
    with tempfile.TemporaryDirectory(prefix=f"userscore-{record.target}-") as tmp:
        folder = Path(tmp)
        plots.roc_curve({"GBT calibrated": served, "GBT raw": raw, "LR baseline": baseline}, folder / "roc.png")
        plots.lift_gain(served, folder / "lift_gain.png")
        plots.calibration_curve({"before (GBT raw)": raw, "after (calibrated)": served}, folder / "calibration.png")
        plots.feature_importance(trained.importances, folder / "feature_importance.png")
        report = {
            "target": record.target,
            "snapshots": plain({"train": data.snapshots.train, "validation": data.snapshots.validation}),
            "rows": {s: {str(c): n for c, n in v.items()} for s, v in trained.rows.items()},
            "feature_importance": trained.importances,
            **{
                key: {"metrics": ev.metrics, "deciles": ev.deciles, "calibration": ev.calibration, "tiers": ev.tiers}
                for key, ev in (("served", served), ("raw", raw), ("lr", baseline))
            },
            "baselines": trained.baselines.report(),
        }
        (folder / "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
        example = aggregate_example(data.part(VALIDATION), data.features)
        example_pd = pandas_example(example, data.features)
        predictions = trained.fitted.served.transform(example).select(PREDICTION).toPandas()[PREDICTION]
        run_name = f"{record.target} {data.snapshots.validation}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(str(folder), artifact_path="evaluation")
            info = log_model(
                trained.fitted.served,
                example_pd,
                predictions,
                record.model_name,
                store.dfs_tmpdir,
                [f"pyspark=={pyspark.__version__}", f"mlflow=={mlflow.__version__}"],
            )
    return run.info.run_id, str(info.registered_model_version)


def summary_lines(outcome: TrainingOutcome) -> list[str]:
    """The metrics table (with the best naive baseline, its AUC and the model's margin over it), the
    decisions and where to look (MLflow UI command)."""
    header = (
        f"{'target':<20} {'valid':<10} {'train':>8} {'pos%':>6} {'AUC gbt':>8} {'AUC lr':>7} {'best baseline':<24} "
        f"{'AUC':>7} {'margin':>7} {'AUC-PR':>7} {'KS':>6} {'ECE raw':>8} {'ECE cal':>8} {'tiers ok':>8}  model"
    )
    lines = [f"cut-off {outcome.cutoff:%Y-%m-%d %H:%M:%S} UTC", header, "-" * len(header)]
    for r in outcome.reports:
        m, train, best = r.served.metrics, r.rows.get("train", {}), r.baselines.best
        versus = f"{'-':<24} {'-':>7} {'-':>7}"
        if best:
            versus = f"{best[0]:<24} {best[1]:>7.4f} {m['auc'] - best[1]:>+7.4f}"
        lines.append(
            f"{r.target:<20} {r.snapshots.validation.isoformat():<10} {sum(train.values()):>8} "
            f"{100 * m['positive_rate']:>6.2f} {m['auc']:>8.4f} {r.baseline.metrics['auc']:>7.4f} {versus} "
            f"{m['auc_pr']:>7.4f} {m['ks']:>6.3f} {r.raw.metrics['ece']:>8.4f} {m['ece']:>8.4f} "
            f"{'yes' if m['tiers_consistent'] else 'no':>8}  {r.model_name} v{r.version}"
        )
    skipped = [f"  {r.target}: {name}: {why}" for r in outcome.reports for name, why in r.baselines.skipped.items()]
    if skipped:
        lines += ["baselines skipped:", *skipped]
    lines.append("decisions:")
    lines += [f"  {r.model_name} v{r.version}: {r.decision}" for r in outcome.reports]
    lines.append("calibration (chosen on the calibration slice, never the validation rows):")
    lines += [f"  {r.target}: {r.calibration}" for r in outcome.reports]
    lines.append("tiers (observed positive rate / share of rows):")
    for r in outcome.reports:
        rows = max(1.0, r.served.metrics["rows"])
        tiers = ", ".join(
            f"{t['tier']} [{t['low']:.2f},{t['high']:.2f}) {t['positive_rate']:.3f}/{t['rows'] / rows:.2f}"
            for t in r.served.tiers
        )
        lines.append(f"  {r.target}: {tiers}")
    return lines + outcome.store.pointer_lines()
