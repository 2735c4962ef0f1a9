"""scripts/bench_analyze.py's DuckDB funnel: ClickHouse windowFunnel (default mode) after the event cap.

Pure Python + DuckDB (no Spark): the SQL is checked against a plain-Python windowFunnel written here from
ClickHouse's documented rules, on random event streams, and on hand-worked cases.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_analyze.py"
_spec = importlib.util.spec_from_file_location("bench_analyze", SCRIPT)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up there
_spec.loader.exec_module(bench)

EPOCH = dt.datetime(2026, 1, 1)
START, END = 100, 10_000  # the lookback [START, END) in seconds after EPOCH


def _us(seconds: int) -> int:
    return int((EPOCH + dt.timedelta(seconds=seconds)).replace(tzinfo=dt.UTC).timestamp()) * 1_000_000


def window_funnel(entries: list[tuple[int, int]], window: int, steps: int, end: int = END) -> int:
    """ClickHouse windowFunnel, default mode, from its documentation: entries (ts, step) sorted by ts then
    step; a step-1 entry (re)starts a chain at its ts; an entry of step j > 1 extends the chain that reached
    j - 1 when ts <= that chain's step-1 ts + window; the result is the furthest step reached. As in
    userscore's funnels, a step-1 entry whose window is still open at ``end`` (ts + window >= end) starts nothing."""
    first: dict[int, int] = {}  # step -> step-1 ts of the chain that reached it last
    for ts, step in sorted(entries):
        if step == 1:
            if ts + window < end:
                first[1] = ts
        elif step - 1 in first and ts <= first[step - 1] + window:
            first[step] = first[step - 1]
    return max(first, default=0)


def _matches(step, event: dict) -> bool:
    if step.event_types and event["event_type"] not in step.event_types:
        return False
    if step.pages:
        page = event["page"] or ""
        return any(page.startswith(p[:-1]) if p.endswith("*") else page == p for p in step.pages)
    return True


def expected(events: list[dict], orders: list[dict], funnel, cap: int) -> tuple[tuple[int, ...], int]:
    """Per-step users and capped users by plain Python: window, cap (latest by ts then event_id), funnel."""
    k = len(funnel.steps)
    users = {e["user_id"] for e in events} | {o["user_id"] for o in orders}
    reached, capped = [0] * k, 0
    for user in users:
        mine = [e for e in events if e["user_id"] == user and START <= e["ts"] < END]
        if len(mine) > cap:
            capped += 1
            mine = sorted(mine, key=lambda e: (e["ts"], e["event_id"]))[-cap:]
        entries = []
        for j, step in enumerate(funnel.steps, start=1):
            if step.source == "orders":
                entries += [(o["ts"], j) for o in orders if o["user_id"] == user and o["ts"] < END]
            else:
                entries += [(e["ts"], j) for e in mine if _matches(step, e)]
        furthest = window_funnel(entries, funnel.window_seconds, k)
        for j in range(furthest):
            reached[j] += 1
    return tuple(reached), capped


def duck(events: list[dict], orders: list[dict], funnel, cap: int) -> tuple[tuple[int, ...], int]:
    """Per-step users and capped users by the benchmark's DuckDB SQL over the same rows."""
    at = lambda s: EPOCH + dt.timedelta(seconds=s)  # noqa: E731
    event_frame = pd.DataFrame(
        [(e["event_id"], e["user_id"], at(e["ts"]), e["event_type"], None, e["page"]) for e in events],
        columns=["event_id", "user_id", "event_ts", "event_type", "category", "page"],
    ).astype({"event_ts": "datetime64[us]", "category": "string", "page": "string"})
    order_frame = pd.DataFrame(
        [(o["order_id"], o["user_id"], at(o["ts"])) for o in orders], columns=["order_id", "user_id", "order_ts"]
    ).astype({"order_ts": "datetime64[us]"})
    con = duckdb.connect()
    con.register("events", event_frame)
    con.register("orders", order_frame)
    row = con.execute(bench.duckdb_funnel_sql("events", "orders", funnel, _us(START), _us(END), cap)).fetchone()
    return tuple(row[:-1]), row[-1]


VIEW = bench.FunnelStep("view", event_types=("page_view",), pages=("product/*",))
CART = bench.FunnelStep("cart", event_types=("add_to_cart",))
CHECKOUT = bench.FunnelStep("checkout", event_types=("page_view",), pages=("checkout",))
ORDER = bench.FunnelStep("order", source="orders")
ANY_PAGE = bench.FunnelStep("any_page", event_types=("page_view",))


def _event(user: str, ts: int, kind: str, n: int) -> dict:
    event_type, page = {
        "view": ("page_view", "product/books/1"),
        "cart": ("add_to_cart", "product/books/1"),
        "checkout": ("page_view", "checkout"),
        "home": ("page_view", "home"),
        "click": ("click", None),
    }[kind]
    return {"event_id": f"e{n:04d}", "user_id": user, "ts": ts, "event_type": event_type, "page": page}


