"""Load one snapshot D's analysis inputs, point in time, with the per-user event cap for bots.

Every precondition is checked here, before the job writes anything: each input table exists, and the
scores and features partitions D hold rows (InputError, exit code 2, otherwise). Everything else is lazy.

Point in time: events in [D - lookback_days, D), orders before D with refunds as known before D
(userscore.refunds), users registered before D, the scores, features and segment members of partition D.

Bots: a user may generate millions of events, and every per-user step (funnels, sessions) groups a user's
events in one task. Only the latest ``max_events_per_user`` events of each user are kept (ties on the
timestamp broken by event_id, so the cut is deterministic); the users over the cap are listed with their
event count in ``capped_users``.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.analysis.inputs import AnalysisInputs
from userscore.catalog import Catalog, declared_schema
from userscore.config import Config
from userscore.errors import InputError
from userscore.keys import AS_OF, USER_ID
from userscore.refunds import refunds_as_of

EVENTS_IN_WINDOW = "events_in_window"
EVENTS_KEPT = "events_kept"
_RANK = "_event_rank"
_SHOWN_DATES = 12


def at_midnight(day: dt.date) -> Column:
    """``day`` 00:00 as a timestamp in the session time zone (UTC), as every snapshot computation uses it."""
    return F.lit(day).cast("timestamp")


def cap_events(events: DataFrame, cap: int) -> DataFrame:
    """The latest ``cap`` events of each user (ties on event_ts broken by the larger event_id).

    A row_number filtered by ``<= cap``: Spark plans it as a per-group limit applied before the shuffle as
    well as after (WindowGroupLimit), so a bot's events are cut to ``cap`` per map task before they meet.
    """
    latest = Window.partitionBy(USER_ID).orderBy(F.col("event_ts").desc(), F.col("event_id").desc())
    return events.withColumn(_RANK, F.row_number().over(latest)).where(F.col(_RANK) <= cap).drop(_RANK)


def capped_users(events: DataFrame, cap: int) -> DataFrame:
    """(user_id, events_in_window, events_kept) of the users with more than ``cap`` events."""
    return (
        events.groupBy(USER_ID)
        .agg(F.count(F.lit(1)).alias(EVENTS_IN_WINDOW))
        .where(F.col(EVENTS_IN_WINDOW) > cap)
        .withColumn(EVENTS_KEPT, F.lit(cap).cast("long"))
    )


def _require(catalog: Catalog, name: str, key: str) -> DataFrame:
    if not catalog.exists(name):
        raise InputError(
            f"{name} (analysis.inputs.{key}) does not exist at {catalog.location(name)}: "
            "run the job that writes it first"
        )
    return catalog.read(name)


def _partition(catalog: Catalog, name: str, key: str, as_of: dt.date, writer: str) -> DataFrame:
    """Partition ``as_of`` of a snapshot table; InputError naming the dates it has when it holds no rows."""
    table = _require(catalog, name, key)
    rows = table.where(F.col(AS_OF) == F.lit(as_of))
    if rows.limit(1).count() == 0:
        dates = sorted(r[0] for r in table.select(AS_OF).distinct().collect())  # one row per snapshot
        shown = [d.isoformat() for d in dates[-_SHOWN_DATES:]]
        raise InputError(f"{name} has no partition as_of_date={as_of} (snapshots: {shown}): run `{writer}` first")
    return rows


def _segments(catalog: Catalog, config: Config, as_of: dt.date) -> DataFrame:
    """Segment members of D; an empty frame when no segment family is configured (score writes none)."""
    name = config.analysis.inputs.segments
    if not config.segments.families and not catalog.exists(name):
        return catalog.spark.createDataFrame([], declared_schema(catalog.spec(name)))
    return _require(catalog, name, "segments").where(F.col(AS_OF) == F.lit(as_of))


def load_inputs(catalog: Catalog, config: Config, as_of: dt.date) -> AnalysisInputs:
    """Snapshot ``as_of``'s inputs (lazy frames), after checking every precondition (InputError)."""
    settings = config.analysis
    names = settings.inputs
    scores = _partition(catalog, names.scores, "scores", as_of, f"userscore score --as-of {as_of}")
    features = _partition(catalog, names.features, "features", as_of, f"userscore features --as-of {as_of}")
    segments = _segments(catalog, config, as_of)
    end = at_midnight(as_of)
    start = at_midnight(as_of - dt.timedelta(days=settings.lookback_days))
    window = _require(catalog, names.events, "events").where((F.col("event_ts") >= start) & (F.col("event_ts") < end))
    orders = _require(catalog, names.orders, "orders").where(F.col("order_ts") < end).transform(refunds_as_of, end)
    users = _require(catalog, names.users, "users").where(F.col("registered_at") < end)
    cap = settings.max_events_per_user
    return AnalysisInputs(
        as_of=as_of,
        events=cap_events(window, cap),
        orders=orders,
        users=users,
        scores=scores,
        features=features,
        segments=segments,
        capped_users=capped_users(window, cap),
    )
