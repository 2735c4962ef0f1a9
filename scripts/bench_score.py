"""Benchmark the fused scoring pass against the naive and the MLflow pyfunc routes, in one run.

    .venv/bin/python scripts/bench_score.py [--users 1000000] [--trees 80] [--depth 5] [--pyfunc-users N]

Builds (or reuses, in --workdir) a synthetic features partition of --users users with every feature
column of conf, trains one champion per scoring target with the project's training stages (impute,
index + one-hot, assemble, GBT with --trees trees of depth --depth, isotonic calibration) on a
--train-rows sample, registers them in a private MLflow store, then times, on the same data:

- fused:  :func:`userscore.scoring.fuse.fused_scores` (one scan, one Python pass for every compiled
  model and its reasons, tags, tiers); also with the Spark pipelines (``compiled=False``);
- naive:  :func:`score_baselines.naive_scores` (a scan, a Spark pipeline and a join per
  model, same outputs); also with the compiled models (``compiled=True``);
- pyfunc: :func:`score_baselines.pyfunc_scores` (each model via mlflow.pyfunc.spark_udf;
  no reasons: pyfunc returns only the probability), on --pyfunc-users users (default: all);
- job:    the whole ``score_snapshot`` (fused + persisted + three Delta writes + summary).

Each route is materialised with Spark's ``noop`` sink (every column computed, nothing stored), after a
warm-up on 1% of the users. Prints seconds, users per second per core and the ratios, and appends them
to the "Scoring" section of docs/benchmarks.md (--no-append to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 3, 1)
STRINGS = {
    "member_level": ["basic", "silver", "gold", "platinum"],
    "region": ["north", "south", "east", "west"],
    "registration_channel": ["app", "web", "store"],
    "age_band": ["18-24", "25-34", "35-44", "45-54", "55+"],
    "rfm_segment": ["Champions", "Loyal", "At risk", "About to sleep", "Lost", "Hibernating"],
    "top_category": ["books", "beauty", "toys", "sports", "home", "none"],
    "category_1": ["books", "beauty", "toys"],
    "category_2": ["sports", "home", "none"],
    "category_3": ["none", "garden"],
    "preferred_channel": ["app", "web", "store", "mini_program"],
    "interest_1": ["apparel", "beauty", "books", "electronics", "grocery", "home", "sports", "toys", "none"],
    "interest_2": ["apparel", "beauty", "books", "electronics", "home", "none"],
    "interest_3": ["books", "grocery", "toys", "none"],
}
INTS = ("r_score", "f_score", "m_score", "fm_score")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=80, help="GBT trees per model (production default 80)")
    parser.add_argument("--depth", type=int, default=5, help="GBT depth (production default 5)")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument(
        "--pyfunc-users", type=int, default=2000, help="users scored through pyfunc (it runs ~1000x slower)"
    )
    parser.add_argument("--skip-pyfunc", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "userscore-bench-score"))
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    return parser.parse_args()


def synthetic_features(spark, columns: list[str], users: int, partitions: int):
    """Every feature column from seeded uniform draws: distributed, no driver-side rows."""
    from pyspark.sql import functions as F

    def draw(i: int):
        return F.rand(seed=1000 + i)

    exprs = [F.format_string("u%09d", F.col("id")).alias("user_id"), F.lit(AS_OF).alias("as_of_date")]
    for i, c in enumerate(columns):
        u = draw(i)
        if c in STRINGS:
            values = F.array(*[F.lit(v) for v in STRINGS[c]])
            e = F.element_at(values, (F.floor(u * len(STRINGS[c])) + 1).cast("int"))
        elif c in INTS:
            e = (F.floor(u * 5) + 1).cast("int")
        elif c == "interest_count":
            e = F.floor(u * 4).cast("long")
        elif c.endswith("_lift"):
            e = F.round(5 * u, 3)
        elif c == "rfm_score":
            e = F.round(1 + 4 * u, 2)
        elif c.endswith(("_share", "_score", "_rate", "_sensitivity", "_affinity")):
            e = F.round(u, 3)
        elif c.startswith(("recency", "days_since", "tenure")):
            e = F.floor(u * 400).cast("double")
        elif c.startswith(("monetary", "total_order", "decayed_monetary", "avg_order", "dwell")):
            e = F.round(-F.log(1 - u) * 800, 2)
        elif c.endswith("_trend"):
            e = F.round(0.2 + 2.8 * u, 2)
        else:
            e = F.floor(u * 12).cast("double")
        exprs.append(e.alias(c))
    return spark.range(0, users, numPartitions=partitions).select(*exprs)


def _labels():
    """Learnable synthetic outcomes per target (with noise), as Column rules over the features."""
    from pyspark.sql import functions as F

    noise = (F.rand(seed=7) - 0.5) * 2
    return {
        "churn_60d": (F.col("recency_days") + 80 * noise - 3 * F.col("logins_30d") > 200).cast("double"),
        "repurchase_30d": (F.col("frequency_90d") + 4 * noise + 3 * F.col("promotion_sensitivity") > 7).cast("double"),
        "vip_promotion_90d": (
            (F.col("monetary_365d") + 600 * noise > 1200) | (F.col("member_level") == "platinum")
        ).cast("double"),
    }


def train_champions(spark, config, features, train_rows: int, trees: int, depth: int, store) -> None:
    """One served pipeline per scoring target, built like production's, registered @champion."""
    import mlflow
    import pyspark
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.sql import types as T

    from userscore.models.calibration import fit_calibrator
    from userscore.models.dataset import FeatureColumns
    from userscore.models.tracking import connect
    from userscore.models.training import FEATURES, feature_stages, gbt_classifier

    numeric = tuple(
        f.name
        for f in features.schema.fields
        if isinstance(f.dataType, T.NumericType) and f.name not in ("as_of_date",)
    )
    columns = FeatureColumns(numeric=numeric, categorical=("member_level",))
    fraction = min(1.0, train_rows / max(1, features.count()))
    client, experiment_id = connect(replace(store, experiment="bench-score"))
    params = replace(
        config.models.defaults.gbt, max_iter=trees, max_depth=depth, min_instances_per_node=20, cache_node_ids=False
    )
    for target, label in _labels().items():
        started = time.perf_counter()
        sample = features.sample(fraction=fraction, seed=3).withColumn("label", label).cache()
        prep = Pipeline(stages=feature_stages(columns)).fit(sample)
        assembled = prep.transform(sample).select(FEATURES, "label").cache()
        gbt = gbt_classifier(params, weighted=False).setLabelCol("label").fit(assembled)
        gbt.setPredictionCol("")
        calibrator = fit_calibrator(gbt.transform(assembled), "isotonic", "label")
        served = PipelineModel(stages=[*prep.stages, gbt, calibrator])
        name = f"{config.models.tracking.model_prefix}{target}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"bench {target}"):
            info = mlflow.spark.log_model(
                served, artifact_path="model", registered_model_name=name, dfs_tmpdir=store.dfs_tmpdir,
                pip_requirements=[f"pyspark=={pyspark.__version__}"],
            )  # fmt: skip
        client.set_registered_model_alias(name, config.models.promotion.alias, str(info.registered_model_version))
        sample.unpersist()
        assembled.unpersist()
        print(f"  trained {name}: {trees} trees, depth {depth}, {time.perf_counter() - started:.0f}s", flush=True)


