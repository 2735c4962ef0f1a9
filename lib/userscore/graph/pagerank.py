"""PageRank by power iteration over DataFrames, with networkx.pagerank's definition and convergence test.

For N nodes, damping d, edge weights summed per (src, dst) pair and normalised by each src's total
out-weight into transition probabilities p(u, v), one iteration is

    x'(v) = d * (sum over edges u->v of x(u) * p(u, v) + D / N) + (1 - d) / N

where D is the rank held by the dangling nodes (no out-weight), spread uniformly over all nodes. It starts
from x = 1/N and stops when sum |x' - x| < N * tol, as networkx.pagerank (personalization=None,
dangling=None) does; at max_iter it stops anyway, with converged=False, where networkx raises.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.graph._inputs import check_inputs
from userscore.graph._lineage import Checkpoint, Iterates, local_checkpoint


@dataclass(frozen=True)
class PageRank:
    """``ranks``: columns node, rank (every node of ``nodes`` or of the edges; ranks sum to 1)."""

    ranks: DataFrame
    iterations: int
    converged: bool


def pagerank(
    edges: DataFrame,
    *,
    nodes: DataFrame | None = None,
    src: str = "src",
    dst: str = "dst",
    weight: str | None = "weight",
    damping: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 100,
    checkpoint: Checkpoint | None = None,
    checkpoint_every: int = 5,
) -> PageRank:
    """PageRank of the directed graph ``edges`` (plus the isolated nodes in ``nodes``, column ``node``).

    Weights (column ``weight``; None: 1.0 each) must be non-negative and finite; parallel edges add up,
    self-loops are ordinary edges, a node whose out-weights sum to 0 is dangling. Null ids or bad weights
    raise ValueError. N and the dangling mass are scalars brought to the driver each iteration, never ranks.

    Args:
        checkpoint: materialises a frame and cuts its lineage (default ``df.localCheckpoint(eager=True)``);
            applied to the transition frame once and to the ranks every ``checkpoint_every`` iterations;
            the iterations in between are cached. On Databricks serverless (no cache) pass
            ``checkpoint_every=1`` and a checkpoint that writes a scratch Delta table and reads it back.
    """
    if not 0 < damping < 1:
        raise ValueError(f"pagerank: damping must be in (0, 1); found {damping}")
    if tol <= 0 or max_iter < 1:
        raise ValueError(f"pagerank: tol must be > 0 and max_iter >= 1; found tol={tol}, max_iter={max_iter}")
    check_inputs("pagerank", edges, src, dst, weight, nodes)
    cp = checkpoint or local_checkpoint
    iterates = Iterates(cp, checkpoint_every)

    w = F.col(weight).cast("double") if weight is not None else F.lit(1.0)
    e = edges.select(F.col(src).alias("src"), F.col(dst).alias("dst"), w.alias("w"))
    out_weight = e.groupBy("src").agg(F.sum("w").alias("out_w"))
    # Parallel edges need no pass of their own: their shares add up in the contributions' sum.
    links = cp(
        e.where(F.col("w") > 0).join(out_weight, "src").select("src", "dst", (F.col("w") / F.col("out_w")).alias("p"))
    )
    node_ids = e.select(F.col("src").alias("node")).union(e.select(F.col("dst").alias("node")))
    if nodes is not None:
        node_ids = node_ids.union(nodes.select("node"))
    flagged = cp(
        node_ids.distinct()
        .join(out_weight.withColumnRenamed("src", "node"), "node", "left")
        .select("node", (F.coalesce("out_w", F.lit(0.0)) == 0).alias("dangling"))
    )
    n, n_dangling = flagged.agg(F.count("*"), F.count_if("dangling")).first()
    if n == 0:
        return PageRank(ranks=flagged.select("node", F.lit(0.0).alias("rank")), iterations=0, converged=True)

    ranks = flagged.select("node", F.lit(1.0 / n).alias("rank"), "dangling")
    dangling_mass = n_dangling / n
    converged, iteration = False, 0
    while iteration < max_iter and not converged:
        iteration += 1
        # Contributions are summed per dst with partial aggregation, so a celebrity with a huge in-degree is
        # pre-summed in every map task rather than shuffled edge by edge to one reducer. The join on src (a
        # huge out-degree) is left to AQE's skew-join handling.
        incoming = (
            links.join(ranks.select(F.col("node").alias("src"), "rank"), "src")
            .groupBy("dst")
            .agg(F.sum(F.col("rank") * F.col("p")).alias("incoming"))
        )
        base = damping * dangling_mass / n + (1 - damping) / n
        step = ranks.join(incoming.withColumnRenamed("dst", "node"), "node", "left").select(
            "node",
            (damping * F.coalesce("incoming", F.lit(0.0)) + base).alias("rank"),
            "dangling",
            F.col("rank").alias("previous"),
        )
        ranks = iterates.keep(step, iteration)
        change, dangling_mass = ranks.agg(
            F.sum(F.abs(F.col("rank") - F.col("previous"))),
            F.sum(F.when(F.col("dangling"), F.col("rank")).otherwise(0.0)),
        ).first()
        iterates.release()
        converged = change < n * tol
    ranks = iterates.final(ranks)
    return PageRank(ranks=ranks.select("node", "rank"), iterations=iteration, converged=converged)
