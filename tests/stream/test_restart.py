"""Kill the running stream (SIGKILL, mid-stream) and restart it on its checkpoint: no landed event is lost or
counted twice, and every touched user ends up rescored."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

from pyspark.sql import functions as F

from tests.conftest import REPO, TEST_PII_KEY, TEST_SPARK
from tests.stream.conftest import land_orders, order, run_job
from userscore.catalog import Catalog
from userscore.jobs import stream as stream_job

NOW = "2026-11-01T18:00:00Z"
REFERENCE = dt.datetime(2026, 11, 1, 18, 0)
BATCHES = {
    f"k-{b}": [
        order(f"o-k{b}-{i}", f"u-{20 + 4 * b + i:06d}", f"2026-11-01T1{b}:0{i}:00Z", 10.0 + b + i) for i in range(3)
    ]
    for b in range(3)
}
# The test session's small Spark settings for the subprocess too (tests/conftest.py TEST_SPARK).
SPARK = [f'spark.conf."{key}"="{value}"' for key, value in TEST_SPARK["spark"]["conf"].items()]


def _running_stream(world, raw_dir, checkpoint, log) -> subprocess.Popen:
    """`userscore stream` in its own process: a micro-batch every second, one new file per micro-batch."""
    command = [sys.executable, "-m", "userscore.cli", "stream", "--env", "local", "--conf-dir", str(REPO / "conf")]
    sets = [*world.sets, "--set", "stream.trigger.interval_seconds=1", "--set", "stream.max_files_per_trigger=1"]
    sets += ["--set", f"ingest.raw_dir={raw_dir}", "--set", f"stream.checkpoint={checkpoint}"]
    for value in SPARK:
        sets += ["--set", value]
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib"), "USERSCORE_PII_KEY": TEST_PII_KEY}
    return subprocess.Popen([*command, "--now", NOW, *sets], env=env, stdout=log, stderr=log, start_new_session=True)


def _progress_batches(world) -> set[str]:
    table = world.config.stream.progress_table
    if not world.catalog.exists(table):
        return set()
    rows = world.catalog.read(table).select("batch_ids").collect()
    return {f.split("/")[1] for r in rows for f in r["batch_ids"].split(",") if f.startswith("orders/k-")}


def test_a_killed_stream_resumes_on_its_checkpoint_without_losing_or_duplicating(spark, world, tmp_path):
    # A landing zone and a checkpoint of its own: only these batches.
    raw_dir, checkpoint = tmp_path / "raw", tmp_path / "checkpoint"
    (raw_dir / "events").mkdir(parents=True)
    for batch_id, records in BATCHES.items():
        land_orders(raw_dir, batch_id, records)
    with open(tmp_path / "stream.log", "wb") as log:
        process = _running_stream(world, raw_dir, checkpoint, log)
    try:
        deadline = time.monotonic() + 240
        while not _progress_batches(world):  # the first micro-batch with one of these batches is committed
            assert process.poll() is None, (tmp_path / "stream.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no micro-batch within 240 s"
            time.sleep(1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before_restart = _progress_batches(world)

    config = replace(
        world.config,
        ingest=replace(world.config.ingest, raw_dir=str(raw_dir)),
        stream=replace(world.config.stream, checkpoint=str(checkpoint)),
    )
    run_job(stream_job, config, Catalog(spark, config), available_now=True, now=NOW, timeout=None)

    catalog = world.catalog
    landed = {r["order_id"]: r for records in BATCHES.values() for r in records}
    silver = catalog.read("silver.orders").where(F.col("order_id").startswith("o-k")).collect()
    assert sorted(r["order_id"] for r in silver) == sorted(landed)  # each exactly once
    assert all(r["amount"] == landed[r["order_id"]]["amount"] for r in silver)
    # The audit of the micro-batches that took these batches balances: every order accepted once, none twice.
    progress = catalog.read(world.config.stream.progress_table).where(F.col("batch_ids").contains("orders/k-"))
    batches = [r["ingest_batch_id"] for r in progress.collect()]
    audit = catalog.read("ops.ingest_audit").where(F.col("batch_id").isin(batches)).collect()
    assert (sum(r["records_read"] for r in audit), sum(r["accepted"] for r in audit)) == (len(landed), len(landed))
    assert sum(r["quarantined"] + r["duplicates_dropped"] for r in audit) == 0
    assert before_restart < set(BATCHES) == _progress_batches(world)  # the restart did the rest
    users = {r["user_id"] for r in landed.values()}
    live = catalog.read(world.config.stream.live_table).where(F.col("user_id").isin(sorted(users))).collect()
    assert sorted(r["user_id"] for r in live) == sorted(users)
    assert {r["scored_at"] for r in live} == {REFERENCE}
    assert all(r["r_score"] == 5 for r in live)  # bought on the reference day: the best R score
