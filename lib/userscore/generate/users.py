"""User profiles as landed: registration, demographics, current member level and contact data."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.identity import email, person_index, phone
from userscore.generate.timeline import iso_utc


def raw_users(users: DataFrame, current_levels: DataFrame, cfg: GenerateConfig) -> DataFrame:
    """The landing contract's user rows from a user frame and each user's highest level reached.

    A person's further accounts carry the phone number of its primary account (the e-mail is their own).

    ``member_level`` is the current level (the last upgrade, basic without one); ``updated_at`` is the
    last upgrade, else the start of the user's history (registration or the window start).
    """
    seed = cfg.seed
    names = F.array(*(F.lit(level) for level in cfg.member_levels))
    joined = users.join(current_levels, "idx", "left")
    return joined.select(
        "user_id",
        iso_utc(F.col("reg")).alias("registered_at"),
        F.col("reg_channel").alias("registration_channel"),
        "gender",
        "age_band",
        "region",
        names[F.coalesce(F.col("level"), F.lit(0))].alias("member_level"),
        phone(seed, person_index(cfg, F.col("idx"))).alias("phone"),
        email(seed, F.col("idx")).alias("email"),
        iso_utc(F.coalesce(F.col("level_ts"), F.col("start"))).alias("updated_at"),
    )
