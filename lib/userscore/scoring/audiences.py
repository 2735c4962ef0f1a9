"""Audiences: segment members per family from rules over scores and tags, with a control group.

Within a family a user gets the first matching segment by priority (one CASE per family), so each user
is in at most one segment per family. Strategy, channel, priority and control share come from a small
lookup (one row per segment) joined by broadcast. The control flag is a deterministic hash of
(salt, family, user_id): ``int(md5('salt|family|user_id')[:8], 16) / 2**32 < control_share``, the same
on every run and every date, reproducible outside Spark.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.segments import SegmentsConfig
from userscore.hashing import uniform_hash
from userscore.persons import member_columns

MEMBER_COLUMNS = (
    "as_of_date",
    "family",
    "segment",
    "user_id",
    "strategy",
    "channel",
    "priority",
    "is_control",
    "scored_at",
)
_LOOKUP_SCHEMA = T.StructType(
    [
        T.StructField("family", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("strategy", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("priority", T.IntegerType(), False),
        T.StructField("control_share", T.DoubleType(), False),
    ]
)


def family_segment(segments: SegmentsConfig, family_id: str) -> Column:
    """The id of the first segment of the family whose rule holds (by priority), else null."""
    expr = None
    for segment_id, spec in segments.families[family_id].ordered():
        holds = F.coalesce(F.expr(spec.rule).cast("boolean"), F.lit(False))
        expr = F.when(holds, F.lit(segment_id)) if expr is None else expr.when(holds, F.lit(segment_id))
    return expr


def segment_lookup(spark, segments: SegmentsConfig) -> DataFrame:
    """One row per (family, segment) with its strategy, channel, priority and control share."""
    rows = [
        (family_id, segment_id, spec.strategy, spec.channel, spec.priority, float(family.share(spec)))
        for family_id, family in segments.families.items()
        for segment_id, spec in family.segments.items()
    ]
    return spark.createDataFrame(rows, _LOOKUP_SCHEMA)


def segment_members(scores: DataFrame, segments: SegmentsConfig) -> DataFrame:
    """One row per (user, family) whose user matches a segment of the family (``MEMBER_COLUMNS``; rows keyed by
    person also carry ``member_user_ids``, for the consent check, which the written tables leave out)."""
    if not segments.families:
        raise ValueError("no segment families in config (segments.families)")
    choices = F.array(
        *[F.struct(F.lit(f).alias("family"), family_segment(segments, f).alias("segment")) for f in segments.families]
    )
    persons = member_columns(scores)
    members = scores.select(
        "user_id",
        "as_of_date",
        "scored_at",
        *persons,
        F.explode(F.filter(choices, lambda c: c["segment"].isNotNull())).alias("_m"),
    ).select("user_id", "as_of_date", "scored_at", *persons, "_m.family", "_m.segment")
    lookup = F.broadcast(segment_lookup(scores.sparkSession, segments))
    control = uniform_hash(segments.control_salt, F.col("family"), F.col("user_id")) < F.col("control_share")
    return members.join(lookup, ["family", "segment"]).select(
        "as_of_date", "family", "segment", "user_id", "strategy", "channel", "priority",
        control.alias("is_control"), "scored_at", *persons,
    )  # fmt: skip
