"""Behaviour paths of snapshot D: top paths (overall, from a start anchor, up to an end anchor, of a
funnel's converted vs dropped users) and the step-by-step transitions behind the flow chart.

Paths come from analysis/sessions.py (sessions split at inactivity gaps, repeats collapsed). With k the
configured depth and p the session's full path:
- all: the first k elements of p;
- starting at anchor a: from a's first occurrence in p, k elements on (sessions without a are not counted);
- ending at anchor a: up to and including a's first occurrence in p, at most k elements back;
- converted / dropped for funnel f: the first k elements of every session of f's users that converted
  (furthest_step == steps) or entered and dropped (1 <= furthest_step < steps); users who never entered
  the funnel are in neither group.
Each group's paths are ranked by sessions (ties by path) and the top N kept; shares are of the group's
sessions. Transitions: for each step i < k of the first k elements, p[i] -> p[i + 1], or -> "(end)" when
the session ends at p[i]; the share is of all sessions at p[i] on step i.

Shuffles: the sessions' one (by user); the funnel outcomes grouped by user (so the join with the sessions
moves only them); one grouping-sets aggregation over every variant of every session (path and group
totals, exact distinct users); one window per group for totals and ranks. Transitions: one aggregation
and one window. The driver sees nothing but the top rows when the job writes them.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.analysis.sessions import session_paths
from userscore.config.paths import PathsAnalysis
from userscore.config.root import Config

END = "(end)"
SEPARATOR = " > "
_GROUP = ["kind", "funnel", "anchor"]


def analyse(inputs: AnalysisInputs, config: Config, funnel_outcomes: DataFrame | None = None) -> AnalysisOutput:
    """The paths tables' partition D. ``funnel_outcomes``: (funnel, user_id, furthest_step, steps) per user
    and funnel (funnels.user_outcomes); without it, no converted/dropped rows."""
    cfg = config.analysis.paths
    sessions = session_paths(inputs.events, cfg)
    as_of = F.lit(inputs.as_of).cast("date").alias("as_of_date")
    paths = top_paths(sessions, cfg, funnel_outcomes)
    steps = transitions(sessions, cfg.depth, cfg.transitions_per_step)
    summary = [
        f"paths: sessions split after {cfg.session_gap_minutes} min of inactivity, element {cfg.element}, "
        f"depth {cfg.depth}, top {cfg.top_paths} per group"
    ]
    return AnalysisOutput(
        tables={
            cfg.tables.paths: paths.select(as_of, *paths.columns),
            cfg.tables.transitions: steps.select(as_of, *steps.columns),
        },
        summary=summary,
    )


def top_paths(sessions: DataFrame, config: PathsAnalysis, funnel_outcomes: DataFrame | None = None) -> DataFrame:
    """(kind, funnel, anchor, rank, path, depth, sessions, users, share, group_sessions, group_users): the top
    ``top_paths`` paths of each group (module docstring) of ``sessions`` (user_id, session, path)."""
    k = config.depth
    variants = [_variant("all", "", F.slice("path", 1, k))]
    for anchor in config.start_anchors:
        at = F.array_position("path", anchor)
        variants.append(F.when(at > 0, _variant("starting", anchor, F.slice("path", at.cast("int"), k))))
    for anchor in config.end_anchors:
        at = F.array_position("path", anchor).cast("int")
        start = F.greatest(at - k + 1, F.lit(1))
        variants.append(F.when(at > 0, _variant("ending", anchor, F.slice("path", start, at - start + 1))))
    variants = F.array(*variants)
    if funnel_outcomes is not None:
        sessions = sessions.join(_outcome_groups(funnel_outcomes, config), "user_id", "left")
        compared = F.transform(
            F.coalesce(F.col("_groups"), F.array().cast("array<struct<kind:string,funnel:string>>")),
            lambda g: F.struct(g["kind"].alias("kind"), g["funnel"].alias("funnel"), F.lit("").alias("anchor"),
                               F.slice("path", 1, k).alias("path")),
        )  # fmt: skip
        variants = F.concat(variants, compared)
    rows = sessions.select("user_id", F.explode(variants).alias("v")).where(F.col("v").isNotNull())
    rows = rows.select("user_id", "v.*")
    grouped = rows.groupingSets([[*_GROUP, "path"], _GROUP], *_GROUP, "path").agg(
        F.count(F.lit(1)).alias("sessions"),
        F.countDistinct("user_id").alias("users"),
        F.grouping("path").alias("_total"),
    )
    # The group totals are the grouping set's rows without a path: spread them over their group's path
    # rows with a window on the same keys as the ranking (one exchange, no join).
    group = Window.partitionBy(*_GROUP)
    total = F.col("_total") == 1
    return (
        grouped.withColumn("group_sessions", F.max(F.when(total, F.col("sessions"))).over(group))
        .withColumn("group_users", F.max(F.when(total, F.col("users"))).over(group))
        .where(~total)
        .withColumn("path_text", F.array_join("path", SEPARATOR))
        .withColumn("rank", F.row_number().over(group.orderBy(F.desc("sessions"), F.col("path_text"))))
        .where(F.col("rank") <= config.top_paths)
        .select(
            *_GROUP,
            F.col("rank").cast("int").alias("rank"),
            F.col("path_text").alias("path"),
            F.size("path").cast("int").alias("depth"),
            "sessions",
            "users",
            (F.col("sessions") / F.col("group_sessions")).alias("share"),
            "group_sessions",
            "group_users",
        )
    )


def transitions(sessions: DataFrame, depth: int, per_step: int) -> DataFrame:
    """(step, from_element, to_element, sessions, users, share, rank): the top ``per_step`` transitions of
    each step of the sessions' first ``depth`` elements (module docstring)."""
    n = F.size("path")
    steps = F.sequence(F.lit(1), F.least(n, F.lit(depth - 1)))
    moves = F.transform(
        steps,
        lambda i: F.struct(
            i.alias("step"),
            F.element_at("path", i).alias("from_element"),
            F.when(i < n, F.element_at("path", i + 1)).otherwise(F.lit(END)).alias("to_element"),
        ),
    )
    counted = (
        sessions.select("user_id", F.explode(moves).alias("m"))
        .select("user_id", "m.*")
        .groupBy("step", "from_element", "to_element")
        .agg(F.count(F.lit(1)).alias("sessions"), F.countDistinct("user_id").alias("users"))
    )
    at_from = Window.partitionBy("step", "from_element")
    ranking = Window.partitionBy("step").orderBy(F.desc("sessions"), "from_element", "to_element")
    return (
        counted.withColumn("share", F.col("sessions") / F.sum("sessions").over(at_from))
        .withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= per_step)
        .select(
            F.col("step").cast("int").alias("step"),
            "from_element",
            "to_element",
            "sessions",
            "users",
            "share",
            F.col("rank").cast("int").alias("rank"),
        )
    )


def _variant(kind: str, anchor: str, path: Column) -> Column:
    return F.struct(F.lit(kind).alias("kind"), F.lit("").alias("funnel"), F.lit(anchor).alias("anchor"),
                    path.alias("path"))  # fmt: skip


def _outcome_groups(outcomes: DataFrame, config: PathsAnalysis) -> DataFrame:
    """(user_id, _groups): per user the (kind, funnel) groups of the compared funnels they entered. Grouped
    by user, so the join with the sessions (hash-partitioned by user too) shuffles only the outcomes."""
    entered = outcomes.where(F.col("furthest_step") >= 1)
    if config.compare_funnels:
        entered = entered.where(F.col("funnel").isin(*config.compare_funnels))
    kind = F.when(F.col("furthest_step") == F.col("steps"), F.lit("converted")).otherwise(F.lit("dropped"))
    group = F.struct(kind.alias("kind"), F.col("funnel").cast("string").alias("funnel"))
    return entered.groupBy("user_id").agg(F.collect_list(group).alias("_groups"))
