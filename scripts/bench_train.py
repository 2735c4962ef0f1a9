"""Benchmark GBT training: Spark MLlib GBTClassifier against scikit-learn's HistGradientBoostingClassifier
on the same rows and the same features, per target and training size.

For each target (default: all in models.targets) the labelled training set is built once from the
warehouse (features.user_features + silver, as ``userscore train`` does, sampled to the largest size);
each size is then a nested hash subsample of the training rows. Both learners get the same assembled
feature vectors (median-imputed numerics + one-hot categoricals) and comparable settings (same number
of trees, depth, learning rate, minimum leaf size, at most as many bins); both are scored on the same
validation snapshot. Timed: the fit alone, on data already in memory (Spark: the cached assembled
vectors; scikit-learn: a numpy array), so the comparison is learner against learner.

It prints a table and appends it to the "Training" section of docs/benchmarks.md: seconds and AUC for
both, the time ratio, and training rows per second.

    .venv/bin/python scripts/bench_train.py --set catalog.root=/tmp/train-run/warehouse
    .venv/bin/python scripts/bench_train.py --sizes 250000,500000,1000000 --target churn_60d --set ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pyspark import StorageLevel
from pyspark.ml import Pipeline
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from userscore.catalog import Catalog
from userscore.config import load_config
from userscore.hashing import uniform_hash
from userscore.keys import KEY_COLUMNS
from userscore.models.calibration import positive_probability
from userscore.models.dataset import TRAIN, VALIDATION, latest_event_time, snapshot_dates, training_set
from userscore.models.evaluation import area_under
from userscore.models.targets import LABEL
from userscore.models.training import (
    FEATURES,
    ensure_checkpoint_dir,
    feature_stages,
    gbt_classifier,
    task_slots,
    with_partitions,
)
from userscore.models.workflow import checkpoint_dir
from userscore.runner import common_arguments, parse_overrides
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
SECTION = "## Training"
AUC_GAP = 0.005  # the most the Spark fit may trail the reference's AUC by (issue 21: "the same quality")


@dataclass
class Result:
    target: str
    rows: int
    features: int
    spark_s: float
    spark_auc: float
    sklearn_s: float
    sklearn_auc: float
    requested: int = 0

    @property
    def ratio(self) -> float:
        return self.spark_s / self.sklearn_s if self.sklearn_s else float("inf")


def _numpy(df: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Assembled vectors and labels as numpy (benchmark only: the rows are a bounded sample)."""
    pdf = df.select(vector_to_array(FEATURES).alias("f"), F.col(LABEL)).toPandas()
    return np.stack(pdf["f"].to_numpy()), pdf[LABEL].to_numpy().astype(int)


def bench_target(spark, config, name: str, sizes: list[int], cutoff: dt.date | None) -> list[Result]:
    catalog = Catalog(spark, config)
    models = config.models
    target = models.targets[name]
    target = replace(target, sample=replace(target.sample, max_rows=max(sizes)))
    inputs = {"orders": models.inputs.orders, "events": models.inputs.events}
    inputs["level_changes"] = models.inputs.level_changes
    silver = {k: catalog.read(inputs[k]) for k in sorted(set(target.inputs()) | {"orders", "events"})}
    features = catalog.read(models.inputs.features)
    cut = dt.datetime.combine(cutoff, dt.time()) if cutoff else latest_event_time(silver)
    data = training_set(features, silver, target, cut, snapshot_dates(features))
    train_all = data.part(TRAIN)
    prep = Pipeline(stages=feature_stages(data.features)).fit(train_all)
    valid = prep.transform(data.part(VALIDATION)).select(FEATURES, F.col(LABEL).cast("double").alias(LABEL))
    valid = valid.persist(StorageLevel.MEMORY_AND_DISK)
    x_valid, y_valid = _numpy(valid)
    available = train_all.count()
    if max(sizes) > available:
        print(f"note: {name} has {available:,} training rows; sizes above that use them all", flush=True)
    ensure_checkpoint_dir(spark, checkpoint_dir(config))
    gbt_params = target.gbt
    results = []
    for size in sizes:
        fraction = min(1.0, size / available)
        subset = train_all.where(uniform_hash("bench", *KEY_COLUMNS) < fraction)
        assembled = prep.transform(subset).select(FEATURES, F.col(LABEL).cast("double").alias(LABEL), "weight")
        assembled = with_partitions(assembled, models.training_partitions or task_slots(spark))
        assembled = assembled.persist(StorageLevel.MEMORY_AND_DISK)
        rows = assembled.count()
        started = time.perf_counter()
        gbt = gbt_classifier(gbt_params, weighted=False).fit(assembled)
        spark_s = time.perf_counter() - started
        scored = gbt.transform(valid).select(positive_probability().alias("s"), LABEL)
        spark_auc = area_under(scored, "s", LABEL, "areaUnderROC")
        x, y = _numpy(assembled)
        assembled.unpersist()
        hgb = HistGradientBoostingClassifier(
            learning_rate=gbt_params.step_size,
            max_iter=gbt_params.max_iter,
            max_depth=gbt_params.max_depth,
            max_leaf_nodes=None,
            min_samples_leaf=gbt_params.min_instances_per_node,
            max_bins=min(255, gbt_params.max_bins),
            early_stopping=False,
            random_state=gbt_params.seed,
        )
        started = time.perf_counter()
        hgb.fit(x, y)
        sklearn_s = time.perf_counter() - started
        sklearn_auc = float(roc_auc_score(y_valid, hgb.predict_proba(x_valid)[:, 1]))
        result = Result(name, rows, x.shape[1], spark_s, spark_auc, sklearn_s, sklearn_auc, size)
        print(_row(result), flush=True)
        results.append(result)
    valid.unpersist()
    data.rows.unpersist()
    return results


