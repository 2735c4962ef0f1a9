"""Benchmark the graph stages (issue 15): identity stitching and social-network analysis at 250k, 500k and 1M
users, so that the figures show how the cost grows.

Per size N (``--users``, default 250,000 500,000 1,000,000), graphs built with ``spark.range`` (no generator
run: the shape is what matters), each user registered before D:

- identity: about ``--links`` links per user (default 10: ~10M links at 1M users): users in groups of three
  (one person: the group's phone and device; the first holds the member card), an e-mail and devices each,
  and noise: 20 store tablets each used by 0.1% of the users (shared values) and recycled phone numbers on
  1.5% of the card holders (a limit breaks). Timed: ``stitch`` + stable ids
  of userscore.identity (connected-components rounds, time per round), and the baseline measured in the same
  run: min-label propagation ("hash-min": every node takes the smallest label among its neighbours until
  nothing changes), the algorithm whose rounds grow with the graph's diameter, on the same edges.
- social: ``--edges`` edges per user (default 10): follows, 1% of all of them to one celebrity and most of the
  rest by a power law, shares and invites to anyone. Timed: the whole ``run_social`` measure set (PageRank,
  label propagation, reach, conversions), PageRank iterations and label-propagation rounds; and the rows the
  celebrity's key shuffles to its reducer after map-side combining (it must not put all its follows in one task).

Prints a table per stage and appends them to the "Graph stages" section of docs/benchmarks.md (``--report ''``
skips). Run it on a quiet machine: it uses every core.

    .venv/bin/python scripts/bench_graph.py                                  # 250k, 500k, 1M users
    .venv/bin/python scripts/bench_graph.py --users 20000 --report ''        # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench_report import append_entry
from userscore.catalog import Catalog
from userscore.config import load_config
from userscore.graph import connected_components, local_checkpoint
from userscore.identity.person_ids import assign_person_ids
from userscore.identity.stitch import stitch
from userscore.session import get_spark
from userscore.social.pipeline import run_social

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Graph stages"
AS_OF = dt.date(2026, 11, 1)
REGISTERED = dt.datetime(2025, 1, 1)
TABLETS, TABLET_SHARE, RECYCLED_SHARE = 20, 0.001, 0.005


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--links", type=int, default=10, help="identity links per user")
    parser.add_argument("--edges", type=int, default=10, help="social edges per user")
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench-graph"), help="work folder (replaced)")
    parser.add_argument("--report", default=str(REPO / "docs" / "benchmarks.md"), help="'' to skip")
    return parser.parse_args()


def _u(salt: str, *cols) -> F.Column:
    """Uniform [0, 1) from a hash of the salt and columns (deterministic, any partitioning)."""
    h = F.xxhash64(F.lit(salt), *cols)
    return F.pmod(h, F.lit(1 << 30)).cast("double") / float(1 << 30)


def identity_links(spark: SparkSession, users: int, per_user: int) -> DataFrame:
    """(user_id, id_type, id_value, linked_at): ``per_user`` links per user, see the module docstring."""
    i = F.col("id")
    base = spark.range(users).select(i, F.format_string("u%09d", i).alias("user_id"))
    devices = max(1, per_user - 4)
    primary = F.pmod(i, F.lit(3)) == 0  # the first of a group of three holds the member card
    links = F.array(
        F.when(primary, F.struct(F.lit("member").alias("t"), F.format_string("m%09d", i).alias("v"))),
        F.struct(F.lit("email").alias("t"), F.format_string("e%09d", i).alias("v")),
        F.struct(F.lit("phone").alias("t"), F.format_string("p%09d", F.floor(i / 3)).alias("v")),
        F.when(
            primary & (_u("recycled", i) < RECYCLED_SHARE * 3),
            F.struct(
                F.lit("phone").alias("t"), F.format_string("p%09d", F.floor(_u("owner", i) * users / 3)).alias("v")
            ),
        ),
        *(
            F.struct(
                F.lit("device").alias("t"),
                F.when(
                    (F.lit(j) == 0) & (_u("tablet", i) < TABLET_SHARE * TABLETS),
                    F.format_string("tablet%02d", F.floor(_u("which", i) * TABLETS).cast("int")),
                )
                .when(F.lit(j) == 1, F.format_string("d%09d", F.floor(i / 3)))  # the group's shared device
                .otherwise(F.format_string("d%09d-%d", i, F.lit(j)))
                .alias("v"),
            )
            for j in range(devices)
        ),
    )
    rows = base.select("user_id", F.explode(F.filter(links, lambda x: x.isNotNull())).alias("l"))
    return rows.select(
        "user_id",
        F.col("l.t").alias("id_type"),
        F.col("l.v").alias("id_value"),
        (
            F.lit(REGISTERED).cast("timestamp")
            + F.make_dt_interval(F.lit(0), F.lit(0), F.lit(0), _u("t", F.col("l.v"), F.col("user_id")) * 1e7)
        ).alias("linked_at"),
    ).dropDuplicates(["user_id", "id_type", "id_value"])


def social_edges(spark: SparkSession, users: int, per_user: int) -> DataFrame:
    """Rows of silver.social_edges: ``per_user`` edges per user, 1% of all follows to user 0 (the celebrity)."""
    i, k = F.col("id"), F.col("k")
    rows = spark.range(users).select(i, F.explode(F.sequence(F.lit(0), F.lit(per_user - 1))).alias("k"))
    u = _u("kind", i, k)
    kind = F.when(u < 0.7, "follow").when(u < 0.9, "share").otherwise("invite")
    celebrity = _u("celebrity", i, k) < 0.01 / 0.7
    popular = 1 + F.floor(F.pow(_u("rank", i, k), 2.5) * (users - 1))  # rank 0 is the celebrity's alone
    anyone = F.floor(_u("anyone", i, k) * users)
    dst = F.when((kind == "follow") & celebrity, F.lit(0)).when(kind == "follow", popular).otherwise(anyone)
    dst = F.when(dst == i, F.pmod(dst + 1, F.lit(users))).otherwise(dst)
    return rows.select(
        F.format_string("s%09d-%02d", i, k).alias("edge_id"),
        F.format_string("u%09d", i).alias("src_user_id"),
        F.format_string("u%09d", dst.cast("long")).alias("dst_user_id"),
        kind.alias("edge_type"),
        (
            F.lit(REGISTERED).cast("timestamp") + F.make_dt_interval(F.lit(0), F.lit(0), F.lit(0), _u("t", i, k) * 3e7)
        ).alias("created_at"),
        F.lit("bench").alias("ingest_batch_id"),
    ).dropDuplicates(["src_user_id", "dst_user_id", "edge_type"])


def hash_min(edges: DataFrame) -> tuple[int, float]:
    """Min-label propagation to a fixpoint on undirected ``edges`` (src, dst): (rounds, seconds)."""
    started = time.perf_counter()
    both = local_checkpoint(edges.union(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst"))))
    labels = local_checkpoint(both.groupBy("src").agg(F.least(F.min("dst"), F.first("src")).alias("label")))
    rounds = 0
    while True:
        rounds += 1
        proposed = both.join(labels.withColumnRenamed("src", "dst").withColumnRenamed("label", "n"), "dst")
        best = proposed.groupBy("src").agg(F.min("n").alias("n"))
        new = local_checkpoint(
            labels.join(best, "src", "left").select("src", F.least("label", F.coalesce("n", "label")).alias("label"))
        )
        changed = new.join(labels.withColumnRenamed("label", "old"), "src").where(F.col("label") != F.col("old"))
        labels = new
        if changed.isEmpty():
            return rounds, time.perf_counter() - started


def bench_identity(spark: SparkSession, users: int, per_user: int) -> dict:
    # Users here hold many devices: a person of three user ids may hold 3 x (per_user - 3) of them.
    devices = {"device": {"max_per_person": 3 * per_user}}
    config = load_config(env="local", overrides={"identity": {"id_types": devices}})
    links = local_checkpoint(identity_links(spark, users, per_user))
    n_links = links.count()
    nodes = spark.range(users).select(F.format_string("u%09d", F.col("id")).alias("user_id"))
    started = time.perf_counter()
    stitched = stitch(nodes, links, config.identity)
    persons = local_checkpoint(stitched.persons)
    stitch_seconds = time.perf_counter() - started
    ids = assign_person_ids(persons, None, AS_OF)
    persons_count = ids.person_map.select("person_id").distinct().count()
    dropped = stitched.dropped.count()
    total = time.perf_counter() - started
    graph = links.select(F.col("user_id").alias("src"), F.concat_ws(":", "id_type", "id_value").alias("dst"))
    cc_started = time.perf_counter()
    rounds = connected_components(graph).rounds
    cc_seconds = time.perf_counter() - cc_started
    baseline_rounds, baseline_seconds = hash_min(graph)
    return {
        "users": users, "links": n_links, "persons": persons_count, "dropped": dropped, "rounds": rounds,
        "cc_seconds": cc_seconds, "per_round": cc_seconds / max(rounds, 1), "stitch_seconds": stitch_seconds,
        "total": total, "baseline_rounds": baseline_rounds, "baseline_seconds": baseline_seconds,
    }  # fmt: skip


def celebrity_rows(edges: DataFrame, celebrity: str) -> tuple[int, int]:
    """(the celebrity's follows, the rows its key sends to its reducer once each map task has combined its own:
    one per input partition holding its follows), the partial aggregation that keeps it out of one task."""
    follows = edges.where((F.col("edge_type") == "follow") & (F.col("dst_user_id") == celebrity))
    combined = follows.select(F.spark_partition_id().alias("p")).distinct().count()
    return follows.count(), combined


def bench_social(spark: SparkSession, root: Path, users: int, per_user: int) -> dict:
    config = load_config(env="local", overrides={"catalog": {"root": str(root / f"social-{users}")}})
    catalog = Catalog(spark, config)
    for table in ("silver.users", "silver.orders", "silver.social_edges"):
        catalog.ensure(table)
    profiles = spark.range(users).select(
        F.format_string("u%09d", F.col("id")).alias("user_id"),
        F.lit(REGISTERED).cast("timestamp").alias("registered_at"),
        *(F.lit(None).cast("string").alias(c) for c in ("registration_channel", "gender", "age_band", "region")),
        F.lit("basic").alias("member_level"),
        F.lit(None).cast("string").alias("phone_hash"),
        F.lit(None).cast("string").alias("email_hash"),
        F.lit(REGISTERED).cast("timestamp").alias("updated_at"),
        F.lit("bench").alias("ingest_batch_id"),
    )
    catalog.overwrite_where("silver.users", profiles, {"ingest_batch_id": "bench"})
    edges = social_edges(spark, users, per_user)
    catalog.overwrite_where("silver.social_edges", edges, {"ingest_batch_id": "bench"})
    stored = catalog.read("silver.social_edges")
    celebrity, shuffled = celebrity_rows(stored, "u000000000")
    follows = stored.where(F.col("edge_type") == "follow").count()
    started = time.perf_counter()
    outcome = run_social(catalog, config, AS_OF)
    seconds = time.perf_counter() - started
    return {
        "users": users, "edges": outcome.edges, "celebrity": celebrity / max(follows, 1), "shuffled": shuffled,
        "celebrity_follows": celebrity,
        "iterations": outcome.pagerank_iterations, "rounds": outcome.community_rounds, "total": seconds,
        "communities": outcome.communities, "kols": outcome.kols,
    }  # fmt: skip


def report(identity: list[dict], social: list[dict], args: argparse.Namespace) -> str:
    first_i, first_s = identity[0], social[0]
    sizes, load = " ".join(str(n) for n in args.users), ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: `python scripts/bench_graph.py --users {sizes}` "
        f"(load average at the end {load})",
        "",
        "Identity (stitch + stable ids; baseline: min-label propagation on the same edges):",
        "",
        "| users | links | persons | dropped links | rounds | s/round | components | stitch + ids | x smallest | "
        "min-label rounds | min-label s | min-label / components |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in identity:
        lines.append(
            f"| {r['users']:,} | {r['links']:,} | {r['persons']:,} | {r['dropped']:,} | {r['rounds']} | "
            f"{r['per_round']:.1f} | {r['cc_seconds']:.1f} s | {r['total']:.1f} s | "
            f"{r['total'] / first_i['total']:.2f}x | {r['baseline_rounds']} | {r['baseline_seconds']:.1f} s | "
            f"{r['baseline_seconds'] / r['cc_seconds']:.2f}x |"
        )
    lines += [
        "",
        "Social (the whole `social` measure set; the celebrity's follows, their share of all follows, and the rows "
        "its key shuffles after map-side combining):",
        "",
        "| users | edges | celebrity follows | share | rows shuffled | PageRank iterations | LPA rounds | "
        "communities | KOLs | total | x smallest |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in social:
        lines.append(
            f"| {r['users']:,} | {r['edges']:,} | {r['celebrity_follows']:,} | {r['celebrity']:.1%} | "
            f"{r['shuffled']} | {r['iterations']} | "
            f"{r['rounds']} | {r['communities']:,} | {r['kols']:,} | {r['total']:.1f} s | "
            f"{r['total'] / first_s['total']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    os.environ.setdefault("USERSCORE_PII_KEY", "bench-only-key")
    if args.root.exists():
        shutil.rmtree(args.root)
    args.root.mkdir(parents=True)
    config = load_config(env="local", overrides={"catalog": {"root": str(args.root / "warehouse")}})
    spark = get_spark(config.spark, REPO)
    identity, social = [], []
    for users in args.users:
        identity.append(bench_identity(spark, users, args.links))
        print(identity[-1], flush=True)
        social.append(bench_social(spark, args.root, users, args.edges))
        print(social[-1], flush=True)
    entry = report(identity, social, args)
    print(entry)
    if args.report:
        append_entry(Path(args.report), SECTION, "bench_graph.py", entry)


if __name__ == "__main__":
    main()
