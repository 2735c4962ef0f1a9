"""Checks of the edge and node frames every graph algorithm takes: columns, types, no null ids, usable weights."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import NumericType


def check_inputs(
    caller: str, edges: DataFrame, src: str, dst: str, weight: str | None = None, nodes: DataFrame | None = None
) -> None:
    """Raise ValueError naming the column when the inputs cannot be a graph.

    Column presence and types are checked on the schema; null ids and bad weights (null, NaN, infinite,
    negative) with one aggregation over the edges and one over ``nodes``: a scan without a shuffle, cheap
    next to the algorithms, and what keeps a bad row from silently dropping out of a join.
    """
    wanted = [c for c in (src, dst, weight) if c is not None]
    missing = [c for c in wanted if c not in edges.columns]
    if missing:
        raise ValueError(f"{caller}: edges have no column(s) {missing}; present: {edges.columns}")
    types = {c: edges.schema[c].dataType for c in wanted}
    if types[src] != types[dst]:
        raise ValueError(f"{caller}: {src!r} is {types[src].simpleString()} but {dst!r} is {types[dst].simpleString()}")
    if weight is not None and not isinstance(types[weight], NumericType):
        raise ValueError(f"{caller}: weight column {weight!r} is {types[weight].simpleString()}; expected a number")
    if nodes is not None:
        if "node" not in nodes.columns:
            raise ValueError(f"{caller}: nodes have no column 'node'; present: {nodes.columns}")
        node_type = nodes.schema["node"].dataType
        if node_type != types[src]:
            raise ValueError(
                f"{caller}: nodes.node is {node_type.simpleString()} but {src!r} is {types[src].simpleString()}"
            )

    checks = {src: F.col(src).isNull(), dst: F.col(dst).isNull()}
    if weight is not None:
        w = F.col(weight).cast("double")
        checks[weight] = w.isNull() | F.isnan(w) | (w < 0) | (w == float("inf"))
    counts = edges.agg(*(F.count_if(cond).alias(name) for name, cond in checks.items())).first()
    bad = {name: counts[name] for name in checks if counts[name]}
    if nodes is not None:
        null_nodes = nodes.agg(F.count_if(F.col("node").isNull())).first()[0]
        if null_nodes:
            bad["nodes.node"] = null_nodes
    if bad:
        detail = ", ".join(f"{name!r}: {n} row(s)" for name, n in bad.items())
        raise ValueError(
            f"{caller}: null ids or unusable weights (null, NaN, infinite or negative) in {detail}; "
            "drop or quarantine those rows first"
        )
