"""Sessions and their paths: a user's events split at inactivity gaps, each session's elements in order.

One window over each user's events (ordered by event_ts, ties by event_id) marks where a gap longer than
the configured one starts a new session; the group-by on (user_id, session) reuses that partitioning, so
the whole step costs one shuffle. Repeats are collapsed with array functions, not per-user Python.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.paths import PathsAnalysis

MICROS_PER_MINUTE = 60_000_000


def path_element(config: PathsAnalysis) -> Column:
    """An event's path element: its event_type; or, for element page, the page cut to ``page_levels`` parts
    of events of the ``page_events`` types with a page, and for other events their event_type or null
    (``other_events: skip``: left out of paths)."""
    if config.element == "event_type":
        return F.col("event_type")
    page = F.col("page")
    cut = F.array_join(F.slice(F.split(page, "/"), 1, config.page_levels), "/")
    other = F.col("event_type") if config.other_events == "event_type" else F.lit(None).cast("string")
    shows_page = F.col("event_type").isin(*config.page_events) & page.isNotNull() & (F.trim(page) != "")
    return F.when(shows_page, cut).otherwise(other)


def session_paths(events: DataFrame, config: PathsAnalysis) -> DataFrame:
    """(user_id, session, path) per session with at least one element.

    A new session starts at a user's first event and at every event more than ``session_gap_minutes``
    after the previous one (a gap of exactly that length stays in the session). Every event keeps a session
    alive, also those left out of paths. ``path``: the session's elements in time order (ties by event_id)
    with consecutive repeats collapsed (a > a > b -> a > b), not yet cut to the configured depth.
    """
    order = Window.partitionBy("user_id").orderBy("event_ts", "event_id")
    micros = F.unix_micros(F.col("event_ts"))
    gap = config.session_gap_minutes * MICROS_PER_MINUTE
    new_session = F.coalesce(micros - F.lag(micros).over(order) > gap, F.lit(True))
    sessions = (
        events.select("user_id", "event_id", "event_ts", path_element(config).alias("element"))
        .withColumn("_new", new_session.cast("int"))
        .withColumn("session", F.sum("_new").over(order.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    )
    # collect_list drops nulls: events without an element keep the session alive but add nothing.
    keyed = F.when(F.col("element").isNotNull(), F.struct(F.col("event_ts"), F.col("event_id"), F.col("element")))
    return (
        sessions.groupBy("user_id", "session")
        .agg(F.array_sort(F.collect_list(keyed)).alias("_events"))
        .where(F.size("_events") > 0)
        .withColumn("_elements", F.transform("_events", lambda e: e["element"]))
        .select(
            "user_id",
            F.col("session").cast("int").alias("session"),
            F.filter("_elements", lambda x, i: (i == 0) | (x != F.get(F.col("_elements"), i - 1))).alias("path"),
        )
    )
