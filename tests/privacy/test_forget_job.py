"""The forget job on a tiny generated, ingested and featured warehouse: afterwards no data file of the
warehouse (Parquet values and footers, Delta logs and checksums) and no raw file holds the erased user's
id or the hashes of their phone and e-mail; other users are untouched; the log holds the counts taken
independently before; re-running changes nothing; re-ingesting and a training set do not bring them back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tests.conftest import REPO, TEST_PII_KEY, WITHOUT_SOCIAL_FAMILY, make_config
from userscore import cli
from userscore.btyd.summary import calibration_summary
from userscore.catalog import Catalog, declared_schema
from userscore.config import deep_merge
from userscore.jobs import features as features_job
from userscore.jobs import forget as forget_job
from userscore.jobs import generate as generate_job
from userscore.jobs import ingest as ingest_job
from userscore.models.dataset import training_set
from userscore.models.workflow import training_inputs
from userscore.runner import JobContext

BATCH = "b-1"
DATES = (dt.date(2026, 7, 1), dt.date(2026, 7, 31), dt.date(2026, 8, 30))
SCORED = dt.datetime(2026, 9, 1)


def _run(job, config, catalog, argv):
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    args = parser.parse_args(argv)
    ctx = JobContext(name="test", config=config, args=args, logger=logging.getLogger("test"), _catalog=catalog)
    return list(job.run(ctx))


def _hash(value: str) -> str:
    return hmac.new(TEST_PII_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def _contact_hash(value: str) -> str:
    """The ingest's normalisation, restated: e-mail lower-cased, phone digits only."""
    value = value.strip()
    value = value.lower() if "@" in value else re.sub(r"[^0-9]", "", value)
    return _hash(value)


def _word(value: str) -> re.Pattern[bytes]:
    """``value`` as a whole token: not part of a longer id (u-1 must not match u-10)."""
    return re.compile(rb"(?<![A-Za-z0-9_-])" + re.escape(value.encode()) + rb"(?![A-Za-z0-9_-])")


def _traces(root: Path, patterns: dict[str, re.Pattern[bytes]]) -> dict[str, list[str]]:
    """Files under ``root`` holding any pattern: every file's bytes (Parquet footers, logs, checksums),
    and every Parquet file's values, all columns (nested ones too) as text."""
    found: dict[str, list[str]] = {name: [] for name in patterns}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        texts = [path.read_bytes()]
        if path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
        for name, pattern in patterns.items():
            if any(pattern.search(t) for t in texts):
                found[name].append(str(path.relative_to(root)))
    return found


def _scores(catalog: Catalog, name: str, features, value: float):
    """A scores-shaped frame: keys and a value score from the features, other declared columns null."""
    schema = declared_schema(catalog.spec(name))
    given = {"user_id": F.col("user_id"), "as_of_date": F.col("as_of_date"), "value_score": F.lit(value)}
    given["scored_at"] = F.lit(SCORED)
    return features.select(*[given.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name) for f in schema.fields])


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forget")
    config = make_config(
        tmp,
        deep_merge(
            WITHOUT_SOCIAL_FAMILY,
            {
                "generate": {"users": 60, "bad_record_share": 0.05, "batch_id": BATCH},
                "privacy": {"erasure": {"vacuum_retention_hours": 0}},
            },
        ),
    )
    catalog = Catalog(spark, config)
    _run(generate_job, config, catalog, ["--users", "60"])
    raw = Path(config.ingest.raw_dir)
    users = pq.read_table(raw / "users" / BATCH).to_pylist()
    edges = pq.read_table(raw / "social_edges" / BATCH).to_pylist()
    order_lines = [ln for p in sorted((raw / "orders" / BATCH).glob("part-*")) for ln in p.read_bytes().splitlines()]
    followed = {e["dst_user_id"] for e in edges} & {e["src_user_id"] for e in edges}
    # The erased user: follows and is followed, with the most order lines among those.
    orders_of = Counter(u["user_id"] for u in users for ln in order_lines if f'"{u["user_id"]}"'.encode() in ln)
    victim = max(sorted(followed), key=lambda u: orders_of[u])
    other = next(u["user_id"] for u in users if u["user_id"] != victim and orders_of[u["user_id"]])
    profile = next(u for u in users if u["user_id"] == victim)
    # Two broken order lines, for quarantine: one of the victim, one of an id the victim's id prefixes.
    lookalike = victim + "0"
    (raw / "orders" / BATCH / "part-99999-extra.json").write_bytes(
        b'{"order_id": "bad-v", "user_id": "' + victim.encode() + b'", "amount": \n'
        b'{"order_id": "bad-l", "user_id": "' + lookalike.encode() + b'", "amount": \n'
    )
    _run(ingest_job, config, catalog, ["--now", "2026-11-01T00:00:00Z"])
    _run(features_job, config, catalog, ["--from", str(DATES[0]), "--to", str(DATES[-1]), "--every", "30d"])
    features = catalog.read("features.user_features")
    orders = catalog.read("silver.orders")
    for day in DATES:
        summary = calibration_summary(orders, day).withColumn("as_of_date", F.lit(day))
        catalog.overwrite_where("features.btyd_summary", summary, {"as_of_date": day})
    last = features.where(F.col("as_of_date") == DATES[-1])
    catalog.overwrite_where(
        "scores.user_scores", _scores(catalog, "scores.user_scores", last, 50.0), {"as_of_date": DATES[-1]}
    )
    for value in (40.0, 60.0):  # two MERGEs: the Change Data Feed holds the victim's old rows
        catalog.merge("tags.user_tag_wide", _scores(catalog, "tags.user_tag_wide", last, value))
    members = last.select(
        "as_of_date", F.lit("retention").alias("family"), F.lit("keep").alias("segment"), "user_id",
        F.lit("coupon").alias("strategy"), F.lit("app").alias("channel"), F.lit(1).alias("priority"),
        F.lit(False).alias("is_control"), F.lit(SCORED).alias("scored_at"),
    )  # fmt: skip
    catalog.overwrite_where("audiences.segment_members", members, {"as_of_date": DATES[-1]})
    return config, catalog, victim, other, lookalike, profile


