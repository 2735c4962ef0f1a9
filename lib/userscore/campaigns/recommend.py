"""What to do next: how many users to contact, per campaign type with an uplift model, judged from the scores
(campaigns.recommendations).

The scored users (those with ``<type>_uplift`` in the latest scores at or before D) are ranked by their
uplift, highest first. The audience of share s is every user whose uplift reaches the ceil(s n)-th highest
(the cut, an approximate quantile; users tied at it are all in). Its expected incremental conversions are
the sum of its uplifts, its expected net margin the sum of ``<type>_net_margin`` (uplift x margin per
conversion - contact cost). Two passes over the scores whatever their size: one aggregation gives every
type's cuts, then one grouped aggregation counts and sums each user's first audience (the number of cuts
above its uplift); at most types x (shares + 1) rows reach the driver, where the audiences are running sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config.campaigns import CampaignsConfig
from userscore.config.scoring import UpliftOutput
from userscore.keys import AS_OF
from userscore.scoring.audiences import top_share_cuts


@dataclass(frozen=True)
class Bucket:
    """The users whose first audience is one share: how many, their uplift and net margin sums."""

    users: int = 0
    uplift: float = 0.0
    net_margin: float = 0.0


@dataclass(frozen=True)
class AudienceTotals:
    """One type's scored users, the cut of each positive share (highest uplift first) and the buckets:
    bucket i holds the users first contacted at the i-th positive share."""

    campaign_type: str
    scored_users: int
    model_version: str | None
    cuts: tuple[float, ...] = ()
    buckets: Mapping[int, Bucket] = field(default_factory=dict)


def columns_of(campaign_type: str) -> tuple[str, str, str]:
    """The uplift, net margin and model version columns of a type's scores."""
    return tuple(UpliftOutput.column(campaign_type, s) for s in ("uplift", "net_margin", "uplift_model_version"))


def audience_totals(scores: DataFrame, types: Sequence[str], shares: Sequence[float]) -> dict[str, AudienceTotals]:
    """The totals of each of ``types`` (whose uplift and net margin are columns of ``scores``, one snapshot)
    over the positive ``shares`` (increasing); two aggregations, bounded results."""
    head = []
    for t in types:
        uplift, _, version = columns_of(t)
        head += [
            F.count(uplift).alias(f"{t}|n"),
            top_share_cuts(F.col(uplift), shares).alias(f"{t}|cuts"),
            (F.max(version) if version in scores.columns else F.lit(None).cast("string")).alias(f"{t}|version"),
        ]
    row = scores.agg(*head).first()
    out = {t: AudienceTotals(t, int(row[f"{t}|n"]), row[f"{t}|version"]) for t in types}
    scored = [t for t in types if out[t].scored_users > 0]
    if not scored:
        return out
    parts = []
    for t in scored:
        uplift, net_margin, _ = columns_of(t)
        first = first_audience(F.col(uplift), row[f"{t}|cuts"])
        parts.append(
            F.when(
                F.col(uplift).isNotNull(),
                F.struct(
                    F.lit(t).alias("t"),
                    first.alias("bucket"),
                    F.col(uplift).cast("double").alias("uplift"),
                    F.col(net_margin).cast("double").alias("net_margin"),
                ),
            )
        )
    grouped = (
        scores.select(F.explode(F.filter(F.array(*parts), lambda p: p.isNotNull())).alias("_u"))
        .groupBy("_u.t", "_u.bucket")
        .agg(F.count(F.lit(1)).alias("users"), F.sum("_u.uplift").alias("u"), F.sum("_u.net_margin").alias("m"))
        .collect()
    )
    buckets: dict[str, dict[int, Bucket]] = {t: {} for t in scored}
    for r in grouped:
        buckets[r.t][r.bucket] = Bucket(r.users, r.u or 0.0, r.m or 0.0)
    for t in scored:
        out[t] = AudienceTotals(t, out[t].scored_users, out[t].model_version, tuple(row[f"{t}|cuts"]), buckets[t])
    return out


