"""The generated batches through ingest: counts reconcile with each batch's manifest, and the late refunds
replace the first versions of their orders in silver.orders."""

from __future__ import annotations

from pyspark.sql import functions as F

from tests.conftest import make_config
from userscore.catalog import Catalog
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time


def test_generated_batches_reconcile_and_late_refunds_replace_first_versions(spark, landed, tmp_path):
    config = make_config(tmp_path, {"ingest": {"raw_dir": str(landed.raw_dir)}})
    catalog = Catalog(spark, config)
    plan = plan_ingest(catalog, config.ingest, landed.raw_dir)
    assert [b.batch_id for b in plan.batches] == ["b-test", "b-test-late"]
    ingest(catalog, config.ingest, landed.raw_dir, plan, now=reference_time("2026-11-01T00:00:00Z"), run_id="r")

    audit = {
        (r.batch_id, r.source): (r.records_read, r.accepted, r.quarantined, r.duplicates_dropped)
        for r in catalog.read("ops.ingest_audit").collect()
    }
    expected = {}
    for manifest in (landed.manifest, landed.late_manifest):
        for source, summary in manifest["sources"].items():
            e = summary["expected_ingest"]
            counts = (summary["records"], e["accepted"], e["quarantined"], e["duplicates_dropped"])
            expected[(manifest["batch_id"], source)] = counts
    assert audit == expected

    # Every refunded order in silver is the latest version landed (plain Python over the raw files), its refund
    # time as landed, and the late ones come from the late batch.
    late = {o["order_id"] for o in landed.late_orders}
    want = sorted(
        (o["order_id"], o["refunded_at"], "b-test-late" if o["order_id"] in late else "b-test")
        for o in landed.orders
        if o["is_refunded"]
    )
    iso = F.date_format("refunded_at", "yyyy-MM-dd'T'HH:mm:ss'Z'")
    got = catalog.read("silver.orders").where("is_refunded").select("order_id", iso, "ingest_batch_id").collect()
    assert sorted(tuple(r) for r in got) == want and late
