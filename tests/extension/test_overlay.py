"""A user extends the product through a conf overlay only (docs/extending.md), end to end.

The overlay of docs/extending.md (a 180-day window, a new measure, a new feature family, a target "buys a
book within 14 days", a tag, a segment family) goes into ``conf/ext/`` next to a copy of conf/base, with
a second overlay file that only shrinks the model (and drops the social family) for the test. Then generate
-> ingest -> features -> train -> score run in the test session, and the new columns, the model's labels,
the tag and the segment members are compared with the same figures computed in pandas over the silver rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import REPO
from userscore.catalog import Catalog
from userscore.cli import build_parser
from userscore.config import Config, deep_merge, load_config
from userscore.logs import get_logger
from userscore.runner import JobContext, parse_overrides

ENV = "ext"
USERS, SEED = 400, 11
NOW = "2026-11-02T00:00:00"  # the generated history ends 2026-11-01
D1, D2 = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
# Test sizes only: five shallow trees, a gate any model passes, the base targets not required to score.
SIZES = """
models:
  promotion: {max_ece: 1.0, min_auc: 0.0, baseline_margin: -1.0}
  training_partitions: 2
  targets:
    books_14d:
      gbt: {max_iter: 5, max_depth: 3, min_instances_per_node: 5}
scoring:
  targets:
    churn_60d: {optional: true}
    repurchase_30d: {optional: true}
# No social family (tests/conftest.py WITHOUT_SOCIAL_FAMILY): the extension does not touch it, and the social
# runs it would need at D1 and D2 cost a minute.
features:
  social: null
tags:
  dictionary:
    kol: null
    community_hub: null
"""


def overlay_from_docs() -> str:
    """The YAML block of docs/extending.md, so the documented example is the one tested."""
    text = (REPO / "docs" / "extending.md").read_text()
    return re.search(r"```yaml\n(.*?)```", text, re.S).group(1)


def run_job(spark, conf: Path, job: str, argv: list[str]) -> list[str]:
    """``userscore <job> --env ext --conf-dir conf argv`` in the test session (the job's own parsing,
    config loading and run(), with the shared SparkSession)."""
    args = build_parser().parse_args([job, *argv])
    overrides = parse_overrides(args.set)
    if hasattr(args.handler, "config_overrides"):
        overrides = deep_merge(overrides, args.handler.config_overrides(args))
    config = load_config(env=ENV, conf_dir=conf, overrides=overrides)
    ctx = JobContext(name=job, config=config, args=args, logger=get_logger(job), _catalog=Catalog(spark, config))
    return list(args.handler.run(ctx))


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory) -> Config:
    """A private project (conf copy with the overlay; warehouse, raw files and MLflow under it) after
    generate -> ingest -> features (D1, D2) -> train books_14d -> score D2."""
    root = tmp_path_factory.mktemp("extension")
    conf = root / "conf"
    shutil.copytree(REPO / "conf" / "base", conf / "base")
    shutil.copytree(REPO / "conf" / "local", conf / ENV)
    (conf / ENV / "books.yaml").write_text(overlay_from_docs())
    (conf / ENV / "test_sizes.yaml").write_text(SIZES)
    run_job(spark, conf, "generate", ["--users", str(USERS), "--seed", str(SEED)])
    run_job(spark, conf, "ingest", ["--now", NOW])
    run_job(spark, conf, "features", ["--from", str(D1), "--to", str(D2), "--every", "30d"])
    run_job(spark, conf, "train", ["--target", "books_14d"])
    run_job(spark, conf, "score", ["--as-of", str(D2), "--scored-at", f"{D2}T06:00:00"])
    return load_config(env=ENV, conf_dir=conf)


def _pandas(spark, config: Config, table: str, where: str | None = None) -> pd.DataFrame:
    df = Catalog(spark, config).read(table)
    if where:
        df = df.where(where)
    # Timestamps as UTC text, parsed by pandas: no driver time-zone conversion.
    timestamps = {f.name for f in df.schema.fields if f.dataType.typeName() == "timestamp"}
    df = df.selectExpr(*[f"CAST({c} AS STRING) AS {c}" if c in timestamps else f"`{c}`" for c in df.columns])
    return df.toPandas()


@pytest.fixture(scope="module")
def silver(spark, project) -> dict[str, pd.DataFrame]:
    frames = {
        "users": _pandas(spark, project, "silver.users").loc[:, ["user_id", "registered_at"]],
        "orders": _pandas(spark, project, "silver.orders").loc[
            :, ["user_id", "order_ts", "amount", "is_refunded", "refunded_at", "category", "channel"]
        ],
        "events": _pandas(spark, project, "silver.events").loc[:, ["user_id", "event_ts", "event_type", "category"]],
    }
    for name, columns in {
        "users": ["registered_at"],
        "orders": ["order_ts", "refunded_at"],
        "events": ["event_ts"],
    }.items():
        for column in columns:
            frames[name][column] = pd.to_datetime(frames[name][column])
    frames["orders"]["amount"] = frames["orders"]["amount"].astype(float)
    frames["orders"]["is_refunded"] = frames["orders"]["is_refunded"].fillna(False).astype(bool)
    return frames


def _midnight(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day)


def expected_features(silver: dict[str, pd.DataFrame], d: dt.date) -> pd.DataFrame:
    """The overlay's new columns at D, in pandas: users registered before D, rows before D."""
    at = _midnight(d)
    users = silver["users"].loc[silver["users"].registered_at < at, ["user_id"]].set_index("user_id")
    orders = silver["orders"][silver["orders"].order_ts < at]
    refunded = orders.is_refunded & orders.refunded_at.notna() & (orders.refunded_at < at)
    kept = orders[~refunded]
    events = silver["events"][silver["events"].event_ts < at]

    def count(rows: pd.DataFrame) -> pd.Series:
        return rows.groupby("user_id").size().reindex(users.index, fill_value=0)

    last_180 = at - pd.Timedelta(days=180)
    in_180 = kept[kept.order_ts >= last_180]
    book_views = events[(events.event_type == "page_view") & (events.category == "books")]
    out = pd.DataFrame(index=users.index)
    out["frequency_180d"] = count(in_180)
    out["monetary_180d"] = in_180.groupby("user_id").amount.sum().reindex(users.index, fill_value=0.0)
    out["app_orders"] = count(kept[kept.channel == "app"])
    out["book_orders_180d"] = count(in_180[in_180.category == "books"])
    out["book_views_30d"] = count(book_views[book_views.event_ts >= at - pd.Timedelta(days=30)])
    out["book_views_180d"] = count(book_views[book_views.event_ts >= last_180])
    views = out.book_views_180d.astype(float)
    out["book_orders_per_view_180d"] = (out.book_orders_180d / views.where(views > 0)).fillna(0.0)
    return out.sort_index()


