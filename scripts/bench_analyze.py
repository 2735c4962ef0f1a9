"""Benchmark the user-base analyses (issue 16) at scale, and the funnel against DuckDB on the same files.

For each size (users), in one run:
1. inputs under ``<root>/n<users>/warehouse``, written once through the catalog and reused by later runs
   with the same generation parameters: a fast hash-based generator over ``spark.range`` (deterministic)
   writes silver.users, silver.orders (~``--orders-per-user`` over two years), silver.events
   (~``--events-per-user`` in the analysis lookback: background browsing with the generator's event types,
   pages and categories, plus product view -> add to cart -> cart/checkout pages before online orders) and
   ``--bots`` extra users with ``--bot-events`` events each (distinct timestamps, so "keep the latest N"
   has one answer); then the snapshot D: features.user_features (synthetic columns), scores.user_scores
   (tiers, value score, grade and tags by the scoring code over them) and audiences.segment_members (the
   scoring's segment rules);
2. load: the analysis job's loader (lookback, event cap per user), its events materialised, capped users
   counted;
3. the funnel: its per-step user counts from the Spark funnel engine over the loader's (unpersisted) inputs,
   and from DuckDB SQL over the live parquet files of the same Delta tables with the same lookback and cap
   (ClickHouse windowFunnel, default mode: :func:`duckdb_funnel_sql`); the counts and the capped users
   must agree;
4. each analysis (``analyse`` of funnels, paths, profile, consumption, interests) on the loaded inputs with
   the events persisted once: every output table materialised with Spark's ``noop`` sink.

It prints a table and appends it to the "Analysis" section of docs/benchmarks.md (``--report ''`` skips).
The calls into the analysis package are all in :func:`wiring` and :func:`bench_overrides`.

    .venv/bin/python scripts/bench_analyze.py                         # 250k, 500k, 1M users
    .venv/bin/python scripts/bench_analyze.py --users 2000 --bots 2 --bot-events 5000 --max-events 2000 --report ''
    # the inputs and the DuckDB funnel only (no analysis package needed):
    .venv/bin/python scripts/bench_analyze.py --users 2000 --bots 2 --bot-events 5000 --duckdb-only \
        --lookback-days 365 --max-events 2000 --report ''

Delete ``--root`` to regenerate the inputs after a change of this generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config, load_config
from userscore.generate.events import (
    ADD_TO_CART_P,
    CART_PAGE_P,
    CATEGORY_EVENTS,
    CHECKOUT_PAGE_P,
    OFFLINE_CHANNELS,
    PAGE_KINDS,
    PAGE_WEIGHTS,
    PRODUCT_EVENTS,
)
from userscore.generate.orders import product_number
from userscore.generate.random import pick, skewed, uniform, with_draws
from userscore.scoring.audiences import segment_members
from userscore.scoring.tags import with_tags
from userscore.scoring.tiers import band
from userscore.scoring.value import value_components, value_score
from userscore.session import get_spark
from userscore.tags import load_dictionary

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
SECTION = "## Analysis"
AS_OF = dt.date(2026, 11, 1)
ORDER_HISTORY_DAYS = 730
SEED = 16
DAY = 86_400
US = 1_000_000  # microseconds per second: DuckDB works on epoch microseconds, whatever the parquet time zone
NON_BUYER_SHARE = 0.15
PREFERRED_CATEGORY_SHARE = 0.6
ANALYSES = ("funnel outcomes", "funnels", "paths", "profile", "consumption", "interests")


@dataclass(frozen=True)
class FunnelStep:
    """One step, as analysis_funnels.yaml declares one: an event whose type is any of ``event_types`` and whose
    page is any of ``pages`` (a trailing ``*`` makes a prefix; empty = any), or ``source='orders'``: any order."""

    name: str
    source: str = "events"
    event_types: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenchFunnel:
    name: str
    window_seconds: int
    steps: tuple[FunnelStep, ...]


# The purchase path the generator plants before online orders (userscore.generate.events.funnel_events).
FUNNEL = BenchFunnel(
    name="bench_purchase",
    window_seconds=3600,
    steps=(
        FunnelStep("product_view", event_types=("page_view",), pages=("product/*",)),
        FunnelStep("add_to_cart", event_types=("add_to_cart",)),
        FunnelStep("checkout", event_types=("page_view",), pages=("checkout",)),
        FunnelStep("order", source="orders"),
    ),
)


# -- wiring to the analysis package (issue 16: adjust here after the parts are merged) ----------------------
def bench_overrides(lookback_days: int | None, max_events: int | None) -> dict:
    """Config overrides for the Spark side: the bench funnel added to the configured ones (in
    analysis_funnels.yaml's shape), and the lookback and cap when given on the command line (else the YAML's)."""
    steps = [
        {"name": s.name, "source": s.source}
        | ({"event_types": list(s.event_types)} if s.event_types else {})
        | ({"pages": list(s.pages)} if s.pages else {})
        for s in FUNNEL.steps
    ]
    funnel = {
        "description": "scripts/bench_analyze.py: product page -> add to cart -> checkout page -> order",
        "window": FUNNEL.window_seconds,
        "window_unit": "seconds",
        "steps": steps,
        "audience": {"strategy": "none (benchmark)", "channel": "none", "control_share": 0.0},
    }
    analysis: dict = {"funnels": {"funnels": {FUNNEL.name: funnel}}}
    if lookback_days is not None:
        analysis["lookback_days"] = lookback_days
    if max_events is not None:
        analysis["max_events_per_user"] = max_events
    return {"analysis": analysis}


def only_bench_funnel(config: Config) -> Config:
    """``config`` with the bench funnel alone, so that the Spark engine computes what DuckDB computes."""
    section = config.analysis.funnels
    funnels = replace(section, funnels={FUNNEL.name: section.funnels[FUNNEL.name]})
    return replace(config, analysis=replace(config.analysis, funnels=funnels))


@dataclass(frozen=True)
class Wiring:
    """What the benchmark calls: the loader, the funnel engine, each analysis, and the loader's settings."""

    lookback_days: int
    max_events: int
    load: Callable  # (catalog, config, as_of) -> AnalysisInputs
    outcomes: Callable  # (inputs, config) -> DataFrame(funnel, user_id, furthest_step, ...)
    analyses: Mapping[str, Callable]  # name -> (inputs, config, outcomes) -> AnalysisOutput