def first_audience(uplift: Column, cuts: Sequence[float]) -> Column:
    """The index of the first share whose audience holds the user: the number of ``cuts`` above its uplift
    (a user is in the audience of share i when its uplift reaches cut i, and cuts fall as shares grow)."""
    above = F.array(*[F.lit(c) for c in cuts])
    return F.aggregate(above, F.lit(0), lambda acc, cut: acc + F.when(uplift < cut, 1).otherwise(0))


def recommendation_rows(
    totals: AudienceTotals, contact_cost: float, shares: Sequence[float], as_of: dt.date, scores_date: dt.date
) -> list[dict[str, Any]]:
    """One row of campaigns.recommendations per share (``shares``: 0, then the positive shares of
    ``totals.cuts``); ``best`` on the highest expected net margin, the smallest share on a tie (share 0,
    contact nobody, wins when every audience loses money)."""
    rows = []
    users, uplift, net = 0, 0.0, 0.0
    for i, share in enumerate(shares):
        if i > 0:
            b = totals.buckets.get(i - 1, Bucket())
            users, uplift, net = users + b.users, uplift + b.uplift, net + b.net_margin
        cost = users * contact_cost
        rows.append(
            {
                "as_of_date": as_of,
                "campaign_type": totals.campaign_type,
                "scores_date": scores_date,
                "model_version": totals.model_version,
                "share": share,
                "scored_users": totals.scored_users,
                "users": users,
                "uplift_threshold": totals.cuts[i - 1] if i > 0 else None,
                "expected_incremental_conversions": uplift,
                "expected_incremental_margin": net + cost,
                "contact_cost": cost,
                "expected_net_margin": net,
                "best": False,
            }
        )
    best = max(range(len(rows)), key=lambda i: (rows[i]["expected_net_margin"], -i))
    rows[best]["best"] = True
    return rows


@dataclass(frozen=True)
class Recommended:
    """The rows to write (types x shares) and what kept a type from having any."""

    rows: Sequence[dict[str, Any]]
    notes: Sequence[str]

    @property
    def best(self) -> list[dict[str, Any]]:
        """The best row of each type, in type order."""
        return [r for r in self.rows if r["best"]]


def recommend(catalog: Catalog, cfg: CampaignsConfig, as_of: dt.date) -> Recommended:
    """The recommendations of every type with an uplift model whose uplift and net margin are columns of
    the latest scores at or before D (none, with a note, when there are no such scores or no user has one)."""
    types = cfg.uplift_types
    if not types:
        return Recommended([], [])
    if not catalog.exists(cfg.scores_table):
        return Recommended([], [f"{cfg.scores_table} does not exist: no recommendation"])
    scores = catalog.read(cfg.scores_table)
    scores_date = scores.where(F.col(AS_OF) <= F.lit(as_of)).agg(F.max(AS_OF)).first()[0]
    if scores_date is None:
        return Recommended([], [f"no scores at or before {as_of} in {cfg.scores_table}: no recommendation"])
    present = [t for t in types if all(c in scores.columns for c in columns_of(t)[:2])]
    notes = [f"{t}: {cfg.scores_table} has no {columns_of(t)[0]}: no recommendation" for t in types if t not in present]
    if not present:
        return Recommended([], notes)
    shares = cfg.recommendations.shares
    totals = audience_totals(scores.where(F.col(AS_OF) == F.lit(scores_date)), present, shares[1:])
    rows = []
    for t in present:
        if totals[t].scored_users == 0:
            notes.append(f"{t}: no user has a {columns_of(t)[0]} in the scores of {scores_date}: no recommendation")
            continue
        rows += recommendation_rows(totals[t], cfg.types[t].contact_cost, shares, as_of, scores_date)
    return Recommended(rows, notes)
