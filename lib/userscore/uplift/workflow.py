"""Train each campaign type's uplift model: units (userscore.uplift.dataset) -> T-learner + class-
transformation baseline -> every ranking judged on the held-out campaign -> one MLflow run -> a registered
version -> the gate (userscore.uplift.gate), its verdict recorded on the version -> promoted when it passes.
The held-out campaign's rankings are written to ``campaigns.uplift.validation_table`` (replaced per type).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.errors import InputError
from userscore.filters import rule_holds
from userscore.models import registry
from userscore.models.dataset import aggregate_example, latest_event_time, pandas_example
from userscore.models.lifecycle import promote
from userscore.models.promotion import Decision
from userscore.models.registry import RunRecord
from userscore.models.tracking import (
    Store,
    config_hash,
    connect,
    flat_params,
    git_commit,
    load_spark_model,
    log_model,
    reader,
    store_of,
)
from userscore.models.workflow import checkpoint_dir
from userscore.uplift.dataset import (
    CONVERTED,
    REVENUE_CENTS,
    TREATED,
    CampaignRole,
    NothingToLearn,
    UpliftData,
    uplift_data,
)
from userscore.uplift.evaluation import (
    BASELINE,
    PROPENSITY,
    RANDOM,
    T_LEARNER,
    RankingResult,
    evaluate_rankings,
    random_score,
    ranking_frame,
)
from userscore.uplift.gate import decide_uplift
from userscore.uplift.metrics import uplift_metrics
from userscore.uplift.model import MARGIN_PER_CONVERSION, PREDICTION, model_name
from userscore.uplift.training import FittedUplift, class_transformation_uplift, fit_uplift


@dataclass
class UpliftReport:
    """What one type's training produced and decided."""

    campaign_type: str
    model_name: str
    version: str
    run_id: str
    decision: Decision
    train_campaigns: tuple[CampaignRole, ...]
    validation_campaign: CampaignRole
    rows: dict[str, dict[int, int]]
    results: dict[str, RankingResult]
    margin_per_conversion: float
    champion_qini: float | None
    skipped: tuple[str, ...]
    eligible_shares: dict[str, float]  # split -> share of its units the type's eligibility rule admits
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class UpliftOutcome:
    reports: list[UpliftReport]
    store: Store
    as_of: dt.date
    untrained: dict[str, str] = field(default_factory=dict)  # type -> why it had nothing to learn from


def train_uplift(
    catalog: Catalog,
    config: Config,
    types: Sequence[str],
    cutoff: dt.date | None,
    logger: logging.Logger,
    required: bool = True,
) -> UpliftOutcome:
    """Train, judge, log, register and gate the uplift model of each type in ``types``; data complete up to
    ``cutoff`` 00:00 (default: the day of the newest order or event in silver). A type without campaigns to
    learn from fails the run when ``required`` (named types), else it is reported and skipped (``--all``:
    a deployment whose campaigns have not come back yet)."""
    modelled = config.campaigns.uplift_types
    unknown = [t for t in types if t not in modelled]
    if unknown or not types:
        raise InputError(
            f"campaign types {unknown or list(types)} have no uplift model: those with one are {list(modelled)}"
        )
    as_of = cutoff or _newest_day(catalog, config)
    datasets, untrained = [], {}
    for kind in types:  # every input checked before training
        try:
            datasets.append(uplift_data(catalog, config, kind, as_of))
        except NothingToLearn as exc:
            if required:
                raise
            untrained[kind] = str(exc)
    store = store_of(config)
    if datasets:
        catalog.prepare(config.campaigns.uplift.validation_table)
    reports = []
    for data in datasets:
        logger.info(
            "uplift %s: train on %s, validate on %s (%s); skipped: %s", data.campaign_type,
            [c.campaign_id for c in data.train_campaigns], data.validation_campaign.campaign_id,
            data.validation_campaign.campaign_date, list(data.skipped) or "none",
        )  # fmt: skip
        reports.append(train_type(catalog, config, data, store, logger))
    return UpliftOutcome(reports, store, as_of, untrained)


def _newest_day(catalog: Catalog, config: Config) -> dt.date:
    inputs = config.models.inputs
    silver = {
        name: catalog.read(table)
        for name, table in (("orders", inputs.orders), ("events", inputs.events))
        if catalog.exists(table)
    }
    newest = latest_event_time(silver)
    if newest is None:
        raise InputError(f"no orders or events in {inputs.orders} / {inputs.events}: nothing to learn from")
    return newest.date()


