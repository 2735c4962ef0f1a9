"""Measure the campaigns at D: read sends, responses, orders (events, scores), build the units, aggregate
the cells, compute lift, write campaigns.lift (replaceWhere as_of_date = D) and the HTML report; and from
the latest scores, recommend how many users to contact next (campaigns.recommendations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.campaigns.measure import ALL, Campaign, arm_totals, bucket_sums, exploded_cells, lift_rows
from userscore.campaigns.ranking import ranking_rows
from userscore.campaigns.recommend import recommend
from userscore.catalog import Catalog, declared_schema
from userscore.config.campaigns import CampaignsConfig
from userscore.config.root import Config
from userscore.errors import InputError
from userscore.uplift.units import campaign_sends, numeric_columns, units, with_outcomes, with_scores


@dataclass(frozen=True)
class CampaignReading:
    """What a run at D found: the rows it wrote (bounded: campaigns x cells, types x shares), the report, notes."""

    as_of: dt.date
    rows: Sequence[dict[str, Any]]
    rankings: Sequence[dict[str, Any]]
    recommendations: Sequence[dict[str, Any]]
    report_path: Path
    notes: Sequence[str]

    @property
    def overall(self) -> list[dict[str, Any]]:
        """The whole-campaign rows, by campaign date then id."""
        rows = [r for r in self.rows if r["breakdown"] == ALL]
        return sorted(rows, key=lambda r: (r["campaign_date"], r["campaign_id"]))


def measure_campaigns(
    catalog: Catalog,
    config: Config,
    as_of: dt.date,
    report_path: Path | None,
    stage: Callable[[str], AbstractContextManager],
) -> CampaignReading:
    """Measure every campaign whose first send is in [D - lookback, D); exit 2 before any write when a
    table it needs is missing."""
    cfg = config.campaigns
    for name in (cfg.sends_table, cfg.responses_table, cfg.orders_table):
        if not catalog.exists(name):
            raise InputError(f"{name} does not exist at {catalog.location(name)}: run ingest first")
    notes: list[str] = []
    scores = None
    if cfg.score_columns and catalog.exists(cfg.scores_table):
        scores = catalog.read(cfg.scores_table)
    elif cfg.score_columns:
        notes.append(f"{cfg.scores_table} does not exist: the score breakdowns are 'unknown'")
    events = catalog.read(cfg.events_table) if catalog.exists(cfg.events_table) else None
    catalog.prepare(cfg.lift_table, cfg.ranking_table, cfg.recommendations.table)

    sends = campaign_sends(catalog.read(cfg.sends_table), as_of, cfg.lookback_days)
    with stage("campaigns"):
        campaigns = _campaigns(sends, cfg, as_of)
    if not campaigns:
        start = as_of - dt.timedelta(days=cfg.lookback_days)
        notes.append(f"no campaign with a first send in [{start}, {as_of})")
    windows = {c.campaign_id: c.window_days for c in campaigns.values()}
    conversion_events = {
        c.campaign_id: cfg.types[c.campaign_type].conversion_events for c in campaigns.values() if c.campaign_type
    }
    base = units(sends, catalog.read(cfg.responses_table), cfg, windows, as_of)
    since = min((c.campaign_date for c in campaigns.values()), default=None)
    measured = with_outcomes(base, catalog.read(cfg.orders_table), events, conversion_events, as_of, since)
    scored = with_scores(measured, scores, cfg.score_columns).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        cells = exploded_cells(scored, cfg).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            with stage("aggregate cells"):
                totals = arm_totals(cells)
                buckets = bucket_sums(cells, cfg.bootstrap.buckets)
        finally:
            cells.unpersist()
        rows = list(lift_rows(campaigns, totals, buckets, cfg, as_of))
        readable = [campaigns[r["campaign_id"]] for r in rows if r["breakdown"] == ALL and r["readable"]]
        rankable = numeric_columns(scores, cfg.score_columns) if scores is not None else []
        with stage("rank uplift"):
            rankings = ranking_rows(scored, readable, rankable, cfg.uplift_at_k, as_of)
    finally:
        scored.unpersist()
    with stage("recommend"):
        recommended = recommend(catalog, cfg, as_of)
    notes += recommended.notes
    writes = ((cfg.lift_table, rows), (cfg.ranking_table, rankings), (cfg.recommendations.table, recommended.rows))
    with stage("write"):
        for table, content in writes:
            frame = catalog.spark.createDataFrame(content, declared_schema(catalog.spec(table)))
            catalog.overwrite_where(table, frame, {"as_of_date": as_of})
    with stage("report"):
        from userscore.campaigns.report import write_report  # matplotlib loads only when a report is drawn

        path = report_path or config.path(cfg.report_dir) / f"campaigns-{as_of.isoformat()}.html"
        write_report(rows, rankings, recommended.rows, cfg, as_of, path)
    return CampaignReading(as_of, rows, rankings, recommended.rows, path, notes)


def _campaigns(sends: DataFrame, cfg: CampaignsConfig, as_of: dt.date) -> dict[str, Campaign]:
    """campaign id -> its date, type, window and whether every send's window ended by D (one row per
    campaign reaches the driver)."""
    rows = sends.groupBy("campaign_id", "campaign_date").agg(F.max("sent_at").alias("last_sent_at")).collect()
    end = dt.datetime.combine(as_of, dt.time())
    out = {}
    for r in rows:
        kind = cfg.type_of(r.campaign_id)
        spec = cfg.types[kind] if kind else None
        out[r.campaign_id] = Campaign(
            campaign_id=r.campaign_id,
            campaign_date=r.campaign_date,
            campaign_type=kind,
            window_days=spec.window_days if spec else None,
            window_complete=bool(spec) and r.last_sent_at + dt.timedelta(days=spec.window_days) <= end,
            margin_rate=spec.margin_rate if spec else None,
        )
    return out
