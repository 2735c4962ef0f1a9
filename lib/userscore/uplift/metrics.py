"""Uplift metrics on Spark with scikit-uplift's definitions (sklift.metrics 0.5.1; docs/uplift.md).

Rows: a score (predicted uplift, or any ranking), the arm (1 treated, 0 control) and a binary outcome.
Curves run over the distinct scores, highest first (ties move together), from (0, 0):

- Qini curve at the first n rows: Q(n) = Y_t(n) - Y_c(n) N_t(n) / N_c(n) (0 while N_c(n) = 0);
- uplift curve: U(n) = (Y_t(n) / N_t(n) - Y_c(n) / N_c(n)) n (a ratio with a zero count is 0);
- Qini coefficient (``qini_auc_score``, negative_effect=True): (A - B) / (P - B), A the trapezoid area under
  the Qini curve, P the area under the perfect one (the curve of the score y t - y (1 - t)), B the area
  under the straight line from (0, 0) to the perfect curve's end;
- uplift AUC (``uplift_auc_score``): the same with uplift curves, the perfect score 2 [y = t] + y if the
  control responders outnumber the treated non-responders, else 2 [y = t] + t;
- uplift at k (``uplift_at_k``, strategy overall): response rate of the treated minus that of the control
  users among the first int(k n) rows by score (ties broken by ``order_by``; sklift breaks them by the
  reverse of the input order).

With the true per-user effect known (generated data), the "true Qini" of a score (:func:`effect_qini`):
the curve at the first n rows is the sum of their true effects (the conversions the contacts really
add); (A - B) / (P - B) with P the curve of the effect itself and B the straight line to the total.

The curves are computed over the (score, counts) groups sorted in ONE partition: evaluation sets (one
campaign's users) are millions of rows at most, and the groups are at most that many.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


@dataclass(frozen=True)
class UpliftMetrics:
    rows: int
    qini_coefficient: float | None
    uplift_auc: float | None
    uplift_at_k: float | None
    k: float


def _area(df: DataFrame, score: str, arm: str, outcome: str, kind: str) -> float:
    """The area under the Qini (kind 'qini') or uplift ('uplift') curve of ``score``."""
    groups = df.groupBy(F.col(score).alias("_s")).agg(
        F.count(F.lit(1)).alias("_rows"),
        F.sum(arm).alias("_nt"),
        F.sum(F.col(arm) * F.col(outcome)).alias("_yt"),
        F.sum((1 - F.col(arm)) * F.col(outcome)).alias("_yc"),
    )
    ordered = Window.orderBy(F.col("_s").desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    cumulative = groups.select(
        "_s",
        F.sum("_rows").over(ordered).alias("n"),
        F.sum("_nt").over(ordered).alias("nt"),
        F.sum("_yt").over(ordered).alias("yt"),
        F.sum("_yc").over(ordered).alias("yc"),
    ).withColumn("nc", F.col("n") - F.col("nt"))
    if kind == "qini":
        value = F.col("yt") - F.when(F.col("nc") > 0, F.col("yc") * F.col("nt") / F.col("nc")).otherwise(0.0)
    else:
        rate_t = F.when(F.col("nt") > 0, F.col("yt") / F.col("nt")).otherwise(0.0)
        rate_c = F.when(F.col("nc") > 0, F.col("yc") / F.col("nc")).otherwise(0.0)
        value = (rate_t - rate_c) * F.col("n")
    return _trapezoids(cumulative.select("_s", "n", value.alias("v")))


def _trapezoids(points: DataFrame) -> float:
    """The area under a curve through (0, 0) and ``points`` (``n``, ``v``), taken in descending ``_s``."""
    previous = Window.orderBy(F.col("_s").desc())
    segments = points.select(
        "n",
        "v",
        F.coalesce(F.lag("n").over(previous), F.lit(0)).alias("_prev_n"),
        F.coalesce(F.lag("v").over(previous), F.lit(0.0)).alias("_prev_v"),
    )
    trapezoids = (F.col("n") - F.col("_prev_n")) * (F.col("v") + F.col("_prev_v")) / 2
    return segments.agg(F.sum(trapezoids).alias("area")).first()["area"] or 0.0


def _endpoint(df: DataFrame, arm: str, outcome: str) -> tuple[int, float, float]:
    """(n, Qini at n, uplift curve at n) of all rows: the baselines' end points."""
    r = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(arm).alias("nt"),
        F.sum(F.col(arm) * F.col(outcome)).alias("yt"),
        F.sum((1 - F.col(arm)) * F.col(outcome)).alias("yc"),
    ).first()
    n, nt, yt, yc = r["n"], r["nt"] or 0, r["yt"] or 0, r["yc"] or 0
    nc = n - nt
    qini = yt - (yc * nt / nc if nc else 0.0)
    uplift = ((yt / nt if nt else 0.0) - (yc / nc if nc else 0.0)) * n
    return n, qini, uplift


