"""Live traffic: a landed batch of new orders and events of existing users, for the stream's demo and benchmark.

The records follow the landing contract (conf/base/ingest.yaml: orders as JSON lines, events as Parquet,
times as ISO-8601 UTC strings) with the generator's vocabulary and price levels (conf/base/generate.yaml);
values are drawn with numpy from ``seed``, so a batch is reproducible. Plain Python, no Spark: the files are
written under a hidden folder name (``_<batch_id>``, which Spark and ingest ignore) and renamed into place,
as a real landing job must, so the stream never sees half a batch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from userscore.config.generate import GenerateConfig

_TS = "%Y-%m-%dT%H:%M:%SZ"
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("event_ts", pa.string()),
        ("event_type", pa.string()),
        ("category", pa.string()),
        ("page", pa.string()),
        ("dwell_seconds", pa.float64()),
    ]
)


@dataclass(frozen=True)
class LiveBatch:
    """One batch of live records (landing-contract dicts)."""

    batch_id: str
    orders: list[dict]
    events: list[dict]


def live_batch(
    cfg: GenerateConfig,
    batch_id: str,
    user_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    *,
    events: int,
    orders: int,
    seed: int,
) -> LiveBatch:
    """``events`` events and ``orders`` orders of users drawn from ``user_ids``, at times in [start, end)."""
    rng = np.random.default_rng(seed)
    span = (end - start).total_seconds()

    def times(n: int) -> list[str]:
        offsets = np.sort(rng.uniform(0.0, span, n))
        return [(start + dt.timedelta(seconds=float(s))).strftime(_TS) for s in offsets]

    categories = list(cfg.categories)
    order_rows = []
    for i, at in enumerate(times(orders)):
        category = categories[rng.integers(len(categories))]
        amount = round(float(cfg.mean_order_value * cfg.category_price_factors[category] * rng.lognormal(-0.2, 0.6)), 2)
        coupon = bool(rng.random() < cfg.mean_coupon_rate)
        order_rows.append(
            {
                "order_id": f"o-{batch_id}-{i:06d}",
                "user_id": user_ids[rng.integers(len(user_ids))],
                "order_ts": at,
                "amount": amount,
                "category": category,
                "channel": cfg.order_channels[rng.integers(len(cfg.order_channels))],
                "payment_method": cfg.payment_methods[rng.integers(len(cfg.payment_methods))],
                "coupon_used": coupon,
                "discount_amount": round(amount * 0.15, 2) if coupon else 0.0,
                "is_refunded": False,
                "item_count": int(rng.integers(1, 4)),
                "updated_at": at,
            }
        )
    types = list(cfg.event_type_weights)
    weights = np.array([cfg.event_type_weights[t] for t in types])
    event_rows = []
    for i, at in enumerate(times(events)):
        kind = types[rng.choice(len(types), p=weights / weights.sum())]
        category = categories[rng.integers(len(categories))] if kind != "login" else None
        event_rows.append(
            {
                "event_id": f"e-{batch_id}-{i:06d}",
                "user_id": user_ids[rng.integers(len(user_ids))],
                "event_ts": at,
                "event_type": kind,
                "category": category,
                "page": f"product/{category}/{rng.integers(500)}" if category else "home",
                "dwell_seconds": round(float(rng.exponential(60.0)), 1) if kind == "page_view" else None,
            }
        )
    return LiveBatch(batch_id, order_rows, event_rows)


def land(batch: LiveBatch, raw_dir: Path, orders_folder: str, events_folder: str) -> None:
    """Write the batch's orders (JSON lines) and events (Parquet), each folder landed whole by a rename."""
    if batch.orders:
        land_folder(raw_dir / orders_folder, batch.batch_id, "part-00000.json", json_lines(batch.orders))
    if batch.events:
        table = pa.Table.from_pylist(batch.events, schema=EVENT_SCHEMA)
        land_folder(raw_dir / events_folder, batch.batch_id, "part-00000.parquet", table)


def json_lines(rows: list[dict | str]) -> bytes:
    """Records as JSON lines (a str is a line as is: a malformed record, say)."""
    return "".join(
        (row if isinstance(row, str) else json.dumps(row, separators=(",", ":"))) + "\n" for row in rows
    ).encode()


def land_folder(folder: Path, batch_id: str, name: str, content: bytes | pa.Table) -> None:
    """``<folder>/<batch_id>/<name>`` (bytes, or a Parquet table), written under ``_<batch_id>`` then renamed."""
    hidden = folder / f"_{batch_id}"
    hidden.mkdir(parents=True)
    if isinstance(content, bytes):
        (hidden / name).write_bytes(content)
    else:
        pq.write_table(content, hidden / name)
    hidden.rename(folder / batch_id)
