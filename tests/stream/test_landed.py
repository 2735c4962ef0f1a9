"""Pure-Python parts of the stream: file names to landed batches, and the live traffic's landing contract."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import REPO
from tests.generate.conftest import defects
from userscore.config import load_config
from userscore.generate.live import land, live_batch
from userscore.stream.landed import landed_batches
from userscore.stream.query import features_date

FOLDERS = {"users": "users", "orders": "orders", "events": "events"}


def test_files_map_to_their_batch_folders_and_sources_in_config_order(tmp_path):
    raw = tmp_path / "raw"
    paths = [
        f"file:{raw}/events/b2/part-0.parquet",
        f"file://{raw}/orders/b2/part-0.json",
        f"{raw}/orders/b1/part-0.json",
        f"file:{raw}/orders/b1/part-1.json",
        f"file:{raw}/orders/b%201/part-0.json",  # an escaped space
        f"file:{raw}/orders/loose-file.json",  # not inside a batch folder
        f"file:{raw}/other/b3/part-0.json",  # not a watched source's folder
        f"file:{tmp_path}/elsewhere/orders/b4/x.json",  # outside the raw zone
        f"file:{raw}/events/b2/nested/part-9.parquet",  # deeper files belong to the batch folder
    ]
    assert landed_batches(paths, raw, FOLDERS) == {"b 1": ("orders",), "b1": ("orders",), "b2": ("orders", "events")}


def test_the_features_date_is_the_end_of_the_reference_day_in_utc():
    assert features_date(dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)) == dt.date(2026, 11, 2)
    assert features_date(dt.datetime(2026, 11, 1, 23, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 11, 2)
    # 01:30 on 2 November in UTC+2 is still 1 November in UTC.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert features_date(dt.datetime(2026, 11, 2, 1, 30, tzinfo=plus_two)) == dt.date(2026, 11, 2)


def test_live_traffic_keeps_the_landing_contract_and_lands_whole(tmp_path):
    cfg = load_config(env="local", conf_dir=REPO / "conf").generate
    users = [f"u-{i:06d}" for i in range(1, 51)]
    start = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    batch = live_batch(cfg, "live-1", users, start, start + dt.timedelta(hours=4), events=300, orders=40, seed=3)
    land(batch, tmp_path, "orders", "events")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["events", "orders"]
    assert [p.name for p in (tmp_path / "orders").iterdir()] == ["live-1"]  # the hidden folder was renamed
    orders = [
        json.loads(line) for line in (tmp_path / "orders" / "live-1" / "part-00000.json").read_text().splitlines()
    ]
    events = pq.read_table(tmp_path / "events" / "live-1").to_pylist()
    assert (len(orders), len(events)) == (40, 300)
    assert [defects("orders", o, set(users)) for o in orders] == [[]] * 40
    assert [defects("events", e, set(users)) for e in events] == [[]] * 300
    times = [o["order_ts"] for o in orders] + [e["event_ts"] for e in events]
    assert min(times) >= "2026-11-01T08:00:00Z" and max(times) < "2026-11-01T12:00:00Z"
    assert len({o["order_id"] for o in orders}) == 40 and len({e["event_id"] for e in events}) == 300
    # The same seed gives the same batch.
    again = live_batch(cfg, "live-1", users, start, start + dt.timedelta(hours=4), events=300, orders=40, seed=3)
    assert again == batch
    assert Path(tmp_path / "orders" / "_live-1").exists() is False
