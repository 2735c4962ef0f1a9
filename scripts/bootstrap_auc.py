"""Paired bootstrap intervals of ROC AUCs, computed in Spark (no per-user rows reach the driver).

Each replicate b re-weights every customer with a Poisson(1) count drawn from a hash of (user, b)
(``userscore.hashing.uniform_hash`` through the Poisson inverse CDF), the usual large-sample stand-in for
resampling customers with replacement. Every score is evaluated on the same weights in a replicate, so the
difference of two AUCs in one replicate is a paired draw. Per replicate and score, the weighted AUC with ties
counted half is one aggregation by (replicate, score value) and a running sum over the score values; only
replicates x scores numbers are collected. Intervals are the 2.5% and 97.5% percentiles of the replicates.

Reproducible outside Spark: u = int(md5("<salt>|<user_id>|<b>").hexdigest()[:8], 16) / 2**32 and the weight
is the smallest k with P(Poisson(1) <= k) > u.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.hashing import uniform_hash

REPLICATE = "replicate"
_WEIGHT, _VALUE, _POS, _NEG = "_w", "_v", "_pos", "_neg"
# P(Poisson(1) <= k) for k = 0..11; a draw beyond 12 has probability < 1e-9 (capped at 12).
_POISSON_CDF = tuple(sum(math.exp(-1.0) / math.factorial(j) for j in range(k + 1)) for k in range(12))


@dataclass(frozen=True)
class Interval:
    """A point estimate (all weights 1) and its bootstrap 95% percentile interval."""

    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"


def poisson_weight(u: Column) -> Column:
    """The Poisson(1) draw of a uniform ``u`` in [0, 1): the smallest k with P(X <= k) > u."""
    weight = F.lit(12)
    for k in reversed(range(len(_POISSON_CDF))):
        weight = F.when(u < F.lit(_POISSON_CDF[k]), F.lit(k)).otherwise(weight)
    return weight.cast("double")


def weighted_aucs(rows: DataFrame, scores: Sequence[str], label: str, group: str) -> DataFrame:
    """Per ``group`` value: the weighted ROC AUC of each score (ties half), from columns group, label
    (0/1), the scores and the weight ``_w``. One row per group, one column per score."""
    result = None
    order = Window.partitionBy(group).orderBy(_VALUE).rowsBetween(Window.unboundedPreceding, -1)
    for score in scores:
        by_value = rows.groupBy(group, F.col(score).alias(_VALUE)).agg(
            F.sum(F.col(_WEIGHT) * F.col(label)).alias(_POS),
            F.sum(F.col(_WEIGHT) * (1 - F.col(label))).alias(_NEG),
        )
        below = F.coalesce(F.sum(_NEG).over(order), F.lit(0.0))
        area = (
            by_value.withColumn("_below", below)
            .groupBy(group)
            .agg(
                (F.sum(F.col(_POS) * (F.col("_below") + 0.5 * F.col(_NEG))) / (F.sum(_POS) * F.sum(_NEG))).alias(score)
            )
        )
        result = area if result is None else result.join(area, group)
    return result


def bootstrap_aucs(
    rankings: DataFrame,
    scores: Sequence[str],
    label: str,
    *,
    replicates: int,
    salt: str,
    key: str = "user_id",
) -> tuple[dict[str, Interval], dict[tuple[str, str], Interval]]:
    """AUC of each score with its interval, and of each pair's difference (first - second, paired).

    ``rankings``: one row per customer with ``key``, ``label`` (0/1) and the scores (higher ranks as more
    likely positive; no nulls).
    """
    nulls = rankings.agg(*[F.sum(F.col(s).isNull().cast("int")).alias(s) for s in scores]).first().asDict()
    if any(nulls.values()):
        raise ValueError(f"bootstrap_aucs: scores with nulls {nulls}")
    base = rankings.select(key, F.col(label).cast("double").alias(label), *[F.col(s).cast("double") for s in scores])
    unweighted = base.withColumn(REPLICATE, F.lit(-1)).withColumn(_WEIGHT, F.lit(1.0))
    estimate = weighted_aucs(unweighted, scores, label, REPLICATE).first().asDict()
    draws = rankings.sparkSession.range(replicates).withColumnRenamed("id", REPLICATE)
    weighted = (
        base.crossJoin(F.broadcast(draws))
        .withColumn(_WEIGHT, poisson_weight(uniform_hash(salt, key, REPLICATE)))
        .where(F.col(_WEIGHT) > 0)
    )
    per_replicate = weighted_aucs(weighted, scores, label, REPLICATE).orderBy(REPLICATE).toPandas()
    aucs = {s: per_replicate[s].to_numpy(dtype=float) for s in scores}

    def interval(point_estimate: float, values: np.ndarray) -> Interval:
        low, high = np.percentile(values, [2.5, 97.5])
        return Interval(float(point_estimate), float(low), float(high))

    singles = {s: interval(estimate[s], aucs[s]) for s in scores}
    pairs = [(a, b) for i, a in enumerate(scores) for b in scores[i + 1 :]]
    return singles, {(a, b): interval(estimate[a] - estimate[b], aucs[a] - aucs[b]) for a, b in pairs}
