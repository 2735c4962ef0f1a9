"""Profile family and the users base of a snapshot: users registered before D, with point-in-time level.

Member level as of D: the ``to_level`` of the user's last level change before D; if the user has no
change before D but one at or after D, that first later change's ``from_level`` (the level held at D,
"unknown" if it has none); with no change at all, the users table's current level. This is the only
place the engine reads rows at or after D, and only to recover the level held before them.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.columns import TENURE
from userscore.config.features import FeatureSources, ProfileConfig
from userscore.keys import USER_ID
from userscore.persons import member_columns

_BEFORE, _AFTER = "_level_before", "_level_after"


def users_base(users: DataFrame, sources: FeatureSources, profile: ProfileConfig, as_of: dt.date) -> DataFrame:
    """One row per user registered before D: user_id, profile columns ("unknown" for nulls), tenure_days.

    tenure_days = whole days from the registration date to D (at least 1, since registration < D).
    """
    registered = F.col(sources.users.time)
    unknown = F.lit(profile.unknown_value)
    return users.where(registered < F.lit(as_of).cast("timestamp")).select(
        USER_ID,
        *member_columns(users),
        F.col(profile.level_column).alias(f"_current_{profile.level_column}"),
        *[F.coalesce(F.col(c), unknown).alias(c) for c in profile.columns],
        F.datediff(F.lit(as_of), F.to_date(registered)).alias(TENURE),
    )


def levels_as_of(level_changes: DataFrame, sources: FeatureSources, as_of: dt.date) -> DataFrame:
    """Per user with level changes: the last change before D and the first one at or after D."""
    changed = F.col(sources.level_changes.time)
    before = changed < F.lit(as_of).cast("timestamp")
    return level_changes.groupBy(USER_ID).agg(
        # max/min of (changed_at, level) structs: the latest/earliest change, ties broken by level name.
        F.max(F.when(before, F.struct(changed.alias("at"), F.col("to_level").alias("level")))).alias(_BEFORE),
        F.min(F.when(~before, F.struct(changed.alias("at"), F.col("from_level").alias("level")))).alias(_AFTER),
    )


def with_member_level(base: DataFrame, levels: DataFrame, profile: ProfileConfig) -> DataFrame:
    """Replace the current level by the level held at D (see module docstring)."""
    unknown = F.lit(profile.unknown_value)
    level = (
        F.when(F.col(_BEFORE).isNotNull(), F.coalesce(F.col(f"{_BEFORE}.level"), unknown))
        .when(F.col(_AFTER).isNotNull(), F.coalesce(F.col(f"{_AFTER}.level"), unknown))
        .otherwise(F.coalesce(F.col(f"_current_{profile.level_column}"), unknown))
    )
    joined = base.join(levels, USER_ID, "left")
    columns = [
        level.alias(profile.level_column) if c == f"_current_{profile.level_column}" else c for c in base.columns
    ]
    return joined.select(*columns)
