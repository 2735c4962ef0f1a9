"""Benchmark campaign measurement (``userscore campaigns --as-of D``) and uplift training at scale (issue 14).

Two parts, each against a baseline measured in the same run:

1. Measurement, per size (``--sizes``, sends). Inputs written once through the catalog under
   ``<root>/s<sends>/warehouse`` (reused by a later run with the same shape) by a hash-based generator over
   ``spark.range`` (no per-row Python): ``--campaigns`` coupon_winback campaigns (``winback-bench-NN``, 25 days
   apart, every attribution window complete at D) of sends/campaigns users each, drawn from sends/4 users (a
   user is in about half of the campaigns), 10% control; silver.campaign_responses for the treated sends
   (delivered, opened, clicked, redeemed); silver.orders: ~2 background orders per user over the 270 days
   before D plus one order within the window after a treated send with a planted probability per segment
   (6%, 3%, 1%, 0%); scores.user_scores at one date before the first campaign (churn_tier,
   repurchase_probability, coupon_winback_uplift and net margin; the other declared columns null) so the
   score breakdowns, deciles, rankings and recommendations all run. Timed:
   - baseline: the least any measurement does, from the same Delta tables: the sends joined with the orders in
     (sent_at, sent_at + window], summed per (campaign, user), left-joined back to the sends and counted and
     summed per (campaign, arm); the few rows collected;
   - ``measure_campaigns`` (what the job runs): units, outcomes, scores and deciles, every breakdown's cells,
     the bootstrap buckets, intervals on the driver, the uplift ranking of each score, the recommendations,
     three Delta writes and the HTML report; its stages as the job logs them.
2. Uplift training, per size (``--train-sizes``, units): synthetic units with ``--features`` numeric
   features (standard normal, 2% nulls in five of them), arms 50/50, P(convert | control) =
   sigmoid(-1.2 + 0.7 x0 - 0.5 x1 + 0.3 x3) and a known per-user effect tau = 0.12 sigmoid(1.5 x3 + x4) -
   0.04 (from -4 to +8 points: persuadables and sleeping dogs), written to parquet and read back. Timed:
   - baseline: a propensity model of the same size, the trainer's preparation fitted on the same rows,
     assembled and cached (as ``fit_uplift`` does) and ONE GBT (``gbt_classifier``, the same
     ``campaigns.uplift.gbt`` params) on every row;
   - ``fit_uplift``: the preparation, the T-learner's two arm GBTs and the class-transformation GBT.
   Then, on held-out units (a fifth of the size, other hash salt), the Qini coefficient
   (``uplift_metrics``, observed outcomes) of the T-learner, the class-transformation baseline and a random
   order, and both models' Qini against the true effect (``effect_qini``).

It prints the tables and appends them to the "Campaigns and uplift" section of docs/benchmarks.md (created if
absent; other sections untouched; ``--report ''`` skips). Spark work on the shared machine runs under the lock:

    flock /tmp/userscore-spark.lock env PYTHONPATH=$PWD/lib .venv/bin/python scripts/bench_campaigns.py \
        --sizes 100000 --train-sizes 50000 --report ''      # smoke, ~4 min (fixed costs)
    flock /tmp/userscore-spark.lock env PYTHONPATH=$PWD/lib .venv/bin/python scripts/bench_campaigns.py \
        --sizes 1000000,10000000 --train-sizes 1000000
    ... --train-sizes ''    # measurement only;  --sizes ''    # training only

Delete ``--root`` to regenerate the inputs after a change of this generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.ml import Pipeline
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from bench_report import append_entry
from userscore.campaigns.pipeline import measure_campaigns
from userscore.catalog import Catalog, declared_schema
from userscore.config import Config, load_config
from userscore.models.dataset import FeatureColumns
from userscore.models.targets import LABEL
from userscore.models.training import (
    FEATURES,
    ensure_checkpoint_dir,
    feature_stages,
    gbt_classifier,
    task_slots,
    with_partitions,
)
from userscore.models.workflow import checkpoint_dir
from userscore.session import get_spark
from userscore.uplift.dataset import CONVERTED, TREATED
from userscore.uplift.metrics import effect_qini, uplift_metrics
from userscore.uplift.model import PREDICTION
from userscore.uplift.training import class_transformation_uplift, fit_uplift

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
SECTION = "## Campaigns and uplift"
AS_OF = dt.date(2026, 11, 1)
SEED = 14
DAY = 86_400
CAMPAIGN_TYPE = "coupon_winback"
CAMPAIGN_SPACING_DAYS = 25
FIRST_CAMPAIGN_DAYS_BEFORE = 240
ORDER_HISTORY_DAYS = 270
SENDS_PER_USER = 4
CONTROL_SHARE = 0.1
SEGMENTS = ("lapsing_high_value", "lapsing_mid", "lapsed_low", "one_time")
SEGMENT_EFFECT = (0.06, 0.03, 0.01, 0.0)  # P(an extra order in the window | treated), per segment
CHANNELS = ("email", "sms", "app_push")
EFFECT = "true_effect"


def _uniform(salt: str, *keys: Column) -> Column:
    """A deterministic uniform in (0, 1) from a hash of (seed, salt, keys): the same rows whatever the partitioning."""
    hashed = F.xxhash64(F.lit(SEED), F.lit(salt), *keys)
    return (F.pmod(hashed, F.lit(2**31 - 1)) + 1) / float(2**31 + 1)


def _normal(salt: str, *keys: Column) -> Column:
    """A standard normal draw (Box-Muller) from two hash uniforms."""
    return F.sqrt(-2.0 * F.log(_uniform(salt + "-a", *keys))) * F.cos(2.0 * math.pi * _uniform(salt + "-b", *keys))


def _sigmoid(z: Column) -> Column:
    return 1.0 / (1.0 + F.exp(-z))


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _pick(values: Sequence[str], u: Column) -> Column:
    """values[floor(u * len)] for a uniform u."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), (F.floor(u * len(values)) + 1).cast("int"))


