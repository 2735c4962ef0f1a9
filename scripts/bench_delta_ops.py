"""Benchmark one Delta operation's fixed cost in local mode against the number of log replay tasks.

Delta rebuilds a table's state (its file list) from the log in ``spark.databricks.delta.snapshotPartitions``
tasks (default 50, made for clusters) whenever it reads a new version. Local mode's tables are small, so that
count, not the data, sets the cost of each write and read; the demo makes hundreds of them.

One session with conf/local's settings (``--partitions`` is set per measurement on the running session, a
runtime setting), one Delta table of ``--rows`` rows per setting (same history length for each). Per round and
setting, timed ``--ops`` times each: a ``replaceWhere`` of one seventh of the rows (the pipeline's batch and
partition writes), a MERGE of another seventh (silver.users, scores), and a read + count. The settings
alternate round by round, after a warm-up round that is not counted, so JIT warm-up and machine load fall on
every setting alike. The first setting is the baseline (Delta's default, 50); each figure is the median of
all its operations, with its ratio to the baseline measured in the same run.

Prints a table and appends it to the "Delta operations in local mode" section of docs/benchmarks.md
(``--report ''`` skips). Run it on a quiet machine.

    .venv/bin/python scripts/bench_delta_ops.py                       # 50 (baseline), 8, 2; 3 rounds
    .venv/bin/python scripts/bench_delta_ops.py --rounds 1 --report ''  # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench_report import append_entry
from userscore.config import load_config
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Delta operations in local mode"
SETTING = "spark.databricks.delta.snapshotPartitions"
OPERATIONS = ("replaceWhere", "merge", "read + count")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partitions", type=int, nargs="+", default=[50, 8, 2], help="first: the baseline")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--ops", type=int, default=5, help="operations of each kind per round and setting")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench-delta-ops"), help="work folder (replaced)")
    parser.add_argument("--report", default=str(REPO / "docs" / "benchmarks.md"), help="'' to skip")
    return parser.parse_args()


def operations(spark: SparkSession, path: str, rows: int) -> dict[str, Callable[[], object]]:
    """The three timed operations on the table at ``path`` (created here)."""
    data = spark.range(rows).withColumn("k", F.col("id") % 7).withColumn("value", F.rand(seed=1))
    data.write.format("delta").save(path)

    def replace_where():
        data.where("k = 1").write.format("delta").mode("overwrite").option("replaceWhere", "k = 1").save(path)

    def merge():
        updates = data.where("k = 2").withColumn("value", F.col("value") + 1)
        target = DeltaTable.forPath(spark, path).alias("t")
        target.merge(updates.alias("s"), "t.id = s.id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()

    def read_count():
        return spark.read.format("delta").load(path).count()

    return dict(zip(OPERATIONS, (replace_where, merge, read_count), strict=True))


def timed(fn: Callable[[], object], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return seconds


def report(results: dict[int, dict[str, list[float]]], args: argparse.Namespace, seconds: float) -> str:
    baseline = args.partitions[0]
    command = " ".join(["python scripts/bench_delta_ops.py", *sys.argv[1:]])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
        "",
        f"{os.cpu_count()} cores ({platform.machine()}), {args.rows:,} rows, {args.rounds} rounds x {args.ops} "
        f"operations of each kind per setting; {seconds:.0f} s in all; load average at the end {load}.",
        "",
        "| snapshotPartitions | "
        + " | ".join(f"{op} (median)" for op in OPERATIONS)
        + " | "
        + " | ".join(f"{op} / {baseline}" for op in OPERATIONS)
        + " |",
        "|---:|" + "---:|" * (2 * len(OPERATIONS)),
    ]
    medians = {p: {op: statistics.median(s) for op, s in by_op.items()} for p, by_op in results.items()}
    for partitions, by_op in medians.items():
        cells = [f"{1000 * by_op[op]:,.0f} ms" for op in OPERATIONS]
        ratios = [f"{by_op[op] / medians[baseline][op]:.2f}x" for op in OPERATIONS]
        label = f"{partitions} (baseline)" if partitions == baseline else str(partitions)
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    if args.root.exists():
        shutil.rmtree(args.root)
    args.root.mkdir(parents=True)
    spark = get_spark(load_config(env="local", conf_dir=REPO / "conf").spark, REPO)
    started = time.perf_counter()
    tables = {p: operations(spark, str(args.root / f"partitions-{p}"), args.rows) for p in args.partitions}
    results: dict[int, dict[str, list[float]]] = {p: {op: [] for op in OPERATIONS} for p in args.partitions}
    for round_ in range(args.rounds + 1):  # round 0 warms the JVM up and is not counted
        for partitions in args.partitions:
            spark.conf.set(SETTING, str(partitions))
            for op, fn in tables[partitions].items():
                seconds = timed(fn, args.ops if round_ else 2)
                if round_:
                    results[partitions][op] += seconds
                    print(f"round {round_} {SETTING}={partitions} {op}: {1000 * statistics.median(seconds):.0f} ms")
    entry = report(results, args, time.perf_counter() - started)
    print(entry)
    if args.report:
        append_entry(Path(args.report), SECTION, "bench_delta_ops.py", entry)


if __name__ == "__main__":
    main()