def book_buyers(silver: dict[str, pd.DataFrame], d: dt.date, horizon: int = 14) -> set[str]:
    """Users with a books order in (D, D + 14 days] not refunded by D + 14 days (the label's rows)."""
    orders = silver["orders"]
    start, end = _midnight(d), _midnight(d + dt.timedelta(days=horizon))
    refunded = orders.is_refunded & orders.refunded_at.notna() & (orders.refunded_at <= end)
    hits = orders[(orders.order_ts > start) & (orders.order_ts <= end) & (orders.category == "books") & ~refunded]
    return set(hits.user_id)


def test_new_window_measure_and_family_columns_match_pandas(spark, project, silver):
    expected = expected_features(silver, D2)
    actual = (
        _pandas(spark, project, "features.user_features", f"as_of_date = DATE'{D2}'")
        .set_index("user_id")
        .loc[:, list(expected.columns)]
        .sort_index()
    )
    assert list(actual.index) == list(expected.index)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, rtol=1e-9)
    # The generated data exercises every new column (not all zeros).
    assert (expected.loc[:, ["frequency_180d", "app_orders", "book_orders_180d", "book_views_180d"]].sum() > 0).all()


def test_the_model_is_trained_on_the_filtered_14_day_labels(spark, project, silver):
    features = _pandas(spark, project, "features.user_features")
    users = {d: set(features.user_id[features.as_of_date == d]) for d in (D1, D2)}
    positives = {d: len(users[d] & book_buyers(silver, d)) for d in (D1, D2)}
    assert 0 < positives[D2] < len(users[D2])
    client = MlflowClient(tracking_uri=f"sqlite:///{project.root}/mlflow.db")
    experiment = client.get_experiment_by_name(project.models.tracking.experiment)
    (run,) = client.search_runs([experiment.experiment_id])
    counts = json.loads(run.data.params["eligible_counts"])
    # Every user of the one training snapshot is in the train or the calibration split.
    train = {c: counts.get(f"train/{c}", 0) + counts.get(f"calibration/{c}", 0) for c in ("0", "1")}
    assert (counts["validation/1"], counts["validation/0"]) == (positives[D2], len(users[D2]) - positives[D2])
    assert (train["1"], train["0"]) == (positives[D1], len(users[D1]) - positives[D1])


def test_scores_carry_the_new_target_and_tag(spark, project, silver):
    scores = _pandas(spark, project, "scores.user_scores", f"as_of_date = DATE'{D2}'").set_index("user_id")
    expected = expected_features(silver, D2)
    lover = (expected.book_orders_180d >= 1) | (expected.book_views_30d >= 3)
    assert scores.book_lover.sort_index().tolist() == lover.tolist()
    assert 0 < lover.sum() < len(lover)
    p = scores.books_probability
    assert p.between(0.0, 1.0).all() and p.notna().all()
    assert scores.books_tier.tolist() == ["high" if x > 0.30 else "low" for x in p]
    assert set(scores.books_model_version) == {"1"}


def test_segment_members_follow_the_rules_in_priority_order(spark, project, silver):
    expected = expected_features(silver, D2)
    lover = (expected.book_orders_180d >= 1) | (expected.book_views_30d >= 3)
    # The tier is the model's (checked against its probability above); the rules are recomputed here.
    scores = _pandas(spark, project, "scores.user_scores", f"as_of_date = DATE'{D2}'").set_index("user_id")
    first = lover & (scores.books_tier.reindex(expected.index) == "high")
    second = lover & ~first
    want = {(u, "likely_book_buyers") for u in expected.index[first]}
    want |= {(u, "book_lovers") for u in expected.index[second]}
    where = f"as_of_date = DATE'{D2}' AND family = 'books'"
    got = set()
    for table in ("audiences.segment_members", "audiences.excluded_members"):
        rows = _pandas(spark, project, table, where)
        got |= set(zip(rows.user_id, rows.segment, strict=True))
    assert got == want
    assert second.sum() > 0
