"""One small generated user base, landed by the generate job, read back independently of the generator.

The landed files are parsed in plain Python (JSON lines as bytes, Parquet with pyarrow) and every record
is checked against the raw landing contract's rules by ``defects`` below, written from the contract, not
from the generator: the tests then compare what they find with the generator's manifest and truth table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import make_config
from userscore.catalog import Catalog
from userscore.config import Config
from userscore.jobs import generate as generate_job
from userscore.logs import get_logger
from userscore.runner import JobContext

USERS = 1000
SHARE = 0.05  # more bad records than the default, so every kind shows up in a tiny data set
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HISTORY_DAYS = 730
START = END - dt.timedelta(days=HISTORY_DAYS)
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# The contract's rules (conf/base/ingest.yaml), restated here so the tests do not trust the generator.
MAX_STRING = 1000
CHANNELS = {"app", "web", "store", "mini_program"}
PAYMENT_METHODS = {"card", "wallet", "bank_transfer", "cash_on_delivery", "gift_card"}  # or absent (null)
EVENT_TYPES = {
    "login", "page_view", "click", "search", "favorite", "add_to_cart", "share", "comment", "coupon_claim",
    "campaign_join", "service_contact",
}  # fmt: skip
KEYS = {"orders": "order_id", "events": "event_id", "users": "user_id"}
REQUIRED = {
    "orders": ("order_id", "user_id", "order_ts", "amount", "coupon_used", "discount_amount", "is_refunded", "item_count"),
    "events": ("event_id", "user_id", "event_ts", "event_type"),
    "users": ("user_id", "registered_at"),
}  # fmt: skip
TIME_FIELD = {"orders": "order_ts", "events": "event_ts", "users": "registered_at"}
# The base's campaigns, with a contaminated control group in one of them (tests/generate/test_campaigns.py).
CAMPAIGN_OVERRIDES = {"winback-2": {"contamination_share": 0.2}}


def run_generate(spark, config: Config, **args: Any) -> list[str]:
    """Run the generate job's ``run`` in the test session, as the CLI would after parsing ``args``."""
    namespace = argparse.Namespace(**{"users": None, "seed": None, "end_date": None, "batch_id": None} | args)
    ctx = JobContext(
        name="generate", config=config, args=namespace, logger=get_logger("generate"), _catalog=Catalog(spark, config)
    )
    return list(generate_job.run(ctx))


def parse_ts(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, TS_FORMAT).replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def read_parquet(folder: Path) -> list[dict]:
    return pq.read_table(folder).to_pylist()


def read_lines(folder: Path) -> list[bytes]:
    return [line for part in sorted(folder.glob("part-*")) for line in part.read_bytes().splitlines()]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def defects(source: str, record: dict, known_users: set[str] | None) -> list[str]:
    """Every contract rule ``record`` breaks (duplicates aside); ``known_users`` None skips that check."""
    found = []
    if source == "orders":
        numbers = [record.get(c) for c in ("amount", "discount_amount")]
        if not all(_is_number(v) for v in numbers) or not isinstance(record.get("item_count"), int):
            found.append("bad_type")
        elif not all(0 <= v <= 100_000 for v in numbers) or not 1 <= record["item_count"] <= 1000:
            found.append("out_of_range")
        payment = record.get("payment_method")
        if record.get("channel") not in CHANNELS or (payment is not None and payment not in PAYMENT_METHODS):
            found.append("invalid_value")
    if source == "events":
        dwell = record.get("dwell_seconds")
        if dwell is not None and not 0 <= dwell <= 86_400:
            found.append("out_of_range")
        if record.get("event_type") is not None and record["event_type"] not in EVENT_TYPES:
            found.append("invalid_value")
    if any(record.get(c) is None for c in REQUIRED[source]):
        found.append("missing_required")
    elif known_users is not None and record["user_id"] not in known_users:
        found.append("unknown_user")
    ts = record.get(TIME_FIELD[source])
    if ts is not None:
        parsed = parse_ts(ts)
        if parsed is None:
            found.append("bad_timestamp")
        elif parsed > END + dt.timedelta(days=1):
            found.append("future_timestamp")
    if any(isinstance(v, str) and len(v) > MAX_STRING for v in record.values()):
        found.append("oversize_string")
    return found


@dataclass
class Checked:
    """One source's records, classified: clean records (one per key) and bad-record counts per kind."""

    records: int
    clean: list[dict]
    bad: Counter = field(default_factory=Counter)
    multiple_defects: list[Any] = field(default_factory=list)


