"""Basic profile of snapshot D: who the scored users are and where the spend comes from.

The population is the users scored at D (scores.user_scores partition D). For each profile dimension
(silver.users columns such as gender, age band, region, member level, registration channel, plus the
tenure band derived from registered_at) the table analysis.profile_distribution counts users and their
spend, over the whole population (breakdown ``all``) and within each value of each crossed score column
(grade, churn tier). Spend = kept orders in the value window before D (see analysis.consumption).
member_level is the level held at D (the loader takes it from the features partition D, not the
latest profile silver.users keeps). Null values are shown as ``analysis.missing_label``.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.analysis.consumption import ALL, kept_orders, user_spend
from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.config.consumption import TENURE_BAND, Band, ProfileAnalysis
from userscore.config.root import Config


def analyse(inputs: AnalysisInputs, config: Config) -> AnalysisOutput:
    """The profile distribution of ``inputs.as_of`` (see the module docstring)."""
    cfg = config.analysis.profile
    rows = distribution(inputs.scores, inputs.users, inputs.orders, inputs.as_of, cfg, config.analysis.missing_label)
    return AnalysisOutput(
        tables={cfg.table: rows.select(F.lit(inputs.as_of).alias("as_of_date"), "*")},
        summary=(f"profile: {len(cfg.dimensions)} dimensions x (all, {', '.join(cfg.crosses)})",),
    )


def distribution(
    scores: DataFrame,
    users: DataFrame,
    orders: DataFrame,
    as_of: dt.date,
    cfg: ProfileAnalysis,
    missing_label: str,
) -> DataFrame:
    """Rows (dimension, value, breakdown, breakdown_value, users, share, spend, spend_share); a null value
    is shown as ``missing_label``."""
    spend = user_spend(kept_orders(orders, as_of, cfg.value_window_days)).select("user_id", "spend")
    profile_columns = [c for c in cfg.dimensions if c != TENURE_BAND]
    people = (
        scores.select("user_id", *cfg.crosses)
        .join(users.select("user_id", "registered_at", *profile_columns), "user_id", "left")
        .join(spend, "user_id", "left")
    )
    missing = F.lit(missing_label)

    def dimension_value(name: str) -> Column:
        column = tenure_band(F.col("registered_at"), as_of, cfg.tenure_bands) if name == TENURE_BAND else F.col(name)
        return F.struct(F.lit(name).alias("dimension"), F.coalesce(column.cast("string"), missing).alias("value"))

    breakdowns = [F.struct(F.lit(ALL).alias("breakdown"), F.lit(ALL).alias("breakdown_value"))] + [
        F.struct(F.lit(c).alias("breakdown"), F.coalesce(F.col(c).cast("string"), missing).alias("breakdown_value"))
        for c in cfg.crosses
    ]
    # One generator per select: users x dimensions, then x breakdowns (all + each crossed column).
    exploded = people.select(
        F.coalesce(F.col("spend"), F.lit(0.0)).alias("spend"),
        F.array(*breakdowns).alias("_b"),
        F.explode(F.array(*(dimension_value(d) for d in cfg.dimensions))).alias("d"),
    ).select("spend", "d", F.explode("_b").alias("b"))
    cells = exploded.groupBy(
        F.col("d.dimension").alias("dimension"),
        F.col("d.value").alias("value"),
        F.col("b.breakdown").alias("breakdown"),
        F.col("b.breakdown_value").alias("breakdown_value"),
    ).agg(F.count(F.lit(1)).alias("users"), F.sum("spend").alias("spend"))
    group = ["dimension", "breakdown", "breakdown_value"]
    totals = cells.groupBy(*group).agg(F.sum("users").alias("_users"), F.sum("spend").alias("_spend"))
    return cells.join(totals, group).select(
        "dimension",
        "value",
        "breakdown",
        "breakdown_value",
        "users",
        (F.col("users") / F.col("_users")).alias("share"),
        "spend",
        F.when(F.col("_spend") > 0, F.col("spend") / F.col("_spend")).alias("spend_share"),
    )


def tenure_band(registered_at: Column, as_of: dt.date, bands: tuple[Band, ...]) -> Column:
    """The band of the days from registration to ``as_of`` (null when registered_at is null)."""
    days = F.datediff(F.lit(as_of), F.to_date(registered_at))
    band = F.when(days.isNull(), F.lit(None).cast("string"))
    for b in bands[:-1]:
        band = band.when(days < b.max_days, F.lit(b.name))
    return band.otherwise(F.lit(bands[-1].name))