_HEADER = (
    "| target | train rows | features | Spark GBT s | Spark AUC | sklearn HGB s | sklearn AUC | time ratio "
    "| AUC gap | Spark rows/s | sklearn rows/s |"
)


def _row(r: Result) -> str:
    return (
        f"| {r.target} | {r.rows:,} | {r.features} | {r.spark_s:.1f} | {r.spark_auc:.4f} | {r.sklearn_s:.1f} | "
        f"{r.sklearn_auc:.4f} | {r.ratio:.1f}x | {r.spark_auc - r.sklearn_auc:+.4f} | {r.rows / r.spark_s:,.0f} | "
        f"{r.rows / r.sklearn_s:,.0f} |"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them (the machine may be shared)."""
    return "/".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def report_block(results: list[Result], gbt_note: str, command: str, load_at_start: str) -> str:
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}",
        "",
        f"`{command}`; {gbt_note}. Fit time only, data in memory; AUC on the validation snapshot. "
        f"Load average (1/5/15 min) at start {load_at_start}, at end {load_average()}.",
        "",
        _HEADER,
        "|" + "---|" * (_HEADER.count("|") - 1),
        *(_row(r) for r in results),
    ]
    at_largest = {r.target: r for r in results}
    verdicts = [
        f"- {t}: at {r.rows:,} rows AUC gap {r.spark_auc - r.sklearn_auc:+.4f} "
        f"({'within' if round(abs(r.spark_auc - r.sklearn_auc), 6) <= AUC_GAP else 'outside'} {AUC_GAP}), "
        f"time {r.ratio:.1f}x "
        f"({'within' if r.ratio <= 10 else 'over'} 10x)"
        for t, r in at_largest.items()
    ]
    short = [
        f"- {r.target}: {r.requested:,} rows requested, {r.rows:,} available in the warehouse (generate more users)"
        for r in results
        if r.rows < 0.95 * r.requested
    ]
    return "\n".join([*lines, "", *verdicts, *short, ""])


def append_report(path: Path, block: str) -> None:
    """Add ``block`` at the end of the Training section (created if absent); other sections untouched."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nRuns of `scripts/bench_train.py` (newest last).\n"
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "".join(lines[:end]).rstrip("\n"), "".join(lines[end:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + "\n\n" + block + ("\n" + after if after else ""), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], parents=[common_arguments()])
    parser.add_argument("--sizes", default="250000,500000,1000000", help="training rows, comma separated")
    parser.add_argument("--target", nargs="+", action="extend", default=[], help="targets (default: all)")
    parser.add_argument("--cutoff", type=dt.date.fromisoformat, help="data complete up to this date")
    parser.add_argument("--no-report", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    config = load_config(env=args.env, conf_dir=args.conf_dir, overrides=parse_overrides(args.set))
    sizes = sorted(int(s) for s in args.sizes.split(","))
    names = args.target or sorted(config.models.targets)
    load_at_start = load_average()
    spark = get_spark(config.spark, Path(config.root))
    print(_HEADER, flush=True)
    results = [r for name in names for r in bench_target(spark, config, name, sizes, args.cutoff)]
    first = config.models.targets[names[0]].gbt
    note = (
        f"GBT maxIter {first.max_iter}, maxDepth {first.max_depth}, stepSize {first.step_size}, maxBins "
        f"{first.max_bins}, minInstancesPerNode {first.min_instances_per_node}, subsamplingRate "
        f"{first.subsampling_rate}, cacheNodeIds {str(first.cache_node_ids).lower()}; "
        f"HGB the same trees/depth/rate/leaf size, max_bins {min(255, first.max_bins)}, "
        "no early stopping"
    )
    command = ".venv/bin/python scripts/bench_train.py " + shlex.join(argv or sys.argv[1:])
    block = report_block(results, note, command, load_at_start)
    print(block)
    if not args.no_report:
        append_report(REPORT, block)
        print(f"appended to {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
