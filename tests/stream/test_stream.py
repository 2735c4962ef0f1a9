"""The stream job end to end in the test session: landed batches in, silver and quarantine as the batch ingest
writes them, the touched users (and only they) rescored as of the end of the reference day."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from tests.stream.conftest import D, land_events, land_orders, order, run_job
from userscore.jobs import stream as stream_job

NOW = "2026-11-01T12:00:00Z"
REFERENCE = dt.datetime(2026, 11, 1, 12, 0)
NEXT_DAY = D + dt.timedelta(days=1)  # features of every event up to the end of the reference day


def _stream(world) -> list[str]:
    return run_job(stream_job, world.config, world.catalog, available_now=True, now=NOW, timeout=None)


def test_landed_batches_are_ingested_and_only_their_users_rescored(spark, world, tmp_path):
    land_orders(
        world.raw_dir,
        "s-0001",
        [
            order("o-s1-1", "u-000003", "2026-11-01T09:00:00Z", 120.0),
            order("o-s1-2", "u-000007", "2026-11-01T10:30:00Z", 35.5),
            order("o-s1-3", "u-000009", "2026-11-01T10:45:00Z", -4.0),  # negative amount
            order("o-s1-4", "u-999999", "2026-11-01T11:00:00Z", 10.0),  # no such user
        ],
    )
    event = {
        "event_id": "e-s1-1",
        "user_id": "u-000011",
        "event_ts": "2026-11-01T08:15:00Z",
        "event_type": "login",
        "category": None,
        "page": "home",
        "dwell_seconds": 12.0,
    }
    land_events(world.raw_dir, "s-0001", [event])
    # An unusable batch: its two Parquet files type dwell_seconds differently (ingest refuses it whole).
    hidden = world.raw_dir / "events" / "_s-bad"
    hidden.mkdir()
    for i, dwell in enumerate((pa.array([1.5]), pa.array(["long"]))):
        table = pa.table({"event_id": [f"e-bad-{i}"], "user_id": ["u-000013"], "event_ts": ["2026-11-01T08:00:00Z"],
                          "event_type": ["page_view"], "dwell_seconds": dwell})  # fmt: skip
        pq.write_table(table, hidden / f"part-{i}.parquet")
    hidden.rename(world.raw_dir / "events" / "s-bad")
    audit_before = {(r["batch_id"], r["source"]): r["run_id"] for r in world.catalog.read("ops.ingest_audit").collect()}

    lines = _stream(world)

    catalog = world.catalog
    (progress,) = (
        catalog.read(world.config.stream.progress_table).where(F.col("batch_ids").contains("s-0001")).collect()
    )
    batch = progress["ingest_batch_id"]  # the micro-batch's one batch id in silver, quarantine and audit
    assert batch.startswith("stream-") and sorted(progress["batch_ids"].split(",")) == [
        "events/s-0001",
        "orders/s-0001",
    ]
    orders = catalog.read("silver.orders").where(F.col("ingest_batch_id") == batch)
    assert sorted((r["order_id"], r["user_id"], r["amount"]) for r in orders.collect()) == [
        ("o-s1-1", "u-000003", 120.0),
        ("o-s1-2", "u-000007", 35.5),
    ]
    quarantined = catalog.read("silver.quarantine").where(F.col("batch_id") == batch)
    assert sorted((r["source"], r["reason"]) for r in quarantined.collect()) == [
        ("orders", "out_of_range"),
        ("orders", "unknown_user"),
    ]
    # The batches the batch ingest had completed were not ingested again.
    audit = {(r["batch_id"], r["source"]): r["run_id"] for r in catalog.read("ops.ingest_audit").collect()}
    assert {k: v for k, v in audit.items() if k in audit_before} == audit_before
    assert {k for k in audit if k not in audit_before} == {(batch, "orders"), (batch, "events")}

    # This reference time's rows (other tests stream on the same warehouse at other times).
    live = {
        r["user_id"]: r
        for r in catalog.read(world.config.stream.live_table).where(F.col("scored_at") == REFERENCE).collect()
    }
    assert set(live) == {"u-000003", "u-000007", "u-000011"}
    assert {r["as_of_date"] for r in live.values()} == {NEXT_DAY}
    # Bought the day before D: the lowest recency there is, so the best R score of the published bins.
    assert live["u-000003"]["r_score"] == 5 and live["u-000007"]["r_score"] == 5
    wide = {r["user_id"]: r for r in catalog.read(world.config.scoring.wide_table).collect()}
    assert all((wide[u]["as_of_date"], wide[u]["r_score"]) == (NEXT_DAY, live[u]["r_score"]) for u in live)

    # The checkpoint's first micro-batch sees every landed file, the generator's too (Spark skips _ and . names).
    files = [
        f for s in ("orders", "events") for f in (world.raw_dir / s).glob("*/*") if not f.name.startswith(("_", "."))
    ]
    assert (progress["files"], progress["accepted"], progress["quarantined"]) == (len(files), 3, 2)
    assert (progress["users_rescored"], progress["as_of_date"], progress["population_as_of"]) == (3, NEXT_DAY, D)
    assert progress["reference_time"] == REFERENCE
    # The unusable batch is recorded with the reason and left for `userscore ingest --batch s-bad`.
    assert progress["failures"].startswith("s-bad: ") and "dwell_seconds" in progress["failures"]
    assert catalog.read("silver.events").where(F.col("event_id").startswith("e-bad")).count() == 0
    assert lines[0].startswith("stream (available now): 1 micro-batches, 2 landed folders, 3 records accepted")
    assert lines[1].startswith("  not ingested: s-bad: ")

    # Run again on the same checkpoint: nothing new has landed, nothing is written. Nor on a new checkpoint,
    # which lists every landed file again: the progress rows say which folders the stream has ingested.
    versions = {t: catalog.version(t) for t in ("silver.orders", world.config.stream.live_table)}
    _stream(world)
    assert {t: catalog.version(t) for t in versions} == versions
    fresh = replace(world.config, stream=replace(world.config.stream, checkpoint=str(tmp_path / "new-checkpoint")))
    run_job(stream_job, fresh, world.catalog, available_now=True, now=NOW, timeout=None)
    assert {t: catalog.version(t) for t in versions} == versions
