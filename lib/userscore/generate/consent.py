"""Consent per purpose: a grant at registration for most users, a withdrawal later for some.

Each (user, purpose) draws independently from the seed, so adding a purpose changes no other record.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.random import uniform
from userscore.generate.timeline import Timeline, iso_utc


def consents(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """Raw consent records (``consent_id, user_id, purpose, status, consented_at``) of a user frame."""
    s, idx = cfg.seed, F.col("idx")
    records = []
    for purpose, grant_share in cfg.consent_grant_share.items():
        withdraw_share = cfg.consent_withdraw_share.get(purpose, 0.0)
        granted = uniform(s, f"consent-{purpose}", idx) < grant_share
        withdrawn = granted & (uniform(s, f"consent-{purpose}-withdraw", idx) < withdraw_share)
        # Withdrawn at a uniform time between the grant and the end of the history (at least one second on).
        span = F.greatest(F.lit(timeline.end).cast("long") - F.col("reg") - 1, F.lit(1))
        withdrawn_at = F.col("reg") + 1 + F.floor(span * uniform(s, f"consent-{purpose}-when", idx)).cast("long")

        def record(status: str, at, purpose: str = purpose):
            return F.struct(F.lit(purpose).alias("purpose"), F.lit(status).alias("status"), at.alias("at"))

        records.append(F.when(granted, F.array(record("granted", F.col("reg")))).otherwise(F.array()))
        records.append(F.when(withdrawn, F.array(record("withdrawn", withdrawn_at))).otherwise(F.array()))
    rows = users.select("user_id", F.explode(F.concat(*records)).alias("c"))
    return rows.select(
        F.format_string("c-%s-%s-%s", F.col("user_id").substr(3, 100), "c.purpose", "c.status").alias("consent_id"),
        "user_id",
        F.col("c.purpose").alias("purpose"),
        F.col("c.status").alias("status"),
        iso_utc(F.col("c.at")).alias("consented_at"),
    )
