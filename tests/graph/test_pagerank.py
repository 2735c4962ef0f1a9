"""PageRank against networkx.pagerank and a plain-numpy power iteration on a random weighted digraph."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest

from userscore.graph import pagerank

# 20 nodes with edges: 100..114 have out-edges, 115..119 are dangling; 120 (its only out-edge weighs 0) is
# dangling under weights but not without them; 200..202 are isolated (only in `nodes`).
rng = random.Random(7)
EDGES = [(rng.randrange(100, 115), rng.randrange(100, 120), float(rng.choice([0.5, 1, 2, 3]))) for _ in range(45)]
EDGES += [(103, 103, 2.0), (110, 110, 1.0)]  # self-loops
EDGES += [(101, 102, 1.0), (101, 102, 2.5), (104, 119, 0.5), (104, 119, 0.5)]  # parallel edges
EDGES += [(120, 100, 0.0), (100, 120, 1.0)]
NODES = [100, 118, 200, 201, 202]


def _numpy_pagerank(edges, nodes, damping, tol, max_iter, weighted):
    """(node -> rank, iterations run, converged): networkx's power iteration written out with dense numpy."""
    ids = sorted({n for a, b, _ in edges for n in (a, b)} | set(nodes))
    index = {n: i for i, n in enumerate(ids)}
    n = len(ids)
    a = np.zeros((n, n))
    for u, v, w in edges:
        a[index[u], index[v]] += w if weighted else 1.0
    out = a.sum(axis=1)
    dangling = out == 0
    p = np.divide(a, out[:, None], out=np.zeros_like(a), where=~dangling[:, None])
    x = np.full(n, 1.0 / n)
    for it in range(1, max_iter + 1):
        last = x
        x = damping * (x @ p + x[dangling].sum() / n) + (1 - damping) / n
        if np.abs(x - last).sum() < n * tol:
            return dict(zip(ids, x, strict=True)), it, True
    return dict(zip(ids, x, strict=True)), max_iter, False


@pytest.fixture(scope="module")
def frames(spark):
    return (
        spark.createDataFrame(EDGES, "src long, dst long, weight double"),
        spark.createDataFrame([(n,) for n in NODES], "node long"),
    )


def test_weighted_pagerank_equals_networkx(spark, frames):
    edges, nodes = frames
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(NODES)
    graph.add_weighted_edges_from(EDGES)
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-6, weight="weight")
    _, iterations, _ = _numpy_pagerank(EDGES, NODES, 0.85, 1e-6, 100, weighted=True)

    result = pagerank(edges, nodes=nodes, tol=1e-6, checkpoint_every=1)

    got = {r["node"]: r["rank"] for r in result.ranks.collect()}
    assert got.keys() == expected.keys() and len(got) == 24
    assert max(abs(got[k] - expected[k]) for k in got) < 1e-9
    assert (result.iterations, result.converged) == (iterations, True)
    assert 10 < iterations < 100


def test_unweighted_pagerank_stopped_at_max_iter(spark, frames):
    edges, nodes = frames
    expected, _, _ = _numpy_pagerank(EDGES, NODES, 0.5, 1e-10, 3, weighted=False)

    cache = spark._jsparkSession.sharedState().cacheManager()
    was_empty = cache.isEmpty()
    # checkpoint_every=2: iteration 2 is checkpointed, 1 and 3 cached (3 is checkpointed on the way out).
    result = pagerank(edges, nodes=nodes, weight=None, damping=0.5, max_iter=3, checkpoint_every=2)

    got = {r["node"]: r["rank"] for r in result.ranks.collect()}
    assert max(abs(got[k] - expected[k]) for k in expected) < 1e-12 and got.keys() == expected.keys()
    assert (result.iterations, result.converged) == (3, False)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
    assert cache.isEmpty() or not was_empty  # no iterate left cached (when no other test left a cache)