def _noop(df) -> float:
    """Seconds to compute every column of every row (Spark's benchmark sink: nothing is stored)."""
    started = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def _append(section_lines: list[str]) -> Path:
    """Append a run under the "## Scoring" section of docs/benchmarks.md (created if absent)."""
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    entry = "\n".join(section_lines) + "\n"
    header = "## Scoring"
    if header not in text:
        text = text.rstrip("\n") + f"\n\n{header}\n\n{_SECTION_INTRO}\n"
    start = text.index(header)
    following = text.find("\n## ", start + len(header))
    insert_at = len(text) if following < 0 else following + 1
    before = text[:insert_at].rstrip("\n") + "\n\n"
    after = text[insert_at:]
    path.write_text(before + entry + ("\n" + after if after else ""))
    return path


_SECTION_INTRO = """\
`scripts/bench_score.py` compares, in one run on the same synthetic features partition, these ways of
producing the scores rows:

- **fused** (`userscore.scoring.fuse.fused_scores`, what `userscore score` runs): ONE scan of the
  features partition and ONE pandas UDF for every champion: each batch of users goes to Python once
  with the raw feature columns, and every compiled champion (`userscore.scoring.compiled`: the
  pipeline's imputer, indexer, one-hot encoder, assembler, GBT trees and calibration as numpy arrays)
  returns its calibrated probability and its reasons (Saabas path attributions from the same tree
  walk); tiers, value score, grade and tags as plain Column expressions. A test counts the FileScan
  nodes of the features table in the physical plan (1; the naive plan: 4) and its Python evaluations
  (1; naive: 3), and checks that both give the same rows. The job persists the scores once
  (MEMORY_AND_DISK) because three tables are written from them; the models run once.
- **naive** (`scripts/score_baselines.py` `naive_scores`): each model in its own pass over a fresh read
  of the features through its Spark pipeline (MLlib's transform of the served artifact, then its
  assembled vector to Python for the reasons), its outputs joined back by user_id; same outputs.
- **fused, Spark pipelines** and **naive, compiled** split the gain: one pass with the Spark pipelines
  applied in turn (the fused design before the models were compiled), and separate passes with the
  compiled models.
- **pyfunc** (`scripts/score_baselines.py` `pyfunc_scores`): each model through
  `mlflow.pyfunc.spark_udf` (rows shipped to Python workers, which run the Spark model through MLflow's
  pyfunc wrapper); probabilities only (no reasons).

Each route is materialised with Spark's `noop` sink (every column computed, nothing stored); `job` is
the whole `score_snapshot` (persist, three Delta writes, summary). Users/s/core = users / seconds /
cores. Run: `.venv/bin/python scripts/bench_score.py --users 1000000`."""


