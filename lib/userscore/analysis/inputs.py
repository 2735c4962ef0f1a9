"""What every analysis reads and returns: the snapshot's inputs, loaded once by the job, and its output.

Each analysis module (funnels, paths, consumption, interests) exposes
``analyse(inputs: AnalysisInputs, config: Config) -> AnalysisOutput``: pure DataFrame work, no reads or
writes of its own, so it is tested on hand-made frames and the job owns every table access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame


@dataclass(frozen=True)
class AnalysisInputs:
    """One snapshot D's inputs (every frame already restricted to data before D).

    events: silver.events rows with event_ts in [D - lookback, D), at most the configured number of
        events per user (the latest ones; users over the cap are listed in ``capped_users``).
    orders: silver.orders rows with order_ts < D, refunds as known before D applied (userscore.refunds).
    users: silver.users profiles of users registered before D, with member_level the level held at D
        (from the features partition D: silver.users keeps only the latest level).
    scores: scores.user_scores partition D (user_id, grade, tiers, tags, ... ) - the breakdown columns.
    features: features.user_features partition D.
    segments: audiences.segment_members partition D.
    """

    as_of: dt.date
    events: DataFrame
    orders: DataFrame
    users: DataFrame
    scores: DataFrame
    features: DataFrame
    segments: DataFrame
    capped_users: DataFrame


@dataclass(frozen=True)
class AnalysisOutput:
    """What one analysis produced for D: table name -> rows of its partition D (each with as_of_date),
    and lines for the job summary."""

    tables: Mapping[str, DataFrame]
    summary: Sequence[str] = field(default_factory=tuple)