def _user_id(index: Column) -> Column:
    return F.format_string("u%09d", index)


# -- part 1: measurement inputs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """What the inputs of one size are generated from (a re-run with the same shape reuses them)."""

    sends: int
    campaigns: int
    users: int
    version: int = 1


def campaign_dates(campaigns: int) -> list[dt.date]:
    first = AS_OF - dt.timedelta(days=FIRST_CAMPAIGN_DAYS_BEFORE)
    return [first + dt.timedelta(days=CAMPAIGN_SPACING_DAYS * c) for c in range(campaigns)]


def _coprime_step(users: int) -> int:
    """A step coprime with ``users``: k -> (k * step + offset) mod users is then one-to-one on 0..users-1."""
    step = 7_919
    while math.gcd(step, users) != 1:
        step += 2
    return step


def synthetic_sends(spark: SparkSession, shape: Shape, partitions: int) -> DataFrame:
    """silver.campaign_sends (plus ``_effect``, the planted probability, dropped before the write): send i is of
    campaign i mod C; its user runs through a one-to-one map of 0..users-1, so no user is twice in a campaign."""
    c, k = F.col("id") % shape.campaigns, F.floor(F.col("id") / shape.campaigns)
    step = _coprime_step(shape.users)
    user = F.pmod(k * step + c * 104_729, F.lit(shape.users))
    dates = campaign_dates(shape.campaigns)
    start = F.element_at(F.array(*[F.lit(_epoch(d)) for d in dates]), (c + 1).cast("int"))
    u_seg = _uniform("segment", user)
    segment_index = F.floor(u_seg * len(SEGMENTS)).cast("int")
    sent = F.timestamp_seconds(start + F.floor(_uniform("sent", F.col("id")) * 8 * 3600).cast("long") + 8 * 3600)
    treated = _uniform("arm", c, user) >= CONTROL_SHARE
    return spark.range(0, shape.sends, 1, partitions).select(
        F.format_string("s%010d", F.col("id")).alias("send_id"),
        F.format_string("winback-bench-%02d", c + 1).alias("campaign_id"),
        _user_id(user).alias("user_id"),
        F.lit("retention").alias("family"),
        _pick(SEGMENTS, u_seg).alias("segment"),
        F.when(treated, F.lit("treatment")).otherwise(F.lit("control")).alias("arm"),
        _pick(CHANNELS, _uniform("channel", c, user)).alias("channel"),
        F.lit(10.0).alias("offer_value"),
        F.lit(0.5).alias("contact_cost"),
        sent.alias("sent_at"),
        F.trunc(sent, "month").alias("sent_month"),
        F.lit("bench").alias("ingest_batch_id"),
        F.element_at(F.array(*[F.lit(e) for e in SEGMENT_EFFECT]), segment_index + 1).alias("_effect"),
    )


