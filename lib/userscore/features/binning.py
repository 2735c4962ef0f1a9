"""Dynamic quantile scores: boundaries recomputed per snapshot, one approximate-quantile pass.

For each scored column, the quantiles at 1/bins, 2/bins, ... of its *population* (e.g. buyers) come
from ONE aggregation over all columns (``percentile_approx`` with accuracy = 1 / relative_error). Only
those few numbers per column reach the driver. Scores are then a CASE of ``value <= boundary``
comparisons, so equal values always get equal scores.

Ties: duplicate boundaries are merged and a boundary equal to the column's maximum is dropped, so every
bin holds at least one value (no empty bins). With k distinct boundaries (k + 1 bins) the bins get
scores spread over 1..bins: ``1 + round_half_up(i * (bins - 1) / k)`` for bin i = 0..k (lowest values
first), i.e. 1..5 when there are no ties; with ties the lowest bin still scores 1 and the highest 5. If
all values are equal (k = 0) everyone gets the middle score. For "lower is better" columns (recency)
the scores are mirrored. Rows outside the population get a fixed default score.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T


@dataclass(frozen=True)
class BinSpec:
    """A column to score: rows where ``population`` holds define (and get) its quantile bins."""

    column: str
    population: Column
    higher_is_better: bool = True


@dataclass(frozen=True)
class ColumnBins:
    """Effective bins of one column: ``upper_bounds`` (inclusive, ascending) and one score per bin."""

    column: str
    upper_bounds: tuple[float, ...]
    scores: tuple[int, ...]
    population: int


BOUNDARIES_SCHEMA = T.StructType(
    [
        T.StructField("as_of_date", T.DateType(), False),
        T.StructField("feature", T.StringType(), False),
        T.StructField("bin", T.IntegerType(), False),
        T.StructField("score", T.IntegerType(), False),
        T.StructField("lower_bound", T.DoubleType(), True),
        T.StructField("upper_bound", T.DoubleType(), True),
        T.StructField("population", T.LongType(), False),
        T.StructField("relative_error", T.DoubleType(), False),
    ]
)


def bin_scores(distinct_bounds: int, bins: int, higher_is_better: bool = True) -> tuple[int, ...]:
    """The score of each of the ``distinct_bounds + 1`` bins, lowest values first."""
    k = distinct_bounds
    if k == 0:
        return ((bins + 1) // 2,)
    scores = tuple(1 + math.floor(i * (bins - 1) / k + 0.5) for i in range(k + 1))
    return scores if higher_is_better else scores[::-1]


def quantile_bins(df: DataFrame, specs: Sequence[BinSpec], bins: int, relative_error: float) -> list[ColumnBins]:
    """Boundaries of every spec'd column from ONE aggregation over ``df`` (bounded result to the driver)."""
    probabilities = F.array(*[F.lit(i / bins) for i in range(1, bins)])
    accuracy = max(1, round(1.0 / relative_error))
    aggregates = []
    for i, spec in enumerate(specs):
        value = F.when(spec.population, F.col(spec.column).cast("double"))
        aggregates += [
            F.percentile_approx(value, probabilities, accuracy).alias(f"q{i}"),
            F.max(value).alias(f"max{i}"),
            F.count(value).alias(f"n{i}"),
        ]
    row = df.agg(*aggregates).first()
    result = []
    for i, spec in enumerate(specs):
        quantiles, top, population = row[f"q{i}"] or [], row[f"max{i}"], int(row[f"n{i}"])
        bounds = tuple(sorted({float(q) for q in quantiles if q is not None and top is not None and q < top}))
        scores = bin_scores(len(bounds), bins, spec.higher_is_better)
        result.append(ColumnBins(spec.column, bounds, scores, population))
    return result


def score_column(value: Column, population: Column, column_bins: ColumnBins, default: int) -> Column:
    """CASE over ``value <= boundary`` (equal values, equal score); ``default`` outside the population."""
    expr = F.when(~population, F.lit(default))
    for bound, score in zip(column_bins.upper_bounds, column_bins.scores, strict=False):
        expr = expr.when(value <= F.lit(bound), F.lit(score))
    return expr.otherwise(F.lit(column_bins.scores[-1])).cast("int")


def boundaries_frame(
    spark: SparkSession, as_of: dt.date, all_bins: Sequence[ColumnBins], relative_error: float
) -> DataFrame:
    """The audit rows: one per (column, bin) with its score and (lower exclusive, upper inclusive] bounds."""
    rows = []
    for cb in all_bins:
        edges = [None, *cb.upper_bounds, None]
        for b, score in enumerate(cb.scores):
            rows.append((as_of, cb.column, b + 1, score, edges[b], edges[b + 1], cb.population, relative_error))
    return spark.createDataFrame(rows, BOUNDARIES_SCHEMA)
