"""Benchmark the point-in-time feature engine against DuckDB on the same silver files.

For each size (users), in one run:
1. silver tables (users, orders, events, level_changes) under ``<root>/n<users>/warehouse``, written
   once through the catalog and reused by later runs: ``--data synthetic`` (default, a fast hash-based
   generator here: ~``--orders-per-user`` orders and ~``--events-per-user`` events per user over two
   years) or ``--data pipeline`` (the project's ``generate`` then ``ingest`` jobs);
2. the RFM core (recency, frequency and monetary per window, per user) computed by DuckDB from the live
   parquet files of silver.orders, and by the project's Spark code alone (``userscore.features.rfm_core``)
   from the same Delta table; both end in the same checksum aggregate (count and column sums), which
   must agree, so each engine computes every column;
3. the full feature job (``userscore features --as-of D``: every family, written to Delta).

It prints a table and appends it to the "Features" section of docs/benchmarks.md: wall seconds (best
of ``--repeat`` for the RFM core), rows per second per core, the Spark/DuckDB ratio per size, and time
per user across sizes.

    .venv/bin/python scripts/bench_features.py                      # 250k, 500k, 1M users
    .venv/bin/python scripts/bench_features.py --sizes 50000 100000 --root /tmp/bench_features
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config, load_config
from userscore.config.features import FeaturesConfig
from userscore.features import rfm_core
from userscore.jobs import features as features_job
from userscore.runner import common_arguments, run_job
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
SECTION = "## Features"
AS_OF = dt.date(2026, 11, 1)
HISTORY_DAYS = 730
CATEGORIES = ("apparel", "beauty", "books", "electronics", "grocery", "home", "sports", "toys")
CHANNELS = ("app", "web", "store", "mini_program")
# Event types with their share of events; the first four carry a category.
EVENT_TYPES = (
    ("page_view", 0.38), ("click", 0.18), ("favorite", 0.05), ("add_to_cart", 0.07), ("login", 0.12),
    ("search", 0.08), ("share", 0.03), ("comment", 0.03), ("coupon_claim", 0.03), ("campaign_join", 0.02),
    ("service_contact", 0.01),
)  # fmt: skip


@dataclass
class Timing:
    """Wall seconds and CPU seconds (of the process doing the work) of one computation."""

    wall: float
    cpu: float


@dataclass
class Result:
    users: int
    orders: int
    events: int
    duckdb: Timing
    spark_core: Timing
    job: Timing | None
    cores: int
    load: float


# -- synthetic silver -----------------------------------------------------------------------------
def _uniform(*keys: Column | str) -> Column:
    """A deterministic uniform [0, 1) from a hash of the keys (same rows whatever the partitioning)."""
    hashed = F.xxhash64(*[F.lit(k) if isinstance(k, str) else k for k in keys])
    return F.pmod(hashed, F.lit(2**31).cast("long")) / float(2**31)


def _pick(values: Sequence[str], u: Column) -> Column:
    return F.element_at(F.array(*[F.lit(v) for v in values]), (u * len(values)).cast("int") + 1)


def synthetic_silver(
    spark: SparkSession, users: int, orders_per_user: float, events_per_user: float
) -> dict[str, DataFrame]:
    """Silver-shaped users, orders, events and level changes; counts per user uniform in [0, 2 * mean]."""
    end = int(dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=dt.UTC).timestamp())
    start = end - HISTORY_DAYS * 86400
    partitions = max(2, users // 50_000)
    ids = spark.range(0, users, 1, partitions).select(
        F.col("id"),
        F.format_string("u%09d", F.col("id")).alias("user_id"),
        (F.lit(start - 365 * 86400) + (_uniform("reg", F.col("id")) * (HISTORY_DAYS + 300) * 86400).cast("long")).alias(
            "reg"
        ),
    )
    users_df = ids.select(
        "user_id",
        F.timestamp_seconds("reg").alias("registered_at"),
        _pick(("organic", "search_ad", "social", "referral", "store"), _uniform("ch", F.col("id"))).alias(
            "registration_channel"
        ),
        _pick(("female", "male", "unknown"), _uniform("g", F.col("id"))).alias("gender"),
        _pick(("18-24", "25-34", "35-44", "45-54", "55+"), _uniform("age", F.col("id"))).alias("age_band"),
        _pick(("north", "south", "east", "west", "central"), _uniform("reg2", F.col("id"))).alias("region"),
        _pick(("basic", "silver", "gold", "platinum"), _uniform("lvl", F.col("id"))).alias("member_level"),
        F.lit(None).cast("string").alias("phone_hash"),
        F.lit(None).cast("string").alias("email_hash"),
        F.timestamp_seconds(F.lit(end)).alias("updated_at"),
        F.lit("bench").alias("ingest_batch_id"),
    )

    def per_user(mean: float, salt: str) -> DataFrame:
        n = (_uniform(salt, F.col("id")) * (2 * mean + 1)).cast("int")
        first = F.greatest(F.col("reg"), F.lit(start))
        return ids.select(
            "id",
            "user_id",
            first.alias("first"),
            F.explode(F.sequence(F.lit(1), F.greatest(n, F.lit(1)))).alias("k"),
            (n == 0).alias("none"),
        ).where(~F.col("none"))

    o = per_user(orders_per_user, "n_orders")
    oid, ok = F.col("id"), F.col("k")
    ots = F.col("first") + (_uniform("ots", oid, ok) * (F.lit(end) - F.col("first"))).cast("long")
    amount = F.when(_uniform("zero", oid, ok) < 0.02, F.lit(0.0)).otherwise(
        F.round(F.exp(F.lit(3.5) + F.lit(0.8) * (_uniform("amt", oid, ok) - 0.5) * 3.4), 2)
    )
    coupon = _uniform("coupon", oid, ok) < 0.2
    orders_df = o.select(
        F.format_string("o%09d-%05d", oid, ok).alias("order_id"),
        "user_id",
        F.timestamp_seconds(ots).alias("order_ts"),
        F.trunc(F.to_date(F.timestamp_seconds(ots)), "month").alias("order_month"),
        amount.alias("amount"),
        _pick(CATEGORIES, _uniform("ocat", oid, ok)).alias("category"),
        _pick(CHANNELS, _uniform("och", oid, ok)).alias("channel"),
        F.lit(None).cast("string").alias("payment_method"),
        coupon.alias("coupon_used"),
        F.when(coupon, F.round(amount * 0.1, 2)).otherwise(F.lit(0.0)).alias("discount_amount"),
        (_uniform("refund", oid, ok) < 0.05).alias("is_refunded"),
        (F.lit(1) + (_uniform("items", oid, ok) * 4).cast("int")).alias("item_count"),
        # Refunded at the order time, so DuckDB's `NOT is_refunded` is the same rule as refunded-as-of-D.
        F.when(_uniform("refund", oid, ok) < 0.05, F.timestamp_seconds(ots)).alias("refunded_at"),
        F.timestamp_seconds(ots).alias("updated_at"),
        F.lit("bench").alias("ingest_batch_id"),
    )

    e = per_user(events_per_user, "n_events")
    eid, ek = F.col("id"), F.col("k")
    ets = F.col("first") + (_uniform("ets", eid, ek) * (F.lit(end) - F.col("first"))).cast("long")
    u = _uniform("etype", eid, ek)
    edges, acc = [], 0.0
    for name, share in EVENT_TYPES:
        acc += share
        edges.append((acc, name))
    event_type = F.when(u < edges[0][0], F.lit(edges[0][1]))
    for edge, name in edges[1:-1]:
        event_type = event_type.when(u < edge, F.lit(name))
    event_type = event_type.otherwise(F.lit(edges[-1][1]))
    events_df = e.select("*", event_type.alias("event_type"), ets.alias("ets")).select(
        F.format_string("e%09d-%05d", eid, ek).alias("event_id"),
        "user_id",
        F.timestamp_seconds("ets").alias("event_ts"),
        F.trunc(F.to_date(F.timestamp_seconds("ets")), "month").alias("event_month"),
        "event_type",
        F.when(
            F.col("event_type").isin("page_view", "click", "favorite", "add_to_cart"),
            _pick(CATEGORIES, _uniform("ecat", eid, ek)),
        ).alias("category"),
        F.lit("/p").alias("page"),
        F.when(F.col("event_type") == "page_view", F.round(_uniform("dwell", eid, ek) * 120, 1)).alias("dwell_seconds"),
        F.lit("bench").alias("ingest_batch_id"),
    )
    changes = ids.where(_uniform("haschange", F.col("id")) < 0.3).select(
        F.format_string("c%09d", F.col("id")).alias("change_id"),
        "user_id",
        F.timestamp_seconds(F.col("reg") + (_uniform("cts", F.col("id")) * HISTORY_DAYS * 86400).cast("long")).alias(
            "changed_at"
        ),
        F.lit("basic").alias("from_level"),
        F.lit("silver").alias("to_level"),
        F.lit("bench").alias("ingest_batch_id"),
    )
    return {"users": users_df, "orders": orders_df, "events": events_df, "level_changes": changes}


def ensure_silver(spark: SparkSession, catalog: Catalog, args: argparse.Namespace, users: int, root: Path) -> None:
    """Write the silver tables for ``users`` once (skipped when present from an earlier run)."""
    tables = {"users": "silver.users", "orders": "silver.orders", "events": "silver.events",
              "level_changes": "silver.level_changes"}  # fmt: skip
    if all(catalog.exists(t) for t in tables.values()):
        return
    started = time.perf_counter()
    if args.data == "pipeline":
        _pipeline_silver(users, root)
    else:
        frames = synthetic_silver(spark, users, args.orders_per_user, args.events_per_user)
        for name, table in tables.items():
            df = frames[name]
            # One file per month partition and task keeps file counts like a compacted silver table.
            if name in ("orders", "events"):
                df = df.repartition(max(2, users // 250_000), f"{name[:-1]}_month")
            catalog.append(table, df)
    print(f"  silver for {users:,} users written in {time.perf_counter() - started:.0f}s", flush=True)


def _pipeline_silver(users: int, root: Path) -> None:
    """The project's own generate + ingest jobs (slower; exercises the real data)."""
    from userscore.jobs import generate as generate_job
    from userscore.jobs import ingest as ingest_job

    os.environ.setdefault("USERSCORE_PII_KEY", "bench-only-key")
    raw = str(root / "raw")
    overrides = {
        "catalog": {"root": str(root / "warehouse")},
        "generate": {"users": users, "raw_dir": raw},
        "ingest": {"raw_dir": raw},
    }
    for module, argv in ((generate_job, []), (ingest_job, [])):
        code = _run(module, module.__name__.rsplit(".", 1)[-1], argv, overrides)
        if code != 0:
            raise SystemExit(f"{module.__name__} failed with exit code {code}")