def synthetic_responses(sends: DataFrame) -> DataFrame:
    """silver.campaign_responses of the treated sends: delivered 95%, opened 35% of those, clicked 12%, and
    redeemed when the send brought its extra order (``_extra``)."""
    sid = F.col("send_id")
    delivered = _uniform("delivered", sid) < 0.95
    opened = delivered & (_uniform("opened", sid) < 0.35)
    clicked = opened & (_uniform("clicked", sid) < 0.35)
    kinds = [
        ("delivered", delivered, 60),
        ("opened", opened, 3_600),
        ("clicked", clicked, 4_000),
        ("redeemed", F.col("_extra"), 0),
    ]
    # Redeemed: at the extra order's time (``_extra_ts``); the others a fixed delay after the send.
    parts = [
        F.when(
            cond,
            F.struct(
                F.lit(kind).alias("type"),
                (
                    F.col("_extra_ts") if kind == "redeemed" else F.col("sent_at") + F.expr(f"INTERVAL {lag} SECONDS")
                ).alias("at"),
            ),
        )
        for kind, cond, lag in kinds
    ]
    return (
        sends.where(F.col("arm") == "treatment")
        .select("send_id", "campaign_id", "user_id", F.explode(F.filter(F.array(*parts), lambda p: p.isNotNull())))
        .select(
            F.concat("send_id", F.lit("-"), F.col("col.type")).alias("response_id"),
            "send_id",
            "campaign_id",
            "user_id",
            F.col("col.type").alias("response_type"),
            F.col("col.at").alias("responded_at"),
            F.lit("bench").alias("ingest_batch_id"),
        )
    )


def _order_columns(order_id: Column, user_id: Column, ts: Column, amount: Column, refunded: Column) -> list[Column]:
    return [
        order_id.alias("order_id"),
        user_id.alias("user_id"),
        ts.alias("order_ts"),
        F.trunc(ts, "month").alias("order_month"),
        amount.alias("amount"),
        F.lit("fashion").alias("category"),
        F.lit("online").alias("channel"),
        F.lit(None).cast("string").alias("payment_method"),
        F.lit(False).alias("coupon_used"),
        F.lit(0.0).alias("discount_amount"),
        refunded.alias("is_refunded"),
        F.lit(1).alias("item_count"),
        F.when(refunded, ts + F.expr("INTERVAL 7 DAYS")).alias("refunded_at"),
        ts.alias("updated_at"),
        F.lit("bench").alias("ingest_batch_id"),
    ]


def synthetic_orders(spark: SparkSession, shape: Shape, with_extra: DataFrame, partitions: int) -> DataFrame:
    """silver.orders: about 2 background orders per user (geometric count) on uniform days of the 270 days
    before D, 5% refunded; plus the treated sends' extra orders (``_extra``) within their window."""
    idx = F.col("id")
    start = _epoch(AS_OF) - ORDER_HISTORY_DAYS * DAY
    count = F.floor(F.log(_uniform("count", idx)) / math.log(2.0 / 3.0)).cast("int")  # mean 2
    background = (
        spark.range(0, shape.users, 1, partitions)
        .select(idx, count.alias("n"))
        .where(F.col("n") > 0)
        .select(idx, F.explode(F.sequence(F.lit(1), F.col("n"))).alias("k"))
    )
    ts = F.timestamp_seconds(F.lit(start) + F.floor(_uniform("ts", idx, F.col("k")) * ORDER_HISTORY_DAYS * DAY))
    amount = F.round(F.exp(_normal("amount", idx, F.col("k")) * 0.5) * 60.0, 2)
    orders = background.select(
        *_order_columns(
            F.format_string("o%09d-%d", idx, F.col("k")),
            _user_id(idx),
            ts,
            amount,
            _uniform("refund", idx, F.col("k")) < 0.05,
        )
    )
    sid = F.col("send_id")
    amount = F.round(55.0 + _uniform("xa", sid) * 20, 2)
    extra = with_extra.where(F.col("_extra")).select(
        *_order_columns(F.concat(F.lit("x"), sid), F.col("user_id"), F.col("_extra_ts"), amount, F.lit(False))
    )
    return orders.unionByName(extra)


