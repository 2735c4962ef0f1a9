"""Audiences: segment members per family from rules over scores and tags, with a control group.

Within a family a user gets the first matching segment by priority (one CASE per family), so each user
is in at most one segment per family. Strategy, channel, priority and control share come from a small
lookup (one row per segment) joined by broadcast. The control flag is a deterministic hash of
(salt, family, user_id): ``int(md5('salt|family|user_id')[:8], 16) / 2**32 < control_share``, the same
on every run and every date, reproducible outside Spark.

A ranked segment (``rank_by``, ``top_share``) holds where its rule holds and ``rank_by`` reaches the segment's
cut: the value of the ceil(top_share x n)-th highest ``rank_by`` among the n users whose rule holds (ties at
the cut all kept). ONE aggregation (approximate percentiles, one number per ranked segment to the driver)
gives every cut before the CASE is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.segments import SegmentsConfig, SegmentSpec
from userscore.filters import rule_holds
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
# percentile_approx's accuracy: a cut's rank is off by at most n / 10,000 users (exact on small data).
QUANTILE_ACCURACY = 10_000
# Shares are nudged down by this relative amount: 0.55 x 100 is 55.00000000000001 in floating point, and
# Spark's ceil(share x n) would then cut one user lower than the share means.
_SHARE_NUDGE = 1e-9

Cuts = Mapping[tuple[str, str], float | None]


def top_share_cuts(value: Column, shares: Sequence[float]) -> Column:
    """An aggregate: for each share s, the ceil(s x n)-th highest of the n non-null ``value`` (array, in the
    order of ``shares``; null when n = 0). ``value >= cut`` keeps the top share, every tie at the cut too."""
    nudged = [s * (1 - _SHARE_NUDGE) for s in shares]
    # The highest values are the lowest of -value: its percentile at s is minus the cut.
    lowest = F.percentile_approx(-value.cast("double"), nudged, QUANTILE_ACCURACY)
    return F.transform(lowest, lambda cut: -cut)


def rank_cuts(scores: DataFrame, segments: SegmentsConfig) -> Cuts:
    """(family, segment) -> the cut of each ranked segment (None: no user has both the rule and a value),
    from one aggregation over ``scores``; empty without ranked segments (no Spark job)."""
    ranked = [(f, s, spec) for f, family in segments.families.items() for s, spec in family.ordered() if spec.ranked]
    if not ranked:
        return {}
    row = scores.agg(
        *[
            top_share_cuts(F.when(rule_holds(spec.rule), F.col(spec.rank_by)), [spec.top_share]).alias(str(i))
            for i, (_, _, spec) in enumerate(ranked)
        ]
    ).first()
    return {(f, s): (row[i] or [None])[0] for i, (f, s, _) in enumerate(ranked)}


def segment_holds(spec: SegmentSpec, cut: float | None) -> Column:
    """The rule, and for a ranked segment ``rank_by >= cut`` (nobody when no cut)."""
    if not spec.ranked:
        return rule_holds(spec.rule)
    if cut is None:
        return F.lit(False)
    return rule_holds(spec.rule) & F.coalesce(F.col(spec.rank_by) >= F.lit(cut), F.lit(False))


def family_segment(segments: SegmentsConfig, family_id: str, cuts: Cuts) -> Column:
    """The id of the first segment of the family that holds (by priority), else null; ``cuts``: from
    :func:`rank_cuts`."""
    expr = None
    for segment_id, spec in segments.families[family_id].ordered():
        holds = segment_holds(spec, cuts[(family_id, segment_id)] if spec.ranked else None)
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
    person also carry ``member_user_ids``, for the consent check, which the written tables leave out).
    With ranked segments, their cuts are computed here (one aggregation over ``scores``: persist it first)."""
    if not segments.families:
        raise ValueError("no segment families in config (segments.families)")
    cuts = rank_cuts(scores, segments)
    choices = F.array(
        *[
            F.struct(F.lit(f).alias("family"), family_segment(segments, f, cuts).alias("segment"))
            for f in segments.families
        ]
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