def _stream(*items: tuple[int, str]) -> tuple[list[dict], list[dict]]:
    """One user's events and orders from (ts, kind) pairs."""
    events = [_event("u1", ts, kind, i) for i, (ts, kind) in enumerate(items) if kind != "order"]
    orders = [{"order_id": f"o{i}", "user_id": "u1", "ts": ts} for i, (ts, kind) in enumerate(items) if kind == "order"]
    return events, orders


FOUR = bench.BenchFunnel("t", 100, (VIEW, CART, CHECKOUT, ORDER))


@pytest.mark.parametrize(
    ("items", "steps"),
    [
        # Window from step 1, inclusive: the order 100 s after the view counts, 101 s does not.
        (((1000, "view"), (1050, "cart"), (1090, "checkout"), (1100, "order")), (1, 1, 1, 1)),
        (((1000, "view"), (1050, "cart"), (1090, "checkout"), (1101, "order")), (1, 1, 1, 0)),
        # Ties on the timestamp are ordered by step: view, cart and checkout at the same second all count.
        (((1000, "checkout"), (1000, "cart"), (1000, "view")), (1, 1, 1, 0)),
        # Out of order: a cart before the view does not extend it.
        (((1000, "cart"), (1010, "view"), (1020, "checkout")), (1, 0, 0, 0)),
        # A later view restarts: the chain from 1000 reached cart; the view at 1080 lets the checkout at 1150
        # and the order at 1170 count (within 100 s of 1080, not of 1000) once its own cart comes at 1090.
        (((1000, "view"), (1010, "cart"), (1080, "view"), (1090, "cart"), (1150, "checkout"), (1170, "order")),
         (1, 1, 1, 1)),
        # The restart keeps what the first chain reached: cart stays reached when the new chain gets none.
        (((1000, "view"), (1010, "cart"), (1200, "view"), (1250, "checkout")), (1, 1, 0, 0)),
        # A checkout extends the latest view that reached cart: the view at 1080 has no cart, so the checkout at
        # 1150 is beyond 1000 + 100 and does not count.
        (((1000, "view"), (1010, "cart"), (1080, "view"), (1150, "checkout")), (1, 1, 0, 0)),
        # Events outside [START, END) do not count; an order at END does not either.
        (((50, "view"), (60, "cart"), (9800, "view"), (9805, "cart"), (10_000, "order")), (1, 1, 0, 0)),
        # Right-censoring: a view whose window is still open at END (9900 + 100 >= END) starts nothing; one
        # second earlier its window closes before END and it counts.
        (((9900, "view"), (9905, "cart")), (0, 0, 0, 0)),
        (((9899, "view"), (9905, "cart")), (1, 1, 0, 0)),
    ],
)  # fmt: skip
def test_hand_worked_cases(items, steps):
    events, orders = _stream(*items)
    assert expected(events, orders, FOUR, cap=100) == (steps, 0)
    assert duck(events, orders, FOUR, cap=100) == (steps, 0)


def test_the_cap_keeps_each_users_latest_events():
    # Cap 3: of view 1000, cart 1010, checkout 1020, home 1030, click 1040 only home, click and checkout
    # (the latest three) stay, so the funnel has no step 1. The user is counted as capped.
    events, orders = _stream((1000, "view"), (1010, "cart"), (1020, "checkout"), (1030, "home"), (1040, "click"))
    assert duck(events, orders, FOUR, cap=3) == ((0, 0, 0, 0), 1)
    assert duck(events, orders, FOUR, cap=5) == ((1, 1, 1, 0), 0)


def test_one_event_can_be_two_steps():
    # Any page view, then a product page view: the product view at 1000 is step 1 and step 2 at once.
    funnel = bench.BenchFunnel("t", 100, (ANY_PAGE, VIEW, CART))
    events, orders = _stream((1000, "view"), (1050, "cart"))
    assert duck(events, orders, funnel, cap=100) == ((1, 1, 1), 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_streams_agree_with_plain_python(seed):
    rng = random.Random(seed)
    kinds = ["view", "cart", "checkout", "home", "click"]
    events, orders, n = [], [], 0
    for u in range(500):
        user = f"u{u:03d}"
        for _ in range(rng.randint(0, 14)):
            # A small time range so that ties and windows interact; 5% of the events outside the lookback.
            ts = rng.choice([50, END]) if rng.random() < 0.05 else rng.randint(START, 220)
            events.append(_event(user, ts, rng.choice(kinds), n))
            n += 1
        for i in range(rng.randint(0, 4)):
            orders.append({"order_id": f"o{u}-{i}", "user_id": user, "ts": rng.randint(START, 240)})
    for funnel in (
        bench.BenchFunnel("t", 60, (VIEW, CART, CHECKOUT, ORDER)),
        bench.BenchFunnel("t", 30, (ANY_PAGE, VIEW, CART, ORDER)),
        bench.BenchFunnel("t", 90, (CART, VIEW, CART, CHECKOUT)),
    ):
        for cap in (6, 1000):
            want = expected(events, orders, funnel, cap)
            # The data exercises every step, and the cap when it is small.
            assert want[0][-1] > 0 if cap == 1000 else want[1] > 0
            assert duck(events, orders, funnel, cap) == want
