"""Faults on the cluster lose nothing: a worker killed during the features job, a driver killed mid-write.

Each test works on its own warehouse, seeded by copying tables of the clean cluster run
(tests/cluster/conftest.py ``clean_run``), and compares what it ends with to that run. docs/reliability.md
describes the runs and what was observed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.cluster.conftest import (
    PARITY_SQL,
    SCORE_DATE,
    PipelineRun,
    cluster_argv,
    copy_tables,
    spark_conf_override,
    wait,
)

pytestmark = pytest.mark.cluster


FEATURES, BOUNDARIES = "features.user_features", "features.rfm_boundaries"
# As in test_spark_submit: partial sums arrive in no fixed order, so doubles may differ in the last place.
RTOL, ATOL = 1e-12, 1e-12
# The driver is killed on the first uncommitted data file. One row per file makes the scored partition
# (several hundred users) hundreds of files written one after another, so when the first one appears the
# commit (which follows the last) is far away however the machine is loaded: the kill always lands
# mid-write, and the test asserts that it did.
ONE_ROW_PER_FILE = {**PARITY_SQL, "spark.sql.files.maxRecordsPerFile": "1"}


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(poll)


def commits(table_dir: Path) -> list[int]:
    """Committed Delta versions: the numbered JSON files of the table's log."""
    return sorted(int(p.stem) for p in (table_dir / "_delta_log").glob("*.json") if p.stem.isdigit())


def delta_tables(warehouse: Path) -> list[str]:
    """``layer.name`` of every Delta table under ``warehouse``."""
    return sorted(f"{p.parent.parent.name}.{p.parent.name}" for p in warehouse.glob("*/*/_delta_log"))


def table_dir(run: PipelineRun, name: str) -> Path:
    return run.warehouse.joinpath(*name.split("."))


def test_a_worker_killed_during_the_features_job_changes_nothing(spark, cluster, clean_run, tmp_path):
    run = PipelineRun(tmp_path, clean_run.raw_dir)
    copy_tables(clean_run.warehouse, run.warehouse, ["silver", "social"])  # the features job's inputs
    features_dir = table_dir(run, FEATURES)
    victim = "worker-1"
    pid, work = cluster.pid(victim), cluster.dir / victim / "work"
    apps_before = set(work.glob("app-*"))
    log = tmp_path / "features.log"
    started = time.monotonic()
    process = cluster.submit("features", cluster_argv(run, ["--as-of", SCORE_DATE]), log)
    try:
        # The job creates the table (version 0) just before the write that computes the snapshot: killing
        # the worker then lands mid-job with the whole snapshot and both writes still to do.
        wait_for(lambda: 0 in commits(features_dir) or process.poll() is not None, 600, "the features table")
        assert process.poll() is None, f"the job ended before it created its table:\n{log.read_text()[-3000:]}"
        executors = [e for app in set(work.glob("app-*")) - apps_before for e in app.iterdir()]
        assert executors, f"{victim} runs no executor of this job"
        os.kill(pid, signal.SIGKILL)
        killed_after = time.monotonic() - started
        code = wait(process)
        finished_after = time.monotonic() - started
    finally:
        cluster.control("start")  # bring the worker back for the other tests
    print(
        f"worker {victim} (pid {pid}) killed {killed_after:.0f}s into the job; it finished after {finished_after:.0f}s"
    )

    text = log.read_text(errors="replace")
    assert code == 0, f"features exited {code} after the worker was killed:\n{text[-3000:]}"
    assert "Lost executor" in text  # the driver saw the executor go and rescheduled its tasks
    history = spark.sql(f"DESCRIBE HISTORY delta.`{features_dir}`").orderBy("version").collect()
    assert [(h["version"], h["operation"]) for h in history] == [(0, "CREATE TABLE"), (1, "WRITE")]
    for name in (FEATURES, BOUNDARIES):
        clean = clean_run.table(spark, name).where(F.col("as_of_date") == SCORE_DATE)
        assertDataFrameEqual(run.table(spark, name), clean, rtol=RTOL, atol=ATOL)


def test_a_driver_killed_mid_write_leaves_every_table_at_its_previous_version(spark, cluster, clean_run, tmp_path):
    run = PipelineRun(tmp_path, clean_run.raw_dir)
    copy_tables(clean_run.warehouse, run.warehouse, ["silver", "social", "features", "ops"])
    tables = delta_tables(run.warehouse)
    before = {name: (commits(table_dir(run, name))[-1], run.table(spark, name).collect()) for name in tables}
    features_dir = table_dir(run, FEATURES)
    partition = features_dir / f"as_of_date={SCORE_DATE}"
    committed_files = set(partition.glob("*.parquet"))

    # Re-run the scored snapshot (as a nightly retry would) and kill the driver, the spark-submit JVM and
    # its Python process, when its first new data file is on disk and no new version is in the log.
    log = tmp_path / "killed.log"
    argv = ["--as-of", SCORE_DATE, *run.sets(), *spark_conf_override(ONE_ROW_PER_FILE)]
    started = time.monotonic()
    process = cluster.submit("features", argv, log)

    def writing() -> bool:
        return bool(set(partition.glob("*.parquet")) - committed_files) or process.poll() is not None

    wait_for(writing, 600, "the first data file of the re-run")
    assert commits(features_dir)[-1] == before[FEATURES][0], "a commit landed before the kill"
    assert process.poll() is None, f"the job ended before it wrote:\n{log.read_text()[-3000:]}"
    os.killpg(process.pid, signal.SIGKILL)
    killed_after = time.monotonic() - started
    assert wait(process) == -signal.SIGKILL
    time.sleep(5)  # executors of the dead driver may finish a file or two before they notice and exit
    orphans = set(partition.glob("*.parquet")) - committed_files
    print(f"driver killed {killed_after:.0f}s into the re-run, {len(orphans)} uncommitted data files left")
    assert orphans

    # Every table is readable, at the version it had, with the rows it had; the files the killed write
    # left are in no version (the table's files are exactly the committed ones).
    for name in tables:
        version, rows = before[name]
        assert commits(table_dir(run, name))[-1] == version, name
        assertDataFrameEqual(run.table(spark, name), rows, rtol=0, atol=0)
    in_table = {Path(f.removeprefix("file:")).name for f in run.table(spark, FEATURES).inputFiles()}
    assert not {f.name for f in orphans} & in_table

    # The retry completes with one new version, and every partition has the clean run's rows: none twice,
    # none missing, whatever the killed attempt left on disk.
    rerun = cluster.run("features", cluster_argv(run, ["--as-of", SCORE_DATE]), tmp_path / "rerun.log")
    print(f"re-run completed in {rerun:.0f}s")
    assert commits(features_dir)[-1] == before[FEATURES][0] + 1
    features, clean = run.table(spark, FEATURES), clean_run.table(spark, FEATURES)
    per_partition = features.groupBy("as_of_date").agg(F.count("*"), F.countDistinct("user_id")).collect()
    expected = clean.groupBy("as_of_date").agg(F.count("*"), F.countDistinct("user_id")).collect()
    assert sorted(map(tuple, per_partition)) == sorted(map(tuple, expected))
    assert all(n == distinct for _, n, distinct in per_partition)
    assertDataFrameEqual(features, clean, rtol=RTOL, atol=ATOL)