def _with_extra(sends: DataFrame) -> DataFrame:
    """Sends with ``_extra`` (a treated send that brought an extra order, with the planted probability) and
    ``_extra_ts`` (1 to 29 days after the send)."""
    sid = F.col("send_id")
    extra = (F.col("arm") == "treatment") & (_uniform("extra", sid) < F.col("_effect"))
    later = F.floor((1 + _uniform("extra-day", sid) * 28) * DAY).cast("long")
    return sends.select(
        "*", extra.alias("_extra"), F.timestamp_seconds(F.unix_timestamp("sent_at") + later).alias("_extra_ts")
    )


def synthetic_scores(spark: SparkSession, catalog: Catalog, config: Config, shape: Shape, partitions: int):
    """scores.user_scores at the day before the first campaign: the columns the measurement and the
    recommendations read, every other declared column null."""
    idx = F.col("id")
    repurchase = _uniform("repurchase", idx)
    churn = _uniform("churn", idx)
    uplift = _normal("uplift", idx) * 0.03 + 0.01
    margin = config.campaigns.types[CAMPAIGN_TYPE].margin_rate * 60.0
    cost = config.campaigns.types[CAMPAIGN_TYPE].contact_cost
    date = campaign_dates(shape.campaigns)[0] - dt.timedelta(days=1)
    given = {
        "user_id": _user_id(idx),
        "as_of_date": F.lit(date),
        "churn_probability": churn,
        "churn_tier": F.when(churn > 0.7, "high").when(churn >= 0.3, "mid").otherwise("low"),
        "repurchase_probability": repurchase,
        "coupon_winback_uplift": uplift,
        "coupon_winback_net_margin": uplift * margin - cost,
        "coupon_winback_uplift_model_version": F.lit("1"),
        "value_score": F.round(repurchase * 100, 1),
        "scored_at": F.lit(date).cast("timestamp"),
    }
    schema = declared_schema(catalog.spec("scores.user_scores"))
    columns = [(given.get(f.name, F.lit(None))).cast(f.dataType).alias(f.name) for f in schema.fields]
    return spark.range(0, shape.users, 1, partitions).select(*columns), date


