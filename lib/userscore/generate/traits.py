"""Latent per-user traits: pure functions of (seed, user index), so any record can recompute any user's.

The traits drive every generated record and are kept in ``truth.user_traits``; they are never features.
Persistent traits (activity, churn hazard, spend level) make recency, frequency and trends predictive;
lognormal spreads, Poisson noise and month-to-month swings keep that prediction far from trivial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.random import clipped_normal, exponential, lookup, padded, pick, skewed, uniform
from userscore.generate.timeline import DAY, Timeline

# Shape of the population (not business knobs: they set how heterogeneous users are).
ACTIVITY_SIGMA = 1.0  # lognormal spread of purchase activity
VALUE_SIGMA = 0.7  # lognormal spread of spend level
VISIT_SIGMA = 0.8  # lognormal spread of browsing activity
HAZARD_SIGMA = 0.7  # lognormal spread of churn hazard
HAZARD_ACTIVITY = 0.35  # active users churn less
OFFLINE_VISIT_FACTOR = 0.15  # store-first users browse little online
PREFERRED_CHANNEL_SHARE = 0.7  # orders through the preferred channel
NOVELTY_BOOST, NOVELTY_DAYS = 1.0, 45.0  # new users are twice as active in their first weeks
FADE_DAYS, FADE_FLOOR = 90.0, 0.3  # activity fades during the last months before churn
MAX_LIFETIME_DAYS = 36_500.0
HOT_SHARE, HOT_FACTOR = 0.2, 2.5  # a fifth of user-months are busy ones
COLD_FACTOR = (1.0 - HOT_SHARE * HOT_FACTOR) / (1.0 - HOT_SHARE)  # keeps the mean factor at 1
# Registration channels with a known effect on churn (others: 1.0).
CHANNEL_HAZARD = {"referral": 0.8, "search_ad": 1.25, "social": 1.1, "store": 0.9}


@dataclass(frozen=True)
class Scales:
    """Global rate multipliers, calibrated so the configured mean orders and events per user come out."""

    orders: float = 1.0
    visits: float = 1.0


def id_width(users: int) -> int:
    """Digits of the zero-padded user number (at least 6, e.g. ``u-000001``)."""
    return max(6, len(str(users)))


def user_number(idx: Column, users: int) -> Column:
    """The zero-padded 1-based number of user ``idx``, as in its ids (``u-000001``, ``o-000001-0003``)."""
    return padded(idx + 1, id_width(users))


def user_id(idx: Column, users: int) -> Column:
    return F.concat(F.lit("u-"), user_number(idx, users))


def registration_seconds(seed: int, idx: Column, cfg: GenerateConfig, timeline: Timeline) -> Column:
    """Registration time of user ``idx``: spread over the history with growth, some before it."""
    span = timeline.end - timeline.start
    before = uniform(seed, "pre-history", idx) < cfg.pre_history_share
    u = uniform(seed, "registered", idx)
    # u ** 0.8 leans towards the end of the window: more sign-ups as the business grows.
    inside = F.lit(timeline.start) + F.pow(u, 0.8) * span
    earlier = F.lit(timeline.start) - u * span
    return F.floor(F.when(before, earlier).otherwise(inside)).cast("long")


def user_frame(ids: DataFrame, cfg: GenerateConfig, timeline: Timeline, scales: Scales) -> DataFrame:
    """``ids`` (``spark.range``: column ``id``, the user index) -> one row per user with every trait
    (internal columns, times in seconds).

    Columns: idx, user_id, reg, churn, start/stop (the active window inside the history), buyer,
    order_rate, visit_rate, spend_level, hazard, decay, promo, refund_p, spread, pref_category,
    pref_channel, pref_payment, reg_channel, gender, age_band, region, sociability, exposure (see ``exposure``).
    """
    s = cfg.seed
    idx = F.col("idx")
    age_pos = [i / max(len(cfg.age_bands) - 1, 1) for i in range(len(cfg.age_bands))]
    # First the draws and categorical traits, each computed once; then what derives from them.
    draws = ids.select(F.col("id").alias("idx")).select(
        idx,
        user_id(idx, cfg.users).alias("user_id"),
        registration_seconds(s, idx, cfg, timeline).alias("reg"),
        clipped_normal(s, "activity", idx).alias("_z_act"),
        clipped_normal(s, "value", idx).alias("_z_val"),
        clipped_normal(s, "visits", idx).alias("_z_vis"),
        clipped_normal(s, "hazard", idx).alias("_z_haz"),
        clipped_normal(s, "social", idx).alias("_z_soc"),
        F.least(exponential(s, "churn", idx), F.lit(50.0)).alias("_lifetime_draw"),
        (uniform(s, "buyer", idx) >= cfg.non_buyer_share).alias("buyer"),
        (F.lit(1.0) / (365.0 * (1.5 + 3.0 * uniform(s, "decay", idx)))).alias("decay"),
        # E[u ** 1.6] = 1 / 2.6, so the mean coupon probability is mean_coupon_rate (before the cap).
        F.least(cfg.mean_coupon_rate * 2.6 * F.pow(uniform(s, "promo", idx), 1.6), F.lit(0.95)).alias("promo"),
        (cfg.mean_refund_rate * (0.3 + 1.75 * F.pow(uniform(s, "refund", idx), 1.5))).alias("refund_p"),
        (0.05 + 0.45 * uniform(s, "spread", idx)).alias("spread"),
        pick(cfg.regions, uniform(s, "region", idx)).alias("region"),
        uniform(s, "category", idx).alias("_u_category"),
        uniform(s, "channel", idx).alias("_u_channel"),
        uniform(s, "payment", idx).alias("_u_payment"),
        uniform(s, "reg-channel", idx).alias("_u_reg_channel"),
        uniform(s, "gender", idx).alias("_u_gender"),
        uniform(s, "age", idx).alias("_u_age"),
    )
    draws = draws.select(
        "*",
        pick(cfg.categories, "_u_category", skewed(len(cfg.categories), 0.5)).alias("pref_category"),
        pick(cfg.order_channels, "_u_channel", skewed(len(cfg.order_channels), 1.0)).alias("pref_channel"),
        pick(cfg.payment_methods, "_u_payment", skewed(len(cfg.payment_methods), 1.0)).alias("pref_payment"),
        pick(cfg.registration_channels, "_u_reg_channel", skewed(len(cfg.registration_channels), 0.7)).alias(
            "reg_channel"
        ),
        pick(cfg.genders, "_u_gender", skewed(len(cfg.genders), 0.85)).alias("gender"),
        pick(cfg.age_bands, "_u_age", [1.0 - 0.5 * abs(p - 0.35) for p in age_pos]).alias("age_band"),
    )
    z_act, z_vis = F.col("_z_act"), F.col("_z_vis")
    # Mid-life users spend more: +0.15 in the middle of the age range, -0.15 at its ends.
    effects = {band: 0.15 - 0.3 * abs(2 * p - 1) for band, p in zip(cfg.age_bands, age_pos, strict=True)}
    age_effect = lookup(F.col("age_band"), effects, default=0.0)
    value = cfg.mean_order_value * F.exp(VALUE_SIGMA * F.col("_z_val") - VALUE_SIGMA**2 / 2 + age_effect)
    activity = F.exp(ACTIVITY_SIGMA * z_act - ACTIVITY_SIGMA**2 / 2) * scales.orders
    z_browse = 0.6 * z_act + 0.8 * z_vis  # browsing goes with buying, loosely
    offline = F.col("pref_channel") == F.lit("store")
    visits = F.exp(VISIT_SIGMA * z_browse - VISIT_SIGMA**2 / 2) * F.when(offline, OFFLINE_VISIT_FACTOR).otherwise(1.0)
    hazard = (
        F.lit(math.log(2) / cfg.median_lifetime_days)
        * F.exp(HAZARD_SIGMA * F.col("_z_haz") - HAZARD_ACTIVITY * z_act)
        * lookup(F.col("reg_channel"), CHANNEL_HAZARD, default=1.0)
    )
    traits = draws.select(
        *(c for c in draws.columns if not c.startswith("_")),
        F.when(F.col("buyer"), activity).otherwise(0.0).alias("order_rate"),
        (visits * scales.visits).alias("visit_rate"),
        value.alias("spend_level"),
        hazard.alias("hazard"),
        F.exp(F.col("_z_soc") - 0.5).alias("sociability"),
        "_lifetime_draw",
    )
    lifetime_days = F.least(F.col("_lifetime_draw") / F.col("hazard"), F.lit(MAX_LIFETIME_DAYS))
    churn = (F.col("reg") + F.floor(lifetime_days * DAY)).cast("long")
    timed = traits.select(
        *(c for c in traits.columns if not c.startswith("_")),
        churn.alias("churn"),
        F.greatest(F.col("reg"), F.lit(timeline.start).cast("long")).alias("start"),
        F.least(churn, F.lit(timeline.end).cast("long")).alias("stop"),
    )
    return timed.withColumn("exposure", exposure(s, timeline, cfg.month_weights))


def hot_factor(seed: int, m: Column) -> Column:
    """Activity multiplier of the user in scope in window month ``m`` (mean 1)."""
    return F.when(uniform(seed, "hot-month", F.col("idx"), m) < HOT_SHARE, HOT_FACTOR).otherwise(COLD_FACTOR)


def active_part(m: Column, timeline: Timeline) -> tuple[Column, Column]:
    """[lo, hi): the part of window month ``m`` in which the user in scope is active (may be empty)."""
    lo = F.greatest(F.col("start"), timeline.month_start(m))
    hi = F.least(F.col("stop"), timeline.month_end(m))
    return lo, hi


def exposure(seed: int, timeline: Timeline, month_weights: tuple[float, ...]) -> Column:
    """Per window month, active days x month weight x life cycle x hot/cold state, for the user in scope.

    A rate per active day times a month's exposure is the expected record count of that user-month;
    orders and events share it, so busy months bring both.
    """

    def month(m: Column) -> Column:
        lo, hi = active_part(m, timeline)
        days = F.greatest(hi - lo, F.lit(0)) / DAY
        return days * timeline.month_weight(m, month_weights) * intensity((lo + hi) / 2) * hot_factor(seed, m)

    return F.transform(timeline.month_index(), month)


def total_exposure() -> Column:
    """Sum of the user's monthly exposure: the expected record count at a rate of 1 per active day."""
    return F.aggregate(F.col("exposure"), F.lit(0.0), lambda acc, x: acc + x)


def intensity(t: Column) -> Column:
    """Life-cycle factor at time ``t`` (seconds) for the user in scope: a novelty boost after
    registration, a slow decay with tenure, and a fade in the months before churn."""
    tenure_days = F.greatest(t - F.col("reg"), F.lit(0)) / DAY
    life = (F.lit(1.0) + NOVELTY_BOOST * F.exp(-tenure_days / NOVELTY_DAYS)) * F.exp(-F.col("decay") * tenure_days)
    fade = F.least(F.greatest((F.col("churn") - t) / (FADE_DAYS * DAY), F.lit(FADE_FLOOR)), F.lit(1.0))
    return life * fade


def channel_probability(channel: str, cfg: GenerateConfig) -> Column:
    """Probability that one order of the user in scope goes through ``channel``."""
    if channel not in cfg.order_channels:
        return F.lit(0.0)
    other = (1.0 - PREFERRED_CHANNEL_SHARE) / len(cfg.order_channels)
    return F.when(F.col("pref_channel") == channel, PREFERRED_CHANNEL_SHARE + other).otherwise(other)
