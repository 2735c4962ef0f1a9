"""Interest analysis: share by group and interest-to-purchase conversion, hand-worked and in plain Python
over the same rows (base config: categories apparel..toys, breakdowns grade and rfm_segment plus segment
families, conversion window 14 days over search/page_view/favorite/add_to_cart/comment/share signals)."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from userscore.analysis.inputs import AnalysisInputs
from userscore.analysis.interests import analyse

D = dt.date(2026, 3, 1)
D_TS = dt.datetime(2026, 3, 1)
NO_GRADE = "(no grade)"
CATEGORIES = ["apparel", "beauty", "books", "electronics", "grocery", "home", "sports", "toys"]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    # The test's own missing label (not conf/base's): a user without a grade is in group NO_GRADE.
    return make_config(tmp_path_factory.mktemp("interests"), {"analysis": {"missing_label": NO_GRADE}})


def _ago(days: float) -> dt.datetime:
    return D_TS - dt.timedelta(days=days)


# (user, interest_1..3, grade, rfm_segment, retention segment or None)
USERS = [
    ("u1", "books", "toys", "none", "A", "Champions", "vip_care"),
    ("u2", "books", "none", "none", "A", "Lost", "winback"),
    ("u3", "none", "none", "none", "B", "Lost", "winback"),
    ("u4", "toys", "apparel", "books", None, "Lost", None),
]


def _inputs(spark, events=(), orders=()) -> AnalysisInputs:
    features = spark.createDataFrame(
        [u[:4] for u in USERS], "user_id string, interest_1 string, interest_2 string, interest_3 string"
    )
    scores = spark.createDataFrame(
        [(u[0], u[4], u[5]) for u in USERS], "user_id string, grade string, rfm_segment string"
    )
    segments = spark.createDataFrame(
        [(u[0], "retention", u[6]) for u in USERS if u[6]], "user_id string, family string, segment string"
    )
    event_frame = spark.createDataFrame(
        list(events), "user_id string, event_ts timestamp, event_type string, category string"
    )
    order_frame = spark.createDataFrame(
        list(orders), "user_id string, order_ts timestamp, category string, is_refunded boolean, refunded_at timestamp"
    )
    empty = spark.createDataFrame([], "user_id string")
    return AnalysisInputs(D, event_frame, order_frame, empty, scores, features, segments, empty)


def _expected_share() -> list[tuple]:
    """The whole grid in plain Python: every group x (vocabulary + none)."""
    interests = {u[0]: [c for c in u[1:4] if c != "none"] or ["none"] for u in USERS}
    groups: dict[tuple[str, str], list[str]] = {}
    for u in USERS:
        groups.setdefault(("grade", u[4] or NO_GRADE), []).append(u[0])
        groups.setdefault(("rfm_segment", u[5]), []).append(u[0])
        if u[6]:
            groups.setdefault(("segment:retention", u[6]), []).append(u[0])
    rows = []
    for (breakdown, value), members in groups.items():
        for category in [*CATEGORIES, "none"]:
            users = sum(category in interests[m] for m in members)
            population = sum(category in v for v in interests.values()) / len(interests)
            share = users / len(members)
            lift = share / population if population else 0.0
            rows.append((D, breakdown, value, category, users, len(members), share, population, lift))
    return rows


def test_interest_share_by_grade_segment_and_family(spark, config):
    output = analyse(_inputs(spark), config)
    share = output.tables["analysis.interest_share"]
    expected = spark.createDataFrame(_expected_share(), share.schema)
    assertDataFrameEqual(share, expected, rtol=1e-12)
    # By hand: population books 3/4 (u1, u2, u4); grade A (u1, u2) all like books: lift 1 / 0.75.
    row = share.where("breakdown = 'grade' AND group_value = 'A' AND category = 'books'").first()
    assert (row.users, row.group_users, row.share, row.population_share) == (2, 2, 1.0, 0.75)
    assert row.lift == pytest.approx(4 / 3)
    # u4 has no grade: group NO_GRADE; u3 has no interest: category "none" (population 1/4, lift 4 in B).
    assert share.where(f"group_value = '{NO_GRADE}' AND category = 'apparel'").first().lift == 4.0
    assert share.where("breakdown = 'grade' AND group_value = 'B' AND category = 'none'").first().lift == 4.0
    # Users outside every segment of a family are in none of its groups: winback = u2, u3.
    winback = share.where("breakdown = 'segment:retention' AND group_value = 'winback' AND category = 'books'").first()
    assert (winback.users, winback.group_users) == (1, 2)


def test_conversion_hand_worked(spark, config):
    events = [
        ("a", _ago(20), "search", "books"),  # first books signal of a
        ("a", _ago(10), "page_view", "books"),
        ("b", _ago(30), "favorite", "books"),  # first signal of b
        ("c", _ago(10), "add_to_cart", "books"),  # first signal only 10 days before D: censored
        ("d", _ago(20), "login", "books"),  # not a signal type
        ("e", _ago(20), "search", "toys"),
        ("f", _ago(40), "comment", "toys"),
        ("f", _ago(40), "click", "toys"),  # not a signal type
        ("g", _ago(20), "search", "garden"),  # not in the vocabulary
        ("h", D_TS, "search", "home"),  # at D: not before D
    ]
    orders = [
        ("a", _ago(15), "books", False, None),  # 5 days after the first signal: converted
        ("a", _ago(12), "books", False, None),  # a later order: the first one counts
        ("b", _ago(16), "books", False, None),  # exactly 14 days after: outside [t, t + 14 days)
        ("c", _ago(9), "books", False, None),  # c is not counted at all
        ("e", _ago(18), "toys", True, _ago(17)),  # refunded before D: does not count
        ("e", _ago(17), "toys", True, D_TS + dt.timedelta(days=1)),  # refund after D: counts, 3 days
        ("f", _ago(41), "toys", False, None),  # before the first signal
        ("f", _ago(35), "books", False, None),  # another category
    ]
    output = analyse(_inputs(spark, events, orders), config)
    conversion = output.tables["analysis.interest_conversion"]
    cells = {"books": (2, 1, 0.5, 5.0), "toys": (2, 1, 0.5, 3.0)}
    expected = [
        Row(as_of_date=D, category=c, **dict(zip(
            ["interested_users", "converted_users", "conversion_rate", "median_days_to_purchase"],
            cells.get(c, (0, 0, 0.0, None)), strict=True)), window_days=14)
        for c in CATEGORIES
    ]  # fmt: skip
    assertDataFrameEqual(conversion, spark.createDataFrame(expected, conversion.schema), rtol=1e-12)


def test_median_days_over_converted_users(spark, config):
    # Three books converters after 1, 2 and 6 days (median 2) and one who does not buy.
    events = [(u, _ago(30), "search", "books") for u in ("p", "q", "r", "s")]
    orders = [(u, _ago(30 - days), "books", False, None) for u, days in (("p", 1), ("q", 2), ("r", 6))]
    conversion = analyse(_inputs(spark, events, orders), config).tables["analysis.interest_conversion"]
    books = conversion.where("category = 'books'").first()
    assert (books.interested_users, books.converted_users, books.conversion_rate) == (4, 3, 0.75)
    assert books.median_days_to_purchase == 2.0


def _conversion_oracle(events, orders, types, window_days):
    """Per category: (interested, converted, rate, median days) in plain Python, as the docstring says."""
    window = dt.timedelta(days=window_days)
    first: dict[tuple[str, str], dt.datetime] = {}
    for user, ts, kind, category in events:
        if kind in types and category in CATEGORIES and ts < D_TS:
            first[(user, category)] = min(ts, first.get((user, category), ts))
    out = {}
    for category in CATEGORIES:
        starts = {u: t for (u, c), t in first.items() if c == category and t < D_TS - window}
        days = []
        for user, t in starts.items():
            bought = [
                ts
                for u, ts, c, refunded, refunded_at in orders
                if u == user and c == category and ts < D_TS and not (refunded and refunded_at < D_TS)
                and t <= ts < t + window
            ]  # fmt: skip
            if bought:
                days.append((min(bought) - t).total_seconds() / 86400)
        days.sort()
        median = days[math.ceil(len(days) / 2) - 1] if days else None
        out[category] = (len(starts), len(days), len(days) / len(starts) if starts else 0.0, median)
    return out


def test_conversion_on_random_rows_matches_plain_python(spark, config):
    rng = random.Random(5)
    users = [f"r{i}" for i in range(30)]
    kinds = ["search", "page_view", "favorite", "add_to_cart", "comment", "share", "login", "click"]
    categories = [*CATEGORIES, "garden", None]
    events = [
        (rng.choice(users), _ago(rng.uniform(-2, 60)), rng.choice(kinds), rng.choice(categories)) for _ in range(500)
    ]
    orders = []
    for _ in range(200):
        ts = _ago(rng.uniform(-2, 60))
        refunded = rng.random() < 0.3
        orders.append(
            (
                rng.choice(users),
                ts,
                rng.choice(categories),
                refunded,
                ts + dt.timedelta(days=rng.uniform(0, 20)) if refunded else None,
            )
        )
    conversion = analyse(_inputs(spark, events, orders), config).tables["analysis.interest_conversion"]
    section = config.analysis.interests.conversion
    oracle = _conversion_oracle(events, orders, section.event_types, section.window_days)
    assert sum(v[1] for v in oracle.values()) >= 10  # the case exercises conversions
    expected = [Row(as_of_date=D, category=c, interested_users=oracle[c][0], converted_users=oracle[c][1],
                    conversion_rate=oracle[c][2], median_days_to_purchase=oracle[c][3], window_days=14)
                for c in CATEGORIES]  # fmt: skip
    assertDataFrameEqual(conversion, spark.createDataFrame(expected, conversion.schema), rtol=1e-9)