def train_type(
    catalog: Catalog, config: Config, data: UpliftData, store: Store, logger: logging.Logger
) -> UpliftReport:
    """One type: fit, judge every ranking on the held-out campaign, log and register, gate, promote."""
    cfg, models = config.campaigns, config.models
    kind = data.campaign_type
    name = model_name(models.tracking.model_prefix, kind)
    seconds: dict[str, float] = {}
    train = data.train.persist(StorageLevel.MEMORY_AND_DISK)
    validation = data.validation.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        started = time.perf_counter()
        rows = _rows(train, validation)
        eligible = _eligible_shares(train, validation, cfg.types[kind].uplift.eligible)
        margin = _margin_per_conversion(train, cfg.types[kind].margin_rate)
        seconds["dataset"] = time.perf_counter() - started
        fitted = fit_uplift(train, data.columns, cfg.uplift.gbt, checkpoint_dir(config), models.training_partitions)
        seconds.update(fitted.seconds)

        started = time.perf_counter()
        notes: list[str] = []
        # One frame per ranking, each plan with one pipeline (together, their projection outgrows codegen).
        frames = {
            T_LEARNER: ranking_frame(fitted.served.transform(validation), T_LEARNER, F.col(PREDICTION)),
            BASELINE: ranking_frame(fitted.baseline.transform(validation), BASELINE, class_transformation_uplift()),
            RANDOM: ranking_frame(validation, RANDOM, random_score(cfg.uplift.seed)),
            **_propensity_frames(validation, config, store, notes),
        }
        long = functools.reduce(DataFrame.unionByName, frames.values()).persist(StorageLevel.MEMORY_AND_DISK)
        results = evaluate_rankings(long, list(frames), cfg.uplift_at_k, cfg.uplift.deciles)
        client, experiment_id = connect(store)
        champion = registry.champion(client, name, models.promotion.alias)
        champion_qini = _champion_qini(champion, store, validation, cfg.uplift_at_k, notes)
        seconds["evaluate"] = time.perf_counter() - started

        record = RunRecord(
            target=f"{kind}_uplift",
            model_name=name,
            version="",
            run_id="",
            metrics=_metrics(results, rows, margin, seconds) | {f"eligible_share_{s}": v for s, v in eligible.items()},
            validation_date=data.validation_campaign.campaign_date,
            train_snapshots=tuple(c.snapshot for c in data.train_campaigns),
            numeric_features=data.columns.numeric,
            categorical_features=data.columns.categorical,
            champion_version=champion.version if champion else None,
            config_hash=config_hash(kind, cfg.types[kind], cfg.uplift),
            git_commit=git_commit(Path(config.root)),
        )
        run_id, version = _log_run(record, data, fitted, results, validation, experiment_id, store, cfg)
        _write_validation(catalog, config, long, kind, name, version)
        long.unpersist()
    finally:
        train.unpersist()
        validation.unpersist()

    qini = results[T_LEARNER].metrics.qini_coefficient
    unscored = f"champion v{champion.version} not compared (see notes)" if champion and champion_qini is None else ""
    decision = decide_uplift(
        qini, results[RANDOM].metrics.qini_coefficient, champion_qini, cfg.uplift.gate, models.promotion.auc_tolerance,
        unscored,
    )  # fmt: skip
    client = reader(store)
    registry.record_verdict(client, name, version, decision)
    if decision.promote:
        promote(client, name, version, models.promotion.alias)
    logger.info("uplift %s: %s v%s: %s", kind, name, version, decision)
    return UpliftReport(
        kind, name, version, run_id, decision, data.train_campaigns, data.validation_campaign, rows, results, margin,
        champion_qini, data.skipped, eligible, notes, seconds,
    )  # fmt: skip


def _rows(train: DataFrame, validation: DataFrame) -> dict[str, dict[int, int]]:
    """split -> arm (1 treated, 0 control) -> units."""
    out: dict[str, dict[int, int]] = {}
    for split, df in (("train", train), ("validation", validation)):
        out[split] = {int(r[TREATED]): int(r["count"]) for r in df.groupBy(TREATED).count().collect()}
    return out


