"""Label propagation on hand-worked graphs (self_weight 1 unless said: a node's own label votes with 1)."""

from __future__ import annotations

import pytest

from userscore.graph import label_propagation


def _clique(names, w=1.0):
    return [(a, b, w) for i, a in enumerate(names) for b in names[i + 1 :]]


# Pieces of one graph, worked by hand round by round ("x: own x, y, z -> x" lists the labels voting).
EDGES = (
    # Two K4 joined by the bridge a4-b1.
    # R1: a1..a4 all tie -> a1 (a4 also sees b1); b1: a4 b1 b2 b3 b4 tie -> a4; b2..b4 tie -> b1.
    # R2: a's: a1 (4 votes); b1: b1 x3 (b2..b4), a1 (a4), a4 (own) -> b1; b2..b4: b1 x3, a4 -> b1.
    # R3: a4: a1 x4 vs b1 -> a1; b1: b1 x4 vs a1 -> b1; nothing changes. Final a* -> a1, b* -> b1.
    _clique(["a1", "a2", "a3", "a4"])
    + _clique(["b1", "b2", "b3", "b4"])
    + [("a4", "b1", 1.0)]
    # A tie: t1: own t1, t2 -> t1; t2: own t2, t1 -> t1. R2 changes nothing.
    + [("t2", "t1", 1.0)]
    # Triangles v1v2v3 and v4v5v6, v9 linked to v3 and v4 (weight 1 each).
    # R1: v1,v2,v3 -> v1 (v3 also sees v9: still a tie); v4: own v4, v5, v6, v9 -> v4; v5, v6 -> v4;
    #     v9: own v9, v3, v4 -> v3.   R2: v9: own v3, v1 (v3), v4 (v4) tie -> v1.   R3: v9: v1 x2 -> v1.
    + _clique(["v1", "v2", "v3"])
    + _clique(["v4", "v5", "v6"])
    + [("v9", "v3", 1.0), ("v9", "v4", 1.0)]
    # The same shape with u9-u4 weighing 2: the weight changes u9's side.
    # R1: u1,u2,u3 -> u1; u4: own u4 1, u5 1, u6 1, u9 2 -> u9; u5, u6 -> u4; u9: own u9 1, u3 1, u4 2 -> u4.
    # R2: u4: own u9 1, u5 (u4) 1, u6 (u4) 1, u9 (u4) 2 -> u4 (4); u5, u6: u4 2, u9 1 -> u4;
    #     u9: own u4 1, u3 (u1) 1, u4 (u9) 2 -> u9.
    # R3: u4: u4 3 vs u9 2 -> u4; u9: own u9 1, u1 1, u4 2 -> u4.   R4: u9: u4 3 vs u1 1 -> u4; no change.
    + _clique(["u1", "u2", "u3"])
    + _clique(["u4", "u5", "u6"])
    + [("u9", "u3", 1.0), ("u9", "u4", 2.0)]
    # The same again with two unit edges p9->p4 and p4->p9: undirected, they add up to the 2 above.
    + _clique(["p1", "p2", "p3"])
    + _clique(["p4", "p5", "p6"])
    + [("p9", "p3", 1.0), ("p9", "p4", 1.0), ("p4", "p9", 1.0)]
)
EXPECTED = {
    **dict.fromkeys(["a1", "a2", "a3", "a4"], "a1"),
    **dict.fromkeys(["b1", "b2", "b3", "b4"], "b1"),
    "t1": "t1",
    "t2": "t1",
    **dict.fromkeys(["v1", "v2", "v3", "v9"], "v1"),
    **dict.fromkeys(["v4", "v5", "v6"], "v4"),
    **dict.fromkeys(["u1", "u2", "u3"], "u1"),
    **dict.fromkeys(["u4", "u5", "u6", "u9"], "u4"),
    **dict.fromkeys(["p1", "p2", "p3"], "p1"),
    **dict.fromkeys(["p4", "p5", "p6", "p9"], "p4"),
    "z": "z",  # isolated: only in `nodes`
}


def _labels(result) -> dict:
    return {r["node"]: r["label"] for r in result.labels.collect()}


def test_hand_worked_pieces(spark):
    edges = spark.createDataFrame(EDGES, "src string, dst string, w double")
    nodes = spark.createDataFrame([("z",), ("a1",)], "node string")

    result = label_propagation(edges, nodes=nodes, weight="w", checkpoint_every=2)

    assert _labels(result) == EXPECTED
    # The pieces run side by side: the u and p pieces need the most rounds, 4 (the 4th changes nothing).
    assert (result.iterations, result.converged) == (4, True)


@pytest.mark.parametrize(
    ("self_weight", "edges", "expected"),
    [
        # w1-w5 weighs 1, w5-w9 weighs 3: w5 and w9 swap labels every round despite their own votes.
        # R1: w1: own w1, w5 -> w1; w5: own w5 1, w1 1, w9 3 -> w9; w9: own w9 1, w5 3 -> w5.
        # R2: w5: own w9 1, w1 1, w9's w5 3 -> w5; w9: own w5 1, w5's w9 3 -> w9 (back to the start). R3 = R1.
        (1.0, [("w1", "w5", 1.0), ("w5", "w9", 3.0)], {"w1": "w1", "w5": "w9", "w9": "w5"}),
        # Without the own vote an edge swaps its ends' labels forever: R1, R3 swapped, R2 as at the start.
        (0.0, [("s1", "s2", 1.0)], {"s1": "s2", "s2": "s1"}),
    ],
)
def test_not_converged_after_max_iter(spark, self_weight, edges, expected):
    frame = spark.createDataFrame(edges, "src string, dst string, weight double")

    result = label_propagation(frame, weight="weight", max_iter=3, self_weight=self_weight, checkpoint_every=1)

    assert _labels(result) == expected
    assert (result.iterations, result.converged) == (3, False)
