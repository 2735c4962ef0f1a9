"""RFM core: recency, frequency and monetary per window, time-decayed F and M, and the 1..bins scores.

The measures themselves are config (``features.rfm.measures``) compiled by :mod:`.measures` into the one
orders aggregation. This module adds what is RFM-specific:
- :func:`rfm_core`: the core measures alone from the orders (the benchmark's like-for-like computation);
- :func:`score_rfm`: R, F, M scores from per-snapshot quantile boundaries over buyers, FM, the weighted
  rfm_score and the segment.

Buyers: users with at least one order counted by the recency measure (by default a non-refunded order)
before D define the R boundaries; users with at least one such order in the score window define the F
and M boundaries. Everyone else gets score 1 for that column (so a user without orders has R = F = M = 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.features import FeaturesConfig, MeasureSpec, RfmConfig
from userscore.features.binning import BinSpec, ColumnBins, quantile_bins, score_column
from userscore.features.measures import (
    Timing,
    aggregate_measures,
    internal_column,
    point_in_time,
)
from userscore.features.segments import fm_score, segment
from userscore.keys import USER_ID
from userscore.refunds import refunds_as_of

BUYER = "_rfm_buyer"
NO_ORDERS_SCORE = 1


def core_measures(rfm: RfmConfig) -> dict[str, MeasureSpec]:
    """The recency, frequency and monetary measures the scores use."""
    return {name: rfm.measures[name] for name in (rfm.recency, rfm.frequency, rfm.monetary)}


def buyer_flag(rfm: RfmConfig) -> Column:
    """True for users with an order counted by the recency measure (evaluated on the aggregated row)."""
    return F.col(internal_column(rfm.recency, "last")).isNotNull()


def rfm_core(orders: DataFrame, as_of: dt.date, config: FeaturesConfig) -> DataFrame:
    """recency_days, frequency_<N>d and monetary_<N>d per user with orders before ``as_of``.

    The same code path as the snapshot's orders aggregation, restricted to the core measures; recency is
    null for users whose orders are all excluded (e.g. all refunded before D). Used to benchmark like with like.
    """
    source = config.sources.orders
    timing = Timing.of(as_of, config)
    measures = core_measures(config.rfm)
    rows = point_in_time(orders, source.time, source.month, as_of).transform(refunds_as_of, timing.as_of_ts)
    aggregated = aggregate_measures(rows, measures, source.time, timing)
    last = F.col(internal_column(config.rfm.recency, "last"))
    windowed = [c for c in aggregated.columns if c != USER_ID and not c.startswith("_")]
    return aggregated.select(
        USER_ID,
        F.datediff(F.lit(as_of), F.to_date(last)).alias(config.rfm.recency),
        *[F.coalesce(F.col(c), F.lit(0)).alias(c) for c in windowed],
    )


def bin_specs(rfm: RfmConfig) -> list[BinSpec]:
    """R over buyers (lower recency is better), F and M over buyers in the score window."""
    frequency = f"{rfm.frequency}_{rfm.score_window}d"
    monetary = f"{rfm.monetary}_{rfm.score_window}d"
    in_window = F.col(frequency) > 0
    return [
        BinSpec(rfm.recency, F.col(BUYER), higher_is_better=False),
        BinSpec(frequency, in_window),
        BinSpec(monetary, in_window),
    ]


def score_rfm(
    features: DataFrame, rfm: RfmConfig, published: Sequence[ColumnBins] | None = None
) -> tuple[DataFrame, list[ColumnBins]]:
    """Add r/f/m/fm scores, rfm_score and rfm_segment; return the frame and the bins used (for audit).

    ``features`` carries the finished RFM measures and the internal buyer flag (dropped here). The bins
    are ``published`` ones (a snapshot's, in :func:`bin_specs` order) or computed over ``features``, which
    is then read twice (boundaries, then scores): persist it first.
    """
    specs = bin_specs(rfm)
    if published is None:
        all_bins = quantile_bins(features, specs, rfm.bins, rfm.relative_error)
    else:
        all_bins = list(published)
        expected = [spec.column for spec in specs]
        if [b.column for b in all_bins] != expected:
            raise ValueError(f"published RFM bins are for {[b.column for b in all_bins]}, expected {expected}")
    r, f, m = (
        score_column(F.col(spec.column), spec.population, bins, NO_ORDERS_SCORE)
        for spec, bins in zip(specs, all_bins, strict=True)
    )
    w = rfm.weights
    weighted = (F.col("r_score") * w.r + F.col("f_score") * w.f + F.col("m_score") * w.m) / (w.r + w.f + w.m)
    scored = (
        features.withColumns({"r_score": r, "f_score": f, "m_score": m})
        .withColumn("fm_score", fm_score(F.col("f_score"), F.col("m_score")))
        .withColumn("rfm_score", weighted.cast("double"))
        .withColumn("rfm_segment", segment(F.col("r_score"), F.col("fm_score"), rfm.segments))
        .drop(BUYER)
    )
    return scored, all_bins