def _eligible_shares(train: DataFrame, validation: DataFrame, rule: str | None) -> dict[str, float]:
    """split -> the share of its units inside the eligibility rule at their snapshot (none without a rule).
    The scores leave users outside it unscored, so a rule that misses the campaigns' audience shows here."""
    if rule is None:
        return {}
    holds = rule_holds(rule).cast("double")
    splits = (("train", train), ("validation", validation))
    return {split: float(df.agg(F.avg(holds)).first()[0] or 0.0) for split, df in splits}


def _margin_per_conversion(train: DataFrame, margin_rate: float) -> float:
    """The type's margin rate x the mean revenue of a converted treated unit of the training campaigns."""
    converted = train.where((F.col(TREATED) == 1) & (F.col(CONVERTED) == 1))
    cents = converted.agg(F.avg(REVENUE_CENTS)).first()[0]
    return 0.0 if cents is None else margin_rate * float(cents) / 100.0


def _propensity_frames(validation: DataFrame, config: Config, store: Store, notes: list[str]) -> dict[str, DataFrame]:
    """Each propensity target's ranking: its champion probability at the send (negated for direction
    lower); a target without a champion, or whose champion cannot score these features, is left out with
    a note."""
    client = reader(store)
    frames = {}
    for target, spec in config.campaigns.uplift.propensity.items():
        name = f"{config.models.tracking.model_prefix}{target}"
        record = registry.champion(client, name, config.models.promotion.alias) if client is not None else None
        if record is None:
            notes.append(f"propensity {target}: no champion of {name}; not compared")
            continue
        try:
            scored = load_spark_model(store, name, record.version).transform(validation)
        except Exception as exc:  # noqa: BLE001 - a champion that cannot score is reported, not fatal
            notes.append(f"propensity {target}: {name} v{record.version} could not score ({type(exc).__name__})")
            continue
        sign = 1.0 if spec.direction == "higher" else -1.0
        ranking = f"{PROPENSITY}{target}"
        frames[ranking] = ranking_frame(scored, ranking, sign * F.col(PREDICTION))
    return frames


def _champion_qini(champion: RunRecord | None, store: Store, validation: DataFrame, k: float, notes: list[str]):
    """The current champion's Qini coefficient on this run's held-out units (None without one)."""
    if champion is None:
        return None
    try:
        model = load_spark_model(store, champion.model_name, champion.version)
        scored = model.transform(validation).select("user_id", TREATED, CONVERTED, PREDICTION)
        qini = uplift_metrics(scored, PREDICTION, TREATED, CONVERTED, order_by="user_id", k=k).qini_coefficient
        notes.append(f"champion v{champion.version} re-scored on the same units: Qini {_num(qini)}")
        return qini
    except Exception as exc:  # noqa: BLE001 - the gate then judges without the champion
        notes.append(f"champion v{champion.version} could not score these units ({type(exc).__name__}); not compared")
        return None


def _metrics(
    results: dict[str, RankingResult], rows: dict[str, dict[int, int]], margin: float, seconds: dict[str, float]
) -> dict[str, float]:
    """The run's metrics: the model's Qini / uplift AUC / uplift@k, every ranking's, rows per split and arm,
    the margin per conversion, stage seconds."""
    metrics: dict[str, float] = {MARGIN_PER_CONVERSION: margin}
    for ranking, result in results.items():
        for key in ("qini_coefficient", "uplift_auc", "uplift_at_k"):
            value = getattr(result.metrics, key)
            if value is not None:
                metrics[f"{ranking}_{key}"] = float(value)
                if ranking == T_LEARNER:
                    metrics[key] = float(value)
    for split, arms in rows.items():
        metrics[f"{split}_treated"] = float(arms.get(1, 0))
        metrics[f"{split}_control"] = float(arms.get(0, 0))
    metrics |= {f"seconds_{k}": v for k, v in seconds.items()}
    return metrics


