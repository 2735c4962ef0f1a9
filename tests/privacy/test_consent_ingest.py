"""The consents source through ingest: validated and quarantined like every source (hand-written batch)."""

from __future__ import annotations

import datetime as dt

from tests.conftest import make_config
from tests.ingest.raw import NOW, USER_COLUMNS, parquet_record, user, write_parquet_rows
from userscore.catalog import Catalog
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

COLUMNS = ["consent_id", "user_id", "purpose", "status", "consented_at"]


def _consent(*values) -> dict:
    return dict(zip(COLUMNS, values, strict=True))


GOOD = [
    _consent("c1", "u1", "marketing", "granted", "2025-01-01T10:00:00Z"),
    _consent("c2", "u1", "marketing", "withdrawn", "2025-06-30T23:00:00Z"),
    _consent("c3", "u2", "profiling", "granted", "2025-02-01T00:00:00Z"),
]
BAD = {
    "invalid_value": _consent("c4", "u2", "newsletter", "granted", "2025-02-01T00:00:00Z"),
    "unknown_user": _consent("c5", "u-ghost", "marketing", "granted", "2025-02-01T00:00:00Z"),
    "missing_required": _consent("c6", "u2", "marketing", "granted", None),
    "future_timestamp": _consent("c7", "u2", "marketing", "granted", "2099-01-01T00:00:00Z"),
}


def test_consents_are_validated_and_quarantined_like_every_source(spark, tmp_path):
    config = make_config(tmp_path)
    raw = tmp_path / "raw"
    users = [user("u1", "+86 138 0013 8000", "a@example.com"), user("u2", None, "b@example.com")]
    write_parquet_rows(raw, "users", "b1", USER_COLUMNS, users)
    write_parquet_rows(raw, "consents", "b1", COLUMNS, [*GOOD, *BAD.values()])
    catalog = Catalog(spark, config)
    plan = plan_ingest(catalog, config.ingest, raw, sources=["users", "consents"])
    (result,) = ingest(catalog, config.ingest, raw, plan, now=reference_time(NOW), run_id="r1")

    got = {r["consent_id"]: r.asDict() for r in catalog.read("silver.consents").collect()}
    assert got == {
        c["consent_id"]: {
            **c,
            "consented_at": dt.datetime.fromisoformat(c["consented_at"].replace("Z", "")),
            "ingest_batch_id": "b1",
        }
        for c in GOOD
    }
    quarantined = {
        (r["reason"], r["raw_record"]) for r in catalog.read("silver.quarantine").where("source = 'consents'").collect()
    }
    assert quarantined == {(reason, parquet_record(row, COLUMNS)) for reason, row in BAD.items()}
    counts = next(c for c in result.counts if c.source == "consents")
    assert (counts.records_read, counts.accepted, counts.quarantined, counts.duplicates_dropped) == (7, 3, 4, 0)
