"""The rows an uplift model learns from: one user of one campaign of the type, with its arm, whether it
converted in the type's window (as the campaign measurement counts it, userscore.uplift.units) and the
feature snapshot at the send (the latest snapshot at or before the campaign's first send: every feature
of snapshot D is computed from data before D, so nothing after the send leaks in).

Out of time: the latest campaign with both arms of at least ``campaigns.min_group_size`` users validates;
the campaigns sent before it train. Only campaigns whose every window ended by the cut-off are used, so a
conversion still to come is never read as "did not convert".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.rules import RuleError, validate_rule
from userscore.errors import InputError
from userscore.keys import USER_ID
from userscore.models.dataset import FeatureColumns, feature_columns, snapshot_dates
from userscore.uplift.units import TREATMENT, units, with_outcomes

TREATED = "treated"
CONVERTED = "converted"
REVENUE_CENTS = "revenue_cents"
SNAPSHOT = "as_of_date"


class NothingToLearn(InputError):
    """The type has no campaign to hold out, or too few before it (a new deployment, a new type)."""


@dataclass(frozen=True)
class CampaignRole:
    """A campaign of the type as the training sees it (bounded: one per campaign)."""

    campaign_id: str
    campaign_date: dt.date
    snapshot: dt.date | None  # the feature snapshot at its send; None: no snapshot that early
    treated: int
    control: int
    window_complete: bool


@dataclass(frozen=True)
class UpliftData:
    """The units of one campaign type with features (lazy frames) and the campaigns' roles."""

    campaign_type: str
    train: DataFrame
    validation: DataFrame
    columns: FeatureColumns
    train_campaigns: tuple[CampaignRole, ...]
    validation_campaign: CampaignRole
    skipped: tuple[str, ...]  # one line per campaign left out, with the reason


def campaign_roles(sends: DataFrame, config: Config, campaign_type: str, as_of: dt.date, snapshots: Sequence[dt.date]):
    """Every campaign of ``campaign_type`` sent before ``as_of``: its date, arm sizes, whether its windows
    ended by ``as_of`` and its feature snapshot (one row per campaign reaches the driver)."""
    cfg = config.campaigns
    spec = cfg.types[campaign_type]
    rows = (
        sends.where(F.col("sent_at") < F.lit(as_of).cast("timestamp"))
        .groupBy("campaign_id")
        .agg(
            F.to_date(F.min("sent_at")).alias("campaign_date"),
            F.max("sent_at").alias("last_sent_at"),
            F.countDistinct(F.when(F.col("arm") == TREATMENT, F.col(USER_ID))).alias("treated"),
            F.countDistinct(F.when(F.col("arm") != TREATMENT, F.col(USER_ID))).alias("control"),
        )
        .collect()
    )
    end = dt.datetime.combine(as_of, dt.time())
    roles = []
    for r in rows:
        if cfg.type_of(r.campaign_id) != campaign_type:
            continue
        earlier = [d for d in snapshots if d <= r.campaign_date]
        roles.append(
            CampaignRole(
                campaign_id=r.campaign_id,
                campaign_date=r.campaign_date,
                snapshot=max(earlier) if earlier else None,
                treated=int(r.treated),
                control=int(r.control),
                window_complete=r.last_sent_at + dt.timedelta(days=spec.window_days) <= end,
            )
        )
    return sorted(roles, key=lambda c: (c.campaign_date, c.campaign_id))


