"""Conversion funnels: per user the furthest step reached (window_funnel's rules), then per funnel,
breakdown and step the users entering, conversion, drop-off and time to convert, and the users who
stopped at each step as an audience shaped like audiences.segment_members.

Per-user work is one shuffle by user: each event or order row becomes (funnel, ts, step number) entries,
collected per user once for every funnel, and each funnel's entries are scanned by a higher-order
``aggregate`` over the sorted array (JVM-side; no Python UDF, no per-step self-joins). A funnel's stream
is the events, plus the orders when one of its steps or exclusions is an order condition.

Right-censoring: the inputs end just before D (ts < D 00:00 UTC), so an attempt that starts less than
one window before D could still convert after D. Only attempts whose whole window was observed count:
a step-1 entry is given to the engine only when ``ts + window < D`` (strict: the window is inclusive,
``ts + window`` itself is in it, and no event at D is in the inputs). Every other entry (later steps,
exclusions, strict_order's other events) up to D is kept, so each counted attempt saw its whole window;
a row that only matched step 1 and is censored gives no entry at all (under strict_order it is not
"another event"). The result is windowFunnel's over the stream without the censored step-1 entries: a
user whose only step-1 events are censored is not in the outcomes (nor dropped).

Breakdowns: each breakdown keeps its ``max_breakdown_values`` values with the most users at step 1 per
funnel (ties by value), and the rest are summed into one value ``OTHER``, so the step table stays bounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.analysis.window_funnel import FunnelRules, furthest
from userscore.config.funnels import SEGMENT_PREFIX, Condition, Funnel, FunnelsAnalysis
from userscore.config.root import Config
from userscore.filters import where_condition
from userscore.hashing import uniform_hash
from userscore.scoring.audiences import MEMBER_COLUMNS

OUTCOME_COLUMNS = ("funnel", "user_id", "steps", "furthest_step", "step_1_ts", "reached_ts")
OUTCOME_SCHEMA = (
    "funnel string, user_id string, steps int, furthest_step int, step_1_ts timestamp, reached_ts array<timestamp>"
)
OTHER = "(other)"  # breakdown value of the users whose value is not among the top max_breakdown_values
ALL = "all"  # the breakdown (and its value) of the whole funnel
FAMILY_PREFIX = "funnel_"  # audience family of a funnel's dropped users: funnel_<funnel id>


def rules_of(funnel: Funnel) -> FunnelRules:
    """The engine's view of a configured funnel."""
    return FunnelRules(
        steps=len(funnel.steps),
        window_micros=funnel.window_seconds * 1_000_000,
        strict_order=funnel.strict_order,
        strict_deduplication=funnel.strict_deduplication,
        strict_increase=funnel.strict_increase,
        exclusions=tuple(funnel.exclusion_range(e) for e in funnel.exclusions),
    )


def condition(spec: Condition) -> Column:
    """True where a row of the condition's source satisfies it (nulls never match)."""
    listed = {"event_type": spec.event_types, "category": spec.categories}
    parts = [where_condition({column: values for column, values in listed.items() if values})]
    if spec.pages:
        page = F.col("page")
        matches = [page.startswith(p[:-1]) if p.endswith("*") else page == p for p in spec.pages]
        parts.append(reduce(lambda a, b: a | b, matches))
    if spec.where is not None:
        parts.append(F.expr(spec.where).cast("boolean"))
    return F.coalesce(reduce(lambda a, b: a & b, parts), F.lit(False))


def _entries(funnels: Mapping[str, Funnel], source: str, ts: Column, end_micros: int) -> Column:
    """array<struct(f, ts, code)> of one row of ``source``: its entries for every funnel, without the
    step-1 entries whose window reaches ``end_micros`` (D; right-censoring, the module docstring)."""
    per_funnel = []
    for index, funnel in enumerate(funnels.values()):
        if source == "orders" and not funnel.uses("orders"):
            continue
        conditions = [*funnel.steps, *funnel.exclusions]
        codes = F.filter(
            F.array(*[F.when(condition(c), F.lit(i + 1)) for i, c in enumerate(conditions) if c.source == source]
                    or [F.lit(None).cast("int")]),
            lambda c: c.isNotNull(),
        )  # fmt: skip
        if funnel.strict_order:
            codes = F.when(F.size(codes) == 0, F.array(F.lit(0))).otherwise(codes)
        # After the strict_order fallback: a censored step-1 row is no "other event" either.
        observed = ts + F.lit(funnel.window_seconds * 1_000_000) < F.lit(end_micros)
        codes = F.filter(codes, _not_censored(observed))
        per_funnel.append(F.transform(codes, _tagged(index, ts)))
    if not per_funnel:
        return F.array().cast("array<struct<f:int,ts:bigint,code:int>>")
    return F.concat(*per_funnel)


