"""Benchmark the stream (issue 17): latency from a landed file to its users' rows in the tag wide table.

1. A copy of a scored warehouse (default: the demo's, `make demo`) under ``--root``, so the demo's tables are
   never changed; the tracking store is the demo's, read only. The raw zone is a fresh folder.
2. The baseline, measured in the same run: the batch path that the stream replaces for a change, the
   `features --as-of D` + `score --as-of D` jobs over every user (in this process).
3. Per rate R (default 100 and 1,000 events/s): `userscore stream` in its own process (a micro-batch every
   ``--interval`` seconds), while this script lands one batch folder per second for ``--seconds`` seconds:
   R events and R/10 orders of users drawn from the base (userscore.generate.live), each folder written under
   a hidden name and renamed into place, its landing time noted. When the stream's log shows every folder
   ingested, it is stopped; a folder's latency is ``finished_at`` of the micro-batch that ingested it (taken
   after the wide table's commit, ops.stream_progress) minus its landing time.

The client and the stream share the machine's cores. Prints a table and appends it to the "Streaming rescoring"
section of docs/benchmarks.md (``--report ''`` skips).

    .venv/bin/python scripts/bench_stream.py                       # the demo's warehouse, 100 and 1,000 events/s
    .venv/bin/python scripts/bench_stream.py --rates 100 --seconds 10 --report ''   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from bench_report import append_entry
from userscore.catalog import Catalog
from userscore.config import load_config
from userscore.config.ingest import absent_tables
from userscore.features import snapshot
from userscore.features.inputs import silver_sources
from userscore.generate.live import land, live_batch
from userscore.scoring.pipeline import score_snapshot
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Streaming rescoring"
SAMPLE_USERS = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, default=REPO / "warehouse", help="a scored warehouse to copy")
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench-stream"), help="work folder (replaced)")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 1000], help="events per second")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of landing per rate")
    parser.add_argument("--interval", type=float, default=2.0, help="the stream's trigger interval, seconds")
    parser.add_argument("--report", default=str(REPO / "docs" / "benchmarks.md"), help="'' to skip")
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def stream_process(root: Path, rate: int, interval: float, now: str, log) -> subprocess.Popen:
    sets = {
        "catalog.root": root / "warehouse",
        "ingest.raw_dir": root / f"raw-{rate}",
        "stream.checkpoint": root / f"checkpoint-{rate}",
        "stream.trigger.interval_seconds": interval,
        "stream.snapshot_refresh_minutes": "null",
        "models.tracking.uri": f"sqlite:///{REPO / 'mlflow.db'}",
        "models.tracking.artifact_root": REPO / "mlruns",
    }
    command = [sys.executable, "-m", "userscore.cli", "stream", "--now", now]
    for key, value in sets.items():
        command += ["--set", f"{key}={value}"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib")}
    env.setdefault("USERSCORE_PII_KEY", "userscore-demo-key-not-a-secret")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def ingested_batches(log_file: Path) -> set[str]:
    """Batch ids the stream's log reports ingested (``... batches a,b, ...``)."""
    found = set()
    for match in re.finditer(r"micro-batch \d+: \d+ files, batches ([^ ]+),", log_file.read_text(errors="replace")):
        found |= {folder.split("/")[-1] for folder in match.group(1).split(",")}
    return found


