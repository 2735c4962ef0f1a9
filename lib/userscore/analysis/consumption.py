"""Consumption analysis of snapshot D: how buyers spend in the value window before D.

Orders counted are the kept ones: order_ts in [D - value_window_days, D) and not refunded as of D
(userscore.refunds). Revenue is their ``amount`` (paid after discounts). Outputs (conf/base/
tables_analysis_consumption.yaml): the R x F grid of the snapshot's RFM scores; spend concentration among
buyers (Lorenz curve, top-spender shares, Gini); category mix, coupon / discount dependence and payment
method mix per segment (family ``all`` / segment ``all``: every buyer); order-value and repurchase-interval
histograms. The payment mix is skipped (no rows) when no kept order carries a payment method.

Everything per user or per order stays distributed; the driver sees only aggregates bounded by the
config (buckets, Lorenz points, histogram bins) and the handful of headline figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.config.consumption import ConsumptionAnalysis
from userscore.config.root import Config
from userscore.refunds import refunded_as_of

ALL = "all"  # family and segment of the whole-population rows
SECONDS_PER_DAY = 86_400.0


def kept_orders(orders: DataFrame, as_of: dt.date, days: int) -> DataFrame:
    """``orders`` placed in [as_of - days, as_of) and not refunded as of ``as_of``."""
    end = F.lit(as_of).cast("timestamp")  # midnight UTC: the session time zone is UTC
    start = F.lit(as_of - dt.timedelta(days=days)).cast("timestamp")
    ts = F.col("order_ts")
    return orders.where((ts >= start) & (ts < end) & ~refunded_as_of(end))


def user_spend(kept: DataFrame) -> DataFrame:
    """Kept orders -> one row per buyer: user_id, spend, orders."""
    return kept.groupBy("user_id").agg(F.sum("amount").alias("spend"), F.count(F.lit(1)).alias("orders"))


def analyse(inputs: AnalysisInputs, config: Config) -> AnalysisOutput:
    """The consumption tables of ``inputs.as_of`` (see the module docstring).

    Runs a few bounded Spark actions while building (spend quantiles, bucket sizes, the ranked Lorenz
    points, the headline figures, whether any order has a payment method); the other tables are lazy.
    """
    cfg = config.analysis.consumption
    as_of = inputs.as_of
    kept = kept_orders(inputs.orders, as_of, cfg.value_window_days)
    spend = user_spend(kept)
    in_segments = _with_segments(kept, inputs.segments)
    concentration = spend_concentration(spend, cfg)
    payment = payment_mix(kept, in_segments, cfg, config.analysis.missing_label)
    tables = {
        cfg.tables.rf_grid: rf_grid(inputs.scores, spend, cfg),
        cfg.tables.lorenz: _rows(kept.sparkSession, concentration.lorenz, _LORENZ_SCHEMA),
        cfg.tables.summary: _rows(kept.sparkSession, _summary(kept, concentration, cfg), _SUMMARY_SCHEMA),
        cfg.tables.category_mix: category_mix(in_segments, config.analysis.missing_label),
        cfg.tables.promotion: promotion_dependence(in_segments, cfg.coupon_dependence_share),
        cfg.tables.distributions: distributions(kept, cfg),
        cfg.tables.payment_mix: payment if payment is not None else _empty_payment(kept.sparkSession),
    }
    summary = [
        f"consumption: {concentration.buyers} buyers, revenue {concentration.revenue:.2f} in the "
        f"{cfg.value_window_days} days before {as_of}, Gini {_fmt(concentration.gini)}",
    ]
    if payment is None:
        summary.append(f"payment mix skipped: no kept order carries {cfg.payment_column}")
    dated = {name: df.select(F.lit(as_of).alias("as_of_date"), "*") for name, df in tables.items()}
    return AnalysisOutput(tables=dated, summary=tuple(summary))


# -- R x F grid ------------------------------------------------------------------------------------
def rf_grid(scores: DataFrame, spend: DataFrame, cfg: ConsumptionAnalysis) -> DataFrame:
    """Scored users with both RFM scores per (recency, frequency) cell: users and their spend."""
    r, f = F.col(cfg.recency_column).cast("int"), F.col(cfg.frequency_column).cast("int")
    scored = scores.select("user_id", r.alias("recency_score"), f.alias("frequency_score")).where(
        F.col("recency_score").isNotNull() & F.col("frequency_score").isNotNull()
    )
    cells = (
        scored.join(spend.select("user_id", "spend"), "user_id", "left")
        .groupBy("recency_score", "frequency_score")
        .agg(F.count(F.lit(1)).alias("users"), F.coalesce(F.sum("spend"), F.lit(0.0)).alias("revenue"))
    )
    totals = cells.agg(F.sum("users").alias("_users"), F.sum("revenue").alias("_revenue"))
    return cells.crossJoin(F.broadcast(totals)).select(
        "recency_score",
        "frequency_score",
        "users",
        (F.col("users") / F.col("_users")).alias("user_share"),
        "revenue",
        _share(F.col("revenue"), F.col("_revenue")).alias("revenue_share"),
        (F.col("revenue") / F.col("users")).alias("revenue_per_user"),
    )


# -- spend concentration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Concentration:
    """Exact spend concentration among buyers: Lorenz points (point, buyers, population_share,
    revenue_share), top-spender revenue shares by share of buyers, and Gini (None without revenue)."""

    buyers: int
    revenue: float
    gini: float | None
    lorenz: list[tuple]
    top: dict[float, float | None]


def spend_concentration(spend: DataFrame, cfg: ConsumptionAnalysis) -> Concentration:
    """Lorenz curve, top shares and Gini of the buyers' spend, from their exact ranks.

    With spend sorted ascending (x_1 <= ... <= x_n, total T): the Lorenz point k of P covers the
    r_k = ceil(k n / P) lowest spenders and has revenue share (x_1 + ... + x_rk) / T; the top share s is
    1 - (x_1 + ... + x_(n - ceil(s n))) / T; Gini = 2 sum(i x_i) / (n T) - (n + 1) / n. Ties do not
    matter (equal values give the same sums in any order). Ranks are computed without a global sort:
    buyers fall into spend-quantile buckets (equal spends in one bucket), each bucket is ranked on its
    own and offset by the counts and sums of the buckets below it.
    """
    # Three passes read the buyers' spend (quantiles, bucket sizes, ranks): compute it once.
    spend = spend.select(F.col("spend").cast("double").alias("x")).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _concentration(spend, cfg)
    finally:
        spend.unpersist()


def _concentration(spend: DataFrame, cfg: ConsumptionAnalysis) -> Concentration:
    probabilities = [i / cfg.rank_buckets for i in range(1, cfg.rank_buckets)]
    cuts = sorted(set(spend.approxQuantile("x", probabilities, 1.0 / (4 * cfg.rank_buckets)))) if probabilities else []
    bucket = F.aggregate(
        F.array(*(F.lit(float(c)) for c in cuts)) if cuts else F.array().cast("array<double>"),
        F.lit(0),
        lambda acc, c: acc + F.when(F.col("x") > c, 1).otherwise(0),
    )
    bucketed = spend.withColumn("bucket", bucket)
    sizes = sorted(tuple(r) for r in bucketed.groupBy("bucket").agg(F.count(F.lit(1)), F.sum("x")).collect())
    n = sum(count for _, count, _ in sizes)
    revenue = float(sum(total for _, _, total in sizes))
    if n == 0:
        return Concentration(0, 0.0, None, [(0, 0, 0.0, None)], {s: None for s in cfg.top_shares})
    offsets, count_before, sum_before = [], 0, 0.0
    for b, count, total in sizes:
        offsets.append((b, count_before, sum_before))
        count_before, sum_before = count_before + count, sum_before + float(total)
    offset_frame = spend.sparkSession.createDataFrame(offsets, "bucket int, count_before long, sum_before double")
    within = Window.partitionBy("bucket").orderBy("x")
    ranked = bucketed.join(F.broadcast(offset_frame), "bucket").select(
        "x",
        (F.col("count_before") + F.row_number().over(within)).alias("rank"),
        (F.col("sum_before") + F.sum("x").over(within.rowsBetween(Window.unboundedPreceding, 0))).alias("cum"),
    )
    lorenz_ranks = {k: -(-k * n // cfg.lorenz_points) for k in range(cfg.lorenz_points + 1)}
    top_ranks = {s: n - math.ceil(round(s * n, 9)) for s in cfg.top_shares}
    wanted = sorted({*lorenz_ranks.values(), *top_ranks.values()} - {0})
    row = ranked.agg(
        F.sum(F.col("rank") * F.col("x")).alias("weighted"),
        F.collect_list(F.when(F.col("rank").isin(*wanted), F.struct("rank", "cum"))).alias("points"),
    ).first()
    cum = {0: 0.0, **{p["rank"]: float(p["cum"]) for p in row["points"]}}
    gini = 2.0 * float(row["weighted"]) / (n * revenue) - (n + 1) / n if revenue > 0 else None
    lorenz = [(k, r, r / n, cum[r] / revenue if revenue > 0 else None) for k, r in lorenz_ranks.items()]
    top = {s: 1.0 - cum[r] / revenue if revenue > 0 else None for s, r in top_ranks.items()}
    return Concentration(n, revenue, gini, lorenz, top)


_LORENZ_SCHEMA = "point int, buyers long, population_share double, revenue_share double"
_SUMMARY_SCHEMA = "measure string, value double"


def top_measure(share: float) -> str:
    """Summary measure name of a top-spender share: 0.01 -> top_1pct_revenue_share."""
    return f"top_{share * 100:g}pct_revenue_share".replace(".", "_")


def _summary(kept: DataFrame, c: Concentration, cfg: ConsumptionAnalysis) -> list[tuple]:
    orders = kept.agg(
        F.count(F.lit(1)).alias("orders"),
        F.percentile_approx("amount", 0.5, 100_000).alias("median_order_value"),
        F.avg(F.col("coupon_used").cast("double")).alias("coupon_order_share"),
        F.sum("discount_amount").alias("discount"),
        F.sum(F.col("amount") + F.col("discount_amount")).alias("gross"),
    ).first()
    median_gap = _intervals(kept).agg(F.percentile_approx("days", 0.5, 100_000)).first()[0]
    gross = float(orders["gross"] or 0.0)
    rows = [
        ("buyers", float(c.buyers)),
        ("orders", float(orders["orders"])),
        ("revenue", c.revenue),
        ("gini", c.gini),
        *((top_measure(s), c.top[s]) for s in cfg.top_shares),
        ("median_order_value", _float(orders["median_order_value"])),
        ("median_repurchase_days", _float(median_gap)),
        ("coupon_order_share", _float(orders["coupon_order_share"])),
        ("discount_rate", float(orders["discount"]) / gross if gross > 0 else None),
    ]
    return rows


# -- per segment -----------------------------------------------------------------------------------
def _with_segments(kept: DataFrame, segments: DataFrame) -> DataFrame:
    """Kept orders once per segment of their buyer, plus once under family/segment ``all``."""
    members = segments.select("family", "segment", "user_id")
    everyone = kept.select(F.lit(ALL).alias("family"), F.lit(ALL).alias("segment"), "*")
    return everyone.unionByName(kept.join(members, "user_id").select("family", "segment", *kept.columns))


def category_mix(in_segments: DataFrame, missing: str) -> DataFrame:
    """Orders, buyers and revenue per category within each segment, with shares of the segment."""
    cells = in_segments.groupBy("family", "segment", F.coalesce("category", F.lit(missing)).alias("category")).agg(
        F.countDistinct("user_id").alias("buyers"),
        F.count(F.lit(1)).alias("orders"),
        F.sum("amount").alias("revenue"),
    )
    return _segment_shares(cells, "category")


def promotion_dependence(in_segments: DataFrame, dependence_share: float) -> DataFrame:
    """Coupon and discount use per segment, and the buyers mostly buying with coupons."""
    per_buyer = in_segments.groupBy("family", "segment", "user_id").agg(
        F.count(F.lit(1)).alias("orders"),
        F.sum(F.col("coupon_used").cast("long")).alias("coupon_orders"),
        F.sum(F.col("amount") + F.col("discount_amount")).alias("gross_amount"),
        F.sum("discount_amount").alias("discount_amount"),
    )
    dependent = (F.col("coupon_orders") / F.col("orders") >= dependence_share).cast("long")
    return (
        per_buyer.groupBy("family", "segment")
        .agg(
            F.count(F.lit(1)).alias("buyers"),
            F.sum("orders").alias("orders"),
            F.sum("coupon_orders").alias("coupon_orders"),
            F.sum("gross_amount").alias("gross_amount"),
            F.sum("discount_amount").alias("discount_amount"),
            F.sum(dependent).alias("coupon_dependent_buyers"),
        )
        .select(
            "family",
            "segment",
            "buyers",
            "orders",
            "coupon_orders",
            (F.col("coupon_orders") / F.col("orders")).alias("coupon_order_share"),
            "gross_amount",
            "discount_amount",
            _share(F.col("discount_amount"), F.col("gross_amount")).alias("discount_rate"),
            "coupon_dependent_buyers",
            (F.col("coupon_dependent_buyers") / F.col("buyers")).alias("coupon_dependent_share"),
        )
    )


def payment_mix(
    kept: DataFrame, in_segments: DataFrame, cfg: ConsumptionAnalysis, missing_label: str
) -> DataFrame | None:
    """Orders and revenue per payment method within each segment (``in_segments``: kept orders per
    segment; ``missing_label`` for orders without a method); None when no kept order has one (the column
    is absent or all null: a business whose data carries no payment method)."""
    column = cfg.payment_column
    if column not in kept.columns or kept.where(F.col(column).isNotNull()).limit(1).count() == 0:
        return None
    method = F.coalesce(F.col(column), F.lit(missing_label)).alias("payment_method")
    cells = in_segments.groupBy("family", "segment", method).agg(
        F.count(F.lit(1)).alias("orders"), F.sum("amount").alias("revenue")
    )
    return _segment_shares(cells, "payment_method").drop("buyers")


def _empty_payment(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [],
        "family string, segment string, payment_method string, orders long, order_share double, "
        "revenue double, revenue_share double",
    )


def _segment_shares(cells: DataFrame, key: str) -> DataFrame:
    """Aggregated cells of (family, segment, key) -> with order and revenue shares of their segment."""
    totals = cells.groupBy("family", "segment").agg(F.sum("orders").alias("_orders"), F.sum("revenue").alias("_rev"))
    columns = ["family", "segment", key, *(["buyers"] if "buyers" in cells.columns else [])]
    return cells.join(totals, ["family", "segment"]).select(
        *columns,
        "orders",
        (F.col("orders") / F.col("_orders")).alias("order_share"),
        "revenue",
        _share(F.col("revenue"), F.col("_rev")).alias("revenue_share"),
    )


# -- distributions ---------------------------------------------------------------------------------
def _intervals(kept: DataFrame) -> DataFrame:
    """Days between each buyer's consecutive kept orders (one row per repeat order)."""
    previous = F.lag("order_ts").over(Window.partitionBy("user_id").orderBy("order_ts", "order_id"))
    seconds = F.unix_micros(F.col("order_ts")) - F.unix_micros(previous)
    return kept.select((seconds / 1e6 / SECONDS_PER_DAY).alias("days")).where(F.col("days").isNotNull())