def _not_censored(observed: Column):
    return lambda c: (c != 1) | observed


def _tagged(index: int, ts: Column):
    # A closure, not a default argument: Spark reads a two-argument lambda as (element, position).
    return lambda c: F.struct(F.lit(index).alias("f"), ts.alias("ts"), c.alias("code"))


def _of_funnel(index: int):
    return lambda e: e["f"] == index


def outcomes(events: DataFrame, orders: DataFrame, funnels: Mapping[str, Funnel], as_of: dt.date) -> DataFrame:
    """One row per (funnel, user) who reached step 1 in time (``OUTCOME_COLUMNS``): the furthest step, the
    funnel's step count and the step timestamps of the first attempt that got that far. Step-1 entries
    whose window does not end before ``as_of`` (00:00 UTC) are left out (right-censoring). No funnels:
    an empty frame.

    ``events`` has user_id, event_ts, event_type, page, category (+ columns ``where`` rules name);
    ``orders`` user_id, order_ts (+ the same).
    """
    if not funnels:
        return events.sparkSession.createDataFrame([], OUTCOME_SCHEMA)
    end = int(dt.datetime.combine(as_of, dt.time(), dt.UTC).timestamp()) * 1_000_000
    rows = events.select("user_id", _entries(funnels, "events", F.unix_micros("event_ts"), end).alias("entries"))
    if any(f.uses("orders") for f in funnels.values()):
        rows = rows.unionByName(
            orders.select("user_id", _entries(funnels, "orders", F.unix_micros("order_ts"), end).alias("entries"))
        )
    per_user = (
        rows.where(F.size("entries") > 0).groupBy("user_id").agg(F.flatten(F.collect_list("entries")).alias("entries"))
    )
    results = [
        F.struct(
            F.lit(name).alias("funnel"),
            F.lit(len(funnel.steps)).alias("steps"),
            furthest(
                F.transform(
                    F.filter("entries", _of_funnel(index)),
                    lambda e: F.struct(e["ts"].alias("ts"), e["code"].alias("code")),
                ),
                rules_of(funnel),
            ).alias("result"),
        )
        for index, (name, funnel) in enumerate(funnels.items())
    ]
    exploded = per_user.select("user_id", F.explode(F.array(*results)).alias("o"))
    return exploded.where(F.col("o.result.best") >= 1).select(
        F.col("o.funnel").alias("funnel"),
        "user_id",
        F.col("o.steps").alias("steps"),
        F.col("o.result.best").alias("furthest_step"),
        F.timestamp_micros(F.element_at("o.result.path", 1)).alias("step_1_ts"),
        F.transform("o.result.path", F.timestamp_micros).alias("reached_ts"),
    )


def user_outcomes(inputs: AnalysisInputs, config: Config) -> DataFrame:
    """Per (funnel, user) outcomes of the configured funnels over the snapshot's events and orders (empty
    when ``analysis.funnels.funnels`` is empty: no funnels, so the paths analysis gets no outcomes)."""
    return outcomes(inputs.events, inputs.orders, config.analysis.funnels.funnels, inputs.as_of)


def analyse(inputs: AnalysisInputs, config: Config, outcomes: DataFrame | None = None) -> AnalysisOutput:
    """The funnel tables of snapshot D: per-step aggregates and the dropped users' audience (both empty
    when no funnel is configured)."""
    section = config.analysis.funnels
    per_user = outcomes if outcomes is not None else user_outcomes(inputs, config)
    dims = breakdown_values(inputs, section)
    steps = step_table(per_user.join(dims, "user_id", "left"), section, inputs.as_of, config.analysis.missing_label)
    dropped = dropped_audience(
        per_user.join(dims.select("user_id", "scored_at"), "user_id", "left"), config, inputs.as_of
    )
    summary = tuple(
        f"funnel {name}: {len(f.steps)} steps within {f.window} {f.window_unit}, "
        f"{len(section.breakdowns)} breakdowns, dropped users in {section.tables.dropped} family {FAMILY_PREFIX}{name}"
        for name, f in section.funnels.items()
    )
    if not section.funnels:
        summary = ("no funnels configured (analysis.funnels.funnels is empty)",)
    return AnalysisOutput(tables={section.tables.steps: steps, section.tables.dropped: dropped}, summary=summary)


