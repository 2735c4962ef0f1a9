"""Funnel tables from hand-made outcomes and streams: per-step aggregates per breakdown, the dropped
users' audience, and the configured funnels (orders as a step, page prefixes, exclusions, strict order)
on hand-written events. Expected values are worked by hand (the control flag by hashlib)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from pyspark.sql import functions as F

from tests.conftest import make_config
from userscore.analysis.funnels import analyse, user_outcomes
from userscore.analysis.inputs import AnalysisInputs

D = dt.date(2024, 3, 1)
T0 = dt.datetime(2024, 2, 1, 12, tzinfo=dt.UTC)
SCORED_AT = dt.datetime(2024, 3, 1, 6, tzinfo=dt.UTC)
EVENTS = "user_id string, event_ts timestamp, event_type string, page string, category string"
ORDERS = "user_id string, order_ts timestamp, channel string"


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _inputs(spark, events=(), orders=()) -> AnalysisInputs:
    scores = spark.createDataFrame(
        [("u1", "A", SCORED_AT), ("u2", "A", SCORED_AT), ("u3", "B", SCORED_AT)],
        "user_id string, grade string, scored_at timestamp",
    )
    users = spark.createDataFrame(
        [("u1", "north"), ("u2", "south"), ("u3", "north"), ("u4", "east")], "user_id string, region string"
    )
    segments = spark.createDataFrame(
        [("u1", "retention", "high_risk"), ("u2", "activation", "new")], "user_id string, family string, segment string"
    )
    empty = spark.createDataFrame([], "user_id string")
    return AnalysisInputs(
        as_of=D, events=spark.createDataFrame(list(events), EVENTS), orders=spark.createDataFrame(list(orders), ORDERS),
        users=users, scores=scores, features=empty, segments=segments, capped_users=empty,
    )  # fmt: skip


NO_VALUE = "(no value)"  # the test's own analysis.missing_label: users without a breakdown value


@pytest.fixture(scope="module")
def funnel_config(tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("funnels"))
    section = dataclasses.replace(config.analysis.funnels, breakdowns=("grade", "region", "segment:retention"))
    analysis = dataclasses.replace(config.analysis, funnels=section, missing_label=NO_VALUE)
    return dataclasses.replace(config, analysis=analysis)


def _outcomes(spark):
    rows = [
        ("browse_to_order", "u1", 3, 3, [0, 60, 600]),
        ("browse_to_order", "u2", 3, 2, [0, 120]),
        ("browse_to_order", "u3", 3, 1, [0]),
        ("browse_to_order", "u4", 3, 3, [0, 30, 100]),
        ("checkout", "u5", 3, 1, [0]),
    ]
    frame = spark.createDataFrame(
        [(f, u, n, k, [_at(s) for s in path]) for f, u, n, k, path in rows],
        "funnel string, user_id string, steps int, furthest_step int, reached_ts array<timestamp>",
    )
    return frame.withColumn("step_1_ts", F.element_at("reached_ts", 1))


@pytest.fixture(scope="module")
def tables(spark, funnel_config):
    output = analyse(_inputs(spark), funnel_config, outcomes=_outcomes(spark))
    assert output.summary[0] == (
        "funnel browse_to_order: 3 steps within 7 days, 3 breakdowns, "
        "dropped users in analysis.funnel_dropped family funnel_browse_to_order"
    )
    return {name: frame.collect() for name, frame in output.tables.items()}


STEP_FIELDS = (
    "users", "conversion_from_previous", "conversion_from_first", "dropped", "drop_off_rate",
    "median_seconds_from_previous", "p90_seconds_from_previous", "median_seconds_from_first", "p90_seconds_from_first",
)  # fmt: skip
N = None
EXPECTED_STEPS = {
    # (funnel, breakdown, value, step, name): users, conv prev, conv first, dropped, drop rate, times
    ("browse_to_order", "all", "all", 1, "product_view"): (4, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("browse_to_order", "all", "all", 2, "add_to_cart"): (3, 0.75, 0.75, 1, 0.25, 60.0, 120.0, 60.0, 120.0),
    ("browse_to_order", "all", "all", 3, "order"): (2, 2 / 3, 0.5, 1, 1 / 3, 70.0, 540.0, 100.0, 600.0),
    ("browse_to_order", "grade", "A", 1, "product_view"): (2, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("browse_to_order", "grade", "A", 2, "add_to_cart"): (2, 1.0, 1.0, 0, 0.0, 60.0, 120.0, 60.0, 120.0),
    ("browse_to_order", "grade", "A", 3, "order"): (1, 0.5, 0.5, 1, 0.5, 540.0, 540.0, 600.0, 600.0),
    ("browse_to_order", "grade", "B", 1, "product_view"): (1, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("browse_to_order", "grade", "B", 2, "add_to_cart"): (0, 0.0, 0.0, 1, 1.0, N, N, N, N),
    ("browse_to_order", "grade", "B", 3, "order"): (0, N, 0.0, 0, N, N, N, N, N),
    ("browse_to_order", "grade", NO_VALUE, 1, "product_view"): (1, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("browse_to_order", "grade", NO_VALUE, 2, "add_to_cart"): (1, 1.0, 1.0, 0, 0.0, 30.0, 30.0, 30.0, 30.0),
    ("browse_to_order", "grade", NO_VALUE, 3, "order"): (1, 1.0, 1.0, 0, 0.0, 70.0, 70.0, 100.0, 100.0),
    ("checkout", "all", "all", 1, "cart_page"): (1, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("checkout", "all", "all", 2, "checkout_page"): (0, 0.0, 0.0, 1, 1.0, N, N, N, N),
    ("checkout", "all", "all", 3, "order"): (0, N, 0.0, 0, N, N, N, N, N),
    ("checkout", "grade", NO_VALUE, 1, "cart_page"): (1, 1.0, 1.0, 0, 0.0, N, N, N, N),
    ("checkout", "grade", NO_VALUE, 2, "checkout_page"): (0, 0.0, 0.0, 1, 1.0, N, N, N, N),
    ("checkout", "grade", NO_VALUE, 3, "order"): (0, N, 0.0, 0, N, N, N, N, N),
}


def test_step_table_all_and_by_grade(tables):
    rows = tables["analysis.funnel_steps"]
    assert {r.as_of_date for r in rows} == {D}
    got = {
        (r.funnel, r.breakdown, r.breakdown_value, r.step, r.step_name): tuple(r[f] for f in STEP_FIELDS)
        for r in rows
        if r.breakdown in ("all", "grade")
    }
    assert set(got) == set(EXPECTED_STEPS)
    for key, expected in EXPECTED_STEPS.items():
        assert got[key] == pytest.approx(expected, nan_ok=True), key


def test_step_one_users_by_profile_column_and_segment(tables):
    first = {
        (r.funnel, r.breakdown, r.breakdown_value): r.users
        for r in tables["analysis.funnel_steps"]
        if r.step == 1 and r.breakdown in ("region", "segment:retention")
    }
    assert first == {
        ("browse_to_order", "region", "north"): 2,  # u1, u3
        ("browse_to_order", "region", "south"): 1,
        ("browse_to_order", "region", "east"): 1,
        ("browse_to_order", "segment:retention", "high_risk"): 1,
        ("browse_to_order", "segment:retention", NO_VALUE): 3,  # u2's segment is in another family
        ("checkout", "region", NO_VALUE): 1,  # u5 has no profile
        ("checkout", "segment:retention", NO_VALUE): 1,
    }


def _control(family: str, user: str) -> bool:
    digest = hashlib.md5(f"userscore-control-v1|{family}|{user}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32 < 0.10


def test_dropped_users_are_an_audience_shaped_like_segment_members(tables):
    browse = ("cart and browse reminder with product recommendations", "push / e-mail")
    midnight = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    expected = {
        ("funnel_browse_to_order", "stopped_at_add_to_cart", "u2", *browse, 2, SCORED_AT),
        ("funnel_browse_to_order", "stopped_at_product_view", "u3", *browse, 1, SCORED_AT),
        ("funnel_checkout", "stopped_at_cart_page", "u5", "checkout abandonment reminder", "push", 1, midnight),
    }
    rows = tables["analysis.funnel_dropped"]
    assert list(rows[0].asDict()) == [
        "as_of_date", "family", "segment", "user_id", "strategy", "channel", "priority", "is_control", "scored_at",
    ]  # fmt: skip
    got = {
        (r.family, r.segment, r.user_id, r.strategy, r.channel, r.priority, r.scored_at.replace(tzinfo=dt.UTC))
        for r in rows
    }
    assert got == expected
    assert {(r.family, r.user_id): r.is_control for r in rows} == {(f, u): _control(f, u) for f, _, u, *_ in expected}


def test_configured_funnels_over_events_and_orders(spark, funnel_config):
    events = [
        # p1: product page, cart, web order an hour later: converts
        ("p1", _at(0), "page_view", "product/books-1", "books"),
        ("p1", _at(60), "add_to_cart", "product/books-1", "books"),
        # p2: the same, but the order is in a store (not a step), and the online one comes after 7 days
        ("p2", _at(0), "page_view", "product/toys-2", "toys"),
        ("p2", _at(60), "add_to_cart", "product/toys-2", "toys"),
        # p3: a category page is not a product page: never enters browse_to_order
        ("p3", _at(0), "page_view", "category/books", "books"),
        ("p3", _at(60), "add_to_cart", "product/books-1", "books"),
        # p4: search-led, but a service contact between cart and order cancels the search funnel's attempt
        ("p4", _at(0), "search", None, "home"),
        ("p4", _at(10), "page_view", "product/home-3", "home"),
        ("p4", _at(20), "add_to_cart", "product/home-3", "home"),
        ("p4", _at(30), "service_contact", None, None),
        # p5: cart page, checkout page, then a click before the order: strict order stops at checkout
        ("p5", _at(0), "page_view", "cart", None),
        ("p5", _at(10), "page_view", "checkout", None),
        ("p5", _at(20), "click", None, "toys"),
        # p6: cart page, checkout page, order within the hour
        ("p6", _at(0), "page_view", "cart", None),
        ("p6", _at(10), "page_view", "checkout", None),
    ]
    orders = [
        ("p1", _at(3600), "web"),
        ("p2", _at(3600), "store"),
        ("p2", _at(8 * 86400), "app"),
        ("p4", _at(40), "app"),
        ("p5", _at(30), "app"),
        ("p6", _at(1800), "mini_program"),
    ]
    out = user_outcomes(_inputs(spark, events, orders), funnel_config)
    base = int(T0.timestamp())
    got = {
        (r.funnel, r.user_id, r.steps, r.furthest_step, tuple(r.seconds))
        for r in out.select(
            "funnel", "user_id", "steps", "furthest_step",
            F.transform("reached_ts", lambda t: (F.unix_micros(t) / 1_000_000 - base).cast("int")).alias("seconds"),
        ).collect()
    }  # fmt: skip
    assert got == {
        ("browse_to_order", "p1", 3, 3, (0, 60, 3600)),
        ("browse_to_order", "p2", 3, 2, (0, 60)),
        ("browse_to_order", "p4", 3, 3, (10, 20, 40)),
        ("search_to_order", "p4", 4, 3, (0, 10, 20)),
        ("checkout", "p5", 3, 2, (0, 10)),
        ("checkout", "p6", 3, 3, (0, 10, 1800)),
    }


def _late(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    """A time on D - 1 (D = 2024-03-01)."""
    return dt.datetime(2024, 2, 29, hh, mm, ss, tzinfo=dt.UTC)


def test_attempts_whose_window_reaches_d_are_not_counted(spark, funnel_config):
    # checkout: 1 hour, strict order. A cart page at ts counts only when ts + 1 h < D, i.e. before 23:00.
    events = [
        # k1: cart page at 23:00:00 exactly (its window ends at D): censored, then a checkout page
        ("k1", _late(23, 0), "page_view", "cart", None),
        ("k1", _late(23, 10), "page_view", "checkout", None),
        # k2: one second earlier: the window ends at 23:59:59, observed; reaches the checkout page, no order
        ("k2", _late(22, 59, 59), "page_view", "cart", None),
        ("k2", _late(23, 30), "page_view", "checkout", None),
        # k3: a counted cart page at 22:00, a censored one at 23:30 and a checkout page at 23:40: on the full
        # stream the 23:30 attempt would take the checkout; the 22:00 one's window closed at 23:00
        ("k3", _late(22, 0), "page_view", "cart", None),
        ("k3", _late(23, 30), "page_view", "cart", None),
        ("k3", _late(23, 40), "page_view", "checkout", None),
        # k4: the censored cart page at 23:05 is not "another event" ending the 22:30 attempt (strict order)
        ("k4", _late(22, 30), "page_view", "cart", None),
        ("k4", _late(22, 40), "page_view", "checkout", None),
        ("k4", _late(23, 5), "page_view", "cart", None),
        # b1/b2: browse_to_order (7 days) at D - 7 days exactly (censored) and one second before (counted)
        ("b1", dt.datetime(2024, 2, 23, tzinfo=dt.UTC), "page_view", "product/books-1", "books"),
        ("b2", dt.datetime(2024, 2, 22, 23, 59, 59, tzinfo=dt.UTC), "page_view", "product/books-1", "books"),
        ("b2", _late(23, 59, 59), "add_to_cart", "product/books-1", "books"),
    ]
    orders = [("k4", _late(23, 20), "app"), ("b1", _late(12, 0), "web")]
    inputs = _inputs(spark, events, orders)
    got = {
        (r.funnel, r.user_id, r.furthest_step, tuple(t.replace(tzinfo=dt.UTC) for t in r.reached_ts))
        for r in user_outcomes(inputs, funnel_config).collect()
    }
    assert got == {
        ("checkout", "k2", 2, (_late(22, 59, 59), _late(23, 30))),
        ("checkout", "k3", 1, (_late(22, 0),)),
        ("checkout", "k4", 3, (_late(22, 30), _late(22, 40), _late(23, 20))),
        ("browse_to_order", "b2", 2, (dt.datetime(2024, 2, 22, 23, 59, 59, tzinfo=dt.UTC), _late(23, 59, 59))),
    }
    dropped = analyse(inputs, funnel_config).tables["analysis.funnel_dropped"].collect()
    assert {(r.family, r.user_id, r.segment) for r in dropped} == {
        ("funnel_checkout", "k2", "stopped_at_checkout_page"),
        ("funnel_checkout", "k3", "stopped_at_cart_page"),
        ("funnel_browse_to_order", "b2", "stopped_at_add_to_cart"),
    }


def test_breakdowns_keep_their_top_values_and_sum_the_rest(spark, funnel_config):
    section = dataclasses.replace(
        funnel_config.analysis.funnels, breakdowns=("grade", "region"), max_breakdown_values=2, report_top_values=2
    )
    config = dataclasses.replace(funnel_config, analysis=dataclasses.replace(funnel_config.analysis, funnels=section))
    furthest = {"u1": 3, "u2": 1, "u3": 2, "u4": 2, "u5": 1, "u6": 3, "u7": 2}
    grades = {"u1": "A", "u2": "A", "u3": "B", "u4": "B", "u5": "C", "u6": "D"}  # u7 has no score row
    regions = {"u1": "north", "u2": "north", "u3": "north", "u4": "west", "u5": "west", "u6": "east", "u7": "east"}
    per_user = spark.createDataFrame(
        [("browse_to_order", u, 3, k, [_at(60 * s) for s in range(k)]) for u, k in furthest.items()],
        "funnel string, user_id string, steps int, furthest_step int, reached_ts array<timestamp>",
    ).withColumn("step_1_ts", F.element_at("reached_ts", 1))
    base = _inputs(spark)
    inputs = dataclasses.replace(
        base,
        scores=spark.createDataFrame(
            [(u, g, SCORED_AT) for u, g in grades.items()], "user_id string, grade string, scored_at timestamp"
        ),
        users=spark.createDataFrame(list(regions.items()), "user_id string, region string"),
    )
    rows = analyse(inputs, config, outcomes=per_user).tables["analysis.funnel_steps"].collect()
    got = {(r.breakdown, r.breakdown_value, r.step): r.users for r in rows if r.breakdown != "all"}
    # grade by users at step 1: A 2, B 2, then C, D, no grade 1 each -> (other) = u5, u6, u7
    # region: north 3, east 2 and west 2 tie -> east (by value); (other) = west = u4, u5
    expected = {
        ("grade", "A"): (2, 1, 1),
        ("grade", "B"): (2, 2, 0),
        ("grade", "(other)"): (3, 2, 1),
        ("region", "north"): (3, 2, 1),
        ("region", "east"): (2, 2, 1),
        ("region", "(other)"): (2, 1, 0),
    }
    assert got == {(b, v, i + 1): n for (b, v), counts in expected.items() for i, n in enumerate(counts)}
    other = {
        r.step: r.conversion_from_previous for r in rows if (r.breakdown, r.breakdown_value) == ("grade", "(other)")
    }
    assert other == pytest.approx({1: 1.0, 2: 2 / 3, 3: 1 / 2})


def test_no_funnels_means_empty_funnel_tables(spark, funnel_config):
    section = dataclasses.replace(funnel_config.analysis.funnels, funnels={})
    config = dataclasses.replace(funnel_config, analysis=dataclasses.replace(funnel_config.analysis, funnels=section))
    inputs = _inputs(spark, [("p1", _at(0), "page_view", "cart", None)], [("p1", _at(60), "web")])
    per_user = user_outcomes(inputs, config)
    assert per_user.columns == ["funnel", "user_id", "steps", "furthest_step", "step_1_ts", "reached_ts"]
    assert per_user.collect() == []
    output = analyse(inputs, config, outcomes=per_user)
    assert output.summary == ("no funnels configured (analysis.funnels.funnels is empty)",)
    for name, frame in output.tables.items():
        assert frame.columns == list(config.tables[name].column_names), name
        assert frame.collect() == [], name