# The victim (the heaviest buyer among users who follow and are followed) is in no win-back audience (buyers
# 30 or more days past their last order): these tables hold none of its rows; the erasure logs them with 0
# and its summary counts the 14 tables it removed rows from.
CAMPAIGN_TABLES = ("silver.campaign_sends", "silver.campaign_responses", "truth.campaign_effects")


def _counts(catalog: Catalog, victim: str) -> dict[str, int]:
    """The victim's rows per table, counted in plain filters (quarantine: the quoted id in the text), all
    tables in one Spark job."""
    users = {
        "silver.social_edges": (F.col("src_user_id") == victim) | (F.col("dst_user_id") == victim),
        "silver.quarantine": F.col("raw_record").contains(f'"{victim}"'),
    }
    names = [
        "audiences.segment_members", "features.btyd_summary", "features.user_features", "scores.user_scores",
        "silver.consents", "silver.events", "silver.identity_links", "silver.level_changes", "silver.orders",
        "silver.quarantine", "silver.social_edges", "silver.users", "tags.user_tag_wide", "truth.user_traits",
        *CAMPAIGN_TABLES,
    ]  # fmt: skip
    rows = functools.reduce(
        DataFrame.unionByName,
        [
            catalog.read(n).where(users.get(n, F.col("user_id") == victim)).select(F.lit(n).alias("table"))
            for n in names
        ],
    )
    found = {r["table"]: r["count"] for r in rows.groupBy("table").count().collect()}
    return {n: found.get(n, 0) for n in names}


def _raw_records(raw: Path, victim: str) -> dict[str, int]:
    """The victim's records per raw file: JSON lines quoting the id, Parquet rows with it in a user column."""
    found = {}
    for path in sorted(p for p in raw.rglob("part-*") if p.is_file()):
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            n = sum(victim in (r.get("user_id"), r.get("src_user_id"), r.get("dst_user_id")) for r in rows)
        else:
            n = sum(f'"{victim}"'.encode() in ln for ln in path.read_bytes().splitlines())
        if n:
            found[str(path.relative_to(raw))] = n
    return found


