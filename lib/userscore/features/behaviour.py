"""Behaviour family: activity from events before D (measures, trends and ratios in config).

Default measures (``features.behaviour``), each per window N (events in [D - N days, D)): logins,
active_days (distinct UTC dates with any event), page_views, dwell_seconds, favorites, carts, shares,
comments, searches; days_since_last_activity over all history (tenure_days + 1 for users without
events); trend ratios ``<measure>_trend`` = (last trend_days + 1) / (previous trend_days + 1), which is
1.0 for users without activity in either period. Users without events get 0 counts.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from userscore.config.features import FeaturesConfig
from userscore.features.measures import with_ratios


def finish(df: DataFrame, config: FeaturesConfig) -> DataFrame:
    """Add the configured ratios (measures and trends are finished by :func:`measures.finish_measures`)."""
    return with_ratios(df, config.behaviour.ratios)
