"""Communities by synchronous, deterministic label propagation over DataFrames.

Label propagation: Raghavan, Albert, Kumara, "Near linear time algorithm to detect community structures in
large-scale networks", Phys. Rev. E 76, 036106 (2007). Their updates are asynchronous with random ties;
updating every node at once (as distributed implementations do) makes a bipartite graph swap its two
sides' labels forever, as the paper notes. Two changes make it deterministic and damp that swap:

- ties go to the smallest label (scores compared after rounding to 9 decimals, so the order in which Spark
  adds up float weights cannot break a tie);
- a node's own current label votes with weight ``self_weight`` (default 1.0), as if every node had a
  self-loop, the device LabelRank uses to stabilise propagation (Xie, Szymanski, PAKDD 2013). With 0 the
  node follows its neighbours only (GraphX's rule), and an edge a-b swaps labels forever.

Edges are undirected: each edge votes both ways (a self-loop votes once, for the node's own label), so the
weight between u and v is the sum over all edges u->v and v->u; zero-weight edges do not vote. A node
without neighbours keeps its own label.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.graph._inputs import check_inputs
from userscore.graph._lineage import Checkpoint, Iterates, local_checkpoint


@dataclass(frozen=True)
class Communities:
    """``labels``: columns node, label (a node id); ``iterations``: update rounds run (when converged, the
    last one changed nothing); ``converged``: False when max_iter rounds all changed some label."""

    labels: DataFrame
    iterations: int
    converged: bool


def label_propagation(
    edges: DataFrame,
    *,
    nodes: DataFrame | None = None,
    src: str = "src",
    dst: str = "dst",
    weight: str | None = None,
    max_iter: int = 20,
    checkpoint: Checkpoint | None = None,
    checkpoint_every: int = 5,
    self_weight: float = 1.0,
) -> Communities:
    """Every node's community label: initially its own id, then each round (all nodes at once) the label
    with the largest total weight among its neighbours' labels and its own (weighted ``self_weight``),
    ties to the smallest label. Stops when a round changes no label, or after ``max_iter`` rounds.

    Args:
        nodes: extra nodes (column ``node``), isolated ones keep their own label.
        weight: non-negative edge weight column; None: 1.0 each.
        checkpoint: as in ``pagerank``: applied to the vote frame once and to the labels every
            ``checkpoint_every`` rounds, the rounds in between cached.
    """
    if max_iter < 1 or self_weight < 0:
        raise ValueError(f"label_propagation: need max_iter >= 1, self_weight >= 0; found {max_iter}, {self_weight}")
    check_inputs("label_propagation", edges, src, dst, weight, nodes)
    cp = checkpoint or local_checkpoint
    iterates = Iterates(cp, checkpoint_every)

    w = F.col(weight).cast("double") if weight is not None else F.lit(1.0)
    e = edges.select(F.col(src).alias("a"), F.col(dst).alias("b"), w.alias("w")).where(F.col("w") > 0)
    node_ids = e.select(F.col("a").alias("node")).union(e.select(F.col("b").alias("node")))
    if nodes is not None:
        node_ids = node_ids.union(nodes.select("node"))
    node_ids = node_ids.distinct()
    # (node, voter, weight): voter's label counts for node. Every node votes for itself, even with weight 0:
    # that row carries its current label, and keeps a node without neighbours on its own label.
    votes = cp(
        e.select(F.col("a").alias("node"), F.col("b").alias("voter"), "w")
        .union(e.where(F.col("a") != F.col("b")).select(F.col("b").alias("node"), F.col("a").alias("voter"), "w"))
        .union(node_ids.select("node", F.col("node").alias("voter"), F.lit(float(self_weight)).alias("w")))
        .groupBy("node", "voter")
        .agg(F.sum("w").alias("w"))
    )
    labels = node_ids.select("node", F.col("node").alias("label"))
    converged, iteration = False, 0
    while iteration < max_iter and not converged:
        iteration += 1
        # Two groupBy aggregations (partial aggregation), no Window by node: a celebrity's votes are pre-summed
        # per (node, label) in every map task. The join on voter (a celebrity votes for all its followers) is
        # left to AQE's skew-join handling.
        scores = (
            votes.join(labels.select(F.col("node").alias("voter"), "label"), "voter")
            .groupBy("node", "label")
            .agg(F.round(F.sum("w"), 9).alias("score"), F.max(F.col("voter") == F.col("node")).alias("own"))
        )
        step = scores.groupBy("node").agg(
            F.min_by("label", F.struct((-F.col("score")).alias("s"), F.col("label").alias("l"))).alias("label"),
            F.max(F.when(F.col("own"), F.col("label"))).alias("previous"),
        )
        labels = iterates.keep(step, iteration)
        changed = labels.agg(F.count_if(F.col("label") != F.col("previous"))).first()[0]
        iterates.release()
        converged = changed == 0
    labels = iterates.final(labels)
    return Communities(labels=labels.select("node", "label"), iterations=iteration, converged=converged)
