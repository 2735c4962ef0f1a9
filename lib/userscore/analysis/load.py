"""Load one snapshot D's analysis inputs, point in time, with the per-user event cap for bots.

Every precondition is checked here, before the job writes anything: each input table exists, and the
scores and features partitions D hold rows (InputError, exit code 2, otherwise). Everything else is lazy.

Point in time: events in [D - lookback_days, D), orders before D with refunds as known before D
(userscore.refunds), users registered before D, the scores, features and segment members of partition D.
silver.users keeps each user's latest profile, so its member level may be one taken after D: the users'
``member_level`` is replaced here, once for every analysis, by the level held at D that the features
partition D carries (userscore.features.profile; its "unknown" becomes null, shown as the analyses'
missing label).

Bots: a user may generate millions of events, and every per-user step (funnels, sessions) groups a user's
events in one task. Only the latest ``max_events_per_user`` events of each user are kept (ties on the
timestamp broken by event_id, so the cut is deterministic); the users over the cap are listed with their
event count in ``capped_users``.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession, Window
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


# Spark 4 plans a row_number filtered by ``<= n`` as a per-group limit (WindowGroupLimit) only when n is at
# most this session setting (default 1000).
GROUP_LIMIT_THRESHOLD = "spark.sql.optimizer.windowGroupLimitThreshold"


def allow_group_limit(spark: SparkSession, cap: int) -> None:
    """Raise the session's WindowGroupLimit threshold to ``cap`` when it is lower (never lowers it). The
    optimizer reads it when a query is planned, i.e. at each action, so it stays raised for the session."""
    current = int(spark.conf.get(GROUP_LIMIT_THRESHOLD))
    if current < cap:
        spark.conf.set(GROUP_LIMIT_THRESHOLD, str(cap))


def cap_events(events: DataFrame, cap: int) -> DataFrame:
    """The latest ``cap`` events of each user (ties on event_ts broken by the larger event_id).

    A row_number filtered by ``<= cap``, with the session's WindowGroupLimit threshold raised to at least
    ``cap`` (:func:`allow_group_limit`): Spark then plans it as a per-user limit applied before the shuffle
    as well as after (WindowGroupLimit), so a bot's events are cut to ``cap`` per map task before they meet.
    """
    allow_group_limit(events.sparkSession, cap)
    latest = Window.partitionBy(USER_ID).orderBy(F.col("event_ts").desc(), F.col("event_id").desc())
    return events.withColumn(_RANK, F.row_number().over(latest)).where(F.col(_RANK) <= cap).drop(_RANK)


def capped_users(events: DataFrame, cap: int) -> DataFrame:
    """(user_id, events_in_window, events_kept) of the users with more than ``cap`` events.

    ``events`` are the uncapped events of the look-back, so this reads them a second time (the persisted
    events are already capped and cannot give a bot's full count). It stays cheap: the scan prunes to the
    months of the look-back and to user_id and event_ts, and the count is aggregated partially in each map
    task, so one row per user and task is shuffled, never the events themselves.
    """
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


def point_in_time_level(users: DataFrame, features: DataFrame, config: Config) -> DataFrame:
    """``users`` with the level column replaced by the features partition's level held at D (null for a
    user without a feature row or with the features' unknown value)."""
    level = config.features.profile.level_column
    if level not in features.columns:
        raise InputError(
            f"{config.analysis.inputs.features} has no column {level} (features.profile.level_column): "
            "the analyses take the member level held at D from it"
        )
    unknown = F.lit(config.features.profile.unknown_value)
    at_d = features.select(USER_ID, F.when(F.col(level) != unknown, F.col(level)).alias(level))
    columns = [c for c in users.columns if c != level]
    return users.select(*columns).join(at_d, USER_ID, "left").select(*users.columns)


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
    users = point_in_time_level(users, features, config)
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
