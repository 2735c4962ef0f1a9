"""The interest family: hand-worked affinities and lifts, ties and thresholds, and a plain-Python oracle
over random rows (tests/features/features.yaml: half-life 30 days, weights search 1, page_view 1 +
0.5 per dwell minute capped at 600 s, favorite 3, add_to_cart 4, comment 2, share 3, purchase 6;
min_share 0.1, min_lift 1)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from tests.features.conftest import compute
from tests.features.interest_oracle import CATEGORIES, affinities, interests
from tests.features.silver import D_TS, Silver, event, order, user

COLUMNS = ["interest_1", "interest_1_lift", "interest_2", "interest_2_lift", "interest_3", "interest_3_lift"]
BEFORE = dt.datetime(2025, 1, 1)


def _days_before_d(days: float) -> dt.datetime:
    return D_TS - dt.timedelta(days=days)


def _interests(spark, config, silver: Silver):
    features, _ = compute(spark, config, silver)
    return features.select("user_id", *COLUMNS, "interest_count")


def _rows(spark, actual, rows: dict[str, tuple]):
    return spark.createDataFrame(
        [Row(user_id=u, **dict(zip(actual.columns[1:], v, strict=True))) for u, v in rows.items()], actual.schema
    )


def test_weights_decay_dwell_and_lift_hand_worked(spark, features_config):
    # 30 days = one half-life (x 0.5), 60 days = two (x 0.25).
    a_events = [
        event("a1", "a", _days_before_d(30), "search", "books"),  # 1 x 0.5 = 0.5
        event("a2", "a", _days_before_d(60), "page_view", "books", dwell=120.0),  # (1 + 0.5 x 2) x 0.25 = 0.5
        event("a3", "a", _days_before_d(30), "page_view", "books", dwell=3600.0),  # capped: (1 + 5) x 0.5 = 3
        event("a4", "a", _days_before_d(30), "favorite", "toys"),  # 3 x 0.5 = 1.5
        event("a5", "a", _days_before_d(30), "login", "books"),  # not a weighted type
        event("a6", "a", _days_before_d(30), "click", "toys"),  # not a weighted type
        event("a7", "a", D_TS, "add_to_cart", "toys"),  # at D: not before D
        event("a8", "a", _days_before_d(30), "search", "garden"),  # not in the vocabulary
        event("a9", "a", _days_before_d(30), "search", None),
    ]
    b_events = [
        event("b1", "b", _days_before_d(30), "add_to_cart", "toys"),  # 4 x 0.5 = 2
        event("b2", "b", _days_before_d(30), "comment", "apparel"),  # 2 x 0.5 = 1
    ]
    orders = [
        order("o1", "a", _days_before_d(60), category="books"),  # 6 x 0.25 = 1.5
        order("o2", "a", _days_before_d(30), category="toys", refunded=True),  # refunded before D: no
    ]
    silver = Silver(users=[user(u, BEFORE) for u in ("a", "b", "c")], orders=orders, events=a_events + b_events)
    actual = _interests(spark, features_config, silver)
    # a: books 0.5 + 0.5 + 3 + 1.5 = 5.5, toys 1.5 (total 7); b: toys 2, apparel 1 (total 3).
    # Population: books 5.5, toys 3.5, apparel 1 (total 10).
    # a: books share 5.5/7, lift (5.5/7) / 0.55 = 10/7; toys lift (1.5/7) / 0.35 = 0.61 < 1: no interest.
    # b: apparel lift (1/3) / 0.1 = 10/3 ranks above toys (2/3) / 0.35 = 40/21 despite the smaller share.
    expected = {
        "a": ("books", 10 / 7, "none", 0.0, "none", 0.0, 1),
        "b": ("apparel", 10 / 3, "toys", 40 / 21, "none", 0.0, 2),
        "c": ("none", 0.0, "none", 0.0, "none", 0.0, 0),
    }
    assertDataFrameEqual(actual, _rows(spark, actual, expected), rtol=1e-9)


def test_ties_by_name_and_the_share_and_lift_thresholds(spark, features_config):
    half = _days_before_d(30)  # every row weighs its type's weight x 0.5

    def searches(uid: str, category: str, n: int) -> list[dict]:
        return [event(f"{uid}-{category}-{i}", uid, half, "search", category) for i in range(n)]

    # x: books 1, toys 0.5; y: books 2, toys 1 -> both exactly the population mix (lift 1.0 each):
    # equal lift, ranked by share (books 2/3 before toys 1/3).
    # w: beauty 0.5, home 0.5 -> equal lift and share, ranked by name.
    # z: books 9.5, sports 0.5 -> sports has the highest lift of all but a 5% share (< min_share 0.1).
    events = [
        *searches("x", "books", 2),
        *searches("x", "toys", 1),
        *searches("y", "books", 4),
        *searches("y", "toys", 2),
        *searches("w", "home", 1),
        *searches("w", "beauty", 1),
        *searches("z", "books", 19),
        *searches("z", "sports", 1),
    ]
    silver = Silver(users=[user(u, BEFORE) for u in ("w", "x", "y", "z")], events=events)
    actual = _interests(spark, features_config, silver)
    # Population: books 1 + 2 + 9.5 = 12.5, toys 1.5, beauty 0.5, home 0.5, sports 0.5 (total 15.5).
    # x, y: books lift (2/3) / (12.5/15.5) = 0.83 < 1 and toys (1/3) / (1.5/15.5) = 3.44: toys only.
    # w: beauty = home = (1/2) / (0.5/15.5) = 15.5, then by name. z: books (19/20) / (12.5/15.5) = 1.178.
    toys = (1 / 3) / (1.5 / 15.5)
    expected = {
        "w": ("beauty", 15.5, "home", 15.5, "none", 0.0, 2),
        "x": ("toys", toys, "none", 0.0, "none", 0.0, 1),
        "y": ("toys", toys, "none", 0.0, "none", 0.0, 1),
        "z": ("books", 0.95 / (12.5 / 15.5), "none", 0.0, "none", 0.0, 1),
    }
    assertDataFrameEqual(actual, _rows(spark, actual, expected), rtol=1e-9)


def test_equal_lift_ranks_by_share(spark, features_config):
    half = _days_before_d(30)
    # p: books 1, toys 0.5; q: books 2, toys 1: both the population mix, lift exactly 1 in both categories
    # (min_lift 1 admits it): books first by its larger share.
    counts = {("p", "books"): 2, ("p", "toys"): 1, ("q", "books"): 4, ("q", "toys"): 2}
    events = [event(f"{u}-{c}-{i}", u, half, "search", c) for (u, c), n in counts.items() for i in range(n)]
    silver = Silver(users=[user(u, BEFORE) for u in ("p", "q")], events=events)
    actual = _interests(spark, features_config, silver)
    expected = {u: ("books", 1.0, "toys", 1.0, "none", 0.0, 2) for u in ("p", "q")}
    assertDataFrameEqual(actual, _rows(spark, actual, expected), rtol=1e-9)


@pytest.mark.parametrize("seed", [3])
def test_random_rows_match_plain_python(spark, features_config, seed):
    rng = random.Random(seed)
    types = ["search", "page_view", "favorite", "add_to_cart", "comment", "share", "login", "click"]
    categories = [*CATEGORIES, "garden", None]
    users = [f"r{i:02d}" for i in range(40)]
    events = [
        event(
            f"e{i}",
            rng.choice(users),
            _days_before_d(rng.uniform(-5, 400)),  # some at or after D
            rng.choice(types),
            rng.choice(categories),
            dwell=rng.choice([None, rng.uniform(0, 900)]),
        )
        for i in range(600)
    ]
    orders = []
    for i in range(80):
        ts = _days_before_d(rng.uniform(-5, 400))
        refunded = rng.random() < 0.3
        # A refund recorded after D does not count at D.
        refunded_at = ts + dt.timedelta(days=rng.uniform(0, 20)) if refunded else None
        orders.append(
            order(
                f"o{i}",
                rng.choice(users),
                ts,
                category=rng.choice(categories),
                refunded=refunded,
                refunded_at=refunded_at,
            )
        )
    silver = Silver(users=[user(u, BEFORE) for u in users], orders=orders, events=events)
    actual = _interests(spark, features_config, silver)
    oracle = interests(affinities(orders, events, D_TS.date()), users)
    expected = {u: (*(oracle[u][c] for c in COLUMNS), oracle[u]["interest_count"]) for u in users}
    assert sum(1 for row in expected.values() if row[-1] >= 2) >= 5  # the case exercises rankings
    assertDataFrameEqual(actual, _rows(spark, actual, expected), rtol=1e-9)
