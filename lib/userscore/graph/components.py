"""Connected components of an undirected graph by large-star / small-star alternation on DataFrames.

Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in MapReduce and Beyond",
SoCC 2014. The working set is a set of edges ``(src, dst)`` with ``src > dst``. Both steps need, per node
``u``, ``m(u)`` = the smallest of ``u``'s smaller neighbours, one ``groupBy(src).min(dst)``:

- large-star: every edge ``(a, b)`` becomes ``(a, min(b, m(b)))``: each node's larger neighbours are linked
  to the minimum of its closed neighbourhood;
- small-star: every ``u`` with smaller neighbours is linked to ``m(u)``, and so is each of those neighbours.

Both keep each component connected and its minimum in it. The edges have converged when they form one star
per component centred at its minimum: every src has one edge and no dst is a src. Then every node's
component is its dst (or itself for the centres). Rounds grow with the logarithm of the diameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.errors import InputError
from userscore.graph._inputs import check_inputs
from userscore.graph._lineage import Checkpoint, local_checkpoint


@dataclass(frozen=True)
class Components:
    """``assignments``: columns node, component (the smallest node id of the node's component), one row per
    node of the edges; ``rounds``: large-star + small-star rounds run until the edges formed stars."""

    assignments: DataFrame
    rounds: int


def connected_components(
    edges: DataFrame,
    *,
    src: str = "src",
    dst: str = "dst",
    checkpoint: Checkpoint | None = None,
    max_rounds: int = 100,
) -> Components:
    """Label every node of the undirected graph ``edges`` with the smallest node id of its component.

    Node ids are of any orderable type, the same in ``src`` and ``dst`` (string ids order as strings).
    Self-loops and duplicate edges are allowed; a node with only a self-loop is its own component. Null ids
    raise ValueError (one scan of ``edges``). ``edges`` is read three times (the check, the first working
    set, the node list): pass a table read or a cached frame, not an expensive plan.

    Args:
        checkpoint: applied to the working edges once before the first round and after every round; it must
            materialise the frame and cut its lineage. Default ``df.localCheckpoint(eager=True)`` (Spark
            classic and Spark Connect 4.x). On Databricks serverless pass a function that writes the frame
            to a scratch Delta table and returns ``spark.read.table(...)`` of it.
        max_rounds: InputError when the edges have not converged after this many rounds (a diameter of
            about 2**max_rounds would need that many).
    """
    check_inputs("connected_components", edges, src, dst)
    cp = checkpoint or local_checkpoint
    pairs = edges.select(F.col(src).alias("a"), F.col(dst).alias("b")).where(F.col("a") != F.col("b"))
    work = cp(pairs.select(F.greatest("a", "b").alias("src"), F.least("a", "b").alias("dst")).distinct())
    rounds = 0
    while not _converged(work):
        if rounds == max_rounds:
            raise InputError(
                f"connected_components: the edges did not form one star per component after {max_rounds} "
                f"rounds ({work.count()} edges left); raise max_rounds"
            )
        work = cp(_small_star(_large_star(work)))
        rounds += 1
    node_ids = edges.select(F.col(src).alias("node")).union(edges.select(F.col(dst).alias("node"))).distinct()
    stars = work.select(F.col("src").alias("node"), F.col("dst").alias("component"))
    assignments = node_ids.join(stars, "node", "left").select(
        "node", F.coalesce("component", "node").alias("component")
    )
    return Components(assignments=assignments, rounds=rounds)


def _min_smaller_neighbour(work: DataFrame) -> DataFrame:
    # groupBy, not a Window partitioned by node: min is computed map-side first (partial aggregation), so a
    # node holding 1% of all edges sends one row per map task to its reducer instead of all its edges.
    return work.groupBy("src").agg(F.min("dst").alias("m"))


def _large_star(work: DataFrame) -> DataFrame:
    m = _min_smaller_neighbour(work).withColumnRenamed("src", "dst")
    # Left join on dst: a hub that many larger nodes point to is a skewed key on the left (edge) side, which
    # AQE's skew-join handling splits (it can split the left side of a left outer join).
    return work.join(m, "dst", "left").select("src", F.coalesce("m", "dst").alias("dst")).distinct()


def _small_star(work: DataFrame) -> DataFrame:
    m = _min_smaller_neighbour(work)
    linked = work.join(m, "src").where(F.col("dst") != F.col("m")).select(F.col("dst").alias("src"), "m")
    return m.union(linked).withColumnRenamed("m", "dst").distinct()


def _converged(work: DataFrame) -> bool:
    """True when ``work`` is one star per component: every src has exactly one edge and no dst is a src."""
    ends = work.select(F.col("src").alias("node"), F.lit(1).alias("out"), F.lit(0).alias("into")).union(
        work.select(F.col("dst").alias("node"), F.lit(0).alias("out"), F.lit(1).alias("into"))
    )
    # One aggregation per node (partial aggregation again, see _min_smaller_neighbour); isEmpty stops at the
    # first offending node.
    per_node = ends.groupBy("node").agg(F.sum("out").alias("out"), F.max("into").alias("into"))
    return per_node.where((F.col("out") > 1) | ((F.col("out") == 1) & (F.col("into") == 1))).isEmpty()