def run_rate(config, catalog, rate, args, users, day) -> dict:
    """Land ``rate`` events/s for ``args.seconds`` s while the stream runs; latencies per landed folder."""
    log_file = args.root / f"stream-{rate}.log"
    now = (day + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(log_file, "wb") as log:
        process = stream_process(args.root, rate, args.interval, now, log)
    while "stream started" not in log_file.read_text(errors="replace"):
        if process.poll() is not None:
            raise SystemExit(f"the stream exited with {process.returncode}: {log_file.read_text()[-3000:]}")
        time.sleep(0.5)
    landed: dict[str, dt.datetime] = {}
    start = time.monotonic()
    for second in range(args.seconds):
        batch = live_batch(
            config.generate,
            f"bench-{rate}-{second:04d}",
            users,
            day,
            day + dt.timedelta(hours=12),
            events=rate,
            orders=max(1, rate // 10),
            seed=rate * 100000 + second,
        )
        land(batch, args.root / f"raw-{rate}", "orders", "events")
        landed[batch.batch_id] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        time.sleep(max(0.0, start + second + 1 - time.monotonic()))
    deadline = time.monotonic() + 900
    while not set(landed) <= ingested_batches(log_file):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the stream did not ingest every folder: {log_file.read_text()[-3000:]}")
        time.sleep(1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    progress = catalog.read(config.stream.progress_table).where(F.col("batch_ids").contains(f"/bench-{rate}-"))
    finished: dict[str, dt.datetime] = {}
    epochs = 0
    for row in progress.collect():
        epochs += 1
        for batch_id in {folder.split("/")[-1] for folder in row["batch_ids"].split(",")}:
            finished[batch_id] = min(finished.get(batch_id, row["finished_at"]), row["finished_at"])
    latencies = [(finished[b] - landed[b]).total_seconds() for b in landed]
    return {
        "rate": rate,
        "folders": len(landed),
        "events": rate * len(landed),
        "micro_batches": epochs,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
    }


def batch_baseline(catalog: Catalog, config, as_of: dt.date) -> float:
    """Seconds of the batch path for one change: features at D, then scores at D, over every user."""
    started = time.perf_counter()
    sources = silver_sources(catalog, config.features, absent_tables(config.ingest))
    with snapshot(sources, as_of, config.features) as snap:
        catalog.overwrite_where(config.features.output_table, snap.features, {"as_of_date": as_of})
    score_snapshot(catalog, config, as_of)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    if args.root.exists():
        shutil.rmtree(args.root)
    args.root.mkdir(parents=True)
    # The warehouse without its stream history: the benchmark's micro-batches are the only ones.
    shutil.copytree(
        args.warehouse, args.root / "warehouse", ignore=shutil.ignore_patterns("stream_progress", "_checkpoints")
    )
    for rate in args.rates:  # a landing zone per rate: each stream sees only its own folders
        for folder in ("orders", "events"):
            (args.root / f"raw-{rate}" / folder).mkdir(parents=True)
    overrides = {
        "catalog": {"root": str(args.root / "warehouse")},
        "ingest": {"raw_dir": str(args.root / f"raw-{args.rates[0]}")},
        "models": {"tracking": {"uri": f"sqlite:///{REPO / 'mlflow.db'}", "artifact_root": str(REPO / "mlruns")}},
    }
    config = load_config(overrides=overrides)
    catalog = Catalog(get_spark(config.spark, REPO), config)
    as_of = catalog.read(config.features.population_table).agg(F.max("as_of_date")).first()[0]
    if as_of is None:
        raise SystemExit(f"{args.warehouse} has no published snapshot: run `make demo` first")
    baseline = batch_baseline(catalog, config, as_of)
    ids = catalog.read("silver.users").select("user_id").orderBy(F.xxhash64("user_id")).limit(SAMPLE_USERS)
    users = [r.user_id for r in ids.collect()]
    random.Random(7).shuffle(users)
    day = dt.datetime.combine(as_of, dt.time(), dt.UTC)
    results = [run_rate(config, catalog, rate, args, users, day) for rate in args.rates]
    n_users = catalog.read("silver.users").count()
    lines = [
        f"batch path (features + score of all {n_users:,} users at {as_of}): {baseline:.1f} s",
        "",
        "| events/s | folders | events | micro-batches | p50 | p95 | max | batch path / p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rate']:,} | {r['folders']} | {r['events']:,} | {r['micro_batches']} | {r['p50']:.1f} s "
            f"| {r['p95']:.1f} s | {r['max']:.1f} s | {baseline / r['p50']:.1f}x |"
        )
    print("\n".join(lines))
    if args.report:
        command = " ".join(["python scripts/bench_stream.py", *sys.argv[1:]])
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        entry = [
            f"### {stamp}: `{command}` (trigger every {args.interval:g} s; load average at the end {load})",
            "",
            *lines,
            "",
        ]
        append_entry(Path(args.report), SECTION, "bench_stream.py", "\n".join(entry))


if __name__ == "__main__":
    main()
