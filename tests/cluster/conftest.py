"""A real Spark standalone cluster and one clean pipeline run on it through spark-submit.

Shared by the tests of this package (started once, always stopped):
- ``cluster``: scripts/local_cluster.sh on free ports with its state in a temporary folder, and the
  library packaged by scripts/package.sh for ``--py-files``;
- ``raw_dir``: a small user base generated in the test session;
- ``clean_run``: every stage of userscore.pipeline (ingest -> identity -> social -> features -> train -> btyd ->
  uplift -> score -> snapshot -> monitor -> analyze -> campaigns) on that data, each stage one
  ``scripts/submit.sh <job>`` (spark-submit) on the cluster.

Both the cluster and the local-mode runs of these tests use the partitioning settings in PARITY_*: GBT
subsamples and bins rows per partition, so equal models need equally partitioned training data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from tests.conftest import REPO, TEST_PII_KEY
from userscore import pipeline
from userscore.catalog import Catalog
from userscore.cli import build_parser
from userscore.config import deep_merge, load_config
from userscore.logs import get_logger
from userscore.runner import JobContext, parse_overrides

USERS, SEED = 600, 7
# Ingest's reference time for the future-timestamp check: just after the generated history (ends 2026-11-01).
NOW = "2026-11-02T00:00:00"
# Two snapshots 92 days apart, both with their 30-day repurchase labels inside the data (which ends
# 2026-11-01): the older one trains, the newer one validates and is scored.
SNAPSHOTS = ("2026-05-15", "2026-08-15")
FEATURES_ARGS = pipeline.snapshot_range(SNAPSHOTS[0], SNAPSHOTS[1], "92d")
SCORE_DATE, SCORED_AT = SNAPSHOTS[1], "2026-08-15T06:00:00"
# One model keeps training short: repurchase is trained and scored; churn, required by default, is made
# optional (its columns are null), as vip and BTYD already are.
TARGET = "repurchase_30d"
# Five shallow trees. A few hundred validation rows cannot meet the production gate (ECE <= 0.02), so the
# model is always promoted: the tests are about where the jobs run, not about model quality.
SMALL_MODEL = [
    "--set", "models.promotion={max_ece: 1.0, min_auc: 0.0, baseline_margin: -1.0}",
    "--set", f"models.targets.{TARGET}.gbt={{max_iter: 5, max_depth: 3, min_instances_per_node: 5}}",
]  # fmt: skip
CHURN_OPTIONAL = ["--set", "scoring.targets.churn_60d.optional=true"]
# Every deployed stage of userscore.pipeline (databricks.yml's daily and monthly jobs), in its order, with
# this run's options after the declared arguments: BTYD is fitted at the scored date, so the score job
# applies its champion when the gate promotes it (null columns when not, in both modes alike); the monitor
# reads the scores and builds the champion's training reference; the analyses read the scored snapshot.
RUN_OPTIONS = {
    "ingest": ["--now", NOW],
    # The uplift stage trains on winback-2 (moved after the first snapshot, raw_dir) and holds out winback-3:
    # about 60 users per arm each, so smaller arms than production's and five shallow trees per arm.
    "uplift": [
        "--set",
        "campaigns.min_group_size=20",
        "--set",
        "campaigns.uplift.gbt={max_iter: 5, max_depth: 2, min_instances_per_node: 10}",
    ],
    # Five label-propagation rounds (default 20, which synchronous propagation never settles before): the
    # social runs at both snapshot dates, in both modes, are about the rounds' count.
    "social": ["--set", "social.community_max_iter=5"],
    "train": SMALL_MODEL,
    "score": ["--scored-at", SCORED_AT, *CHURN_OPTIONAL],
}
PIPELINE: list[tuple[str, list[str]]] = [
    (job, [*argv, *RUN_OPTIONS.get(job, [])])
    for job, argv in pipeline.commands(
        {"snapshots": FEATURES_ARGS, "targets": pipeline.some_targets(TARGET), "as_of": SCORE_DATE}
    )
]
# Runtime SQL settings that decide partitioning, equal to the test session's (tests/conftest.py): the
# cluster jobs get them through config (userscore.session applies spark.sql.* in submit mode).
PARITY_SQL = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.files.maxPartitionBytes": "64m",
}
# Launch-time settings: 2 partitions for RDD operations (local[2] in the test session; two 1-core
# executors here) and for Delta's log replay; no driver UI for short test jobs.
PARITY_LAUNCH = {
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.ui.enabled": "false",
}
# Options for JVMs that live a minute or two, as every stage's driver and executors do here: the client
# compiler only (C2 spends more CPU on a cold JVM than it saves before exit; on the 2-core CI machine the
# social stage took 144 s with it, 111 s without) and no bytecode verification of the trusted JARs' classes
# and of the classes Spark generates per query (98 s). Neither changes a result. Not for the long-lived
# test session: C1 alone made tests/features 331 s -> 469 s there.
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote"
# Two partitions of training vectors in both modes (default: one per task slot, which differs).
TRAINING_PARTITIONS = 2
JOB_TIMEOUT = 900


def pytest_configure(config):
    # Registered here, next to the tests it marks: `pytest -m "not cluster"` skips the minutes they take.
    config.addinivalue_line("markers", "cluster: starts a Spark standalone cluster and runs jobs through spark-submit")


def spark_conf_override(settings: Mapping[str, str]) -> list[str]:
    """One ``--set spark.conf."<setting>"='<value>'`` per setting (quoted: the setting's name holds dots)."""
    return [a for k, v in settings.items() for a in ("--set", f"spark.conf.\"{k}\"='{v}'")]


def submit_opts(settings: Mapping[str, str]) -> str:
    return " ".join(f"--conf {k}={v}" for k, v in settings.items())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """The running local cluster: its state folder and the environment its scripts run with."""

    dir: Path
    env: dict[str, str]

    def control(self, command: str) -> str:
        """``scripts/local_cluster.sh <command>``; returns its output, fails the test on an error."""
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "local_cluster.sh"), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"local_cluster.sh {command} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def pid(self, daemon: str) -> int:
        return int((self.dir / f"{daemon}.pid").read_text())

    def submit(self, job: str, argv: Sequence[str], log: Path):
        """Start ``scripts/submit.sh job argv`` in a new process group (so the whole driver, the
        spark-submit JVM and its Python process, can be killed at once); output goes to ``log``."""
        env = dict(self.env, USERSCORE_SUBMIT_OPTS=submit_opts(PARITY_LAUNCH))
        with log.open("w") as out:
            return subprocess.Popen(
                ["bash", str(REPO / "scripts" / "submit.sh"), job, *argv],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run(self, job: str, argv: Sequence[str], log: Path) -> float:
        """Submit and wait; fail the test with the log's end unless the job exits 0. Returns seconds."""
        started = time.perf_counter()
        process = self.submit(job, argv, log)
        code = wait(process)
        assert code == 0, f"spark-submit {job} exited {code}; {log} ends with:\n{tail(log)}"
        return time.perf_counter() - started


def wait(process: subprocess.Popen, timeout: float = JOB_TIMEOUT) -> int:
    """The exit code; a job still running after ``timeout`` is killed (its whole process group)."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PipelineRun:
    """One pipeline run's private state: warehouse, MLflow store, checkpoints; and its timings."""

    root: Path
    raw_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    def sets(self) -> list[str]:
        """--set options pointing every path of the config at this run's folder."""
        values = {
            "catalog.root": self.warehouse,
            "ingest.raw_dir": self.raw_dir,
            "models.checkpoint_dir": self.root / "checkpoints",
            "models.tracking.uri": f"sqlite:///{self.root}/mlflow.db",
            "models.tracking.artifact_root": self.root / "mlruns",
            "models.tracking.dfs_tmpdir": self.root / "dfs",
            "models.training_partitions": TRAINING_PARTITIONS,
            "monitor.report.dir": self.root / "reports",
            "analysis.report_dir": self.root / "reports",
            "campaigns.report_dir": self.root / "reports",
        }
        return [a for k, v in values.items() for a in ("--set", f"{k}={v}")]

    def table(self, spark: SparkSession, name: str) -> DataFrame:
        layer, table = name.split(".")
        return spark.read.format("delta").load(str(self.warehouse / layer / table))


def cluster_argv(run: PipelineRun, argv: Sequence[str]) -> list[str]:
    return [*argv, *run.sets(), *spark_conf_override(PARITY_SQL)]


def run_in_session(spark: SparkSession, job: str, argv: Sequence[str], env: str = "local") -> list[str]:
    """``userscore <job> argv`` in the test session: the job's own argument parsing, config loading and
    run(), as userscore.runner.run_job does, with the test's SparkSession instead of a new one."""
    args = build_parser().parse_args([job, *argv])
    module = args.handler
    overrides = parse_overrides(args.set)
    if hasattr(module, "config_overrides"):
        overrides = deep_merge(overrides, module.config_overrides(args))
    config = load_config(env=env, conf_dir=REPO / "conf", overrides=overrides)
    ctx = JobContext(name=job, config=config, args=args, logger=get_logger(job), _catalog=Catalog(spark, config))
    return list(module.run(ctx))


@pytest.fixture(scope="package")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A master and two 1-core workers on 127.0.0.1, and the library packaged by scripts/package.sh."""
    packaged = subprocess.run(["bash", str(REPO / "scripts" / "package.sh")], capture_output=True, text=True)
    assert packaged.returncode == 0, f"package.sh failed:\n{packaged.stdout}\n{packaged.stderr}"
    archive = Path(packaged.stdout.split()[-1])
    assert archive.name.endswith(".zip") and archive.parent == REPO / "dist", packaged.stdout
    state = tmp_path_factory.mktemp("cluster")
    # Every job of the run ships this build, even if lib/ is edited meanwhile (submit.sh would then refuse
    # dist/'s archive as stale, which is right for a person but would fail a test that is half done).
    shutil.copy(archive, state / archive.name)
    env = dict(
        os.environ,
        USERSCORE_PY_FILES=str(state / archive.name),
        USERSCORE_CLUSTER_DIR=str(state),
        USERSCORE_MASTER_PORT=str(_free_port()),
        USERSCORE_MASTER_WEBUI_PORT=str(_free_port()),
        USERSCORE_WORKER_WEBUI_PORT=str(_free_port()),
        # The key the test session hashes PII with, so both modes produce the same silver rows.
        USERSCORE_PII_KEY=TEST_PII_KEY,
        # Every JVM of the cluster (daemons, drivers, executors) lives a minute or two.
        JDK_JAVA_OPTIONS=SHORT_LIVED_JVM,
    )
    # Worker web UIs use consecutive ports from USERSCORE_WORKER_WEBUI_PORT: make sure the second is free.
    while _port_taken(int(env["USERSCORE_WORKER_WEBUI_PORT"]) + 1):
        env["USERSCORE_WORKER_WEBUI_PORT"] = str(_free_port())
    running = Cluster(state, env)
    try:
        running.control("start")
        yield running
    finally:
        running.control("stop")


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="package")
def raw_dir(spark, tmp_path_factory) -> Path:
    """USERS generated users with SEED, landed as raw files (generated once, in the test session). The second
    win-back campaign is sent 160 days before the data's end (2026-05-25) instead of 180, after the first
    snapshot: with a feature snapshot at its send, it is one the uplift stage can train on."""
    root = tmp_path_factory.mktemp("generated")
    run_in_session(
        spark,
        "generate",
        ["--users", str(USERS), "--seed", str(SEED), "--set", f"generate.raw_dir={root}/raw",
         "--set", f"catalog.root={root}/warehouse", "--set", "generate.campaigns.winback-2.days_before_end=160"],
    )  # fmt: skip
    return root / "raw"


@pytest.fixture(scope="package")
def clean_run(cluster, raw_dir, tmp_path_factory) -> PipelineRun:
    """Every job of PIPELINE on the cluster, each stage a spark-submit of its job."""
    run = PipelineRun(tmp_path_factory.mktemp("cluster-run"), raw_dir)
    for job, argv in PIPELINE:
        run.seconds[job] = cluster.run(job, cluster_argv(run, argv), run.root / f"{job}.log")
    return run


def copy_tables(source: Path, target: Path, layers: Sequence[str]) -> None:
    """Copy whole Delta tables (data files and logs; the log's paths are relative) between warehouses."""
    for layer in layers:
        shutil.copytree(source / layer, target / layer)