def breakdown_values(inputs: AnalysisInputs, section: FunnelsAnalysis) -> DataFrame:
    """user_id, scored_at and one string column per breakdown (scores, then profile, then segments; null
    when the user has no value, shown as ``analysis.missing_label``)."""
    score_columns = set(inputs.scores.columns)
    user_columns = set(inputs.users.columns)
    from_scores = [b for b in section.breakdowns if b in score_columns]
    from_users = [b for b in section.breakdowns if b not in score_columns and b in user_columns]
    dims = inputs.scores.select("user_id", "scored_at", *from_scores).join(
        inputs.users.select("user_id", *from_users), "user_id", "full"
    )
    for breakdown in section.breakdowns:
        if breakdown.startswith(SEGMENT_PREFIX):
            family = breakdown[len(SEGMENT_PREFIX) :]
            members = inputs.segments.where(F.col("family") == family).select(
                "user_id", F.col("segment").alias(breakdown)
            )
            dims = dims.join(members, "user_id", "left")
    unknown = [b for b in section.breakdowns if b not in dims.columns]
    if unknown:
        raise ValueError(f"analysis.funnels.breakdowns: no column {unknown} in the scores, users or segments")
    return dims.select(
        "user_id",
        "scored_at",
        *[F.col(f"`{b}`").cast("string").alias(b) for b in section.breakdowns],
    )


def step_table(per_user: DataFrame, section: FunnelsAnalysis, as_of: dt.date, missing_label: str) -> DataFrame:
    """Per funnel x breakdown value x step: users entering, conversion, drop-off, time to convert (a user
    without a breakdown value under ``missing_label``). Values beyond a breakdown's top
    ``max_breakdown_values`` (by users at step 1) are summed into ``OTHER``."""
    micros = F.transform("reached_ts", F.unix_micros)
    step = F.col("step")
    seconds_from = lambda k: (F.element_at(micros, step) - F.element_at(micros, k)) / 1e6  # noqa: E731
    breakdowns = F.array(
        F.struct(F.lit(ALL).alias("breakdown"), F.lit(ALL).alias("breakdown_value")),
        *[
            F.struct(
                F.lit(b).alias("breakdown"), F.coalesce(F.col(f"`{b}`"), F.lit(missing_label)).alias("breakdown_value")
            )
            for b in section.breakdowns
        ],
    )
    valued = per_user.select("funnel", "furthest_step", "reached_ts", F.explode(breakdowns).alias("b")).select(
        "funnel", "furthest_step", "reached_ts", "b.breakdown", "b.breakdown_value"
    )
    kept = F.broadcast(top_values(valued, section.max_breakdown_values))
    reached = (
        valued.join(kept, ["funnel", "breakdown", "breakdown_value"], "left")
        .select(
            "funnel",
            F.explode(F.sequence(F.lit(1), F.col("furthest_step"))).alias("step"),
            "breakdown",
            F.when(F.col("_kept"), F.col("breakdown_value")).otherwise(F.lit(OTHER)).alias("breakdown_value"),
            "reached_ts",
        )
        .select(
            "funnel",
            "step",
            "breakdown",
            "breakdown_value",
            F.when(step > 1, seconds_from(step - 1)).alias("from_previous"),
            F.when(step > 1, seconds_from(F.lit(1))).alias("from_first"),
        )
    )
    acc = section.quantile_accuracy
    counts = reached.groupBy("funnel", "breakdown", "breakdown_value", "step").agg(
        F.count(F.lit(1)).alias("users"),
        F.percentile_approx("from_previous", 0.5, acc).alias("median_seconds_from_previous"),
        F.percentile_approx("from_previous", 0.9, acc).alias("p90_seconds_from_previous"),
        F.percentile_approx("from_first", 0.5, acc).alias("median_seconds_from_first"),
        F.percentile_approx("from_first", 0.9, acc).alias("p90_seconds_from_first"),
    )
    spark = per_user.sparkSession
    names = spark.createDataFrame(
        [(f, i + 1, s.name) for f, funnel in section.funnels.items() for i, s in enumerate(funnel.steps)],
        "funnel string, step int, step_name string",
    )
    grid = counts.select("funnel", "breakdown", "breakdown_value").distinct().join(F.broadcast(names), "funnel")
    ordered = Window.partitionBy("funnel", "breakdown", "breakdown_value").orderBy("step")
    users = F.coalesce(F.col("users"), F.lit(0)).cast("long")
    previous = F.lag(users).over(ordered)
    first = F.first(users).over(ordered)
    dropped = F.when(step == 1, F.lit(0)).otherwise(previous - users).cast("long")
    return grid.join(counts, ["funnel", "breakdown", "breakdown_value", "step"], "left").select(
        F.lit(as_of).alias("as_of_date"),
        "funnel",
        "breakdown",
        "breakdown_value",
        "step",
        "step_name",
        users.alias("users"),
        F.when(step == 1, F.lit(1.0)).otherwise(users / F.nullif(previous, F.lit(0))).alias("conversion_from_previous"),
        (users / F.nullif(first, F.lit(0))).alias("conversion_from_first"),
        dropped.alias("dropped"),
        F.when(step == 1, F.lit(0.0)).otherwise(dropped / F.nullif(previous, F.lit(0))).alias("drop_off_rate"),
        *[F.col(c).cast("double").alias(c) for c in (
            "median_seconds_from_previous", "p90_seconds_from_previous",
            "median_seconds_from_first", "p90_seconds_from_first",
        )],
    )  # fmt: skip