def wiring(config: Config) -> Wiring:
    """The analysis package as the split of issue 16 names it (imported here only, so that the inputs and the
    DuckDB side run without it: ``--duckdb-only``)."""
    from userscore.analysis import consumption, funnels, interests, paths, profile
    from userscore.analysis.load import load_inputs

    return Wiring(
        lookback_days=config.analysis.lookback_days,
        max_events=config.analysis.max_events_per_user,
        load=load_inputs,
        outcomes=funnels.user_outcomes,
        analyses={
            "funnels": lambda i, c, o: funnels.analyse(i, c, outcomes=o),
            "paths": lambda i, c, o: paths.analyse(i, c, funnel_outcomes=o),
            "profile": lambda i, c, o: profile.analyse(i, c),
            "consumption": lambda i, c, o: consumption.analyse(i, c),
            "interests": lambda i, c, o: interests.analyse(i, c),
        },
    )


# -- synthetic inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """What the generated inputs depend on (a later run reuses them only when all of it is equal)."""

    users: int
    bots: int
    bot_events: int
    orders_per_user: float
    events_per_user: float
    lookback_days: int
    as_of: str = str(AS_OF)
    seed: int = SEED


def _u(salt: str, *keys: Column | str) -> Column:
    return uniform(SEED, salt, *[F.col(k) if isinstance(k, str) else k for k in keys])


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _exploded(ids: DataFrame, count: Column, name: str = "k") -> DataFrame:
    """One row per (user, k) for k in 1..count (no row when count is 0)."""
    return ids.withColumn("_n", count).where(F.col("_n") > 0).withColumn(name, F.explode(F.sequence(F.lit(1), "_n")))


