"""Connected components against a plain-Python union-find, on one disjoint union of many small graphs."""

from __future__ import annotations

import math
import random

import pytest

from userscore.errors import InputError
from userscore.graph import connected_components
from userscore.graph._lineage import local_checkpoint

PATH_LENGTH = 256


def _pieces() -> list[list[tuple[int, int]]]:
    """Small graphs over local ids 0..k, each a separate piece of one test graph."""
    pieces = []
    for seed in (1, 2, 3):  # random sparse graphs: several components each, self-loops and repeats possible
        rng = random.Random(seed)
        pieces.append([(rng.randrange(30), rng.randrange(30)) for _ in range(24)])
    pieces.append([(i, i + 1) for i in range(9)])  # chain
    pieces.append([(5, leaf) for leaf in range(11) if leaf != 5])  # star whose centre is not the minimum
    order = random.Random(4).sample(range(8), 8)
    pieces.append([(order[i], order[(i + 1) % 8]) for i in range(8)])  # cycle
    pieces.append([(0, 1), (3, 2), (4, 4)])  # disjoint pieces, one only a self-loop
    pieces.append([(0, 0), (1, 1), (1, 2), (2, 2)])  # self-loops on a lone node and inside a component
    pieces.append([(0, 1), (1, 0), (0, 1), (2, 1), (2, 1)])  # duplicate edges, both orientations
    ids = random.Random(5).sample(range(PATH_LENGTH), PATH_LENGTH)
    pieces.append([(ids[i], ids[i + 1]) for i in range(PATH_LENGTH - 1)])  # long path, shuffled ids
    return pieces


def _union_find(edges: list[tuple]) -> dict:
    """node -> the smallest node of its component."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in list(parent)}


# Long ids beyond 32 bits; string ids whose order is not the numbers' ("p3.10" < "p3.9").
ID_KINDS = {
    "long": lambda piece, i: 10**12 + piece * 1000 + i,
    "string": lambda piece, i: f"p{piece}.{i}",
}


@pytest.fixture(scope="module", params=sorted(ID_KINDS))
def run(request, spark):
    """(edges, result, sizes of the plans handed to the checkpoint) for one id kind."""
    make_id = ID_KINDS[request.param]
    edges = [(make_id(p, a), make_id(p, b)) for p, piece in enumerate(_pieces()) for a, b in piece]
    plan_lines = []

    def recording_checkpoint(df):
        plan_lines.append(len(df._jdf.queryExecution().logical().treeString().splitlines()))
        return local_checkpoint(df)

    result = connected_components(
        spark.createDataFrame(edges, "src long, dst long" if request.param == "long" else "src string, dst string"),
        checkpoint=recording_checkpoint,
    )
    return edges, result, plan_lines


def test_components_equal_union_find(run):
    edges, result, _ = run
    got = {r["node"]: r["component"] for r in result.assignments.collect()}
    assert result.assignments.count() == len(got)  # one row per node
    assert got == _union_find(edges)


def test_rounds_grow_with_log_of_the_path_length(run):
    _, result, _ = run
    # The random pieces are small; the 256-node path sets the rounds. Kiveris et al. prove O(log^2 n) rounds
    # for the alternation and observe about log n; a plain-Python run of the same two steps over shuffled
    # paths of 16 to 4096 nodes took at most 1.0 * log2(n) rounds. c = 2 leaves room for an unlucky id
    # order, while anything linear in the diameter (min-label propagation: 255 rounds) fails by far.
    assert 3 <= result.rounds <= 2 * math.log2(PATH_LENGTH)


def test_lineage_does_not_grow_with_rounds(run):
    _, result, plan_lines = run
    assert len(plan_lines) == result.rounds + 1  # the first working set, then once per round
    # Every round's plan starts from the checkpointed edges, so all rounds hand over plans of one size.
    assert len(set(plan_lines[1:])) == 1


def test_max_rounds_reached_is_an_input_error(spark):
    ids = random.Random(6).sample(range(40), 40)
    edges = spark.createDataFrame([(ids[i], ids[i + 1]) for i in range(39)], "src int, dst int")
    with pytest.raises(
        InputError, match=r"did not form one star per component after 1 rounds \(\d+ edges left\); raise max_rounds"
    ):
        connected_components(edges, max_rounds=1)


def test_bad_input_names_the_column(spark):
    with pytest.raises(ValueError, match=r"null ids or unusable weights .* in 'b': 1 row\(s\)"):
        connected_components(spark.createDataFrame([(1, 2), (2, None)], "a long, b long"), src="a", dst="b")
    with pytest.raises(ValueError, match=r"'src' is bigint but 'dst' is string"):
        connected_components(spark.createDataFrame([(1, "2")], "src long, dst string"))
    with pytest.raises(ValueError, match=r"edges have no column\(s\) \['dst'\]; present: \['src', 'to'\]"):
        connected_components(spark.createDataFrame([(1, 2)], "src long, to long"))