def top_values(valued: DataFrame, limit: int) -> DataFrame:
    """(funnel, breakdown, breakdown_value, _kept) of the ``limit`` values per funnel and breakdown with the
    most users at step 1 (``valued``: one row per outcome and breakdown; ties by value): at most
    funnels x breakdowns x limit rows, small enough to broadcast."""
    counts = valued.groupBy("funnel", "breakdown", "breakdown_value").agg(F.count(F.lit(1)).alias("_users"))
    rank = F.row_number().over(
        Window.partitionBy("funnel", "breakdown").orderBy(F.col("_users").desc(), F.col("breakdown_value"))
    )
    ranked = counts.withColumn("_rank", rank)
    return ranked.where(F.col("_rank") <= limit).select(
        "funnel", "breakdown", "breakdown_value", F.lit(True).alias("_kept")
    )


def dropped_audience(per_user: DataFrame, config: Config, as_of: dt.date) -> DataFrame:
    """Users who entered a funnel and stopped before its last step (``MEMBER_COLUMNS``): family
    funnel_<id>, segment stopped_at_<step>, priority = the step reached; the control flag is the one
    audiences use, a hash of (segments.control_salt, family, user_id) below the funnel's control share."""
    section = config.analysis.funnels
    rows = [
        (f, i + 1, f"stopped_at_{s.name}", funnel.audience.strategy, funnel.audience.channel,
         float(funnel.audience.control_share))
        for f, funnel in section.funnels.items()
        for i, s in enumerate(funnel.steps[:-1])
    ]  # fmt: skip
    schema = "funnel string, furthest_step int, segment string, strategy string, channel string, control_share double"
    lookup = F.broadcast(per_user.sparkSession.createDataFrame(rows, schema))
    family = F.concat(F.lit(FAMILY_PREFIX), F.col("funnel"))
    midnight = F.lit(dt.datetime.combine(as_of, dt.time(), dt.UTC)).cast(T.TimestampType())
    members = per_user.where(F.col("furthest_step") < F.col("steps")).join(lookup, ["funnel", "furthest_step"])
    columns = {
        "as_of_date": F.lit(as_of),
        "family": family,
        "segment": F.col("segment"),
        "user_id": F.col("user_id"),
        "strategy": F.col("strategy"),
        "channel": F.col("channel"),
        "priority": F.col("furthest_step").cast("int"),
        "is_control": uniform_hash(config.segments.control_salt, family, F.col("user_id")) < F.col("control_share"),
        "scored_at": F.coalesce(F.col("scored_at"), midnight),
    }
    return members.select(*[columns[c].alias(c) for c in MEMBER_COLUMNS])
