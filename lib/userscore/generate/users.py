"""User profiles as landed: registration, demographics, current member level and contact data."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.generate.identity import email, phone
from userscore.generate.timeline import iso_utc


def raw_users(users: DataFrame, current_levels: DataFrame, levels: tuple[str, ...], seed: int) -> DataFrame:
    """The landing contract's user rows from a user frame and each user's highest level reached.

    ``member_level`` is the current level (the last upgrade, basic without one); ``updated_at`` is the
    last upgrade, else the start of the user's history (registration or the window start).
    """
    names = F.array(*(F.lit(level) for level in levels))
    joined = users.join(current_levels, "idx", "left")
    return joined.select(
        "user_id",
        iso_utc(F.col("reg")).alias("registered_at"),
        F.col("reg_channel").alias("registration_channel"),
        "gender",
        "age_band",
        "region",
        names[F.coalesce(F.col("level"), F.lit(0))].alias("member_level"),
        phone(seed, F.col("idx")).alias("phone"),
        email(seed, F.col("idx")).alias("email"),
        iso_utc(F.coalesce(F.col("level_ts"), F.col("start"))).alias("updated_at"),
    )
