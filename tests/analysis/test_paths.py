"""Behaviour paths on hand-worked sessions: gap boundary, collapsed repeats, depth cut, anchors, ties in
time, transitions and the converted vs dropped comparison."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.conftest import REPO
from userscore.analysis.inputs import AnalysisInputs
from userscore.analysis.paths import analyse, top_paths, transitions
from userscore.analysis.sessions import session_paths
from userscore.config import load_config

T0 = dt.datetime(2026, 3, 1, 10, 0, 0)
EVENTS_SCHEMA = "user_id string, event_id string, event_ts timestamp, event_type string, page string"
OUTCOMES_SCHEMA = "funnel string, user_id string, furthest_step int, steps int"
THIRD = round(1 / 3, 9)


@pytest.fixture(scope="module")
def base():
    return load_config(env="local", conf_dir=REPO / "conf").analysis.paths


def _cfg(base, **changes):
    defaults = dict(
        session_gap_minutes=30, element="event_type", page_events=("page_view",), page_levels=1, other_events="event_type", depth=3,
        top_paths=10, start_anchors=(), end_anchors=(), compare_funnels=(), transitions_per_step=50,
    )  # fmt: skip
    return dataclasses.replace(base, **{**defaults, **changes})


def _events(spark, rows):
    """rows: (user, event_id, seconds after T0, event_type, page)."""
    return spark.createDataFrame([(u, e, T0 + dt.timedelta(seconds=s), t, p) for u, e, s, t, p in rows], EVENTS_SCHEMA)


def _paths(spark, rows, cfg):
    return sorted((r.user_id, r.session, tuple(r.path)) for r in session_paths(_events(spark, rows), cfg).collect())


def test_a_gap_of_exactly_the_limit_stays_in_the_session_one_second_more_splits_it(spark, base):
    rows = [
        ("u1", "e1", 0, "a", None),
        ("u1", "e2", 1800, "b", None),  # exactly 30 min later: same session
        ("u1", "e3", 3601, "c", None),  # 30 min 1 s later: new session
        ("u2", "e4", 0, "a", None),
        ("u2", "e5", 1800.5, "b", None),  # half a second over: new session
    ]
    assert _paths(spark, rows, _cfg(base)) == [
        ("u1", 1, ("a", "b")),
        ("u1", 2, ("c",)),
        ("u2", 1, ("a",)),
        ("u2", 2, ("b",)),
    ]
    assert _paths(spark, rows, _cfg(base, session_gap_minutes=60)) == [
        ("u1", 1, ("a", "b", "c")),
        ("u2", 1, ("a", "b")),
    ]


def test_repeats_collapse_and_ties_in_time_are_ordered_by_event_id(spark, base):
    rows = [
        ("u1", "e1", 0, "a", None),
        ("u1", "e2", 10, "a", None),
        ("u1", "e4", 20, "b", None),
        ("u1", "e3", 20, "c", None),  # same second as e4: e3 comes first
        ("u1", "e5", 30, "c", None),
        ("u1", "e6", 40, "a", None),
    ]
    assert _paths(spark, rows, _cfg(base)) == [("u1", 1, ("a", "c", "b", "c", "a"))]


def test_page_elements_cut_to_levels_and_other_events(spark, base):
    rows = [
        ("u1", "e1", 0, "page_view", "home"),
        ("u1", "e2", 10, "login", None),
        ("u1", "e3", 20, "page_view", "home"),
        ("u1", "e4", 30, "page_view", "product/shoes/17"),
        ("u1", "e5", 40, "add_to_cart", "product/shoes/9"),
        ("u1", "e6", 50, "page_view", "category/shoes"),
        # Only a login 20 min later, then a page 20 min after that: with skip, the login still keeps
        # the session alive.
        ("u1", "e7", 1250, "login", None),
        ("u1", "e8", 2450, "page_view", "cart"),
        ("u1", "e9", 2460, "page_view", " "),  # a page view without a page is an other event
    ]
    page = _cfg(base, element="page")
    assert _paths(spark, rows, page) == [
        ("u1", 1, ("home", "login", "home", "product", "add_to_cart", "category", "login", "cart", "page_view"))
    ]
    skip = _cfg(base, element="page", page_events=("page_view", "add_to_cart"), other_events="skip", page_levels=2)
    assert _paths(spark, rows, skip) == [("u1", 1, ("home", "product/shoes", "category/shoes", "cart"))]


def _sessions(spark, paths):
    """(user, path) -> a sessions frame (session numbers do not matter to the aggregates)."""
    rows = [(u, i, list(p)) for i, (u, p) in enumerate(paths)]
    return spark.createDataFrame(rows, "user_id string, session int, path array<string>")


def _top(frame):
    return sorted(
        (r.kind, r.funnel, r.anchor, r.rank, r.path, r.depth, r.sessions, r.users, round(r.share, 9),
         r.group_sessions, r.group_users)
        for r in frame.collect()
    )  # fmt: skip


def test_depth_cut_and_first_occurrence_anchors(spark, base):
    sessions = _sessions(
        spark,
        [
            ("u1", "abcdef"),
            ("u2", "xbaca"),
            ("u2", "ab"),
            ("u3", "cz"),
        ],
    )
    cfg = _cfg(base, depth=3, start_anchors=("a",), end_anchors=("c",))
    assert _top(top_paths(sessions, cfg)) == sorted(
        [
            # all: first 3 elements; ties in sessions ranked by path text
            ("all", "", "", 1, "a > b", 2, 1, 1, 0.25, 4, 3),
            ("all", "", "", 2, "a > b > c", 3, 1, 1, 0.25, 4, 3),
            ("all", "", "", 3, "c > z", 2, 1, 1, 0.25, 4, 3),
            ("all", "", "", 4, "x > b > a", 3, 1, 1, 0.25, 4, 3),
            # starting at a's first occurrence, 3 elements on; u3's session has no a
            ("starting", "", "a", 1, "a > b", 2, 1, 1, THIRD, 3, 2),
            ("starting", "", "a", 2, "a > b > c", 3, 1, 1, THIRD, 3, 2),
            ("starting", "", "a", 3, "a > c > a", 3, 1, 1, THIRD, 3, 2),
            # ending at c's first occurrence, at most 3 elements back
            ("ending", "", "c", 1, "a > b > c", 3, 1, 1, THIRD, 3, 3),
            ("ending", "", "c", 2, "b > a > c", 3, 1, 1, THIRD, 3, 3),
            ("ending", "", "c", 3, "c", 1, 1, 1, THIRD, 3, 3),
        ]
    )


def test_top_n_keeps_the_busiest_paths_and_counts_users_once(spark, base):
    sessions = _sessions(spark, [("u1", "ab"), ("u1", "ab"), ("u2", "ab"), ("u2", "b"), ("u3", "c"), ("u3", "c")])
    rows = _top(top_paths(sessions, _cfg(base, top_paths=2)))
    assert rows == [
        ("all", "", "", 1, "a > b", 2, 3, 2, 0.5, 6, 3),
        ("all", "", "", 2, "c", 1, 2, 1, THIRD, 6, 3),
    ]


def test_converted_and_dropped_users_paths(spark, base):
    sessions = _sessions(spark, [("u1", "ab"), ("u2", "ac"), ("u3", "ab"), ("u3", "d"), ("u4", "ab")])
    outcomes = spark.createDataFrame(
        [
            ("buy", "u1", 3, 3),  # converted
            ("buy", "u2", 1, 3),  # dropped after step 1
            ("buy", "u3", 2, 3),  # dropped after step 2
            ("buy", "u4", 0, 3),  # never entered: in neither group
            ("other", "u1", 1, 2),  # not compared
        ],
        OUTCOMES_SCHEMA,
    )
    cfg = _cfg(base, compare_funnels=("buy",))
    rows = [r for r in _top(top_paths(sessions, cfg, outcomes)) if r[0] != "all"]
    assert rows == [
        ("converted", "buy", "", 1, "a > b", 2, 1, 1, 1.0, 1, 1),
        ("dropped", "buy", "", 1, "a > b", 2, 1, 1, THIRD, 3, 2),
        ("dropped", "buy", "", 2, "a > c", 2, 1, 1, THIRD, 3, 2),
        ("dropped", "buy", "", 3, "d", 1, 1, 1, THIRD, 3, 2),
    ]
    every = _top(top_paths(sessions, _cfg(base), outcomes))
    assert [r[:5] for r in every if r[1] == "other"] == [("dropped", "other", "", 1, "a > b")]


def test_transitions_with_session_ends_and_the_depth_cut(spark, base):
    sessions = _sessions(spark, [("u1", "ab"), ("u1", "ac"), ("u2", "a"), ("u2", "abcd"), ("u3", "b")])
    rows = sorted(
        (r.step, r.from_element, r.to_element, r.sessions, r.users, round(r.share, 9), r.rank)
        for r in transitions(sessions, depth=3, per_step=3).collect()
    )
    assert rows == [
        (1, "a", "(end)", 1, 1, 0.25, 2),
        (1, "a", "b", 2, 2, 0.5, 1),
        (1, "a", "c", 1, 1, 0.25, 3),
        # (1, "b", "(end)") has 1 session too but ranks 4th on step 1 (ties by from, to): cut
        (2, "b", "(end)", 1, 1, 0.5, 1),
        (2, "b", "c", 1, 1, 0.5, 2),  # abcd: c -> d is step 3, beyond depth 3
        (2, "c", "(end)", 1, 1, 1.0, 3),
    ]


def test_analyse_writes_both_tables_for_the_snapshot(spark, base, config):
    rows = [
        ("u1", "e1", 0, "page_view", "home"),
        ("u1", "e2", 60, "search", None),
        ("u1", "e3", 90, "page_view", "cart"),
    ]
    config = dataclasses.replace(
        config,
        analysis=dataclasses.replace(config.analysis, paths=_cfg(base, element="page", start_anchors=("search",))),
    )
    as_of = dt.date(2026, 3, 2)
    frames = spark.createDataFrame([], "x int")
    inputs = AnalysisInputs(as_of, _events(spark, rows), frames, frames, frames, frames, frames, frames)
    out = analyse(inputs, config)
    assert set(out.tables) == {"analysis.paths", "analysis.path_transitions"}
    paths = sorted((r.as_of_date, r.kind, r.anchor, r.path) for r in out.tables["analysis.paths"].collect())
    assert paths == [(as_of, "all", "", "home > search > cart"), (as_of, "starting", "search", "search > cart")]
    steps = sorted(
        (r.as_of_date, r.step, r.from_element, r.to_element) for r in out.tables["analysis.path_transitions"].collect()
    )
    assert steps == [(as_of, 1, "home", "search"), (as_of, 2, "search", "cart")]
    declared = {n: [c.name for c in config.tables[n].columns] for n in out.tables}
    assert {n: f.columns for n, f in out.tables.items()} == declared