def test_forget_erases_everywhere_once(spark, world, tmp_path):
    config, catalog, victim, other, lookalike, profile = world
    raw, warehouse = Path(config.ingest.raw_dir), Path(config.catalog.root)
    before = _counts(catalog, victim)
    raw_before = _raw_records(raw, victim)
    phone_hash, email_hash = _contact_hash(profile["phone"]), _contact_hash(profile["email"])
    assert catalog.read("silver.users").where(F.col("user_id") == victim).select(
        "phone_hash", "email_hash"
    ).first() == (
        phone_hash,
        email_hash,
    )
    # The world covers every per-user table but the campaigns', both edge directions and a quarantined line.
    assert all(v for n, v in before.items() if n not in CAMPAIGN_TABLES), before
    assert [before[n] for n in CAMPAIGN_TABLES] == [0, 0, 0]
    assert catalog.read(CAMPAIGN_TABLES[0]).count() > 0  # other users' sends, which stay
    edges = catalog.read("silver.social_edges")
    assert edges.where(F.col("dst_user_id") == victim).count() and edges.where(F.col("src_user_id") == victim).count()
    other_orders = catalog.read("silver.orders").where(F.col("user_id") == other).count()
    lookalike_quarantine = catalog.read("silver.quarantine").where(F.col("raw_record").contains(f'"{lookalike}"'))
    assert lookalike_quarantine.count() == 1

    patterns = {"id": _word(victim), "phone": _word(phone_hash), "email": _word(email_hash)}
    # The scan finds the victim before: in silver, quarantine, features... and in the raw files.
    found = _traces(warehouse, patterns)
    assert found["id"] and found["phone"]
    assert _traces(raw, patterns)["id"]

    requests = tmp_path / "requests.csv"
    requests.write_text(f"request_id,user_id\nreq-1,{victim}\nreq-1,u-never-seen\n", encoding="utf-8")
    summary = _run(forget_job, config, catalog, ["--request-file", str(requests)])
    assert summary[1].startswith(f"request req-1: 2 user id(s); {sum(before.values()):,} rows from 14 tables")

    after = _counts(catalog, victim)
    assert after == dict.fromkeys(before, 0)
    assert _traces(warehouse, patterns) == {"id": [], "phone": [], "email": []}
    assert _traces(raw, patterns) == {"id": [], "phone": [], "email": []}
    assert _raw_records(raw, victim) == {}
    # Others stay: the user checked by hand, and the lookalike's quarantined line.
    assert catalog.read("silver.orders").where(F.col("user_id") == other).count() == other_orders
    assert catalog.read("silver.users").where(F.col("user_id") == other).count() == 1
    assert catalog.read("silver.quarantine").where(F.col("raw_record").contains(f'"{lookalike}"')).count() == 1

    hashes = ",".join(sorted([_hash(victim), _hash("u-never-seen")]))
    log = {(r.kind, r.target): r.rows_removed for r in catalog.read("ops.erasure_log").collect()}
    expected = {("table", n): c for n, c in before.items()}
    expected |= {("raw_rewritten", f): n for f, n in raw_before.items()}
    expected[("request", "*")] = sum(before.values())
    assert log == expected
    assert {r.subject_hashes for r in catalog.read("ops.erasure_log").collect()} == {hashes}
    assert {r.request_id for r in catalog.read("ops.erasure_log").collect()} == {"req-1"}

    # Re-running the request: skipped, and no table gets a new version.
    names = sorted(n for n in config.tables if catalog.exists(n))
    versions = {n: catalog.version(n) for n in names}
    again = _run(forget_job, config, catalog, ["--request-file", str(requests)])
    assert again[1].startswith("request req-1 already completed at ") and again[1].endswith("; skipped")
    assert {n: catalog.version(n) for n in names} == versions

    # Re-ingesting the rewritten batch neither fails nor brings the victim back.
    orders_total = catalog.read("silver.orders").count()
    _run(ingest_job, config, catalog, ["--batch", BATCH, "--force", "--now", "2026-11-01T00:00:00Z"])
    assert _counts(catalog, victim) == dict.fromkeys(before, 0)
    assert catalog.read("silver.orders").count() == orders_total

    # A training set built now has other users' rows and none of the victim's.
    target = config.models.targets["repurchase_30d"]
    features, silver, dates, cutoff, _ = training_inputs(catalog, config, [target], dt.date(2026, 11, 1))
    rows = training_set(features, silver, target, cutoff, dates).rows
    assert rows.where(F.col("user_id") == victim).count() == 0
    assert rows.where(F.col("user_id") == other).count() >= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "request file not found"),
        ("request_id,user_id,reason\nr1,u1,asked\n", "unknown ['reason']"),
        ("request_id\nr1\n", "header must be the columns"),
        ("request_id,user_id\nr1,\n", "line 2: blank ['user_id']"),
        ("request_id,user_id\n", "lists no request"),
    ],
)
def test_bad_request_file_exits_2_before_anything_is_written(tmp_path, capsys, content, message):
    path = tmp_path / "requests.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    warehouse = tmp_path / "warehouse"
    argv = ["forget", "--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={warehouse}"]
    assert cli.main([*argv, "--request-file", str(path)]) == 2
    assert message in capsys.readouterr().out
    assert not warehouse.exists()
