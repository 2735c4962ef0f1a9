"""When a user does something: a Poisson process per user, month by month, built from columns only.

The expected count of a user-month is rate x active days x month weight x life cycle x a hot/cold state.
The hot state is shared by orders and events of the same user-month (busy months bring both), and
within a month part of the records cluster around one focus day, so records near each other cluster.
Counts are drawn per month as arrays and exploded once; weekday and hour-of-day patterns are applied to
each record (hour by inverse CDF, weekday by thinning), so no Python loop ever touches a user.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.generate.random import normal, pick, poisson, uniform
from userscore.generate.timeline import DAY, HOUR, HOUR_WEIGHTS, Timeline
from userscore.generate.traits import active_part

CLUSTER_SHARE, CLUSTER_SD_DAYS = 0.4, 2.0


def occurrences(
    users: DataFrame,
    rate: Column,
    *,
    seed: int,
    salt: str,
    timeline: Timeline,
    keep: list[str],
) -> DataFrame:
    """One row per record at ``rate`` per unit of exposure (see ``traits.exposure``): ``keep`` columns of
    ``users`` plus ``k`` (record index within the user, stable but with gaps) and ``ts`` (epoch seconds
    inside the user's active window)."""
    boost = timeline.max_weekday_weight  # candidates per accepted record under weekday thinning
    idx = F.col("idx")
    counts = F.transform(F.col("exposure"), lambda x, i: poisson(x * rate * boost, seed, salt + "-n", idx, i))
    months = F.flatten(F.transform(counts, lambda n, i: F.array_repeat(i, n)))
    needed = sorted({"idx", "start", "stop", *keep})
    rows = users.select(*needed, F.posexplode(months).alias("k", "m"))
    k, m = F.col("k"), F.col("m")
    lo, hi = active_part(m, timeline)
    # Every draw once, as a column: the expressions below use them several times.
    drawn = rows.select(
        *keep,
        "k",
        lo.alias("_lo"),
        hi.alias("_hi"),
        uniform(seed, "focus", idx, m).alias("_focus"),  # shared by orders and events of the month
        uniform(seed, salt + "-c", idx, k).alias("_cluster"),
        normal(seed, salt + "-z", idx, k).alias("_z"),
        uniform(seed, salt + "-t", idx, k).alias("_spread"),
        uniform(seed, salt + "-h", idx, k).alias("_hour"),
        uniform(seed, salt + "-s", idx, k).alias("_second"),
        uniform(seed, salt + "-w", idx, k).alias("_weekday"),
    )
    lo, hi = F.col("_lo"), F.col("_hi")
    width = hi - lo
    clustered = lo + width * F.col("_focus") + F.col("_z") * (CLUSTER_SD_DAYS * DAY)
    t0 = F.when(F.col("_cluster") < CLUSTER_SHARE, clustered).otherwise(lo + width * F.col("_spread"))
    t0 = F.least(F.greatest(t0, lo), hi - 1)
    hour = pick(list(range(24)), "_hour", HOUR_WEIGHTS)
    t = F.floor(t0 / DAY) * DAY + hour * HOUR + F.floor(F.col("_second") * HOUR)
    timed = drawn.select(*keep, "k", "_weekday", F.least(F.greatest(t, lo), hi - 1).cast("long").alias("ts"))
    accept = F.col("_weekday") * boost < timeline.weekday_weight(F.col("ts"))
    return timed.where(accept).select(*keep, "k", "ts")