def synthetic_silver(spark: SparkSession, config: Config, shape: Shape) -> dict[str, DataFrame]:
    """silver.users, silver.orders and silver.events for ``shape`` (bots are the last ``shape.bots`` ids)."""
    gen = config.generate
    end = _epoch(AS_OF)
    order_start, event_start = end - ORDER_HISTORY_DAYS * DAY, end - shape.lookback_days * DAY
    total = shape.users + shape.bots
    partitions = max(2, total // 50_000)
    # Weighted picks read their draw from a column (userscore.generate.random.pick).
    draws = with_draws(spark.range(0, total, 1, partitions), _u_pref=_u("pref", "id"), _u_level=_u("level", "id"))
    ids = draws.select(
        F.col("id").alias("idx"),
        "_u_level",
        F.format_string("u%09d", F.col("id")).alias("user_id"),
        # 70% registered before the order history, the rest during it.
        F.when(_u("pre", "id") < 0.7, F.lit(order_start) - (_u("reg", "id") * 365 * DAY).cast("long"))
        .otherwise(F.lit(order_start) + (_u("reg", "id") * (ORDER_HISTORY_DAYS - 1) * DAY).cast("long"))
        .alias("reg"),
        pick(gen.categories, "_u_pref", skewed(len(gen.categories), 0.5)).alias("pref"),
        (F.col("id") >= shape.users).alias("bot"),
    )
    users = ids.select(
        "user_id",
        F.timestamp_seconds("reg").alias("registered_at"),
        pick(gen.registration_channels, _u("channel", "idx")).alias("registration_channel"),
        pick(gen.genders, _u("gender", "idx")).alias("gender"),
        pick(gen.age_bands, _u("age", "idx")).alias("age_band"),
        pick(gen.regions, _u("region", "idx")).alias("region"),
        pick(gen.member_levels, "_u_level", skewed(len(gen.member_levels), 1.5)).alias("member_level"),
        F.lit(None).cast("string").alias("phone_hash"),
        F.lit(None).cast("string").alias("email_hash"),
        F.timestamp_seconds(F.lit(end)).alias("updated_at"),
        F.lit("bench").alias("ingest_batch_id"),
    )

    people = ids.where(~F.col("bot"))
    buyer = _u("buyer", "idx") >= NON_BUYER_SHARE
    n_orders = F.when(buyer, (_u("n_orders", "idx") * (2 * shape.orders_per_user + 1)).cast("int")).otherwise(0)
    first_order = F.greatest(F.col("reg"), F.lit(order_start))
    o = _exploded(people, n_orders).withColumn(
        "ts", first_order + (_u("ots", "idx", "k") * (F.lit(end) - first_order)).cast("long")
    )
    coupon = _u("coupon", "idx", "k") < gen.mean_coupon_rate
    refunded = _u("refund", "idx", "k") < gen.mean_refund_rate
    amount = F.round(F.exp(F.lit(4.0) + 0.8 * (_u("amount", "idx", "k") - 0.5) * 3.4), 2)
    o = o.select(
        "idx",
        "user_id",
        "k",
        "ts",
        F.format_string("o%09d-%05d", "idx", "k").alias("order_id"),
        F.when(_u("ocat", "idx", "k") < PREFERRED_CATEGORY_SHARE, F.col("pref"))
        .otherwise(pick(gen.categories, _u("ocat2", "idx", "k")))
        .alias("category"),
        pick(gen.order_channels, _u("och", "idx", "k")).alias("channel"),
        coupon.alias("coupon_used"),
        refunded.alias("is_refunded"),
        amount.alias("amount"),
        product_number(_u("product", "idx", "k")).alias("product"),
    )
    order_columns = {
        "order_id": F.col("order_id"),
        "user_id": F.col("user_id"),
        "order_ts": F.timestamp_seconds("ts"),
        "order_month": F.trunc(F.to_date(F.timestamp_seconds("ts")), "month"),
        "amount": F.col("amount"),
        "category": F.col("category"),
        "channel": F.col("channel"),
        "coupon_used": F.col("coupon_used"),
        "discount_amount": F.when(F.col("coupon_used"), F.round(F.col("amount") * 0.15, 2)).otherwise(0.0),
        "is_refunded": F.col("is_refunded"),
        "item_count": F.lit(1) + (_u("items", "idx", "k") * 4).cast("int"),
        "refunded_at": F.when(F.col("is_refunded"), F.timestamp_seconds(F.col("ts") + 7 * DAY)),
        "updated_at": F.timestamp_seconds("ts"),
        "ingest_batch_id": F.lit("bench"),
    }
    # Issue 16 adds orders.payment_method (and generate.payment_methods) on another branch: filled once declared.
    if "payment_method" in Catalog(spark, config).spec("silver.orders").column_names:
        order_columns["payment_method"] = pick(list(gen.payment_methods), _u("payment", "idx", "k"))
    orders = o.select(*[c.alias(n) for n, c in order_columns.items()])

    page_view, product_page = F.lit("page_view"), F.concat(F.lit("product/"), "category", F.lit("/"), "product")

    def funnel_step(j: int, when: Column, offset: Column, event_type: str, page: Column, product: bool) -> Column:
        return F.when(
            when,
            F.struct(
                F.lit(j).alias("j"),
                (F.col("ts") - F.floor(offset).cast("long")).alias("ts"),
                F.lit(event_type).alias("event_type"),
                page.alias("page"),
                (F.col("category") if product else F.lit(None).cast("string")).alias("category"),
            ),
        )

    online = ~F.col("channel").isin(*OFFLINE_CHANNELS) & (F.col("ts") >= event_start)
    lead = 300.0 + 2100.0 * _u("lead", "idx", "k")  # product page 5-40 minutes before the order
    steps = F.array(
        funnel_step(1, online, lead, "page_view", product_page, True),
        funnel_step(2, online & (_u("cart", "idx", "k") < ADD_TO_CART_P),
                    lead * (0.2 + 0.6 * _u("cart_t", "idx", "k")), "add_to_cart", product_page, True),
        funnel_step(3, online & (_u("cart_page", "idx", "k") < CART_PAGE_P), lead * 0.15, "page_view",
                    F.lit("cart"), False),
        funnel_step(4, online & (_u("checkout", "idx", "k") < CHECKOUT_PAGE_P),
                    30.0 * (1.0 + _u("checkout_t", "idx", "k")), "page_view", F.lit("checkout"), False),
    )  # fmt: skip
    funnel_events = (
        o.select("idx", "user_id", "k", F.explode(steps).alias("s"))
        .where(F.col("s").isNotNull() & (F.col("s.ts") >= event_start))
        .select(
            F.format_string("e%09d-o%05d-%d", "idx", "k", "s.j").alias("event_id"),
            "user_id",
            F.col("s.ts").alias("ts"),
            F.col("s.event_type").alias("event_type"),
            F.col("s.category").alias("category"),
            F.col("s.page").alias("page"),
            F.lit(False).alias("_general"),
            F.struct("idx", "k", "s.j").alias("_key"),
        )
    )

    # Background browsing fills each user to ~events_per_user events in the lookback.
    in_window = min(1.0, shape.lookback_days / ORDER_HISTORY_DAYS) * (
        1 - len(OFFLINE_CHANNELS) / len(gen.order_channels)
    )
    per_order = 1 + ADD_TO_CART_P + CART_PAGE_P + CHECKOUT_PAGE_P
    background_mean = max(
        1.0, shape.events_per_user - (1 - NON_BUYER_SHARE) * shape.orders_per_user * in_window * per_order
    )
    first_event = F.greatest(F.col("reg"), F.lit(event_start))
    b = with_draws(
        _exploded(people, (_u("n_events", "idx") * (2 * background_mean + 1)).cast("int")),
        _u_type=_u("etype", "idx", "k"),
        _u_category=_u("ecat2", "idx", "k"),
        _u_page=_u("page", "idx", "k"),
    ).withColumn("ts", first_event + (_u("ets", "idx", "k") * (F.lit(end) - first_event)).cast("long"))
    types, weights = zip(*gen.event_type_weights.items(), strict=True)
    b = b.withColumn("event_type", pick(list(types), "_u_type", list(weights))).withColumn(
        "category",
        F.when(_u("ecat", "idx", "k") < PREFERRED_CATEGORY_SHARE, F.col("pref")).otherwise(
            pick(gen.categories, "_u_category", skewed(len(gen.categories), 0.5))
        ),
    )
    kind = pick(PAGE_KINDS, "_u_page", PAGE_WEIGHTS)
    product = F.concat(F.lit("product/"), "category", F.lit("/"), product_number(_u("eproduct", "idx", "k")))
    page = (
        F.when(F.col("event_type").isin(*PRODUCT_EVENTS), product)
        .when(F.col("event_type") != "page_view", F.lit(None).cast("string"))
        .when(kind == "category", F.concat(F.lit("category/"), "category"))
        .when(kind == "product", product)
        .otherwise(kind)
    )
    background = b.withColumn("page", page).select(
        F.format_string("e%09d-b%05d", "idx", "k").alias("event_id"),
        "user_id",
        "ts",
        "event_type",
        "category",
        "page",
        F.coalesce(F.col("page"), F.lit("")).isin("home", "cart", "checkout").alias("_general"),
        F.struct("idx", "k", F.lit(0).alias("j")).alias("_key"),
    )

    # Bots: every bot_events-th second back from D (distinct timestamps), cycling through the funnel's
    # events with clicks and searches between; spread over tasks by event, not by bot.
    step = max(1, shape.lookback_days * DAY // max(1, shape.bot_events))
    bot_rows = spark.range(0, shape.bots * shape.bot_events, 1, max(2, shape.bots * shape.bot_events // 1_000_000))
    bot_idx, k = F.lit(shape.users) + F.floor(F.col("id") / shape.bot_events), F.col("id") % shape.bot_events
    bot_kind = pick(("product", "add_to_cart", "checkout", "click", "search"), _u("bkind", "id"))
    bots = bot_rows.select(
        F.format_string("e%09d-x%09d", bot_idx, k).alias("event_id"),
        F.format_string("u%09d", bot_idx).alias("user_id"),
        (F.lit(end - 1) - k * step).alias("ts"),
        F.when(bot_kind.isin("product", "checkout"), page_view).otherwise(bot_kind).alias("event_type"),
        pick(gen.categories, _u("bcat", "id")).alias("category"),
        F.when(bot_kind == "product", F.concat(F.lit("product/"), pick(gen.categories, _u("bcat", "id")), F.lit("/1")))
        .when(bot_kind == "checkout", F.lit("checkout"))
        .alias("page"),
        (bot_kind == "checkout").alias("_general"),
        F.struct(bot_idx.alias("idx"), k.alias("k"), F.lit(9).alias("j")).alias("_key"),
    )

    stamped = F.timestamp_seconds("ts")
    has_category = F.col("event_type").isin(*CATEGORY_EVENTS) & ~F.col("_general")
    dwell = F.round(F.least(F.exp(3.0 + 2.0 * (_u("dwell", "_key") - 0.5) * 2.0), F.lit(3600.0)), 1)
    events = (
        background.unionByName(funnel_events)
        .unionByName(bots)
        .where(F.col("ts") < end)
        .select(
            "event_id",
            "user_id",
            stamped.alias("event_ts"),
            F.trunc(F.to_date(stamped), "month").alias("event_month"),
            "event_type",
            F.when(has_category, F.col("category")).alias("category"),
            "page",
            F.when(F.col("event_type") == "page_view", dwell).alias("dwell_seconds"),
            F.lit("bench").alias("ingest_batch_id"),
        )
    )
    return {"silver.users": users, "silver.orders": orders, "silver.events": events}


def synthetic_scores(spark: SparkSession, config: Config, users: int) -> tuple[DataFrame, DataFrame]:
    """The features and scores partitions D: synthetic features (scripts/bench_score.py) and model
    probabilities, cut into tiers, value score and grade, with every tag, by the scoring code."""
    from bench_score import synthetic_features  # beside this script: sys.path[0] is scripts/
    from userscore.features import feature_columns

    features = synthetic_features(spark, feature_columns(config.features), users, max(2, users // 250_000))
    df = features.withColumn("as_of_date", F.lit(AS_OF)).withColumn("idx", F.col("user_id").substr(2, 9).cast("long"))
    scoring = config.scoring
    columns: dict[str, Column] = {}
    for target, output in scoring.targets.items():
        columns[output.column("probability")] = F.round(F.pow(_u(f"p-{target}", "idx"), 1.6), 4)
        columns[output.column("reasons")] = F.lit(None).cast("string")
        columns[output.column("model_version")] = F.lit("bench")
    btyd = config.btyd_score_columns()
    for i, column in enumerate(btyd):
        columns[column] = F.lit("bench") if column.endswith("version") else F.round(_u(f"b{i}", "idx") * 500, 2)
    df = df.withColumns(columns).withColumns(
        {o.column("tier"): band(F.col(o.column("probability")), o.tiers) for o in scoring.targets.values()}
    )
    probabilities = {t: o.column("probability") for t, o in scoring.targets.items()}
    df = df.withColumns(
        {
            "value_score": value_score(value_components(scoring.value_score, probabilities)),
            "value_reasons": F.lit(None).cast("string"),
            "scored_at": F.lit(f"{AS_OF} 00:00:00").cast("timestamp"),
        }
    ).withColumn("grade", band(F.col("value_score"), scoring.grades))
    dictionary = load_dictionary(config.tags)
    keep = ["user_id", "as_of_date", *scoring.output_columns(btyd), *dictionary.ids]
    return features.withColumn("as_of_date", F.lit(AS_OF)), with_tags(df, dictionary).select(*keep)


def ensure_inputs(spark: SparkSession, config: Config, shape: Shape, root: Path) -> float | None:
    """Write the inputs of ``shape`` under ``root`` unless an earlier run wrote the same; seconds taken."""
    marker = root / "shape.json"
    if marker.exists() and json.loads(marker.read_text()) == asdict(shape):
        return None
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    catalog = Catalog(spark, config)
    for name, df in synthetic_silver(spark, config, shape).items():
        if name != "silver.users":
            # A few files per month partition, like a compacted silver table.
            month = "order_month" if name == "silver.orders" else "event_month"
            df = df.repartition(max(2, shape.users // 250_000), month)
        catalog.append(name, df)
    features, scores = synthetic_scores(spark, config, shape.users + shape.bots)
    catalog.overwrite_where("features.user_features", features, {"as_of_date": AS_OF})
    catalog.overwrite_where("scores.user_scores", scores, {"as_of_date": AS_OF})
    written = catalog.read("scores.user_scores", where=F.col("as_of_date") == AS_OF)
    catalog.overwrite_where(
        "audiences.segment_members", segment_members(written, config.segments), {"as_of_date": AS_OF}
    )
    marker.write_text(json.dumps(asdict(shape)))
    return time.perf_counter() - started


# -- the funnel in DuckDB ----------------------------------------------------------------------------------
def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def step_sql(step: FunnelStep) -> str:
    """An events step's condition as SQL."""
    terms = ["TRUE"]
    if step.event_types:
        terms.append(f"event_type IN ({', '.join(_quoted(t) for t in step.event_types)})")
    if step.pages:
        pages = [
            f"starts_with(page, {_quoted(p[:-1])})" if p.endswith("*") else f"page = {_quoted(p)}" for p in step.pages
        ]
        terms.append(f"coalesce({' OR '.join(pages)}, FALSE)")
    return " AND ".join(terms)


def duckdb_funnel_sql(
    events: str, orders: str, funnel: BenchFunnel, start_us: int, end_us: int, max_events: int
) -> str:
    """Per-step users of ``funnel`` (one row: users_1 .. users_k) and the number of capped users, by
    ClickHouse windowFunnel's default mode over the events in [start, end) capped to each user's latest
    ``max_events`` (by event_ts, then event_id), and the orders before end.

    ``events`` / ``orders``: FROM items with silver's columns. Each event or order matching step j's condition
    is an entry (ts, j); entries are ordered by (ts, j), so ties on the timestamp are ordered by step (an
    event matching several steps is an entry of each). windowFunnel keeps, per step j, the step-1 time of the
    chain that reached j last; an entry of step j > 1 extends that of j - 1 when ts <= its step-1 time +
    window, so a later step-1 event restarts the chain and the window is measured from step 1. The kept step-1
    times never decrease, so an entry extends iff the LATEST step-1 time reaching j - 1 before it is within
    the window: s_1 = ts on step-1 entries; s_j = m_(j-1) on step-j entries with ts <= m_(j-1) + window,
    where m_(j-1) = max s_(j-1) over the user's earlier entries. A user reaches step j iff some s_j is set.
    As in userscore.analysis.funnels, a step-1 entry starts a chain only when ts + window < end (a chain
    whose window is still open at the end of the data is not counted).

    The events are scanned where they are needed, never held whole: DuckDB materialises a CTE read twice, so
    only the small ones (users over the cap, their kept entries) are CTEs.
    """
    window = funnel.window_seconds * US
    recent = (
        f"(SELECT * FROM (SELECT user_id, event_id, epoch_us(event_ts) AS ts, event_type, category, page "
        f"FROM {events}) WHERE ts >= {start_us} AND ts < {end_us})"
    )
    on_events = [(j, step_sql(s)) for j, s in enumerate(funnel.steps, start=1) if s.source == "events"]
    matching = " OR ".join(f"({c})" for _, c in on_events) or "FALSE"
    steps = "[" + ", ".join(f"CASE WHEN {c} THEN {j} END" for j, c in on_events) + "]::INTEGER[]"
    orders_entries = "".join(
        f" UNION ALL SELECT user_id, epoch_us(order_ts) AS ts, {j} AS step FROM {orders} "
        f"WHERE epoch_us(order_ts) < {end_us}"
        for j, s in enumerate(funnel.steps, start=1)
        if s.source == "orders"
    )
    earlier = "OVER (PARTITION BY user_id ORDER BY ts, step ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    # Right-censoring, as the Spark funnels do: a step-1 entry starts a chain only when its whole window ends
    # before the end of the data (ts + window < end), so every counted chain had its full window.
    level = (
        f"(SELECT user_id, ts, step, CASE WHEN step = 1 AND ts + {window} < {end_us} THEN ts END AS s1 FROM entries)"
    )
    for j in range(2, len(funnel.steps) + 1):
        level = (
            f"(SELECT *, CASE WHEN step = {j} AND ts <= m{j} + {window} THEN m{j} END AS s{j} "
            f"FROM (SELECT *, max(s{j - 1}) {earlier} AS m{j} FROM {level}))"
        )
    users = ", ".join(
        f"count(DISTINCT user_id) FILTER (WHERE s{j} IS NOT NULL) AS users_{j}" for j in range(1, len(funnel.steps) + 1)
    )
    return f"""
WITH over_cap AS (SELECT user_id FROM {recent} GROUP BY user_id HAVING count(*) > {max_events}),
capped_kept AS (
    SELECT user_id, ts, steps FROM (
        SELECT user_id, ts, {steps} AS steps, ({matching}) AS matching,
            row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, event_id DESC) AS rank
        FROM {recent} SEMI JOIN over_cap USING (user_id)
    ) WHERE rank <= {max_events} AND matching
),
tagged AS (
    SELECT user_id, ts, {steps} AS steps FROM {recent} ANTI JOIN over_cap USING (user_id) WHERE {matching}
    UNION ALL
    SELECT * FROM capped_kept
),
entries AS (
    SELECT * FROM (SELECT user_id, ts, unnest(steps) AS step FROM tagged) WHERE step IS NOT NULL{orders_entries}
)
SELECT {users}, (SELECT count(*) FROM over_cap) AS capped_users FROM {level}
"""


def duckdb_funnel(
    events_files: Sequence[str], orders_files: Sequence[str], start_us: int, end_us: int, max_events: int,
    threads: int, repeat: int,
) -> tuple[float, tuple[int, ...], int]:  # fmt: skip
    """Best-of-``repeat`` seconds, per-step users and capped users of FUNNEL by DuckDB over the files."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    listed = lambda files: "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"  # noqa: E731
    sql = duckdb_funnel_sql(listed(events_files), listed(orders_files), FUNNEL, start_us, end_us, max_events)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        row = con.execute(sql).fetchone()
        runs.append((time.perf_counter() - started, row))
    con.close()
    seconds, row = min(runs, key=lambda r: r[0])
    return seconds, tuple(int(x) for x in row[:-1]), int(row[-1])


# -- the Spark side ----------------------------------------------------------------------------------------
def _noop(frames: Sequence[DataFrame]) -> float:
    """Seconds to compute every row and column of ``frames`` (Spark's benchmark sink: nothing stored)."""
    started = time.perf_counter()
    for df in frames:
        df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def spark_step_users(outcomes: DataFrame) -> tuple[int, ...]:
    """Users reaching each step of FUNNEL (furthest_step >= j) from the funnel engine's per-user outcomes."""
    mine = outcomes.where(F.col("funnel") == FUNNEL.name)
    counts = [F.count(F.when(F.col("furthest_step") >= j, 1)) for j in range(1, len(FUNNEL.steps) + 1)]
    return tuple(int(x) for x in mine.agg(*counts).first())


@dataclass
class Result:
    users: int
    bots: int
    events: int
    orders: int
    generated: float | None
    capped_duckdb: int
    duckdb_s: float
    duckdb_steps: tuple[int, ...]
    capped_spark: int | None = None
    load_s: float | None = None
    spark_s: float | None = None
    spark_steps: tuple[int, ...] | None = None
    persist_s: float | None = None
    analyses: dict[str, float] | None = None
    load_avg: float = 0.0


def time_spark(spark: SparkSession, config: Config, wired: Wiring, repeat: int, result: Result) -> None:
    """The loader, the funnel engine on the bench funnel alone (from the loader's unpersisted inputs, as DuckDB
    reads its files), then every analysis (every configured funnel) on the inputs with the events persisted."""
    catalog = Catalog(spark, config)
    started = time.perf_counter()
    inputs = wired.load(catalog, config, AS_OF)
    result.capped_spark = inputs.capped_users.count()
    _noop([inputs.events])
    result.load_s = time.perf_counter() - started
    funnel_only, runs = only_bench_funnel(config), []
    for _ in range(repeat):
        started = time.perf_counter()
        steps = spark_step_users(wired.outcomes(inputs, funnel_only))
        runs.append((time.perf_counter() - started, steps))
    result.spark_s, result.spark_steps = min(runs, key=lambda r: r[0])

    started = time.perf_counter()
    events = inputs.events.persist(StorageLevel.MEMORY_AND_DISK)
    events.count()
    result.persist_s = time.perf_counter() - started
    inputs = replace(inputs, events=events)
    outcomes = wired.outcomes(inputs, config).persist(StorageLevel.MEMORY_AND_DISK)
    timings = {"funnel outcomes": _noop([outcomes])}
    for name, analyse in wired.analyses.items():
        started = time.perf_counter()
        output = analyse(inputs, config, outcomes)
        timings[name] = time.perf_counter() - started + _noop(list(output.tables.values()))
        print(f"  {name}: {timings[name]:.1f}s ({len(output.tables)} tables)", flush=True)
    result.analyses = timings
    outcomes.unpersist()
    events.unpersist()


# -- report ------------------------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(results: Sequence[Result], command: str, shape: Shape, cores: int, notes: str) -> str:
    """The markdown block of one run."""
    steps = " -> ".join(s.name for s in FUNNEL.steps)
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
        "",
        f"{cores} cores, Spark {SparkSession.getActiveSession().version}, DuckDB {duckdb.__version__}. "
        f"Inputs: synthetic (hash-based over spark.range), ~{shape.events_per_user:g} events per user in the "
        f"{shape.lookback_days}-day lookback, ~{shape.orders_per_user:g} orders per buyer over "
        f"{ORDER_HISTORY_DAYS} days, {shape.bots} bots x {shape.bot_events:,} events; D = {AS_OF}. "
        f"Funnel {FUNNEL.name}: {steps} within {FUNNEL.window_seconds:,} s (windowFunnel default mode). "
        "Funnel s = per-step users from the loaded (capped, unpersisted) events: Spark funnel engine vs DuckDB "
        "SQL on the same parquet files with the same cap, best of the repeats; analyses = every output table "
        "materialised (noop sink) on the inputs with the events persisted; load avg = 1-minute load when the "
        f"size finished. {notes}".rstrip(),
        "",
        "| users | events | orders | capped users (Spark / DuckDB) | generate s | load s | Spark funnel s "
        "| DuckDB funnel s | Spark/DuckDB | step users equal | persist s | "
        + " | ".join(f"{a} s" for a in ANALYSES)
        + " | load avg |",
        "|" + "---:|" * (12 + len(ANALYSES)),
    ]
    for r in results:
        ratio = f"{r.spark_s / r.duckdb_s:.1f}x" if r.spark_s is not None else "-"
        equal = "-" if r.spark_steps is None else ("yes" if r.spark_steps == r.duckdb_steps else "NO")
        capped = f"{r.capped_spark if r.capped_spark is not None else '-'} / {r.capped_duckdb}"
        analyses = " | ".join(_s((r.analyses or {}).get(a)) for a in ANALYSES)
        lines.append(
            f"| {r.users:,} | {r.events:,} | {r.orders:,} | {capped} | {_s(r.generated)} | {_s(r.load_s)} "
            f"| {_s(r.spark_s)} | {r.duckdb_s:.1f} | {ratio} | {equal} | {_s(r.persist_s)} | {analyses} "
            f"| {r.load_avg:.1f} |"
        )
    lines.append("")
    for r in results:
        spark_steps = "-" if r.spark_steps is None else ", ".join(f"{n:,}" for n in r.spark_steps)
        lines.append(
            f"- {r.users:,} users, users per step: DuckDB {', '.join(f'{n:,}' for n in r.duckdb_steps)}; "
            f"Spark {spark_steps}"
        )
    return "\n".join(lines) + "\n"


def append_report(path: Path, block: str) -> None:
    """Add ``block`` at the end of the Analysis section (created if absent); other sections untouched."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nRuns of `scripts/bench_analyze.py` (newest last).\n"
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "".join(lines[:end]).rstrip("\n"), "".join(lines[end:])
    path.write_text(before + "\n\n" + block + ("\n" + after if after else ""), encoding="utf-8")


# -- main --------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="250000,500000,1000000", help="user counts, comma-separated")
    parser.add_argument("--events-per-user", type=float, default=100.0, help="mean events per user in the lookback")
    parser.add_argument("--orders-per-user", type=float, default=10.0, help="mean orders per buyer over two years")
    parser.add_argument("--bots", type=int, default=5, help="extra users with --bot-events events each")
    parser.add_argument("--bot-events", type=int, default=2_000_000)
    parser.add_argument("--lookback-days", type=int, help="events lookback (default: the analysis YAML's)")
    parser.add_argument("--max-events", type=int, help="event cap per user (default: the analysis YAML's)")
    parser.add_argument("--root", default="/tmp/bench_analyze", help="where the generated inputs live")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each funnel computation (best kept)")
    parser.add_argument(
        "--duckdb-only", action="store_true", help="inputs and the DuckDB funnel only (needs --lookback-days and "
        "--max-events; runs without the analysis package)",
    )  # fmt: skip
    parser.add_argument("--report", default=str(REPORT), help="markdown file to append to ('' to skip)")
    parser.add_argument("--notes", default="", help="free text added to the report block")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.users.split(",") if s]
    if args.duckdb_only and (args.lookback_days is None or args.max_events is None):
        parser.error("--duckdb-only needs --lookback-days and --max-events")
    cores = len(os.sched_getaffinity(0))

    def config_for(root: Path) -> Config:
        overrides = {"catalog": {"root": str(root / "warehouse")}}
        if not args.duckdb_only:
            overrides |= bench_overrides(args.lookback_days, args.max_events)
        return load_config(env="local", overrides=overrides)

    spark = get_spark(config_for(Path(args.root)).spark, REPO)
    spark.sparkContext.setLogLevel("ERROR")
    results, shape = [], None
    for users in sizes:
        root = Path(args.root) / f"n{users}"
        config = config_for(root)
        wired = None if args.duckdb_only else wiring(config)
        lookback = args.lookback_days if wired is None else wired.lookback_days
        max_events = args.max_events if wired is None else wired.max_events
        shape = Shape(users, args.bots, args.bot_events, args.orders_per_user, args.events_per_user, lookback)
        print(f"{users:,} users + {args.bots} bots ({root})", flush=True)
        generated = ensure_inputs(spark, config, shape, root)
        if generated is not None:
            print(f"  inputs written in {generated:.0f}s", flush=True)
        catalog = Catalog(spark, config)
        events, orders = catalog.read("silver.events"), catalog.read("silver.orders")
        end_us = _epoch(AS_OF) * US
        start_us = end_us - lookback * DAY * US
        duck = duckdb_funnel(events.inputFiles(), orders.inputFiles(), start_us, end_us, max_events, cores, args.repeat)
        result = Result(users, args.bots, events.count(), orders.count(), generated, duck[2], duck[0], duck[1])
        print(f"  DuckDB funnel {duck[0]:.2f}s: users per step {duck[1]}, capped users {duck[2]}", flush=True)
        if wired is not None:
            time_spark(spark, config, wired, args.repeat, result)
            print(
                f"  Spark funnel {result.spark_s:.2f}s: users per step {result.spark_steps}, capped users "
                f"{result.capped_spark}; {result.spark_s / result.duckdb_s:.1f}x DuckDB",
                flush=True,
            )
        result.load_avg = os.getloadavg()[0]
        results.append(result)

    command = "python scripts/bench_analyze.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    block = render(results, command.strip(), shape, cores, args.notes)
    print("\n" + block)
    if args.report:
        append_report(Path(args.report), block)
        print(f"appended to {args.report}")
    mismatched = [
        r.users for r in results
        if r.spark_steps is not None and (r.spark_steps != r.duckdb_steps or r.capped_spark != r.capped_duckdb)
    ]  # fmt: skip
    if mismatched:
        print(f"Spark and DuckDB disagree at {mismatched} users (per-step users or capped users)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