def _log_run(
    record: RunRecord,
    data: UpliftData,
    fitted: FittedUplift,
    results: dict[str, RankingResult],
    validation: DataFrame,
    experiment_id: str,
    store: Store,
    cfg,
) -> tuple[str, str]:
    """One MLflow run: params, metrics, the evaluation (aggregates only) and the served pipeline, registered."""
    import mlflow
    import pyspark

    from userscore.uplift.plots import deciles_chart

    tags, record_params, metrics = record.run_fields()
    params = (
        flat_params(cfg.uplift.gbt, "gbt.")
        | flat_params(cfg.uplift.features, "features.")
        | record_params
        | {
            "campaign_type": data.campaign_type,
            "train_campaigns": ",".join(c.campaign_id for c in data.train_campaigns),
            "validation_campaign": data.validation_campaign.campaign_id,
            "features.count": str(len(fitted.feature_names)),
        }
    )
    with tempfile.TemporaryDirectory(prefix=f"userscore-{data.campaign_type}-uplift-") as tmp:
        folder = Path(tmp)
        report = {
            "campaign_type": data.campaign_type,
            "train_campaigns": [dataclasses.asdict(c) for c in data.train_campaigns],
            "validation_campaign": dataclasses.asdict(data.validation_campaign),
            "skipped": list(data.skipped),
            "rankings": {
                name: {"metrics": dataclasses.asdict(r.metrics), "deciles": r.deciles} for name, r in results.items()
            },
            "feature_importance": fitted.importances,
        }
        (folder / "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
        deciles_chart(results, folder / "uplift_by_decile.png")
        example = aggregate_example(validation, data.columns)
        example_pd = pandas_example(example, data.columns)
        predictions = fitted.served.transform(example).select(PREDICTION).toPandas()[PREDICTION]
        run_name = f"{record.target} {data.validation_campaign.campaign_id}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(str(folder), artifact_path="evaluation")
            info = log_model(
                fitted.served,
                example_pd,
                predictions,
                record.model_name,
                store.dfs_tmpdir,
                [f"pyspark=={pyspark.__version__}", f"mlflow=={mlflow.__version__}"],
            )
    return run.info.run_id, str(info.registered_model_version)


def _write_validation(catalog: Catalog, config: Config, long: DataFrame, kind: str, name: str, version: str) -> None:
    frame = long.select(
        F.lit(kind).alias("campaign_type"),
        F.lit(name).alias("model_name"),
        F.lit(version).alias("model_version"),
        "*",
    )
    catalog.overwrite_where(config.campaigns.uplift.validation_table, frame, {"campaign_type": kind})


def summary_lines(outcome: UpliftOutcome) -> list[str]:
    """Per type: the campaigns, the rankings' Qini / uplift AUC / uplift@k on the held-out campaign, the
    model's uplift by decile, the decision; then where to look."""
    lines = [f"data complete up to {outcome.as_of} 00:00 UTC"]
    for r in outcome.reports:
        v, train, held = r.validation_campaign, r.rows["train"], r.rows["validation"]
        lines.append(
            f"{r.campaign_type}: trained on {', '.join(c.campaign_id for c in r.train_campaigns)} "
            f"({train.get(1, 0):,} treated / {train.get(0, 0):,} control users), held out "
            f"{v.campaign_id} of {v.campaign_date} ({held.get(1, 0):,} / {held.get(0, 0):,})"
        )
        lines.append(f"  {'ranking':<28} {'Qini':>8} {'uplift AUC':>11} {'uplift@k':>9}")
        for name, result in sorted(r.results.items(), key=lambda kv: -(kv[1].metrics.qini_coefficient or -9)):
            m = result.metrics
            lines.append(
                f"  {name:<28} {_num(m.qini_coefficient):>8} {_num(m.uplift_auc):>11} {_num(m.uplift_at_k):>9}"
            )
        deciles = r.results[T_LEARNER].deciles
        lines.append(
            "  model's observed uplift by decile (1 = highest predicted): "
            + ", ".join(f"{d['decile']}: {_pts(d['uplift'])}" for d in deciles)
        )
        lines.append(f"  margin per conversion {r.margin_per_conversion:.2f}")
        if r.eligible_shares:
            shares = r.eligible_shares
            lines.append(
                f"  eligible (campaigns.types.{r.campaign_type}.uplift.eligible): {shares['train']:.1%} of the "
                f"training units, {shares['validation']:.1%} of the held-out ones (the rest get no uplift score)"
            )
        lines += [f"  skipped {s}" for s in r.skipped] + [f"  note: {n}" for n in r.notes]
        lines.append(f"  {r.model_name} v{r.version}: {r.decision}")
    lines += [f"{kind}: not trained: {why}" for kind, why in outcome.untrained.items()]
    return lines + outcome.store.pointer_lines()


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def _pts(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"