def distributions(kept: DataFrame, cfg: ConsumptionAnalysis) -> DataFrame:
    """Histograms of order value and repurchase interval over the configured bin edges (empty bins kept)."""
    values = kept.select(F.lit("order_value").alias("measure"), F.col("amount").cast("double").alias("v"))
    gaps = _intervals(kept).select(F.lit("repurchase_days").alias("measure"), F.col("days").alias("v"))
    counts = values.unionByName(gaps).groupBy("measure", _bin(F.col("v"), cfg, "measure").alias("bin")).count()
    bins = [
        (measure, i + 1, float(lower), float(edges[i + 1]) if i + 1 < len(edges) else None)
        for measure, edges in (("order_value", cfg.order_value_edges), ("repurchase_days", cfg.repurchase_days_edges))
        for i, lower in enumerate(edges)
    ]
    frame = kept.sparkSession.createDataFrame(bins, "measure string, bin int, lower double, upper double")
    filled = frame.join(counts, ["measure", "bin"], "left").withColumn("count", F.coalesce("count", F.lit(0)))
    totals = filled.groupBy("measure").agg(F.sum("count").alias("_total"))
    return filled.join(totals, "measure").select(
        "measure",
        "bin",
        "lower",
        "upper",
        F.col("count").cast("long").alias("count"),
        F.coalesce(F.col("count") / F.col("_total"), F.lit(0.0)).alias("share"),
    )


def _bin(v: Column, cfg: ConsumptionAnalysis, measure: str) -> Column:
    """1-based bin of ``v``: the number of edges <= v (values below the first edge, 0, go to bin 1)."""

    def count_le(edges: Sequence[float]) -> Column:
        return F.greatest(F.lit(1), sum((F.when(v >= e, 1).otherwise(0) for e in edges), F.lit(0)))

    return F.when(F.col(measure) == "order_value", count_le(cfg.order_value_edges)).otherwise(
        count_le(cfg.repurchase_days_edges)
    )


# -- helpers ---------------------------------------------------------------------------------------
def _share(part: Column, whole: Column) -> Column:
    return F.when(whole > 0, part / whole)


def _rows(spark: SparkSession, rows: list[tuple], schema: str) -> DataFrame:
    return spark.createDataFrame(rows, schema)


def _float(value) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
