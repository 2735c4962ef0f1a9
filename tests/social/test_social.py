"""`userscore social` on a hand-made network: every measure against hand-worked values, networkx (PageRank)
and a plain-Python label propagation following docs/graph.md."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import networkx as nx
import pytest

from tests.conftest import REPO, TEST_SETS, make_config
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main

T0 = dt.datetime(2026, 1, 1)
D = dt.date(2026, 1, 21)  # day 20
USERS = ["a", "b", "c", "d", "e", "f"]
WEIGHTS = {"follow": 1.0, "share": 2.0, "invite": 3.0}
# (src, dst, type, day). g registers after D; the last follow is created after D: neither counts.
EDGES = [
    ("b", "a", "follow", 1), ("c", "a", "follow", 2), ("d", "a", "follow", 3), ("e", "b", "follow", 4),
    ("a", "f", "invite", 5), ("a", "e", "share", 10), ("g", "a", "follow", 6), ("c", "d", "follow", 30),
]  # fmt: skip
IN_TIME = EDGES[:6]
# (order, user, day, amount): e orders 2 days after a's share (counts) and 9 days after (does not); f's first
# order follows a's invitation; b's order is after D.
ORDERS = [("o1", "e", 12, 30.0), ("o2", "e", 19, 20.0), ("o3", "f", 8, 50.0), ("o4", "b", 25, 99.0)]


def at(day: float) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


@pytest.fixture
def ran(spark, tmp_path, capsys):
    config = make_config(
        tmp_path, {"social": {"kol": {"top_share": 0.2, "min_conversions": 1}, "min_community_size": 2}}
    )
    catalog = Catalog(spark, config)

    def write(table, rows):
        catalog.append(table, spark.createDataFrame(rows, declared_schema(config.tables[table])))

    users = [(u, at(0)) for u in USERS] + [("g", at(21))]
    write("silver.users", [(u, t, None, None, None, None, "basic", None, None, t, "b1") for u, t in users])
    write("silver.social_edges", [(f"s{i}", s, d, k, at(day), "b1") for i, (s, d, k, day) in enumerate(EDGES)])
    write(
        "silver.orders",
        [
            (
                o,
                u,
                at(day),
                at(day).date().replace(day=1),
                amount,
                "books",
                "app",
                None,
                False,
                0.0,
                False,
                1,
                None,
                at(day),
                "b1",
            )
            for o, u, day, amount in ORDERS
        ],
    )
    capsys.readouterr()
    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp_path}/warehouse", *TEST_SETS]
    # Six users: the top 20% by influence are KOL candidates, communities of two have a hub.
    sets += ["--set", "social.kol={top_share: 0.2, min_conversions: 1}", "--set", "social.min_community_size=2"]
    code = main(["social", "--as-of", str(D), *sets])
    return catalog, code, capsys.readouterr().out


def python_lpa(edges, nodes, max_iter=20):
    """Synchronous label propagation as docs/graph.md defines it: own label votes with weight 1, undirected
    weights summed per pair, ties to the smallest label."""
    weights = defaultdict(float)
    for s, d, w in edges:
        weights[(s, d)] += w
        weights[(d, s)] += w
    labels = {n: n for n in nodes}
    for _ in range(max_iter):
        new = {}
        for n in nodes:
            votes = defaultdict(float, {labels[n]: 1.0})
            for (s, d), w in weights.items():
                if s == n:
                    votes[labels[d]] += w
            best = max(round(v, 9) for v in votes.values())
            new[n] = min(label for label, v in votes.items() if round(v, 9) == best)
        if new == labels:
            break
        labels = new
    return labels


def test_every_measure_of_every_user(ran):
    catalog, code, out = ran
    assert code == 0, out
    rows = {r["user_id"]: r.asDict() for r in catalog.read("social.user_social").collect()}
    assert set(rows) == set(USERS)
    # Influence: PageRank from the influenced to the influencer (follow: follower -> followed; share and
    # invite: recipient -> sender), weighted by type.
    graph = nx.DiGraph()
    graph.add_nodes_from(USERS)
    for s, d, kind, _ in IN_TIME:
        src, dst = (s, d) if kind == "follow" else (d, s)
        graph.add_edge(src, dst, weight=graph.get_edge_data(src, dst, {"weight": 0})["weight"] + WEIGHTS[kind])
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-12, weight="weight")
    key = {u: round(expected[u] * 6, 6) for u in USERS}  # ranked on influence x users (docs/social.md)
    for u in USERS:
        assert rows[u]["influence"] == pytest.approx(expected[u], abs=1e-6)
        assert rows[u]["influence_percentile"] == pytest.approx(sum(1 for v in USERS if key[v] < key[u]) / 6)
    measures = ("in_degree", "out_degree", "followers", "reach_2hop", "invitees", "invitee_conversions", "share_orders")
    assert {u: tuple(rows[u][m] for m in measures) for u in USERS} == {
        "a": (
            3,
            2,
            3,
            5,
            1,
            1,
            1,
        ),  # followed by b, c, d; reaches b, c, d, e, f; f converted, e ordered after the share
        "b": (1, 1, 1, 1, 0, 0, 0),  # followed by e
        "c": (0, 1, 0, 0, 0, 0, 0),
        "d": (0, 1, 0, 0, 0, 0, 0),
        "e": (1, 1, 0, 0, 0, 0, 0),
        "f": (1, 0, 0, 0, 0, 0, 0),
    }
    labels = python_lpa([(s, d, WEIGHTS[k]) for s, d, k, _ in IN_TIME], USERS)
    members = defaultdict(list)
    for u, label in labels.items():
        members[label].append(u)
    spend = {"e": 50.0, "f": 50.0}
    for u in USERS:
        group = members[labels[u]]
        assert (rows[u]["community_id"], rows[u]["community_size"]) == (labels[u], len(group))
        assert rows[u]["community_value"] == pytest.approx(sum(spend.get(v, 0.0) for v in group))
    # KOL: top 20% by influence (percentile >= 0.8: a alone) with a conversion driven.
    assert [u for u in USERS if rows[u]["kol"]] == ["a"]
    assert [tuple(r)[1:] for r in catalog.read("social.kols").collect()] == [
        ("a", rows["a"]["influence"], rows["a"]["influence_percentile"], 3, 5, 1, 1, labels["a"])
    ]
    # Hubs: the most influential member of each community of 2+ users.
    hubs = {min(g, key=lambda v: (-key[v], v)) for g in members.values() if len(g) >= 2}
    assert {u for u in USERS if rows[u]["community_hub"]} == hubs