# -- the timed computations ---------------------------------------------------------------------------
def _run(module, name: str, argv: list[str], overrides: dict) -> int:
    parser = argparse.ArgumentParser(parents=[common_arguments()])
    module.add_arguments(parser)
    return run_job(name, module, parser.parse_args(argv), lambda _args: overrides)


def _jvm_cpu_seconds(spark: SparkSession) -> float:
    """CPU seconds used so far by the local Spark JVM (all its threads), from /proc."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    if proc is None or not Path(f"/proc/{proc.pid}/stat").exists():
        return math.nan
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(fn: Callable[[], object], cpu: Callable[[], float]) -> tuple[Timing, object]:
    wall0, cpu0 = time.perf_counter(), cpu()
    result = fn()
    return Timing(time.perf_counter() - wall0, cpu() - cpu0), result


def duckdb_core_sql(files: Sequence[str], as_of: dt.date, windows: Sequence[int]) -> str:
    """The RFM core as DuckDB SQL: the same definitions as the default rfm measures (kept = not refunded)."""
    d = f"TIMESTAMP '{as_of} 00:00:00'"
    kept = "NOT is_refunded"
    columns = [f"date_diff('day', CAST(max(order_ts) FILTER (WHERE {kept}) AS DATE), DATE '{as_of}') AS recency_days"]
    columns += [
        f"count(*) FILTER (WHERE {kept} AND order_ts >= {d} - INTERVAL {n} DAY) AS frequency_{n}d" for n in windows
    ]
    columns += [
        f"coalesce(sum(amount) FILTER (WHERE {kept} AND order_ts >= {d} - INTERVAL {n} DAY), 0) AS monetary_{n}d"
        for n in windows
    ]
    listed = ", ".join(f"'{f}'" for f in files)
    return f"SELECT user_id, {', '.join(columns)} FROM read_parquet([{listed}]) WHERE order_ts < {d} GROUP BY user_id"


def checksum_columns(windows: Sequence[int]) -> list[str]:
    return ["recency_days", *[f"frequency_{n}d" for n in windows], *[f"monetary_{n}d" for n in windows]]


def time_duckdb(files: Sequence[str], windows: Sequence[int], threads: int, repeat: int) -> tuple[Timing, tuple]:
    """Best-of-``repeat`` DuckDB RFM core (CPU: this process, where DuckDB's threads run)."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    sums = ", ".join(f"sum({c})" for c in checksum_columns(windows))
    sql = f"SELECT count(*), {sums} FROM ({duckdb_core_sql(files, AS_OF, windows)})"
    runs = [_measure(lambda: con.execute(sql).fetchone(), time.process_time) for _ in range(repeat)]
    con.close()
    best, result = min(runs, key=lambda r: r[0].wall)
    return best, tuple(result)


def time_spark_core(spark: SparkSession, catalog: Catalog, config: FeaturesConfig, repeat: int) -> tuple[Timing, tuple]:
    """Best-of-``repeat`` Spark RFM core by the project's code (CPU: the Spark JVM)."""
    sums = [F.sum(c) for c in checksum_columns(config.windows)]

    def once() -> tuple:
        core = rfm_core(catalog.read(config.sources.orders.table), AS_OF, config)
        return tuple(core.agg(F.count(F.lit(1)), *sums).first())

    runs = [_measure(once, lambda: _jvm_cpu_seconds(spark)) for _ in range(repeat)]
    best, result = min(runs, key=lambda r: r[0].wall)
    return best, result


def _same(a: tuple, b: tuple) -> bool:
    pairs = zip(a, b, strict=True)
    return all(math.isclose(float(x or 0), float(y or 0), rel_tol=1e-9, abs_tol=1e-6) for x, y in pairs)


def time_job(spark: SparkSession, root: Path) -> Timing:
    """The full feature job for AS_OF through the job runner (writes features.* under ``root``)."""
    overrides = {"catalog": {"root": str(root / "warehouse")}}
    timing, code = _measure(
        lambda: _run(features_job, "features", ["--as-of", str(AS_OF)], overrides), lambda: _jvm_cpu_seconds(spark)
    )
    if code != 0:
        raise SystemExit(f"feature job failed with exit code {code}")
    return timing


# -- report -------------------------------------------------------------------------------------------
def render(results: Sequence[Result], command: str, notes: str) -> str:
    """The markdown block of one run."""
    cores = results[0].cores
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
        "",
        f"{cores} cores, Spark {SparkSession.getActiveSession().version}, DuckDB {duckdb.__version__}. "
        "RFM core = recency + frequency/monetary per window over silver.orders, best of the repeats; "
        "rows/s/core counts orders (core) or orders + events (full job) over wall time; CPU s = CPU seconds "
        "of the process doing the work (Spark JVM, DuckDB in-process), less sensitive to other load on the "
        f"machine (load avg = 1-minute load when the size finished). {notes}".rstrip(),
        "",
        "| users | orders | events | DuckDB core s | Spark core s | Spark/DuckDB wall | CPU s DuckDB / Spark "
        "| Spark/DuckDB CPU | DuckDB rows/s/core | Spark core rows/s/core | full job s (CPU s) "
        "| full job rows/s/core | µs/user core | µs/user job | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        d, c, j = r.duckdb, r.spark_core, r.job
        job = f"{j.wall:.1f} ({j.cpu:.0f})" if j else "-"
        job_rate = f"{(r.orders + r.events) / j.wall / cores:,.0f}" if j else "-"
        job_per_user = f"{j.wall / r.users * 1e6:.1f}" if j else "-"
        lines.append(
            f"| {r.users:,} | {r.orders:,} | {r.events:,} | {d.wall:.2f} | {c.wall:.2f} | {c.wall / d.wall:.1f}x "
            f"| {d.cpu:.1f} / {c.cpu:.1f} | {c.cpu / d.cpu:.1f}x | {r.orders / d.wall / cores:,.0f} "
            f"| {r.orders / c.wall / cores:,.0f} | {job} | {job_rate} "
            f"| {c.wall / r.users * 1e6:.2f} | {job_per_user} | {r.load:.1f} |"
        )
    if len(results) > 1:
        core = [r.spark_core.wall / r.users for r in results]
        spread = f"Time per user, max/min across sizes: Spark core {max(core) / min(core):.2f}"
        jobs = [r.job.wall / r.users for r in results if r.job]
        if len(jobs) == len(results):
            spread += f", full job {max(jobs) / min(jobs):.2f}"
        lines += ["", spread + " (target: within 1.25)."]
    return "\n".join(lines) + "\n"


def append_report(path: Path, block: str) -> None:
    """Add ``block`` at the end of the Features section (created if absent); other sections untouched."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nRuns of `scripts/bench_features.py` (newest last).\n"
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "".join(lines[:end]).rstrip("\n"), "".join(lines[end:])
    text = before + "\n\n" + block + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- main ---------------------------------------------------------------------------------------------
def _config(root: Path) -> Config:
    return load_config(env="local", overrides={"catalog": {"root": str(root / "warehouse")}})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", nargs="+", default=["250000", "500000", "1000000"], help="user counts (space- or comma-separated)"
    )
    parser.add_argument("--orders-per-user", type=float, default=20.0)
    parser.add_argument("--events-per-user", type=float, default=100.0)
    parser.add_argument("--root", default="/tmp/bench_features", help="where the generated silver tables live")
    parser.add_argument("--data", choices=("synthetic", "pipeline"), default="synthetic")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each RFM core computation (best kept)")
    parser.add_argument("--skip-job", action="store_true", help="time only the RFM core")
    parser.add_argument("--report", default=str(REPORT), help="markdown file to append to ('' to skip)")
    parser.add_argument("--notes", default="", help="free text added to the report block")
    args = parser.parse_args(argv)
    sizes = [int(s) for arg in args.sizes for s in arg.split(",") if s]
    cores = os.cpu_count() or 1

    spark = get_spark(_config(Path(args.root)).spark, REPO)
    results = []
    for users in sizes:
        root = Path(args.root) / f"n{users}"
        config = _config(root)
        catalog = Catalog(spark, config)
        print(f"{users:,} users ({root})", flush=True)
        ensure_silver(spark, catalog, args, users, root)
        features = config.features
        orders = catalog.read(features.sources.orders.table)
        files = orders.inputFiles()
        n_orders = orders.where(F.col(features.sources.orders.time) < F.lit(AS_OF).cast("timestamp")).count()
        n_events = catalog.read(features.sources.events.table).count()

        duck, duck_sum = time_duckdb(files, features.windows, cores, args.repeat)
        core, spark_sum = time_spark_core(spark, catalog, features, args.repeat)
        if not _same(duck_sum, spark_sum):
            raise SystemExit(f"RFM core differs: DuckDB {duck_sum} vs Spark {spark_sum}")
        print(
            f"  RFM core: DuckDB {duck.wall:.2f}s ({duck.cpu:.1f} CPU s), Spark {core.wall:.2f}s "
            f"({core.cpu:.1f} CPU s): {core.wall / duck.wall:.1f}x wall, {core.cpu / duck.cpu:.1f}x CPU",
            flush=True,
        )
        job = None
        if not args.skip_job:
            job = time_job(spark, root)
            print(f"  full feature job: {job.wall:.1f}s ({job.cpu:.0f} CPU s)", flush=True)
        results.append(Result(users, n_orders, n_events, duck, core, job, cores, os.getloadavg()[0]))

    command = "python scripts/bench_features.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    block = render(results, command.strip(), args.notes)
    print("\n" + block)
    if args.report:
        append_report(Path(args.report), block)
        print(f"appended to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