def classify(source: str, records: list[Any], known_users: set[str] | None) -> Checked:
    """Classify raw records (dicts; for orders, raw lines) the way ingest is meant to."""
    checked = Checked(records=len(records), clean=[])
    valid = []
    for raw in records:
        record = raw
        if source == "orders":
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                checked.bad["invalid_encoding"] += 1
                continue
            except json.JSONDecodeError:
                checked.bad["malformed_record"] += 1
                continue
            if not isinstance(record, dict):
                checked.bad["malformed_record"] += 1
                continue
        found = defects(source, record, known_users)
        if len(found) > 1:
            checked.multiple_defects.append((found, record))
        if found:
            checked.bad[found[0]] += 1
        else:
            valid.append(record)
    by_key: dict[str, list[dict]] = defaultdict(list)
    for record in valid:
        by_key[record[KEYS[source]]].append(record)
    for copies in by_key.values():
        first, *others = copies
        checked.clean.append(first)
        for other in others:
            checked.bad["duplicate_exact" if other == first else "duplicate_key_conflict"] += 1
    return checked


@dataclass
class Landed:
    """What the generate job landed for one tiny user base, read back and classified."""

    config: Config
    raw_dir: Path
    summary: list[str]
    manifest: dict
    order_lines: list[bytes]
    checked: dict[str, Checked]
    late_manifest: dict
    late_orders: list[dict]  # the later versions of orders, from the batch <batch_id>-late
    level_changes: list[dict]
    social_edges: list[dict]
    identity_links: list[dict]
    consents: list[dict]
    traits: dict[str, dict]  # user_id -> truth.user_traits row
    campaign_sends: list[dict]  # raw, bad records included
    campaign_responses: list[dict]  # raw, bad records included
    campaign_effects: list[dict]  # truth.campaign_effects rows

    @property
    def users(self) -> list[dict]:
        return self.checked["users"].clean

    @property
    def first_orders(self) -> list[dict]:
        """The orders as first landed (late refunds not known yet)."""
        return self.checked["orders"].clean

    @property
    def orders(self) -> list[dict]:
        """The latest version of every order: a later version from the late batch replaces the first."""
        later = {o["order_id"]: o for o in self.late_orders}
        return [later.get(o["order_id"], o) for o in self.first_orders]

    @property
    def events(self) -> list[dict]:
        return self.checked["events"].clean


def _utc(row: dict) -> dict:
    """Collected timestamps are naive local times: make them aware UTC datetimes."""
    return {
        k: dt.datetime.fromtimestamp(v.timestamp(), dt.UTC) if isinstance(v, dt.datetime) else v for k, v in row.items()
    }


@pytest.fixture(scope="session")
def landed(spark, tmp_path_factory) -> Landed:
    tmp = tmp_path_factory.mktemp("generated")
    config = make_config(tmp, {"generate": {"users": USERS, "bad_record_share": SHARE, "batch_id": "b-test",
                                            "campaigns": CAMPAIGN_OVERRIDES}})  # fmt: skip
    summary = run_generate(spark, config)
    raw = Path(config.generate.raw_dir)
    batch = config.generate.batch_id
    users = classify("users", read_parquet(raw / "users" / batch), None)
    known = {u["user_id"] for u in users.clean}
    order_lines = read_lines(raw / "orders" / batch)
    late_batch = f"{batch}-late"
    traits = Catalog(spark, config).read("truth.user_traits").collect()
    effects = Catalog(spark, config).read("truth.campaign_effects").collect()
    return Landed(
        config=config,
        raw_dir=raw,
        summary=summary,
        manifest=json.loads((raw / "_manifest" / f"{batch}.json").read_text()),
        order_lines=order_lines,
        late_manifest=json.loads((raw / "_manifest" / f"{late_batch}.json").read_text()),
        late_orders=[json.loads(line) for line in read_lines(raw / "orders" / late_batch)],
        checked={
            "users": users,
            "orders": classify("orders", order_lines, known),
            "events": classify("events", read_parquet(raw / "events" / batch), known),
        },
        level_changes=read_parquet(raw / "level_changes" / batch),
        social_edges=read_parquet(raw / "social_edges" / batch),
        identity_links=read_parquet(raw / "identity_links" / batch),
        consents=read_parquet(raw / "consents" / batch),
        traits={row["user_id"]: _utc(row.asDict()) for row in traits},
        campaign_sends=read_parquet(raw / "campaign_sends" / batch),
        campaign_responses=read_parquet(raw / "campaign_responses" / batch),
        campaign_effects=[row.asDict() for row in effects],
    )