def split_campaigns(
    roles: Sequence[CampaignRole], min_group_size: int, min_train: int, campaign_type: str
) -> tuple[list[CampaignRole], CampaignRole, list[str]]:
    """(train campaigns, the validation campaign, why each other campaign is left out); InputError when
    there is no campaign to validate on or too few before it (NothingToLearn)."""
    skipped, usable = [], []
    for c in roles:
        if not c.window_complete:
            skipped.append(f"{c.campaign_id}: its attribution window has not ended")
        elif c.snapshot is None:
            skipped.append(f"{c.campaign_id}: no feature snapshot at or before {c.campaign_date}")
        else:
            usable.append(c)
    readable = [c for c in usable if min(c.treated, c.control) >= min_group_size]
    if not readable:
        raise NothingToLearn(
            f"no {campaign_type} campaign with at least {min_group_size} treated and control users, a complete "
            f"window and a feature snapshot at its send: nothing to validate an uplift model on "
            f"({len(roles)} campaigns of the type{': ' + '; '.join(skipped) if skipped else ''})"
        )
    validation = readable[-1]
    train = [c for c in usable if c.campaign_date < validation.campaign_date and c.control > 0 and c.treated > 0]
    skipped += [
        f"{c.campaign_id}: sent on or after the validation campaign's date"
        for c in usable
        if c is not validation and c.campaign_date >= validation.campaign_date
    ]
    skipped += [
        f"{c.campaign_id}: an empty arm"
        for c in usable
        if c.campaign_date < validation.campaign_date and not (c.control > 0 and c.treated > 0)
    ]
    if len(train) < min_train:
        raise NothingToLearn(
            f"{campaign_type}: {len(train)} campaigns before the validation campaign {validation.campaign_id} "
            f"({validation.campaign_date}) with both arms; campaigns.uplift.min_train_campaigns is {min_train}"
        )
    return train, validation, skipped


def uplift_data(catalog: Catalog, config: Config, campaign_type: str, as_of: dt.date) -> UpliftData:
    """The training and validation units of ``campaign_type`` with data complete up to ``as_of`` 00:00."""
    cfg = config.campaigns
    for name in (cfg.sends_table, cfg.responses_table, cfg.orders_table, config.models.inputs.features):
        if not catalog.exists(name):
            raise InputError(f"{name} does not exist at {catalog.location(name)}: run the stages before uplift first")
    features = catalog.read(config.models.inputs.features)
    columns = feature_columns(features.schema, cfg.uplift.features)
    # The eligibility rule's columns too: training reports how many units it admits.
    eligible = cfg.types[campaign_type].uplift.eligible
    try:
        ruled = sorted(validate_rule(eligible, features.columns) - set(columns.all)) if eligible else []
    except RuleError as exc:
        where = f"campaigns.types.{campaign_type}.uplift.eligible on {config.models.inputs.features}"
        raise InputError(f"{where}: {exc}") from exc
    sends = catalog.read(cfg.sends_table)
    roles = campaign_roles(sends, config, campaign_type, as_of, snapshot_dates(features))
    train, validation, skipped = split_campaigns(
        roles, cfg.min_group_size, cfg.uplift.min_train_campaigns, campaign_type
    )
    used = [*train, validation]
    spec = cfg.types[campaign_type]
    picked = sends.where(F.col("campaign_id").isin([c.campaign_id for c in used]))
    dates = catalog.spark.createDataFrame(
        [(c.campaign_id, c.campaign_date) for c in used], "campaign_id string, campaign_date date"
    )
    base = units(
        picked.join(F.broadcast(dates), "campaign_id"),
        catalog.read(cfg.responses_table),
        cfg,
        {c.campaign_id: spec.window_days for c in used},
        as_of,
    )
    events = catalog.read(cfg.events_table) if catalog.exists(cfg.events_table) else None
    conversion = {c.campaign_id: spec.conversion_events for c in used}
    since = min(c.campaign_date for c in used)
    outcomes = with_outcomes(base, catalog.read(cfg.orders_table), events, conversion, as_of, since)
    snapshot_of = catalog.spark.createDataFrame(
        [(c.campaign_id, c.snapshot) for c in used], f"campaign_id string, {SNAPSHOT} date"
    )
    labelled = outcomes.join(F.broadcast(snapshot_of), "campaign_id").select(
        "campaign_id",
        "campaign_date",
        USER_ID,
        SNAPSHOT,
        (F.col("arm") == TREATMENT).cast("int").alias(TREATED),
        F.col("converted").cast("int").alias(CONVERTED),
        REVENUE_CENTS,
    )
    wanted = [USER_ID, SNAPSHOT, *columns.all, *ruled]
    rows = labelled.join(features.select(*wanted), [USER_ID, SNAPSHOT])
    is_validation = F.col("campaign_id") == F.lit(validation.campaign_id)
    return UpliftData(
        campaign_type, rows.where(~is_validation), rows.where(is_validation), columns, tuple(train), validation,
        tuple(skipped),
    )  # fmt: skip
