#!/usr/bin/env python3
"""Benchmark BTYD at scale: Spark summary, driver groups, fit and distributed scoring on generated orders.

For each size (users):
1. orders (``--orders synthetic``, default: a hash-based process over spark.range with ~20 orders per buyer
   over two years; ``--orders generator``: the order process of ``userscore.generate``, orders only, no
   landing or ingest) with the silver.orders columns the summary reads, persisted on disk; generating them
   is timed but is not a BTYD stage;
2. summary: ``calibration_summary`` at D = generate.end_date (one row per customer, persisted);
3. groups: the distinct (x, t_x, T) and (x, m_x) groups, the only data collected to the driver;
   t_x and T rounded to btyd.fit_resolution_days (default: one time unit, 7 days);
4. fit: BG/NBD + Gamma-Gamma on the groups, timed twice: as collected, and with every weight x10 (the
   same groups standing for 10 times the customers) -- the second shows the fit's cost does not depend on
   the number of customers, only on the groups; then, for comparison, the groups at exact days (counted in
   Spark; collected and fitted when there are at most --day-fit-max-groups of them) and how far the default
   resolution moves the parameters and the customers' expected purchases;
5. scoring: ``add_btyd_scores`` on every customer (pandas UDF), forced by summing every score column.

It prints a table and appends it to the "BTYD" section of docs/benchmarks.md (created if absent; other
sections untouched).

    .venv/bin/python scripts/bench_btyd.py                           # 1M users
    .venv/bin/python scripts/bench_btyd.py --sizes 1000000,10000000
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.btyd import expected_purchases
from userscore.btyd.model import BTYDFit, ScoreSettings, fit_btyd
from userscore.btyd.scoring import add_btyd_scores
from userscore.btyd.summary import calibration_summary, collect_groups, rfm_groups
from userscore.config import Config, load_config
from userscore.generate.calibration import calibrate
from userscore.generate.orders import generate_orders
from userscore.generate.timeline import Timeline, as_timestamp
from userscore.generate.traits import user_frame
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
SECTION = "## BTYD"
SOURCES = {
    "synthetic": "hash-based over spark.range, 85% buyers, ~20 orders per buyer over 730 days, 5% refunded",
    "generator": "userscore.generate's order process, conf/base/generate.yaml",
}


@dataclass
class Result:
    users: int
    orders: int
    customers: int
    resolution_days: int
    rfm_groups: int
    spend_groups: int
    generate_s: float
    summary_s: float
    groups_s: float
    fit_s: float
    fit_x10_s: float
    fit_iterations: tuple[int, int]
    x10_param_change: float
    day_groups: int
    day_fit_s: float | None
    day_param_change: float | None
    day_purchases_change: float | None
    scoring_s: float
    partitions: int
    load: float


def generated_orders(spark: SparkSession, config: Config, users: int, partitions: int) -> DataFrame:
    """The generator's orders of ``users`` users as (user_id, order_ts, order_month, amount, is_refunded,
    refunded_at)."""
    cfg = dataclasses.replace(config.generate, users=users)
    timeline = Timeline.build(cfg.end_date, cfg.history_days, cfg.weekday_weights)
    scales = calibrate(spark, cfg, timeline)
    ids = spark.range(0, users, 1, partitions)
    orders = generate_orders(user_frame(ids, cfg, timeline, scales), cfg, timeline)
    ts = as_timestamp(F.col("ts"))
    return orders.select(
        "user_id",
        ts.alias("order_ts"),
        F.trunc(ts, "month").alias("order_month"),
        "amount",
        "is_refunded",
        as_timestamp(F.col("refunded_ts")).alias("refunded_at"),
    )


def _uniform(seed: int, salt: str, *keys: Column) -> Column:
    """A deterministic uniform in (0, 1) from a hash of (seed, salt, keys): same rows whatever the partitioning."""
    hashed = F.xxhash64(F.lit(seed), F.lit(salt), *keys)
    return (F.pmod(hashed, F.lit(2**31 - 1)) + 1) / float(2**31 + 1)


def synthetic_orders(
    spark: SparkSession, users: int, partitions: int, end: dt.date, history_days: int = 730, seed: int = 7
) -> DataFrame:
    """Hash-generated orders over ``history_days`` before ``end``, shaped like the project's generator.

    85% of users buy; a buyer's first purchase day is uniform over the history, their active span ends at a
    random point before ``end``, their number of orders is geometric with a per-user mean (log-normal around
    ~20) and each order falls on a uniform day of the span with a log-normal amount; 5% are refunded.
    """
    idx = F.col("id")

    def u(salt: str, *keys: Column) -> Column:
        return _uniform(seed, salt, idx, *keys)

    normal = F.sqrt(-2.0 * F.log(u("n1"))) * F.cos(2.0 * math.pi * u("n2"))
    mean_orders = F.exp(normal * 0.9) * 12.0
    first = F.floor(u("first") * history_days)
    span = F.floor((F.lit(history_days) - first) * F.pow(u("span"), 0.5))
    n = F.lit(1) + F.floor(F.log(u("count")) / F.log(F.lit(1.0) - F.lit(1.0) / (mean_orders + 1.0)))
    buyers = (
        spark.range(0, users, 1, partitions)
        .where(u("buyer") < 0.85)
        .select(
            idx,
            F.format_string("u%09d", idx).alias("user_id"),
            first.alias("first"),
            span.alias("span"),
            F.least(n, F.lit(2000)).cast("int").alias("n"),
            (F.exp(normal * 0.3) * 80.0).alias("spend"),
        )
    )
    k = F.col("k")
    start = dt.datetime.combine(end - dt.timedelta(days=history_days), dt.time(), dt.UTC)
    day = F.col("first") + F.when(k == 0, F.lit(0)).otherwise(F.floor(u("day", k) * (F.col("span") + 1)))
    seconds = F.lit(int(start.timestamp())) + day * 86400 + F.floor(u("second", k) * 86400)
    ts = F.timestamp_seconds(seconds.cast("long"))
    amount = F.round(F.col("spend") * F.exp((u("amount", k) - 0.5) * 1.2), 2)
    return buyers.select(
        "id", "user_id", "first", "span", "spend", F.explode(F.sequence(F.lit(0), F.col("n") - 1)).alias("k")
    ).select(
        "user_id",
        ts.alias("order_ts"),
        F.trunc(ts, "month").alias("order_month"),
        amount.alias("amount"),
        (u("refund", k) < 0.05).alias("is_refunded"),
        F.when(u("refund", k) < 0.05, ts).alias("refunded_at"),
    )


def run_size(spark: SparkSession, config: Config, users: int, source: str, day_fit_max_groups: int) -> Result:
    btyd = config.btyd
    as_of = config.generate.end_date
    partitions = max(8, math.ceil(users / 250_000))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    load = os.getloadavg()[0]

    started = time.perf_counter()
    if source == "generator":
        orders = generated_orders(spark, config, users, partitions)
    else:
        orders = synthetic_orders(spark, users, partitions, as_of, config.generate.history_days)
    orders = orders.persist(StorageLevel.DISK_ONLY)
    n_orders = orders.count()
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    summary = calibration_summary(orders, as_of, exclude_refunded=btyd.exclude_refunded).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    customers = summary.count()
    summary_s = time.perf_counter() - started

    resolution = btyd.resolution_days
    started = time.perf_counter()
    stats = collect_groups(summary, btyd.m_x_significant_digits, resolution)
    groups_s = time.perf_counter() - started

    def fit(groups):
        return fit_btyd(groups, time_unit=btyd.time_unit, observation_end=as_of, penalizer=btyd.penalizer)

    started = time.perf_counter()
    fitted = fit(stats)
    fit_s = time.perf_counter() - started
    # The same groups standing for 10x the customers: same arrays for the optimiser, same cost, same optimum.
    tenfold = dataclasses.replace(stats, weight=stats.weight * 10, spend_weight=stats.spend_weight * 10)
    started = time.perf_counter()
    fit_x10 = fit(tenfold)
    fit_x10_s = time.perf_counter() - started
    # Same optimum up to floating-point rounding (x10 does not scale the weighted sums exactly).
    x10_param_change = float(np.max(np.abs(_all_params(fit_x10) / _all_params(fitted) - 1)))

    # Exact days (btyd.fit_resolution_days: 1) for comparison: how many groups, and how far the default moves
    # the parameters and the customers' expected purchases (scored on exact days with both fits).
    day_groups = stats.n_rfm_groups if resolution == 1 else rfm_groups(summary, 1).count()
    day_fit_s = day_param_change = day_purchases_change = None
    if day_groups <= day_fit_max_groups:
        day = stats if resolution == 1 else collect_groups(summary, btyd.m_x_significant_digits, 1)
        started = time.perf_counter()
        day_fit = fit(day)
        day_fit_s = time.perf_counter() - started
        day_param_change = float(np.max(np.abs(_bgnbd_vector(fitted) / _bgnbd_vector(day_fit) - 1)))
        horizon = 365 / btyd.unit_days
        t_x, T = day.t_x_days / btyd.unit_days, day.t_cal_days / btyd.unit_days
        exact = np.sum(day.weight * expected_purchases(day_fit.model.bgnbd, horizon, day.x, t_x, T))
        default = np.sum(day.weight * expected_purchases(fitted.model.bgnbd, horizon, day.x, t_x, T))
        day_purchases_change = float(default / exact - 1)
        print(f"{users:,} users, exact days: BG/NBD {day_fit.model.bgnbd}", flush=True)

    scoring = ScoreSettings.of(btyd.scoring)
    started = time.perf_counter()
    scored = add_btyd_scores(
        summary,
        fitted.model,
        scoring.horizons_days,
        scoring.clv_horizon_days,
        scoring.clv_step_days,
        scoring.annual_discount_rate,
    )
    scored.agg(*[F.sum(c) for c in scoring.columns]).collect()
    scoring_s = time.perf_counter() - started
    summary.unpersist()
    orders.unpersist()
    print(
        f"{users:,} users: BG/NBD {fitted.model.bgnbd}, Gamma-Gamma {fitted.model.gamma_gamma}, "
        f"in-sample repeat error {fitted.diagnostics.repeat_error:.4f}",
        flush=True,
    )
    return Result(
        users, n_orders, customers, resolution, stats.n_rfm_groups, stats.n_spend_groups, generate_s, summary_s,
        groups_s, fit_s, fit_x10_s, (fitted.bgnbd.iterations, fit_x10.bgnbd.iterations), x10_param_change,
        day_groups, day_fit_s, day_param_change, day_purchases_change, scoring_s, partitions, load,
    )  # fmt: skip


def _bgnbd_vector(fit: BTYDFit) -> np.ndarray:
    p = fit.model.bgnbd
    return np.array([p.r, p.alpha, p.a, p.b])


def _all_params(fit: BTYDFit) -> np.ndarray:
    g = fit.model.gamma_gamma
    return np.concatenate([_bgnbd_vector(fit), [g.p, g.q, g.v]])


def _optional(value: float | None, fmt: str, scale: float = 1.0, suffix: str = "") -> str:
    return "-" if value is None else format(value * scale, fmt) + suffix


def table(results: Sequence[Result]) -> str:
    header = (
        "| users | orders | customers | fit resolution d | (x, t_x, T) groups | (x, m_x) groups | generate s "
        "| summary s | groups s | fit s | fit s, weights x10 | BG/NBD iterations (x10) | max parameter change x10 "
        "| groups at 1 d | fit s at 1 d | max BG/NBD parameter change vs 1 d | E[purchases 365 d] change vs 1 d "
        "| scoring s | shuffle partitions | load (1 min) |"
    )
    lines = [header, "|" + "---:|" * 20]
    for r in results:
        lines.append(
            f"| {r.users:,} | {r.orders:,} | {r.customers:,} | {r.resolution_days} | {r.rfm_groups:,} "
            f"| {r.spend_groups:,} | {r.generate_s:.1f} | {r.summary_s:.1f} | {r.groups_s:.1f} | {r.fit_s:.2f} "
            f"| {r.fit_x10_s:.2f} | {r.fit_iterations[0]} ({r.fit_iterations[1]}) | "
            f"{r.x10_param_change:.1e} | {r.day_groups:,} | {_optional(r.day_fit_s, '.2f')} "
            f"| {_optional(r.day_param_change, '.2f', 100, '%')} "
            f"| {_optional(r.day_purchases_change, '+.2f', 100, '%')} "
            f"| {r.scoring_s:.1f} | {r.partitions} | {r.load:.1f} |"
        )
    return "\n".join(lines)


def report_block(results: Sequence[Result], argv: Sequence[str], notes: str, source: str) -> str:
    command = "scripts/bench_btyd.py " + " ".join(shlex.quote(a) for a in argv)
    return "\n".join(
        [
            f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `{command.strip()}`",
            "",
            f"{platform.node()}, {os.cpu_count()} cores (shared), Spark local mode; orders: {source} "
            f"({SOURCES[source]}); D = generate.end_date; btyd config from conf/base/btyd.yaml.",
            "Stages: summary = Spark per-customer summary (persisted); groups = the distinct groups collected to "
            "the driver at the configured fit resolution (btyd.fit_resolution_days, default one time unit); "
            "fit = BG/NBD + Gamma-Gamma on the groups, and again with every weight x10 (the same groups standing "
            "for 10x the customers: same cost, and the largest relative change of any of the 7 parameters); "
            "at 1 d = exact days (btyd.fit_resolution_days: 1): "
            "its groups, its fit, the largest relative change of r, alpha, a, b between the two fits, and the "
            "change of all customers' expected purchases in the next 365 days (exact days, scored with each fit); "
            "scoring = the pandas UDF on every customer.",
            "",
            table(results),
            *([f"\n{notes}"] if notes else []),
            "",
        ]
    )


def append_report(path: Path, block: str) -> None:
    """Add ``block`` at the end of the BTYD section (created if absent); other sections untouched."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nRuns of `scripts/bench_btyd.py` (newest last).\n"
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "".join(lines[:end]).rstrip("\n"), "".join(lines[end:])
    text = before + "\n\n" + block + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated user counts")
    parser.add_argument(
        "--orders",
        choices=("synthetic", "generator"),
        default="synthetic",
        help="orders from a fast hash-based process (default) or from userscore.generate's order process",
    )
    parser.add_argument(
        "--day-fit-max-groups",
        type=int,
        default=2_000_000,
        help="fit at exact days for comparison only when there are at most this many day-resolution groups",
    )
    parser.add_argument("--report", default=str(REPORT), help="markdown file to append to ('' to skip)")
    parser.add_argument("--notes", default="", help="free text added to the report block")
    args = parser.parse_args(argv)
    config = load_config(env="local")
    spark = get_spark(config.spark, REPO)
    results = []
    for users in (int(s) for s in args.sizes.split(",")):
        results.append(run_size(spark, config, users, args.orders, args.day_fit_max_groups))
        print(table(results), flush=True)
    if args.report:
        append_report(Path(args.report), report_block(results, argv, args.notes, args.orders))
        print(f"appended to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
