"""Calibrate global rates so that the configured mean orders and events per user come out.

The expected counts depend on everything at once (activity spread, churn, registration dates, life
cycle, seasons), so they are measured rather than derived: the expected count of a fixed reference
sample of users (given their traits and busy months) is summed in one Spark task (one partition: a
deterministic order of floating-point additions) and the rates are scaled to hit the targets. The
sample does not depend on the number of users generated, so a user's behaviour does not either.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.errors import InputError
from userscore.generate.events import expected_stragglers, funnel_per_order
from userscore.generate.timeline import Timeline
from userscore.generate.traits import Scales, total_exposure, user_frame

CALIBRATION_USERS = 10_000


def calibrate(spark: SparkSession, cfg: GenerateConfig, timeline: Timeline) -> Scales:
    """Rate multipliers for orders and background events (one small Spark job)."""
    reference = user_frame(spark.range(0, CALIBRATION_USERS, 1, 1), cfg, timeline, Scales())
    reference = reference.withColumn("_total", total_exposure())
    expected = reference.select(
        (F.col("order_rate") * F.col("_total")).alias("orders"),
        (F.col("visit_rate") * F.col("_total")).alias("visits"),
        funnel_per_order(cfg).alias("funnel_per_order"),
        expected_stragglers(timeline).alias("stragglers"),
    )
    means = expected.agg(
        F.avg("orders").alias("orders"),
        F.avg("visits").alias("visits"),
        F.avg(F.col("orders") * F.col("funnel_per_order")).alias("funnel"),
        F.avg("stragglers").alias("stragglers"),
    ).first()
    if not means["orders"] or not means["visits"]:
        raise InputError("generate: no user is active in the history window; check end_date and history_days")
    order_scale = cfg.mean_orders_per_user / means["orders"]
    funnel = means["funnel"] * order_scale
    background = cfg.mean_events_per_user - funnel - means["stragglers"]
    if background <= 0:
        raise InputError(
            f"generate.mean_events_per_user ({cfg.mean_events_per_user}) is below the {funnel:.1f} events per user "
            f"that {cfg.mean_orders_per_user} orders per user bring (browsing, cart, checkout around each order): "
            "raise mean_events_per_user or lower mean_orders_per_user"
        )
    return Scales(orders=order_scale, visits=background / means["visits"])
