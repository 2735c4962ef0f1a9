"""Hand-made raw batches in the landing layout, written with plain Python (JSON lines, pyarrow Parquet),
and the plain-Python PII hash the tests compare against."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import TEST_PII_KEY

NOW = "2026-01-01T00:00:00Z"  # reference time of every test run; "future" starts at 2026-01-02T00:00:00Z

USER_COLUMNS = [
    "user_id",
    "registered_at",
    "registration_channel",
    "gender",
    "age_band",
    "region",
    "member_level",
    "phone",
    "email",
    "updated_at",
]
EVENT_COLUMNS = ["event_id", "user_id", "event_ts", "event_type", "category", "page", "dwell_seconds"]
LEVEL_COLUMNS = ["change_id", "user_id", "changed_at", "from_level", "to_level"]
EDGE_COLUMNS = ["edge_id", "src_user_id", "dst_user_id", "edge_type", "created_at"]
LINK_COLUMNS = ["link_id", "user_id", "id_type", "id_value", "linked_at"]
SEND_COLUMNS = [
    "send_id",
    "campaign_id",
    "user_id",
    "family",
    "segment",
    "arm",
    "channel",
    "offer_value",
    "contact_cost",
    "sent_at",
]
RESPONSE_COLUMNS = ["response_id", "send_id", "campaign_id", "user_id", "response_type", "responded_at"]
_DOUBLES = {"dwell_seconds", "offer_value", "contact_cost"}
# Sources whose records have a hand-worked batch of their own (tests/privacy/test_consent_ingest.py,
# tests/ingest/test_campaigns.py): the all-sources batches leave them out.
OWN_BATCHES = ("consents", "campaign_sends", "campaign_responses")


def user(
    user_id,
    phone,
    email,
    *,
    region="north",
    level="basic",
    registered="2025-01-10T08:00:00Z",
    updated="2025-06-01T00:00:00Z",
) -> dict:
    return dict(
        zip(
            USER_COLUMNS,
            [user_id, registered, "organic", "female", "25-34", region, level, phone, email, updated],
            strict=True,
        )
    )


def order(
    order_id,
    user_id="u1",
    *,
    ts="2025-11-11T09:12:00Z",
    amount=129.5,
    category="beauty",
    channel="app",
    coupon=True,
    discount=20.0,
    refunded=False,
    items=2,
    updated=None,
    refunded_at=None,
    payment=None,
) -> dict:
    """One raw order; ``updated_at``, ``refunded_at`` and ``payment_method`` are only in the record when given
    (older raw files have none of them; a source without payment methods, such as CDNOW, never has one)."""
    times = {"updated_at": updated, "refunded_at": refunded_at, "payment_method": payment}
    return {
        "order_id": order_id,
        "user_id": user_id,
        "order_ts": ts,
        "amount": amount,
        "category": category,
        "channel": channel,
        "coupon_used": coupon,
        "discount_amount": discount,
        "is_refunded": refunded,
        "item_count": items,
    } | {k: v for k, v in times.items() if v is not None}


def json_line(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def write_json_lines(raw_dir: Path, source: str, batch: str, lines: list[str | bytes]) -> None:
    folder = raw_dir / source / batch
    folder.mkdir(parents=True, exist_ok=True)
    data = b"".join((line.encode("utf-8") if isinstance(line, str) else line) + b"\n" for line in lines)
    (folder / "part-00000.json").write_bytes(data)


def write_parquet_rows(
    raw_dir: Path, source: str, batch: str, columns: list[str], rows: list[dict], *, part: int = 0
) -> None:
    """``rows`` as file ``part`` of the batch: strings, except dwell_seconds, offer_value, contact_cost (double)."""
    schema = pa.schema([(c, pa.float64() if c in _DOUBLES else pa.string()) for c in columns])
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema)
    write_parquet_table(raw_dir, source, batch, table, part=part)


def write_parquet_table(raw_dir: Path, source: str, batch: str, table: pa.Table, *, part: int = 0) -> None:
    folder = raw_dir / source / batch
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{part:05d}.parquet")


def normalised(value: str | None) -> str | None:
    """The documented normalisation, written independently: trim; e-mail lower-case; phone digits only."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if "@" in value:
        return value.lower()
    if re.fullmatch(r"\+?[0-9 ().-]+", value) and re.search(r"[0-9]", value):
        return re.sub(r"[^0-9]", "", value)
    return value


def hmac_hex(text: str, key: str = TEST_PII_KEY) -> str:
    """Python's own HMAC-SHA256 of ``text`` (already normalised)."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def pii_hash(value: str | None) -> str | None:
    clean = normalised(value)
    return None if clean is None else hmac_hex(clean)


def parquet_record(row: dict, columns: list[str], pii: tuple[str, ...] = ()) -> str:
    """The quarantine text of a Parquet row: the row as compact JSON (nulls kept), PII fields hashed."""
    return json_line({c: (pii_hash(row.get(c)) if c in pii else row.get(c)) for c in columns})
