"""Benchmark the look-up API (issue 17): latency and throughput of `userscore serve` over an N-user snapshot.

1. inputs under ``<root>/n<users>/``, written once and reused: a synthetic tags.user_tag_wide of N users
   (every declared score column and every tag of the dictionary, values from hashes of the id over
   ``spark.range``; one MERGE, Change Data Feed on) and audiences.segment_members of D (the retention
   family by churn tier); then the snapshot, built by the snapshot job's own code (``build_snapshot``:
   Spark tasks write the SQLite shards), timed;
2. the baseline the snapshot replaces: ``--baseline-queries`` point look-ups of one user each straight from
   the Delta wide table with Spark (``where user_id = x``), one after another; and the floor: the same
   look-ups from the SQLite shards in process, without HTTP;
3. the real server (`userscore serve`, one process, its own port) under an open-loop load: requests are
   due on a fixed schedule at ``--rate`` per second for ``--seconds`` (90% user look-ups of random ids, 5%
   of them unknown, 5% segment member pages, 5% change pages) and wait for one of ``--connections``
   keep-alive connections (a thread each); a latency runs from a request's *due* time to its response, so a
   server falling behind shows in p99 (no coordinated omission). The client shares the machine's cores.

The goal is p99 < 20 ms at 500 requests/s with 1M users. It prints a table and appends it to the
"Look-up API" section of docs/benchmarks.md (``--report ''`` skips).

    .venv/bin/python scripts/bench_serve.py                               # 1M users, 500 req/s, 30 s
    .venv/bin/python scripts/bench_serve.py --users 2000 --seconds 3 --report ''   # smoke run

Delete ``--root`` to regenerate the inputs after a change of this generator.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config, load_config
from userscore.serving.build import build_snapshot
from userscore.serving.keys import digest
from userscore.serving.layout import snapshot_root
from userscore.serving.store import SnapshotHolder
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
D = dt.date(2026, 11, 1)
KEY = "bench-key-0123456789abcdef0123456789"
GOAL_P99_MS, GOAL_RATE = 20.0, 500


def _unit(salt: str) -> F.Column:
    """A number in [0, 1) from a hash of the user id (deterministic per user and salt)."""
    return (F.abs(F.xxhash64(F.lit(salt), "user_id")) % 1_000_000) / 1_000_000.0


def synthetic_wide(catalog: Catalog, users: int) -> DataFrame:
    """Every column of the wide table for ``users`` users: numbers from hashes, strings from tiers."""
    config = catalog.config
    spec = config.tables[config.scoring.wide_table]
    base = catalog.spark.range(users).select(F.format_string("u-%09d", "id").alias("user_id"))
    columns = []
    for column in spec.columns:
        name, kind = column.name, column.type
        if name == "user_id":
            value = F.col("user_id")
        elif name == "as_of_date":
            value = F.lit(D)
        elif name == "scored_at":
            value = F.lit(dt.datetime(2026, 11, 1, 3))
        elif name.endswith("_tier"):
            value = F.element_at(F.array(*map(F.lit, ("high", "mid", "low"))), (_unit(name) * 3).cast("int") + 1)
        elif name.endswith("_model_version"):
            value = F.lit("7")
        elif name.endswith("_reasons"):
            value = F.lit("recency_days (+0.91), order_count_90d (-0.40), monetary_365d (+0.12)")
        elif kind == "double":
            value = _unit(name) * (100.0 if name == "value_score" else 1.0)
        elif kind == "int":
            value = (_unit(name) * 5).cast("int") + 1
        else:
            value = F.lit("potential_loyalist")
        columns.append(value.cast(kind).alias(name))
    for tag_id, tag in config.tags.dictionary.items():
        value = _unit(tag_id) < 0.3 if tag.definition.rule is not None else F.lit("mid")
        columns.append(value.alias(tag_id))
    return base.select(*columns)


def write_inputs(catalog: Catalog, users: int) -> None:
    config = catalog.config
    wide = synthetic_wide(catalog, users)
    catalog.ensure(config.scoring.wide_table, wide.schema)
    catalog.merge(config.scoring.wide_table, wide)
    members = catalog.read(config.scoring.wide_table).select(
        F.lit(D).alias("as_of_date"),
        F.lit("retention").alias("family"),
        F.concat(F.col("churn_tier"), F.lit("_risk")).alias("segment"),
        "user_id",
        F.lit("reminder").alias("strategy"),
        F.lit("e-mail").alias("channel"),
        F.lit(2).alias("priority"),
        (_unit("control") < 0.1).alias("is_control"),
        F.col("scored_at"),
    )
    catalog.overwrite_where(config.segments.table, members, {"as_of_date": D})


def bench_config(folder: Path, shards: int) -> Config:
    overrides = {
        "catalog": {"root": str(folder / "warehouse")},
        "serving": {"snapshot": {"shards": shards}},
    }
    return load_config(env="local", conf_dir=REPO / "conf", overrides=overrides)


def delta_baseline(catalog: Catalog, ids: list[str]) -> list[float]:
    """Seconds per point look-up read straight from Delta by Spark (what the snapshot avoids)."""
    table = catalog.config.scoring.wide_table
    out = []
    for user_id in ids:
        started = time.perf_counter()
        catalog.read(table).where(F.col("user_id") == user_id).collect()
        out.append(time.perf_counter() - started)
    return out


def sqlite_floor(root: Path, ids: list[str]) -> list[float]:
    holder = SnapshotHolder(root, 3600)
    snapshot = holder.get()
    out = []
    for user_id in ids:
        started = time.perf_counter()
        snapshot.user(user_id)
        out.append(time.perf_counter() - started)
    holder.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(root: Path, log: Path):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "lib"),
        "USERSCORE_API_KEYS": f"bench: {{sha256: {digest(KEY)}, scopes: [scores:read, segments:read]}}",
    }
    command = [sys.executable, "-m", "userscore.cli", "serve", "--port", str(port), "--conf-dir", str(REPO / "conf")]
    command += ["--set", f"serving.snapshot.root={root}", "--set", "serving.api.log_level=warning"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}: {log.read_text()[-1500:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(rng: random.Random, users: int) -> str:
    draw = rng.random()
    if draw < 0.90:
        number = rng.randrange(users) if rng.random() >= 0.05 else users + rng.randrange(users)
        return f"/v1/users/u-{number:09d}"
    if draw < 0.95:
        tier = rng.choice(("high", "mid", "low"))
        return f"/v1/segments/retention/{tier}_risk/members?limit=100&after=u-{rng.randrange(users):09d}"
    return "/v1/changes?since=0&limit=100"


def load(url: str, users: int, rate: float, seconds: float, connections: int, seed: int) -> dict:
    """Open-loop load: request i is due at start + i / rate and waits in a queue for one of ``connections``
    keep-alive connections (one thread each); its latency runs from its due time to its response."""
    rng = random.Random(seed)
    total = int(rate * seconds)
    plan = [_request(rng, users) for _ in range(total)]
    host, port = url.removeprefix("http://").split(":")
    due: queue.Queue = queue.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while (item := due.get()) is not None:
            when, path = item
            connection.request("GET", path, headers={"X-API-Key": KEY})
            response = connection.getresponse()
            response.read()
            done = time.perf_counter()
            with lock:
                latencies.append(done - when)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    for i, path in enumerate(plan):
        when = start + i / rate
        delay = when - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        due.put((when, path))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "statuses": statuses, "elapsed": time.perf_counter() - start, "sent": total}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="requests per second (open loop)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--root", default=str(REPO / "bench" / "serve"))
    parser.add_argument("--report", default=str(REPO / "docs" / "benchmarks.md"), help="'' to print only")
    args = parser.parse_args(argv)

    folder = Path(args.root) / f"n{args.users}"
    config = bench_config(folder, args.shards)
    spark = get_spark(config.spark, REPO)
    catalog = Catalog(spark, config)
    started = time.perf_counter()
    if not catalog.exists(config.scoring.wide_table):
        write_inputs(catalog, args.users)
    inputs_s = time.perf_counter() - started
    started = time.perf_counter()
    outcome = build_snapshot(catalog, config)
    build_s = time.perf_counter() - started
    rng = random.Random(args.seed)
    ids = [f"u-{rng.randrange(args.users):09d}" for _ in range(args.baseline_queries)]
    delta = delta_baseline(catalog, ids)
    spark.stop()
    floor = sqlite_floor(snapshot_root(config), ids * 50)
    with server(snapshot_root(config), folder / "serve.log") as url:
        result = load(url, args.users, args.rate, args.seconds, args.connections, args.seed)

    latencies = result["latencies"]
    achieved = result["sent"] / result["elapsed"]
    p99 = _pct(latencies, 0.99)
    met = p99 < GOAL_P99_MS and achieved >= 0.98 * args.rate
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
    rows = [
        "| users | shards | snapshot build | rate asked | rate served | p50 | p99 | max | statuses |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {args.users:,} | {args.shards} | {build_s:.1f} s | {args.rate:.0f}/s | {achieved:.0f}/s "
        f"| {_pct(latencies, 0.5):.1f} ms | {p99:.1f} ms | {max(latencies) * 1000:.1f} ms | {statuses} |",
        "",
        "Baseline (what the snapshot replaces), a Spark point query on the Delta wide table: median "
        f"{statistics.median(delta) * 1000:.0f} ms over {len(delta)} look-ups; floor, the SQLite shard read in "
        f"process without HTTP: median {statistics.median(floor) * 1e6:.0f} us, p99 {_pct(floor, 0.99):.2f} ms.",
        f"Goal p99 < {GOAL_P99_MS:.0f} ms at {GOAL_RATE}/s: {'met' if met else 'NOT met'} at {args.rate:.0f}/s "
        f"(inputs {inputs_s:.0f} s, snapshot {outcome.snapshot_id}, {args.seconds:.0f} s of load, "
        f"{args.connections} connections).",
    ]
    text = "\n".join(rows)
    print(text)
    if args.report:
        report = Path(args.report)
        body = report.read_text(encoding="utf-8")
        if "\n## Look-up API\n" not in body:
            body += "\n## Look-up API\n\n`scripts/bench_serve.py` (its docstring gives the method).\n"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = " ".join(["python scripts/bench_serve.py", *(argv if argv is not None else sys.argv[1:])])
        load_average = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        heading = f"### {stamp}: `{command}` (load average at the end: {load_average})"
        report.write_text(body.rstrip("\n") + f"\n\n{heading}\n\n{text}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
