"""Behaviour paths agree with a plain-Python implementation of the documented rules over the same rows.

The oracle below is written from the docstrings of analysis/sessions.py and analysis/paths.py, not from
the Spark code: sort each user's events by (time, event_id), split where the gap exceeds the limit, map
events to elements, drop missing ones, collapse repeats, then count each group's paths and transitions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import defaultdict

import pytest

from tests.conftest import REPO
from userscore.analysis.paths import top_paths, transitions
from userscore.analysis.sessions import session_paths
from userscore.config import load_config

T0 = dt.datetime(2026, 3, 1)
TYPES = ["page_view", "page_view", "login", "search", "add_to_cart", "click"]
PAGES = ["home", "category/shoes", "category/bags", "product/shoes/1", "product/bags/2", "cart", "checkout", ""]
# Gaps in seconds, rich in the boundary (30 min = 1800 s) and in ties (0).
GAPS = [0, 0, 5, 60, 600, 1799, 1800, 1800, 1801, 3600, 86400]


def _random_events(seed: int, users: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for u in range(users):
        ts = T0 + dt.timedelta(seconds=rng.randrange(86400))
        for e in range(rng.randrange(0, 30)):
            ts += dt.timedelta(seconds=rng.choice(GAPS))
            event_type = rng.choice(TYPES)
            page = rng.choice(PAGES) if event_type in ("page_view", "add_to_cart") else None
            # Event ids in random order, so ties in time are not already ordered by id.
            rows.append((f"u{u:02d}", f"e{rng.randrange(10**6):06d}-{e}", ts, event_type, page))
    return rows


def _element(cfg, event_type, page):
    if cfg.element == "event_type":
        return event_type
    if event_type in cfg.page_events and page is not None and page.strip() != "":
        return "/".join(page.split("/")[: cfg.page_levels])
    return event_type if cfg.other_events == "event_type" else None


def _oracle_sessions(rows, cfg) -> list[tuple[str, list[str]]]:
    by_user = defaultdict(list)
    for user, event_id, ts, event_type, page in rows:
        by_user[user].append((ts, event_id, _element(cfg, event_type, page)))
    sessions = []
    limit = dt.timedelta(minutes=cfg.session_gap_minutes)
    for user, events in sorted(by_user.items()):
        events.sort()
        current, previous = [], None
        for ts, _, element in events:
            if previous is not None and ts - previous > limit:
                sessions.append((user, current))
                current = []
            previous = ts
            if element is not None and (not current or current[-1] != element):
                current.append(element)
        sessions.append((user, current))
    return [(u, p) for u, p in sessions if p]


def _oracle_paths(sessions, cfg, outcomes):
    k = cfg.depth
    groups = defaultdict(list)  # (kind, funnel, anchor) -> [(user, path tuple)]
    for user, path in sessions:
        groups[("all", "", "")].append((user, tuple(path[:k])))
        for a in cfg.start_anchors:
            if a in path:
                i = path.index(a)
                groups[("starting", "", a)].append((user, tuple(path[i : i + k])))
        for a in cfg.end_anchors:
            if a in path:
                i = path.index(a)
                groups[("ending", "", a)].append((user, tuple(path[max(0, i - k + 1) : i + 1])))
        for funnel, who, furthest, steps in outcomes:
            if who == user and furthest >= 1 and (not cfg.compare_funnels or funnel in cfg.compare_funnels):
                kind = "converted" if furthest == steps else "dropped"
                groups[(kind, funnel, "")].append((user, tuple(path[:k])))
    out = []
    for group, members in groups.items():
        counts = defaultdict(lambda: [0, set()])
        for user, path in members:
            counts[path][0] += 1
            counts[path][1].add(user)
        group_users = len({u for u, _ in members})
        ranked = sorted(counts.items(), key=lambda item: (-item[1][0], " > ".join(item[0])))
        for rank, (path, (n, who)) in enumerate(ranked[: cfg.top_paths], start=1):
            share = round(n / len(members), 9)
            out.append((*group, rank, " > ".join(path), len(path), n, len(who), share, len(members), group_users))
    return sorted(out)


def _oracle_transitions(sessions, depth, per_step):
    counts = defaultdict(lambda: [0, set()])
    for user, path in sessions:
        for i in range(1, min(len(path), depth - 1) + 1):
            to = path[i] if i < len(path) else "(end)"
            counts[(i, path[i - 1], to)][0] += 1
            counts[(i, path[i - 1], to)][1].add(user)
    at_from = defaultdict(int)
    for (step, frm, _), (n, _) in counts.items():
        at_from[(step, frm)] += n
    out = []
    for step in sorted({s for s, _, _ in counts}):
        ranked = sorted((k for k in counts if k[0] == step), key=lambda k: (-counts[k][0], k[1], k[2]))
        for rank, key in enumerate(ranked[:per_step], start=1):
            n, who = counts[key]
            out.append((*key, n, len(who), round(n / at_from[key[:2]], 9), rank))
    return sorted(out)


@pytest.fixture(scope="module")
def base():
    return load_config(env="local", conf_dir=REPO / "conf").analysis.paths


CONFIGS = {
    "pages": dict(
        element="page", page_events=("page_view",), page_levels=1, other_events="event_type", depth=4, top_paths=15,
        start_anchors=("home", "search"), end_anchors=("checkout", "cart"), compare_funnels=("buy",),
    ),
    "types_skip": dict(
        element="event_type", page_levels=1, other_events="skip", depth=3, top_paths=8, session_gap_minutes=20,
        start_anchors=("login",), end_anchors=("add_to_cart",), compare_funnels=(),
    ),
    "pages_deep_skip": dict(
        element="page", page_events=("page_view", "add_to_cart"), page_levels=2, other_events="skip", depth=6, top_paths=5, session_gap_minutes=60,
        start_anchors=(), end_anchors=("cart",), compare_funnels=("buy", "signup"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_spark_agrees_with_the_oracle(spark, base, name):
    cfg = dataclasses.replace(base, **CONFIGS[name])
    rows = _random_events(seed=sorted(CONFIGS).index(name), users=60)
    rng = random.Random(7)
    outcomes = [
        (funnel, f"u{u:02d}", rng.randrange(0, steps + 1), steps)
        for funnel, steps in (("buy", 3), ("signup", 2))
        for u in range(60)
        if rng.random() < 0.8
    ]
    events = spark.createDataFrame(
        rows, "user_id string, event_id string, event_ts timestamp, event_type string, page string"
    )
    outcome_frame = spark.createDataFrame(outcomes, "funnel string, user_id string, furthest_step int, steps int")
    sessions = session_paths(events, cfg).cache()
    try:
        expected = _oracle_sessions(rows, cfg)
        assert sorted((r.user_id, list(r.path)) for r in sessions.collect()) == sorted(expected)
        got_paths = sorted(
            (r.kind, r.funnel, r.anchor, r.rank, r.path, r.depth, r.sessions, r.users, round(r.share, 9),
             r.group_sessions, r.group_users)
            for r in top_paths(sessions, cfg, outcome_frame).collect()
        )  # fmt: skip
        assert got_paths == _oracle_paths(expected, cfg, outcomes)
        got_steps = sorted(
            (r.step, r.from_element, r.to_element, r.sessions, r.users, round(r.share, 9), r.rank)
            for r in transitions(sessions, cfg.depth, cfg.transitions_per_step).collect()
        )
        assert got_steps == _oracle_transitions(expected, cfg.depth, cfg.transitions_per_step)
    finally:
        sessions.unpersist()
