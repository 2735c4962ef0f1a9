"""The Spark funnel engine against windowFunnel's rules: hand-worked cases per rule, and a plain-Python
windowFunnel (tests/analysis/funnel_oracle.py) on thousands of random streams for every mode combination.

Every funnel and stream goes through ONE ``outcomes`` call (one Spark job) to keep the suite fast."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from pyspark.sql import functions as F

from tests.analysis.funnel_oracle import window_funnel
from userscore.analysis.funnels import outcomes
from userscore.config.funnels import Condition, DroppedAudience, Exclusion, Funnel

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
WINDOW = 5  # seconds
# event type -> (steps it matches, exclusions it matches): ab / bc match two steps, xa a step and an
# exclusion, z nothing (an "other" event for strict_order).
TYPES = {
    "a": ({1}, set()),
    "b": ({2}, set()),
    "c": ({3}, set()),
    "ab": ({1, 2}, set()),
    "bc": ({2, 3}, set()),
    "x": (set(), {1}),
    "xa": ({1}, {1}),
    "y": (set(), {2}),
    "z": (set(), set()),
}
WEIGHTS = {"a": 5, "b": 5, "c": 5, "ab": 1, "bc": 1, "x": 1, "xa": 1, "y": 1, "z": 3}
EXCLUSIONS = ((2, 3), (1, 3))  # x/xa between steps 2 and 3; y anywhere before the last step
MODES = list(itertools.product([False, True], repeat=4))  # strict_order, dedup, increase, exclusions


def _name(mode) -> str:
    return "m" + "".join(str(int(m)) for m in mode)


def _funnel(strict_order, strict_deduplication, strict_increase, with_exclusions) -> Funnel:
    def step(name, *types):
        return Condition(name=name, source="events", event_types=types)

    exclusions = (
        (Exclusion(name="x", source="events", event_types=("x", "xa"), from_step=2, to_step=3),
         Exclusion(name="y", source="events", event_types=("y",)))
        if with_exclusions else ()
    )  # fmt: skip
    return Funnel(
        steps=(step("s1", "a", "ab", "xa"), step("s2", "b", "bc", "ab"), step("s3", "c", "bc")),
        window=WINDOW,
        window_unit="seconds",
        strict_order=strict_order,
        strict_deduplication=strict_deduplication,
        strict_increase=strict_increase,
        exclusions=exclusions,
        audience=DroppedAudience(strategy="s", channel="c", control_share=0.1),
    )


FUNNELS = {_name(m): _funnel(*m) for m in MODES}
DEFAULT, ORDER, DEDUP, INCREASE, EXCLUDE = "m0000", "m1000", "m0100", "m0010", "m0001"

# (funnel, stream as (second, type), expected furthest step, expected step seconds), worked by hand.
HAND = [
    # the plain chain, and the window measured from step 1, inclusive
    (DEFAULT, [(0, "a"), (1, "b"), (2, "c")], 3, [0, 1, 2]),
    (DEFAULT, [(0, "a"), (4, "b"), (6, "c")], 2, [0, 4]),
    (DEFAULT, [(0, "a"), (1, "b"), (5, "c")], 3, [0, 1, 5]),
    # steps before step 1 do not count
    (DEFAULT, [(0, "c"), (1, "b"), (2, "a")], 1, [2]),
    # a later step-1 event starts a new attempt; the old attempt keeps its own window
    (DEFAULT, [(0, "a"), (1, "b"), (4, "a"), (8, "c")], 2, [0, 1]),
    (DEFAULT, [(0, "a"), (4, "a"), (5, "b"), (8, "c")], 3, [4, 5, 8]),
    # ties on the timestamp are ordered by step, whatever the row order
    (DEFAULT, [(3, "c"), (3, "b"), (3, "a")], 3, [3, 3, 3]),
    (DEFAULT, [(0, "a"), (1, "bc")], 3, [0, 1, 1]),
    # the reported times are those of the first attempt that got furthest
    (DEFAULT, [(0, "a"), (1, "b"), (2, "a"), (3, "b")], 2, [0, 1]),
    # strict_increase: each step strictly later than the previous one
    (INCREASE, [(3, "c"), (3, "b"), (3, "a")], 1, [3]),
    (INCREASE, [(0, "a"), (1, "bc")], 2, [0, 1]),
    (INCREASE, [(0, "a"), (1, "bc"), (2, "c")], 3, [0, 1, 2]),
    # strict_order: another event after step 1 ends the scan; before step 1 it does not
    (ORDER, [(0, "a"), (1, "z"), (2, "b")], 1, [0]),
    (DEFAULT, [(0, "a"), (1, "z"), (2, "b")], 2, [0, 2]),
    (ORDER, [(0, "z"), (1, "a"), (2, "b")], 2, [1, 2]),
    # strict_order: a step whose previous step was never reached ends the scan
    (ORDER, [(0, "a"), (1, "c"), (2, "b"), (3, "c")], 1, [0]),
    (DEFAULT, [(0, "a"), (1, "c"), (2, "b"), (3, "c")], 3, [0, 2, 3]),
    # strict_order allows a step repeated in place
    (ORDER, [(0, "a"), (1, "b"), (2, "b"), (3, "c")], 3, [0, 2, 3]),
    # strict_deduplication: a repeated step (not step 1) ends the scan
    (DEDUP, [(0, "a"), (1, "b"), (2, "b"), (3, "c")], 2, [0, 1]),
    (DEDUP, [(0, "a"), (1, "a"), (2, "b"), (3, "c")], 3, [1, 2, 3]),
    # ... and the result is the furthest level reached (ClickHouse's current source; older releases
    # returned the step of the entry before the repeat: 1 here)
    (DEDUP, [(0, "a"), (1, "b"), (2, "a"), (3, "b")], 2, [0, 1]),
    # exclusions: x between steps 2 and 3 cancels the attempt at step 2; before step 2 it does not
    (EXCLUDE, [(0, "a"), (1, "b"), (2, "x"), (3, "c")], 2, [0, 1]),
    (EXCLUDE, [(0, "a"), (1, "x"), (2, "b"), (3, "c")], 3, [0, 2, 3]),
    (EXCLUDE, [(0, "a"), (1, "b"), (2, "x"), (3, "a"), (4, "b"), (5, "c")], 3, [3, 4, 5]),
    # an exclusion tied with a step comes after it: tied with step 2 it cancels that attempt
    (EXCLUDE, [(0, "a"), (1, "x"), (1, "b"), (2, "c")], 2, [0, 1]),
    # y (steps 1 to 3) cancels attempts at steps 1 and 2
    (EXCLUDE, [(0, "a"), (1, "y"), (2, "b")], 1, [0]),
]


def _rows_of(stream, with_exclusions: bool):
    # Without exclusions configured, x and y are just other events.
    return [(ts, TYPES[kind][0], TYPES[kind][1] if with_exclusions else ()) for ts, kind in stream]


def _oracle(name: str, stream):
    mode = next(m for m in MODES if _name(m) == name)
    return window_funnel(
        _rows_of(stream, mode[3]), 3, WINDOW, strict_order=mode[0], strict_deduplication=mode[1],
        strict_increase=mode[2], exclusions=EXCLUSIONS if mode[3] else (),
    )  # fmt: skip


def _random_streams(count: int, seed: int = 16):
    rng = random.Random(seed)
    kinds, weights = zip(*WEIGHTS.items(), strict=True)
    return {
        f"r{i}": [(rng.randint(0, 12), rng.choices(kinds, weights)[0]) for _ in range(rng.randint(1, 10))]
        for i in range(count)
    }


@pytest.fixture(scope="module")
def results(spark):
    """(funnel, user) -> (furthest, step seconds) for the hand cases (user h<i>) and random streams."""
    streams = {f"h{i}": stream for i, (_, stream, _, _) in enumerate(HAND)} | _random_streams(3000)
    rows = [
        (user, BASE + dt.timedelta(seconds=ts), kind, None, None)
        for user, stream in streams.items()
        for ts, kind in stream
    ]
    events = spark.createDataFrame(
        rows, "user_id string, event_ts timestamp, event_type string, page string, category string"
    )
    orders = spark.createDataFrame([], "user_id string, order_ts timestamp")
    base = int(BASE.timestamp())
    # D a day after every stream (all within 12 s of BASE): no step-1 entry is right-censored here.
    out = outcomes(events, orders, FUNNELS, (BASE + dt.timedelta(days=1)).date()).select(
        "funnel", "user_id", "furthest_step", "steps",
        F.transform("reached_ts", lambda t: (F.unix_micros(t) / 1_000_000 - base).cast("int")).alias("seconds"),
    ).collect()  # fmt: skip
    return streams, {(r.funnel, r.user_id): (r.furthest_step, list(r.seconds), r.steps) for r in out}


@pytest.mark.parametrize("case", range(len(HAND)))
def test_hand_worked_rule(results, case):
    funnel, stream, furthest, seconds = HAND[case]
    _, got = results
    assert got[(funnel, f"h{case}")] == (furthest, seconds, 3)
    assert _oracle(funnel, stream) == (furthest, seconds)  # the oracle itself follows the same rules


@pytest.mark.parametrize("mode", MODES, ids=_name)
def test_engine_matches_the_oracle_on_random_streams(results, mode):
    streams, got = results
    name = _name(mode)
    mismatches = []
    for user, stream in streams.items():
        best, path = _oracle(name, stream)
        expected = (best, path, 3) if best else None
        if got.get((name, user)) != expected:
            mismatches.append((user, sorted(stream), expected, got.get((name, user))))
    assert mismatches[:3] == []
    reached = [_oracle(name, s)[0] for s in streams.values()]
    assert {1, 2, 3} <= set(reached)  # the random streams exercise every level of this mode
