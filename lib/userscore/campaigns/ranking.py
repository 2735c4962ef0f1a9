"""How well a score at the send ranks a campaign's uplift: would contacting the highest-scored users first
have changed more of them than contacting at random? A propensity score (likely buyers) often does not:
the likeliest buyers buy anyway. One row of campaigns.ranking per readable campaign and numeric score."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.campaigns.measure import Campaign
from userscore.uplift.metrics import uplift_metrics
from userscore.uplift.units import TREATMENT


def ranking_rows(
    units: DataFrame, campaigns: Sequence[Campaign], scores: Sequence[str], k: float, as_of: dt.date
) -> list[dict[str, Any]]:
    """The uplift metrics of each score over each campaign's units that have it (both arms; the outcome is
    ``converted``; ties at the top k broken by user id); none for a campaign none of whose users has it (no
    scored date at or before its send)."""
    rows = []
    for campaign in campaigns:
        mine = units.where(F.col("campaign_id") == campaign.campaign_id).select(
            "user_id", (F.col("arm") == TREATMENT).cast("int").alias("_t"), F.col("converted").cast("int").alias("_y"),
            *scores,
        )  # fmt: skip
        for score in scores:
            have = mine.where(F.col(score).isNotNull())
            metrics = uplift_metrics(have, score, "_t", "_y", order_by="user_id", k=k)
            if metrics.rows == 0:
                continue
            rows.append(
                {
                    "campaign_date": campaign.campaign_date,
                    "as_of_date": as_of,
                    "campaign_id": campaign.campaign_id,
                    "score": score,
                    "scored_users": metrics.rows,
                    "qini_coefficient": metrics.qini_coefficient,
                    "uplift_auc": metrics.uplift_auc,
                    "k": k,
                    "uplift_at_k": metrics.uplift_at_k,
                }
            )
    return rows
