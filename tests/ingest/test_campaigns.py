"""Campaign feedback at ingest (conf/base/ingest.yaml, campaign_sends and campaign_responses): sends and
responses land typed in silver; a response is checked against its send (the `references` rule on send_id):
an unknown send is unknown_send, another campaign or user is send_mismatch, a time before the send is
inconsistent_time; a send of an earlier batch (in silver) or of the same batch is found, a control-arm
response is kept. Two hand-made batches and a forced re-ingest of the first batch's responses alone, run
once for the module; every expectation is worked out by hand from the rows below."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pyspark.sql import Row

from tests.conftest import make_config
from tests.ingest.raw import (
    NOW,
    RESPONSE_COLUMNS,
    SEND_COLUMNS,
    USER_COLUMNS,
    parquet_record,
    user,
    write_parquet_rows,
)
from userscore.catalog import Catalog
from userscore.errors import InputError
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

SOURCES = ["users", "campaign_sends", "campaign_responses"]


def _send(send_id, campaign_id, user_id, arm, sent_at, *, channel="sms", offer=10.0, cost=0.5):
    values = [send_id, campaign_id, user_id, "retention", "at_risk", arm, channel, offer, cost, sent_at]
    return dict(zip(SEND_COLUMNS, values, strict=True))


def _response(response_id, send_id, campaign_id, user_id, response_type, responded_at):
    values = [response_id, send_id, campaign_id, user_id, response_type, responded_at]
    return dict(zip(RESPONSE_COLUMNS, values, strict=True))


# Batch b1 (users u1, u2, u3): campaign c1 sent at 2025-09-01 10:00 to u1 (treatment) and u2 (control).
D1 = _send("d1", "c1", "u1", "treatment", "2025-09-01T10:00:00Z")
D2 = _send("d2", "c1", "u2", "control", "2025-09-01T10:00:00Z")
D3_BAD_ARM = _send("d3", "c1", "u3", "holdout", "2025-09-01T10:00:00Z")  # invalid_value: not a response's send
R1 = _response("r1", "d1", "c1", "u1", "delivered", "2025-09-01T10:05:00Z")  # its send is in this batch
R2_CONTROL = _response("r2", "d2", "c1", "u2", "opened", "2025-09-02T08:00:00Z")  # contamination: kept
R3_GHOST = _response("r3", "d-ghost", "c1", "u1", "clicked", "2025-09-02T09:00:00Z")
R4_CAMPAIGN = _response("r4", "d1", "c2", "u1", "clicked", "2025-09-02T09:00:00Z")
R5_USER = _response("r5", "d1", "c1", "u2", "clicked", "2025-09-02T09:00:00Z")
R6_EARLY = _response("r6", "d1", "c1", "u1", "opened", "2025-09-01T09:59:59Z")  # a second before its send
R7_BAD_SEND = _response("r7", "d3", "c1", "u3", "opened", "2025-09-02T09:00:00Z")  # its send was quarantined
R8_ALL = _response("r8", "d1", "c2", "u2", "redeemed", "2025-08-01T00:00:00Z")  # three problems
B1_SENDS = [D1, D2, D3_BAD_ARM]
B1_RESPONSES = [R1, R2_CONTROL, R3_GHOST, R4_CAMPAIGN, R5_USER, R6_EARLY, R7_BAD_SEND, R8_ALL]

# Batch b2 (user u4): campaign c2 by e-mail to u4, without offer; d1 re-sent under another campaign (silver's
# d1, of b1, stays: first seen wins, and responses are checked against it).
D4 = _send("d4", "c2", "u4", "treatment", "2025-10-01T12:00:00Z", channel="email", offer=0.0, cost=0.1)
D1_RESENT = _send("d1", "c9", "u1", "treatment", "2025-10-01T12:00:00Z")
R9_EARLIER_BATCH = _response("r9", "d1", "c1", "u1", "redeemed", "2025-09-03T00:00:00Z")
R10 = _response("r10", "d4", "c2", "u4", "unsubscribed", "2025-10-02T00:00:00Z")
R11_EARLY = _response("r11", "d2", "c1", "u2", "clicked", "2025-08-31T23:00:00Z")  # before b1's d2
B2_SENDS = [D4, D1_RESENT]
B2_RESPONSES = [R9_EARLIER_BATCH, R10, R11_EARLY]


def _land(raw_dir, batch, users, sends, responses):
    write_parquet_rows(raw_dir, "users", batch, USER_COLUMNS, users)
    write_parquet_rows(raw_dir, "campaign_sends", batch, SEND_COLUMNS, sends)
    write_parquet_rows(raw_dir, "campaign_responses", batch, RESPONSE_COLUMNS, responses)


def _snapshot(catalog, batch):
    quarantine = catalog.read("silver.quarantine").where(f"batch_id = '{batch}' AND source LIKE 'campaign_%'")
    audit = catalog.read("ops.ingest_audit").where(f"batch_id = '{batch}' AND source LIKE 'campaign_%'")
    return SimpleNamespace(
        types={t: catalog.read(t).dtypes for t in ("silver.campaign_sends", "silver.campaign_responses")},
        sends=sorted(catalog.read("silver.campaign_sends").collect(), key=lambda r: r.send_id),
        responses=sorted(catalog.read("silver.campaign_responses").collect(), key=lambda r: r.response_id),
        quarantine=sorted((r.source, r.raw_record, r.reason, r.detail) for r in quarantine.collect()),
        audit=sorted(
            (r.source, r.records_read, r.accepted, r.quarantined, r.duplicates_dropped) for r in audit.collect()
        ),
    )


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest_campaigns")
    config = make_config(tmp)
    catalog = Catalog(spark, config)
    raw_dir = tmp / "raw"
    _land(raw_dir, "b1", [user("u1", None, "a@example.com"), user("u2", None, "b@example.com"),
                          user("u3", None, "c@example.com")], B1_SENDS, B1_RESPONSES)  # fmt: skip
    _land(raw_dir, "b2", [user("u4", None, "d@example.com")], B2_SENDS, B2_RESPONSES)
    taken = {}
    # The responses of a batch whose sends landed are checked against them: never before the sends.
    with pytest.raises(InputError) as refused:
        plan_ingest(catalog, config.ingest, raw_dir, sources=["users", "campaign_responses"], batch="b1")
    taken["refused"] = str(refused.value)
    for run_id, batch, sources, force, name in [
        ("run-1", "b1", SOURCES, False, "b1"),
        ("run-2", "b2", SOURCES, False, "b2"),
        ("run-3", "b1", ["campaign_responses"], True, "b1 responses again"),
    ]:
        plan = plan_ingest(catalog, config.ingest, raw_dir, sources=sources, batch=batch, force=force)
        ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id=run_id)
        taken[name] = _snapshot(catalog, batch)
    return taken


def _ts(text):
    return dt.datetime.fromisoformat(text.replace("Z", ""))


def _send_row(send, batch):
    return Row(
        **{c: send[c] for c in SEND_COLUMNS if c != "sent_at"},
        sent_at=_ts(send["sent_at"]),
        sent_month=_ts(send["sent_at"]).date().replace(day=1),
        ingest_batch_id=batch,
    )


def _response_row(response, batch):
    return Row(
        **{c: response[c] for c in RESPONSE_COLUMNS if c != "responded_at"},
        responded_at=_ts(response["responded_at"]),
        ingest_batch_id=batch,
    )


def _q(source, record, columns, reason, detail):
    return (source, parquet_record(record, columns), reason, detail)


def _qr(response, reason, detail):
    return _q("campaign_responses", response, RESPONSE_COLUMNS, reason, detail)


MISMATCH = "send_mismatch: {} differs from its campaign_sends record's {}"
EARLY = "inconsistent_time: responded_at before its campaign_sends record's sent_at"
UNKNOWN = "unknown_send: send_id not among accepted campaign_sends"
B1_QUARANTINE = sorted(
    [
        _q("campaign_sends", D3_BAD_ARM, SEND_COLUMNS, "invalid_value",
           "invalid_value: arm not in ingest.sources.campaign_sends.allowed.arm"),
        _qr(R3_GHOST, "unknown_send", UNKNOWN),
        _qr(R4_CAMPAIGN, "send_mismatch", MISMATCH.format("campaign_id", "campaign_id")),
        _qr(R5_USER, "send_mismatch", MISMATCH.format("user_id", "user_id")),
        _qr(R6_EARLY, "inconsistent_time", EARLY),
        _qr(R7_BAD_SEND, "unknown_send", UNKNOWN),
        # Every problem in the detail, in precedence order: inconsistent_time before the declared send_mismatch.
        _qr(R8_ALL, "inconsistent_time", "; ".join(
            [EARLY, MISMATCH.format("campaign_id", "campaign_id"), MISMATCH.format("user_id", "user_id")])),
    ]
)  # fmt: skip
B2_QUARANTINE = [_qr(R11_EARLY, "inconsistent_time", EARLY)]


def test_a_batch_whose_sends_are_not_ingested_yet_refuses_its_responses(runs):
    assert runs["refused"] == (
        "source campaign_responses of batch b1 checks send_id against source 'campaign_sends', whose records of "
        "that batch are not ingested yet: ingest it first or in the same run (--source campaign_sends ...)"
    )


def test_sends_and_responses_land_typed_and_bad_responses_are_quarantined_with_their_reason(runs):
    b1 = runs["b1"]
    assert b1.sends == [_send_row(D1, "b1"), _send_row(D2, "b1")]
    # r1's send is of the same batch; r2 answers a control send (contamination is measured, not hidden).
    assert b1.responses == [_response_row(R1, "b1"), _response_row(R2_CONTROL, "b1")]
    assert b1.quarantine == B1_QUARANTINE
    # read = accepted + quarantined + duplicates: sends 3 = 2 + 1 + 0, responses 8 = 2 + 6 + 0.
    assert b1.audit == [("campaign_responses", 8, 2, 6, 0), ("campaign_sends", 3, 2, 1, 0)]


def test_silver_columns_have_the_declared_types(runs):
    assert runs["b1"].types == {
        "silver.campaign_sends": [
            ("send_id", "string"), ("campaign_id", "string"), ("user_id", "string"), ("family", "string"),
            ("segment", "string"), ("arm", "string"), ("channel", "string"), ("offer_value", "double"),
            ("contact_cost", "double"), ("sent_at", "timestamp"), ("sent_month", "date"),
            ("ingest_batch_id", "string"),
        ],
        "silver.campaign_responses": [
            ("response_id", "string"), ("send_id", "string"), ("campaign_id", "string"), ("user_id", "string"),
            ("response_type", "string"), ("responded_at", "timestamp"), ("ingest_batch_id", "string"),
        ],
    }  # fmt: skip


def test_a_later_batch_finds_sends_in_silver_and_checks_the_silver_send(runs):
    b2 = runs["b2"]
    # d1 re-sent under c9 is a duplicate of b1's d1 (dropped): r9 agrees with silver's d1 (c1) and is kept.
    assert b2.sends == [_send_row(D1, "b1"), _send_row(D2, "b1"), _send_row(D4, "b2")]
    assert b2.responses == sorted(
        [_response_row(R1, "b1"), _response_row(R2_CONTROL, "b1"), _response_row(R10, "b2"),
         _response_row(R9_EARLIER_BATCH, "b2")],
        key=lambda r: r.response_id,
    )  # fmt: skip
    assert b2.quarantine == B2_QUARANTINE
    assert b2.audit == [("campaign_responses", 3, 2, 1, 0), ("campaign_sends", 2, 1, 0, 1)]


def test_reingesting_responses_alone_checks_them_against_the_sends_in_silver(runs):
    again = runs["b1 responses again"]
    assert again.responses == runs["b2"].responses
    # b1's sends are this batch's rows of silver now, not records of the run: r1 and r2 still find d1 and d2.
    assert again.quarantine == runs["b1"].quarantine
    assert again.audit == runs["b1"].audit