def uplift_metrics(df: DataFrame, score: str, arm: str, outcome: str, order_by: str, k: float = 0.3) -> UpliftMetrics:
    """Qini coefficient, uplift AUC and uplift at ``k`` of ``score`` over ``df`` (arm and outcome 0/1 ints);
    None where sklift would divide by zero (no rows, one arm only, a perfect curve on its baseline)."""
    rows = df.select(
        F.col(score).cast("double").alias("_score"),
        F.col(arm).cast("long").alias("_t"),
        F.col(outcome).cast("long").alias("_y"),
        F.col(order_by).alias("_order"),
    ).persist()
    try:
        n, qini_end, uplift_end = _endpoint(rows, "_t", "_y")
        if n == 0:
            return UpliftMetrics(0, None, None, None, k)
        counts = rows.agg(
            F.sum(F.col("_y") * (1 - F.col("_t"))).alias("cr"), F.sum((1 - F.col("_y")) * F.col("_t")).alias("tn")
        ).first()
        perfect_qini = rows.withColumn("_p", F.col("_y") * F.col("_t") - F.col("_y") * (1 - F.col("_t")))
        summand = F.col("_y") if (counts["cr"] or 0) > (counts["tn"] or 0) else F.col("_t")
        perfect_uplift = rows.withColumn("_p", 2 * (F.col("_y") == F.col("_t")).cast("long") + summand)
        # The baselines run from (0, 0) to the perfect curves' end points, which are the whole set's.
        qini = _ratio(
            _area(rows, "_score", "_t", "_y", "qini"), _area(perfect_qini, "_p", "_t", "_y", "qini"), n * qini_end / 2
        )
        auc = _ratio(
            _area(rows, "_score", "_t", "_y", "uplift"),
            _area(perfect_uplift, "_p", "_t", "_y", "uplift"),
            n * uplift_end / 2,
        )
        return UpliftMetrics(n, qini, auc, _uplift_at_k(rows, n, k), k)
    finally:
        rows.unpersist()


def _effect_area(df: DataFrame, score: str, effect: str) -> float:
    """The trapezoid area under the cumulative-effect curve of ``score`` (ties move together)."""
    groups = df.groupBy(F.col(score).alias("_s")).agg(F.count(F.lit(1)).alias("_rows"), F.sum(effect).alias("_e"))
    ordered = Window.orderBy(F.col("_s").desc()).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return _trapezoids(
        groups.select("_s", F.sum("_rows").over(ordered).alias("n"), F.sum("_e").over(ordered).alias("v"))
    )


def effect_qini(df: DataFrame, score: str, effect: str) -> float | None:
    """The Qini coefficient of ``score`` against each row's true ``effect`` (None when every effect ranks
    alike: the perfect curve is the straight line)."""
    rows = df.select(F.col(score).cast("double").alias("_score"), F.col(effect).cast("double").alias("_effect"))
    totals = rows.agg(F.count(F.lit(1)).alias("n"), F.sum("_effect").alias("total")).first()
    if not totals["n"]:
        return None
    baseline = totals["n"] * (totals["total"] or 0.0) / 2
    actual = _effect_area(rows, "_score", "_effect")
    perfect = _effect_area(rows, "_effect", "_effect")
    return _ratio(actual, perfect, baseline)


def _ratio(actual: float, perfect: float, baseline: float) -> float | None:
    return None if perfect == baseline else (actual - baseline) / (perfect - baseline)


def _uplift_at_k(rows: DataFrame, n: int, k: float) -> float | None:
    size = int(n * k)
    ranked = Window.orderBy(F.col("_score").desc(), F.col("_order"))
    top = rows.withColumn("_rank", F.row_number().over(ranked)).where(F.col("_rank") <= size)
    r = top.agg(
        F.avg(F.when(F.col("_t") == 1, F.col("_y"))).alias("t"), F.avg(F.when(F.col("_t") == 0, F.col("_y"))).alias("c")
    ).first()
    return None if r["t"] is None or r["c"] is None else r["t"] - r["c"]