def ensure_inputs(spark: SparkSession, config: Config, shape: Shape, root: Path) -> float | None:
    """Write the inputs of ``shape`` under ``root`` unless an earlier run wrote the same; seconds taken."""
    marker = root / "shape.json"
    if marker.exists() and json.loads(marker.read_text()) == asdict(shape):
        return None
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    catalog = Catalog(spark, config)
    partitions = max(4, shape.sends // 1_000_000)
    sends = _with_extra(synthetic_sends(spark, shape, partitions)).persist(StorageLevel.DISK_ONLY)
    catalog.append("silver.campaign_sends", sends.drop("_effect", "_extra", "_extra_ts"))
    catalog.append("silver.campaign_responses", synthetic_responses(sends))
    orders = synthetic_orders(spark, shape, sends, max(2, partitions // 2))
    catalog.append("silver.orders", orders.repartition(max(2, shape.users // 500_000), "order_month"))
    sends.unpersist()
    scores, date = synthetic_scores(spark, catalog, config, shape, max(2, partitions // 2))
    catalog.overwrite_where("scores.user_scores", scores, {"as_of_date": date})
    marker.write_text(json.dumps(asdict(shape)))
    return time.perf_counter() - started


# -- part 1: timings ----------------------------------------------------------------------------------------------
def minimal_measurement(catalog: Catalog, config: Config) -> list:
    """The baseline: treated and control users, converters and revenue per campaign from one join of the sends
    with the orders in their window (every campaign's window is ``window_days`` of the type)."""
    cfg = config.campaigns
    window = cfg.types[CAMPAIGN_TYPE].window_days
    end = F.lit(AS_OF).cast("timestamp")
    sends = catalog.read(cfg.sends_table).where(F.col("sent_at") < end)
    sends = sends.select("campaign_id", "user_id", "arm", "sent_at")
    orders = catalog.read(cfg.orders_table).where((F.col("order_ts") < end) & ~F.col("is_refunded"))
    in_window = (F.col("order_ts") > F.col("sent_at")) & (
        F.col("order_ts") <= F.col("sent_at") + F.expr(f"INTERVAL {window} DAYS")
    )
    bought = (
        sends.join(orders.select("user_id", "order_ts", "amount"), "user_id")
        .where(in_window)
        .groupBy("campaign_id", "user_id")
        .agg(F.sum("amount").alias("revenue"))
    )
    return (
        sends.join(bought, ["campaign_id", "user_id"], "left")
        .groupBy("campaign_id", "arm")
        .agg(F.count(F.lit(1)).alias("users"), F.count("revenue").alias("buyers"), F.sum("revenue").alias("revenue"))
        .collect()
    )


@dataclass
class MeasureResult:
    sends: int
    users: int
    campaigns: int
    responses: int
    orders: int
    generated: float | None
    baseline_s: float
    measure_s: float
    stages: dict[str, float]
    lift_rows: int
    ranking_rows: int
    recommendation_rows: int
    measured_lift: float
    control_rate: float
    load: float

    @property
    def ratio(self) -> float:
        return self.measure_s / self.baseline_s

    @property
    def planted_lift(self) -> float:
        """The expected absolute conversion lift: an extra order converts a treated user who would not have."""
        return sum(SEGMENT_EFFECT) / len(SEGMENT_EFFECT) * (1 - self.control_rate)


def run_measure(spark: SparkSession, config: Config, shape: Shape, root: Path) -> MeasureResult:
    generated = ensure_inputs(spark, config, shape, root)
    if generated is not None:
        print(f"  inputs written in {generated:.0f}s", flush=True)
    catalog = Catalog(spark, config)
    cfg = config.campaigns
    responses = catalog.read(cfg.responses_table).count()
    orders = catalog.read(cfg.orders_table).count()

    started = time.perf_counter()
    minimal = minimal_measurement(catalog, config)
    baseline_s = time.perf_counter() - started
    print(f"  baseline (one join + per-arm counts): {baseline_s:.1f}s, {len(minimal)} rows", flush=True)

    stages: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - began

    started = time.perf_counter()
    reading = measure_campaigns(catalog, config, AS_OF, root / "campaigns-report.html", stage)
    measure_s = time.perf_counter() - started
    print(f"  measure_campaigns: {measure_s:.1f}s ({_stages(stages)})", flush=True)
    overall = reading.overall
    lifts = [r["abs_lift"] for r in overall if r["abs_lift"] is not None]
    control = sum(r["control_conversions"] for r in overall) / max(1, sum(r["control_users"] for r in overall))
    if len(lifts) < shape.campaigns or reading.notes:
        print(f"  note: {len(lifts)} readable campaigns of {shape.campaigns}; notes {list(reading.notes)}", flush=True)
    return MeasureResult(
        shape.sends, shape.users, shape.campaigns, responses, orders, generated, baseline_s, measure_s, stages,
        len(reading.rows), len(reading.rankings), len(reading.recommendations),
        sum(lifts) / len(lifts) if lifts else float("nan"), control, os.getloadavg()[0],
    )  # fmt: skip


def _stages(stages: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in stages.items())


# -- part 2: uplift training ------------------------------------------------------------------------------------
def synthetic_units(spark: SparkSession, rows: int, features: int, salt: str, partitions: int) -> DataFrame:
    """Training units with ``features`` numeric features, the arm, the outcome and the true effect."""
    idx = F.col("id")
    x = [_normal(f"{salt}-x{j}", idx) for j in range(features)]
    with_nulls = {5, 6, 7, 8, 9}
    columns = [
        (F.when(_uniform(f"{salt}-null{j}", idx) >= 0.02, x[j]) if j in with_nulls else x[j]).alias(f"x{j}")
        for j in range(features)
    ]
    p_control = _sigmoid(-1.2 + 0.7 * x[0] - 0.5 * x[1] + 0.3 * x[3])
    effect = 0.12 * _sigmoid(1.5 * x[3] + x[4]) - 0.04
    treated = _uniform(f"{salt}-arm", idx) < 0.5
    p = F.least(F.greatest(p_control + F.when(treated, effect).otherwise(0.0), F.lit(0.0)), F.lit(1.0))
    return spark.range(0, rows, 1, partitions).select(
        F.lit(f"bench-{salt}").alias("campaign_id"),
        _user_id(idx).alias("user_id"),
        treated.cast("int").alias(TREATED),
        (_uniform(f"{salt}-y", idx) < p).cast("int").alias(CONVERTED),
        effect.alias(EFFECT),
        *columns,
    )


@dataclass
class TrainResult:
    units: int
    holdout: int
    features: int
    treated: int
    baseline_prepare_s: float
    baseline_gbt_s: float
    uplift_s: float
    uplift_stages: dict[str, float]
    qini_t_learner: float | None
    qini_class_transformation: float | None
    qini_random: float | None
    true_qini_t_learner: float | None
    true_qini_class_transformation: float | None
    uplift_at_k: float | None
    load: float
    notes: list[str] = field(default_factory=list)

    @property
    def baseline_s(self) -> float:
        return self.baseline_prepare_s + self.baseline_gbt_s

    @property
    def ratio(self) -> float:
        return self.uplift_s / self.baseline_s


def run_train(spark: SparkSession, config: Config, units: int, features: int, root: Path) -> TrainResult:
    partitions = max(4, units // 250_000)
    holdout_rows = max(20_000, units // 5)
    path = root / f"u{units}-f{features}"
    marker = path / "shape.json"
    shape = {"units": units, "features": features, "holdout": holdout_rows, "version": 1}
    if not (marker.exists() and json.loads(marker.read_text()) == shape):
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        synthetic_units(spark, units, features, "train", partitions).write.parquet(str(path / "train"))
        synthetic_units(spark, holdout_rows, features, "holdout", partitions).write.parquet(str(path / "holdout"))
        marker.write_text(json.dumps(shape))
        print(f"  units written in {time.perf_counter() - started:.0f}s", flush=True)
    train = spark.read.parquet(str(path / "train"))
    holdout = spark.read.parquet(str(path / "holdout"))
    treated = train.where(F.col(TREATED) == 1).count()
    columns = FeatureColumns(numeric=tuple(f"x{j}" for j in range(features)), categorical=())
    params = config.campaigns.uplift.gbt
    ensure_checkpoint_dir(spark, checkpoint_dir(config))
    slots = task_slots(spark)

    # Baseline: what a propensity model of the same size costs, prepared and fitted the same way.
    started = time.perf_counter()
    prep = Pipeline(stages=feature_stages(columns)).fit(train)
    label = F.col(CONVERTED).cast("double").alias(LABEL)
    assembled = with_partitions(prep.transform(train).select(FEATURES, label), slots).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    assembled.count()
    prepare_s = time.perf_counter() - started
    started = time.perf_counter()
    gbt_classifier(params, weighted=False).fit(assembled)
    gbt_s = time.perf_counter() - started
    assembled.unpersist()
    print(f"  baseline: prepare {prepare_s:.1f}s + one GBT {gbt_s:.1f}s", flush=True)

    started = time.perf_counter()
    fitted = fit_uplift(train, columns, params, checkpoint_dir(config), None)
    uplift_s = time.perf_counter() - started
    print(f"  fit_uplift: {uplift_s:.1f}s ({_stages(fitted.seconds)})", flush=True)

    scored = fitted.served.transform(holdout).select("user_id", TREATED, CONVERTED, EFFECT, PREDICTION)
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    baseline_scored = (
        fitted.baseline.transform(holdout)
        .select("user_id", TREATED, CONVERTED, EFFECT, class_transformation_uplift().alias("score"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    k = config.campaigns.uplift_at_k
    t_learner = uplift_metrics(scored, PREDICTION, TREATED, CONVERTED, order_by="user_id", k=k)
    ct = uplift_metrics(baseline_scored, "score", TREATED, CONVERTED, order_by="user_id", k=k)
    rand = scored.withColumn("_random", _uniform("random", F.col("user_id")))
    random_metrics = uplift_metrics(rand, "_random", TREATED, CONVERTED, order_by="user_id", k=k)
    true_qini = effect_qini(scored, PREDICTION, EFFECT)
    true_qini_ct = effect_qini(baseline_scored, "score", EFFECT)
    scored.unpersist()
    baseline_scored.unpersist()
    print(
        f"  held-out Qini: T-learner {t_learner.qini_coefficient}, class transformation {ct.qini_coefficient}, "
        f"random {random_metrics.qini_coefficient}; against the true effect: T-learner {true_qini}, "
        f"class transformation {true_qini_ct}",
        flush=True,
    )
    return TrainResult(
        units, holdout_rows, features, treated, prepare_s, gbt_s, uplift_s, dict(fitted.seconds),
        t_learner.qini_coefficient, ct.qini_coefficient, random_metrics.qini_coefficient, true_qini, true_qini_ct,
        t_learner.uplift_at_k, os.getloadavg()[0],
    )  # fmt: skip


# -- report -----------------------------------------------------------------------------------------------------
def _f(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


MEASURE_STAGES = ("campaigns", "aggregate cells", "rank uplift", "recommend", "write", "report")


def measure_table(results: Sequence[MeasureResult]) -> str:
    header = (
        "| sends | users | campaigns | responses | orders | generate s | baseline s | measure_campaigns s | ratio "
        "| sends/s | " + " | ".join(f"{s} s" for s in MEASURE_STAGES) + " | rows collected (lift / ranking / recs) "
        "| abs lift measured (planted) | load (1 min) |"
    )
    lines = [header, "|" + "---:|" * (header.count("|") - 1)]
    for r in results:
        stages = " | ".join(_f(r.stages.get(s), ".1f") for s in MEASURE_STAGES)
        lines.append(
            f"| {r.sends:,} | {r.users:,} | {r.campaigns} | {r.responses:,} | {r.orders:,} | {_f(r.generated, '.0f')} "
            f"| {r.baseline_s:.1f} | {r.measure_s:.1f} | {r.ratio:.1f}x | {r.sends / r.measure_s:,.0f} | {stages} "
            f"| {r.lift_rows} / {r.ranking_rows} / {r.recommendation_rows} "
            f"| {r.measured_lift:+.4f} ({r.planted_lift:+.4f}) | {r.load:.1f} |"
        )
    return "\n".join(lines)


def train_table(results: Sequence[TrainResult]) -> str:
    header = (
        "| units (treated) | features | baseline prepare s | baseline GBT s | baseline s | fit_uplift s "
        "| prepare / treated / control / class-transformation s | ratio | units/s | held-out units "
        "| Qini T-learner | Qini class transformation | Qini random "
        "| true-effect Qini T-learner / class transformation | uplift@k T-learner "
        "| load (1 min) |"
    )
    lines = [header, "|" + "---:|" * (header.count("|") - 1)]
    for r in results:
        s = r.uplift_stages
        parts = " / ".join(
            _f(s.get(k), ".1f") for k in ("prepare", "gbt_treated", "gbt_control", "gbt_class_transformation")
        )
        lines.append(
            f"| {r.units:,} ({r.treated:,}) | {r.features} | {r.baseline_prepare_s:.1f} | {r.baseline_gbt_s:.1f} "
            f"| {r.baseline_s:.1f} | {r.uplift_s:.1f} | {parts} | {r.ratio:.1f}x | {r.units / r.uplift_s:,.0f} "
            f"| {r.holdout:,} | {_f(r.qini_t_learner)} | {_f(r.qini_class_transformation)} | {_f(r.qini_random)} "
            f"| {_f(r.true_qini_t_learner)} / {_f(r.true_qini_class_transformation)} | {_f(r.uplift_at_k, '+.4f')} "
            f"| {r.load:.1f} |"
        )
    return "\n".join(lines)


def report_block(
    measured: Sequence[MeasureResult],
    trained: Sequence[TrainResult],
    config: Config,
    command: str,
    load_at_start: str,
    notes: str,
) -> str:
    cfg = config.campaigns
    g = cfg.uplift.gbt
    spark = SparkSession.getActiveSession()
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
        "",
        f"{platform.node()}, {os.cpu_count()} cores (shared; Spark work under the lock), Spark {spark.version} "
        f"{spark.sparkContext.master}, shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}, "
        f"CPython {platform.python_version()}. Load average (1/5/15 min) at start {load_at_start}, at end "
        f"{_load_average()}.",
    ]
    if measured:
        lines += [
            "",
            f"Measurement at D = {AS_OF}: {measured[0].campaigns} {CAMPAIGN_TYPE} campaigns, "
            f"{CONTROL_SHARE:.0%} control, breakdowns {', '.join(cfg.breakdowns)}, bootstrap "
            f"{cfg.bootstrap.replicates} replicates over {cfg.bootstrap.buckets} buckets. Baseline = one join of "
            "the sends with the orders in their window, summed per (campaign, user), counted per (campaign, arm), "
            "collected. measure_campaigns = the job's whole function (three Delta writes and the HTML report "
            "included); its stages as the job logs them (the units, outcomes and score deciles are computed "
            "lazily inside 'aggregate cells'). Ratio = measure_campaigns / baseline; abs lift = mean over the "
            "campaigns of the measured conversion lift, planted = mean planted extra-order probability x (1 - "
            "control conversion rate).",
            "",
            measure_table(measured),
        ]
    if trained:
        lines += [
            "",
            f"Uplift training, campaigns.uplift.gbt: maxIter {g.max_iter}, maxDepth {g.max_depth}, stepSize "
            f"{g.step_size}, maxBins {g.max_bins}, minInstancesPerNode {g.min_instances_per_node}, subsamplingRate "
            f"{g.subsampling_rate}. Baseline = the trainer's preparation (median imputer + assembler, cached) and "
            "one GBT of the same params on every unit (a propensity model of the same size). fit_uplift = "
            "preparation + T-learner (one GBT per arm) + class-transformation GBT (every unit, weighted). Qini "
            "coefficients (scikit-uplift's definition, observed outcomes) on held-out units; true-effect Qini = "
            "each model's ranking against the planted per-user effect (1 = the perfect order); uplift@k = the "
            f"observed uplift of the T-learner's top {cfg.uplift_at_k:.0%} (the planted effect averages about "
            "+0.02).",
            "",
            train_table(trained),
        ]
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def _load_average() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


# -- main -------------------------------------------------------------------------------------------------------
def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="sends, comma-separated ('' to skip)")
    parser.add_argument("--train-sizes", default="1000000", help="training units, comma-separated ('' to skip)")
    parser.add_argument("--campaigns", type=int, default=8, help="coupon_winback campaigns per size")
    parser.add_argument("--features", type=int, default=40, help="numeric features of the uplift units")
    parser.add_argument("--root", default="/tmp/bench_campaigns", help="scratch warehouse and inputs")
    parser.add_argument("--report", default=str(REPORT), help="markdown file to append to ('' to skip)")
    parser.add_argument("--notes", default="", help="free text added to the report block")
    args = parser.parse_args(argv)
    root = Path(args.root)
    load_at_start = _load_average()

    def config_for(path: Path) -> Config:
        overrides = {"catalog": {"root": str(path / "warehouse")}, "models": {"checkpoint_dir": str(root / "ckpt")}}
        return load_config(env="local", overrides=overrides)

    base = config_for(root / "train")
    spark = get_spark(base.spark, REPO)
    spark.sparkContext.setLogLevel("ERROR")
    measured: list[MeasureResult] = []
    for sends in _sizes(args.sizes):
        users = max(1, sends // SENDS_PER_USER)
        shape = Shape(sends, args.campaigns, users)
        path = root / f"s{sends}"
        print(f"{sends:,} sends, {users:,} users, {args.campaigns} campaigns ({path})", flush=True)
        measured.append(run_measure(spark, config_for(path), shape, path))
        print(measure_table(measured), flush=True)
    trained: list[TrainResult] = []
    for units in _sizes(args.train_sizes):
        print(f"{units:,} training units, {args.features} features", flush=True)
        trained.append(run_train(spark, base, units, args.features, root / "train"))
        print(train_table(trained), flush=True)

    command = "scripts/bench_campaigns.py " + shlex.join(argv)
    block = report_block(measured, trained, base, command.strip(), load_at_start, args.notes)
    print("\n" + block)
    if args.report:
        append_entry(Path(args.report), SECTION, "bench_campaigns.py", block)
        print(f"appended to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
