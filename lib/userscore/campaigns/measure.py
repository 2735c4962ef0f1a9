"""Cells of campaigns.lift: one aggregation pass over the units gives each (campaign, breakdown, cell, arm)
its counts and exact sums, a second its bucket sums for the bootstrap; the lift of every cell is then
computed on the driver from those bounded aggregates (cells x arms x buckets rows, whatever the sends).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.campaigns.stats import NONE, absolute_lift, bootstrap_interval, mean_difference, relative_lift
from userscore.config.campaigns import CampaignsConfig
from userscore.hashing import uniform_hash
from userscore.uplift.units import CONTROL, TREATMENT, cell_column

ALL = "all"
_BUCKET_SALT = "userscore-campaign-bootstrap"


@dataclass(frozen=True)
class Campaign:
    """What a cell needs to know of its campaign."""

    campaign_id: str
    campaign_date: dt.date
    campaign_type: str | None
    window_days: int | None
    window_complete: bool
    margin_rate: float | None


@dataclass(frozen=True)
class ArmTotals:
    users: int = 0
    contaminated: int = 0
    responders: int = 0
    conversions: int = 0
    revenue_cents: int = 0
    revenue_sq_cents: int = 0
    cost: float = 0.0


def exploded_cells(units: DataFrame, cfg: CampaignsConfig) -> DataFrame:
    """Each unit once per breakdown (``all`` first), with its ``breakdown`` and ``cell``."""
    breakdowns = {ALL: (), **{name: b.dimensions for name, b in cfg.breakdowns.items()}}
    cells = F.array(
        *[F.struct(F.lit(n).alias("breakdown"), cell_column(d).alias("cell")) for n, d in breakdowns.items()]
    )
    return units.select("*", F.explode(cells).alias("_c")).select("*", "_c.breakdown", "_c.cell").drop("_c")


def arm_totals(cells: DataFrame) -> dict[tuple[str, str, str, str], ArmTotals]:
    """(campaign, breakdown, cell, arm) -> its totals (one aggregation; the rows are the cells)."""
    rows = (
        cells.groupBy("campaign_id", "breakdown", "cell", "arm")
        .agg(
            F.count(F.lit(1)).alias("users"),
            F.count_if("contaminated").alias("contaminated"),
            F.count_if("responded").alias("responders"),
            F.count_if("converted").alias("conversions"),
            F.sum("revenue_cents").alias("revenue_cents"),
            F.sum(F.col("revenue_cents").cast("decimal(38,0)") * F.col("revenue_cents")).alias("revenue_sq_cents"),
            F.sum(F.round(F.col("cost") * 100).cast("long")).alias("cost_cents"),
        )
        .collect()
    )
    return {
        (r.campaign_id, r.breakdown, r.cell, r.arm): ArmTotals(
            users=r.users,
            contaminated=r.contaminated,
            responders=r.responders,
            conversions=r.conversions,
            revenue_cents=int(r.revenue_cents or 0),
            revenue_sq_cents=int(r.revenue_sq_cents or 0),
            cost=(r.cost_cents or 0) / 100,
        )
        for r in rows
    }


def bucket_sums(cells: DataFrame, buckets: int) -> dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]]:
    """(campaign, breakdown, cell, arm) -> (revenue cents, users) per bucket 0..buckets-1; a user's bucket is
    a hash of (campaign, user), the same in every breakdown."""
    bucket = F.floor(uniform_hash(_BUCKET_SALT, "campaign_id", "user_id") * buckets).cast("int")
    rows = (
        cells.groupBy("campaign_id", "breakdown", "cell", "arm", bucket.alias("bucket"))
        .agg(F.sum("revenue_cents").alias("cents"), F.count(F.lit(1)).alias("users"))
        .collect()
    )
    out: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]] = defaultdict(
        lambda: (np.zeros(buckets, dtype=np.int64), np.zeros(buckets, dtype=np.int64))
    )
    for r in rows:
        cents, users = out[(r.campaign_id, r.breakdown, r.cell, r.arm)]
        cents[r.bucket] = r.cents
        users[r.bucket] = r.users
    return out


def unreadable_reason(campaign: Campaign, overall: Mapping[str, ArmTotals], cfg: CampaignsConfig) -> str | None:
    """Why a campaign's lift is not reported (from its ``all`` cell), or None."""
    treated, control = overall.get(TREATMENT, ArmTotals()), overall.get(CONTROL, ArmTotals())
    assigned = control.users + treated.contaminated
    if campaign.campaign_type is None:
        return "no campaign type matches its id (campaigns.types)"
    if assigned == 0:
        return "empty control group"
    if treated.contaminated > cfg.max_contamination_share * assigned:
        return (
            f"contaminated control: {treated.contaminated} of {assigned} control users were contacted "
            f"(above {cfg.max_contamination_share:.1%})"
        )
    if control.users < cfg.min_group_size:
        return f"control group too small: {control.users} users (campaigns.min_group_size {cfg.min_group_size})"
    if treated.users == 0:
        return "no treated users"
    return None