def main() -> int:
    args = _arguments()
    sys.path.insert(0, str(ROOT / "lib"))
    from pyspark.sql import functions as F

    from score_baselines import naive_scores, pyfunc_scores  # beside this script: sys.path[0] is scripts/
    from userscore.catalog import Catalog
    from userscore.config import load_config
    from userscore.features import feature_columns
    from userscore.models.tracking import store_of
    from userscore.scoring.customer_base import load_customer_base
    from userscore.scoring.fuse import fused_scores
    from userscore.scoring.models import load_champions, logical_scored_at
    from userscore.scoring.pipeline import read_features, score_snapshot
    from userscore.session import get_spark
    from userscore.tags import load_dictionary

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    overrides = {
        "catalog": {"root": str(work / "warehouse")},
        "models": {
            "tracking": {
                "uri": f"sqlite:///{work}/mlflow.db",
                "artifact_root": str(work / "mlruns"),
                "dfs_tmpdir": str(work / "dfs"),
                "experiment": "bench-score",
            },
            "checkpoint_dir": str(work / "checkpoints"),
        },
        # The bench's warehouse has features and champions only (no silver.consents); the figures in
        # docs/benchmarks.md were taken before audiences honoured consent.
        "consent": {"required": {"audiences": []}},
    }
    config = load_config(overrides=overrides)
    os.environ.setdefault("USERSCORE_PII_KEY", "bench-only")
    spark = get_spark(config.spark, ROOT)
    spark.sparkContext.setLogLevel("ERROR")
    # Task slots of local mode: the machine's CPUs (defaultParallelism is the configured partition count).
    cores = len(os.sched_getaffinity(0))
    catalog = Catalog(spark, config)
    table = config.scoring.features_table
    store = store_of(config)

    have = catalog.read(table, where=F.col("as_of_date") == AS_OF).count() if catalog.exists(table) else 0
    if have != args.users:
        print(f"writing {args.users:,} synthetic feature rows to {catalog.location(table)} ...", flush=True)
        partitions = max(cores, args.users // 250_000)
        frame = synthetic_features(spark, feature_columns(config.features), args.users, partitions)
        catalog.overwrite_where(table, frame, {"as_of_date": AS_OF})
    marker = work / f"champions-{args.trees}x{args.depth}"
    if not marker.exists():
        print("training champions ...", flush=True)
        train_champions(spark, config, catalog.read(table), args.train_rows, args.trees, args.depth, store)
        marker.touch()

    started = time.perf_counter()
    champions = load_champions(config.scoring.targets, config.models.tracking, config.models.promotion.alias, ROOT)
    load_seconds = time.perf_counter() - started
    dictionary = load_dictionary(config.tags)
    at = logical_scored_at(AS_OF, champions)
    scoring = config.scoring
    # The features here are synthetic (no silver orders, no BTYD champion): the BTYD columns are null.
    base = load_customer_base(catalog, config, AS_OF)

    def features():
        return read_features(catalog, config, AS_OF)

    _noop(
        fused_scores(
            features().sample(0.01, seed=1),
            champions,
            scoring,
            dictionary,
            at,
            customer_base=base,
        )
    )  # warm-up
    n_pyfunc = min(args.pyfunc_users, args.users)

    def fused(**options):
        return lambda: fused_scores(features(), champions, scoring, dictionary, at, customer_base=base, **options)

    def naive(**options):
        return lambda: naive_scores(features, champions, scoring, dictionary, at, customer_base=base, **options)

    everyone = (args.users, cores)
    routes = {
        "fused": (fused(), *everyone),
        "naive": (naive(), *everyone),
        "fused, no reasons": (fused(explain=False), *everyone),
        "naive, no reasons": (naive(explain=False), *everyone),
        # Where the gain comes from: one pass with the Spark pipelines, and separate passes compiled.
        "fused, Spark pipelines": (fused(compiled=False), *everyone),
        "naive, compiled": (naive(compiled=True), *everyone),
    }
    if not args.skip_pyfunc:
        # One partition: each Python worker running a Spark-flavour pyfunc model starts its own local Spark
        # JVM; one worker keeps that to one extra JVM on a shared machine. Its rate is per the 1 core used.
        routes["pyfunc (no reasons)"] = (
            lambda: pyfunc_scores(
                features().orderBy("user_id").limit(n_pyfunc).coalesce(1),
                champions,
                scoring,
                dictionary,
                at,
                customer_base=base,
            ),
            n_pyfunc,
            1,
        )
    timings: dict[str, tuple[float, int, int]] = {}
    for key, (build, users, used) in routes.items():
        timings[key] = (_noop(build()), users, used)
        print(f"  {key:<24} {timings[key][0]:8.1f}s  {users:,} users", flush=True)
    started = time.perf_counter()
    score_snapshot(catalog, config, AS_OF)
    timings["job (fused + 3 writes)"] = (time.perf_counter() - started, args.users, cores)
    print(f"  {'job':<24} {timings['job (fused + 3 writes)'][0]:8.1f}s", flush=True)

    rate = {k: users / seconds / used for k, (seconds, users, used) in timings.items()}
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {args.users:,} users, 3 targets, "
        f"{args.trees} trees x depth {args.depth}, {cores} cores ({platform.machine()}), "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| route | users | cores | seconds | users/s/core | fused is x faster (per user per core) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, (seconds, users, used) in timings.items():
        base = "fused, no reasons" if "no reasons" in key else "fused"
        speedup = f"{rate[base] / rate[key]:.2f} (vs {base})"
        lines.append(f"| {key} | {users:,} | {used} | {seconds:.1f} | {rate[key]:,.0f} | {speedup} |")
    lines += ["", f"Champions loaded (3 models, trees read for reasons) in {load_seconds:.1f}s, before the timings."]
    checks = [("fused", "naive", 2), ("fused, no reasons", "naive, no reasons", 2)]
    checks += [("fused, no reasons", "pyfunc (no reasons)", 5), ("fused", "pyfunc (no reasons)", 5)]
    for fast, slow, target in checks:
        if fast in rate and slow in rate:
            ratio = rate[fast] / rate[slow]
            verdict = "met" if ratio >= target else "NOT met"
            lines.append(f"- {fast} vs {slow}: {ratio:.2f}x (target >= {target}x: {verdict})")
    print("\n".join(lines))
    if not args.no_append:
        print(f"appended to {_append(lines)}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