def lift_rows(
    campaigns: Mapping[str, Campaign],
    totals: Mapping[tuple[str, str, str, str], ArmTotals],
    buckets: Mapping[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]],
    cfg: CampaignsConfig,
    as_of: dt.date,
) -> Iterator[dict[str, Any]]:
    """One row of campaigns.lift per (campaign, breakdown, cell)."""
    keys = sorted({k[:3] for k in totals})
    for campaign_id, breakdown, cell in keys:
        campaign = campaigns[campaign_id]
        overall = {arm: totals.get((campaign_id, ALL, ALL, arm), ArmTotals()) for arm in (TREATMENT, CONTROL)}
        reason = unreadable_reason(campaign, overall, cfg)
        arms = {arm: totals.get((campaign_id, breakdown, cell, arm), ArmTotals()) for arm in (TREATMENT, CONTROL)}
        boot = {arm: buckets.get((campaign_id, breakdown, cell, arm)) for arm in (TREATMENT, CONTROL)}
        yield cell_row(campaign, breakdown, cell, arms, boot, reason, cfg, as_of)


def cell_row(
    campaign: Campaign,
    breakdown: str,
    cell: str,
    arms: Mapping[str, ArmTotals],
    boot: Mapping[str, tuple[np.ndarray, np.ndarray] | None],
    reason: str | None,
    cfg: CampaignsConfig,
    as_of: dt.date,
) -> dict[str, Any]:
    t, c = arms[TREATMENT], arms[CONTROL]
    readable = reason is None
    confidence = cfg.confidence
    conv = absolute_lift(t.conversions, t.users, c.conversions, c.users, confidence) if readable else NONE
    rel = relative_lift(t.conversions, t.users, c.conversions, c.users, confidence) if readable else NONE
    revenue = (
        mean_difference(
            t.revenue_cents / 100,
            t.revenue_sq_cents / 1e4,
            t.users,
            c.revenue_cents / 100,
            c.revenue_sq_cents / 1e4,
            c.users,
            confidence,
        )  # fmt: skip
        if readable
        else NONE
    )
    boot_cents = NONE
    if readable and boot[TREATMENT] is not None and boot[CONTROL] is not None:
        b = cfg.bootstrap
        boot_cents = bootstrap_interval(boot[TREATMENT], boot[CONTROL], b.replicates, b.seed, confidence)
    incremental_revenue = _times(revenue.estimate, t.users)
    margin = _times(incremental_revenue, campaign.margin_rate)
    return {
        "campaign_date": campaign.campaign_date,
        "as_of_date": as_of,
        "campaign_id": campaign.campaign_id,
        "campaign_type": campaign.campaign_type,
        "window_days": campaign.window_days,
        "window_complete": campaign.window_complete,
        "breakdown": breakdown,
        "cell": cell,
        "treated_users": t.users,
        "control_users": c.users,
        "contaminated_control_users": t.contaminated,
        "treated_responders": t.responders,
        "response_rate": _share(t.responders, t.users),
        "treated_conversions": t.conversions,
        "control_conversions": c.conversions,
        "conversion_rate_treated": _share(t.conversions, t.users),
        "conversion_rate_control": _share(c.conversions, c.users),
        "abs_lift": conv.estimate,
        "abs_lift_low": conv.low,
        "abs_lift_high": conv.high,
        "rel_lift": rel.estimate,
        "rel_lift_low": rel.low,
        "rel_lift_high": rel.high,
        "revenue_per_user_treated": _share(t.revenue_cents / 100, t.users),
        "revenue_per_user_control": _share(c.revenue_cents / 100, c.users),
        "revenue_lift": revenue.estimate,
        "revenue_lift_low": revenue.low,
        "revenue_lift_high": revenue.high,
        "revenue_lift_boot_low": _cents(boot_cents.low),
        "revenue_lift_boot_high": _cents(boot_cents.high),
        "incremental_conversions": _times(conv.estimate, t.users),
        "incremental_revenue": incremental_revenue,
        "incremental_margin": margin,
        "cost": t.cost,
        "roi": (margin - t.cost) / t.cost if margin is not None and t.cost > 0 else None,
        "min_sample": min(t.users, c.users) < cfg.min_group_size,
        "readable": readable,
        "unreadable_reason": reason,
    }


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _times(value: float | None, factor: float | None) -> float | None:
    return None if value is None or factor is None else value * factor


def _cents(value: float | None) -> float | None:
    return None if value is None else value / 100
