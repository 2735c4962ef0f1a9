"""Validation metrics, computed distributed; only bounded aggregates reach the driver.

- AUC-ROC and AUC-PR: Spark's BinaryClassificationEvaluator with numBins=0 (exact: the curve over
  every distinct score, sorted on the executors).
- Brier score and precision/recall/accuracy at each tier threshold (predict 1 in that tier or above): one
  global aggregation.
- KS and the ROC plot: counts per fine score bin (``curve_bins`` equal-width bins), cumulated on the
  driver; exact when no two distinct scores share a bin.
- Lift and gain by decile: decile cut points from approxQuantile; decile 1 holds the highest scores
  (a score belongs to decile 10 - #{cut points strictly below it}).
- ECE: sum over ``ece_bins`` equal-width bins of (rows in bin / rows) * |mean score - positive rate|.
- Tiers: observed positive rate per risk tier, checked against the tier's probability range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.bands import Band
from userscore.config.models import EvaluationConfig

_DECILES = [i / 10 for i in range(1, 10)]


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one score column against the labels, plus the tables plots are drawn from."""

    metrics: dict[str, float]
    deciles: list[dict[str, float]]
    calibration: list[dict[str, float]]
    tiers: list[dict[str, object]]
    roc: list[tuple[float, float]] = field(default_factory=list)


def score_bin(score: Column, bins: int) -> Column:
    """The equal-width bin (0 .. bins - 1) of a score in [0, 1]; a score of 1 falls in the last bin."""
    return F.least(F.floor(score * bins), F.lit(bins - 1)).cast("int")


def tier_bounds(tiers: Sequence[Band]) -> list[tuple[str, float, float]]:
    """The target's tiers (highest first, as configured) lowest first: (name, lower bound, upper bound);
    the lowest tier starts at 0 and the highest ends at 1. Whether a bound itself belongs to the tier above
    (``min``) or below (``above``) is decided by :func:`_tier_index`, exactly as scoring cuts."""
    ascending = list(reversed(tiers))
    lows = [0.0 if b.bound is None else b.bound for b in ascending]
    return [(b.name, lows[i], lows[i + 1] if i + 1 < len(lows) else 1.0) for i, b in enumerate(ascending)]


def _tier_index(score: Column, tiers: Sequence[Band]) -> Column:
    """The position of a score's tier counted from the lowest (0): the first tier whose bound holds
    (:meth:`Band.holds`, as scoring's :func:`~userscore.scoring.tiers.band`)."""
    *bounded, _ = tiers
    top = len(tiers) - 1
    expr = None
    for i, b in enumerate(bounded):
        holds = b.holds(score)
        expr = F.when(holds, F.lit(top - i)) if expr is None else expr.when(holds, F.lit(top - i))
    return expr.otherwise(F.lit(0))


def area_under(scored: DataFrame, score: str, label: str, metric: str) -> float:
    """Exact area under the ROC ("areaUnderROC") or precision-recall ("areaUnderPR") curve."""
    evaluator = BinaryClassificationEvaluator(rawPredictionCol=score, labelCol=label, metricName=metric, numBins=0)
    return float(evaluator.evaluate(scored))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def evaluate(scored: DataFrame, score: str, label: str, tiers: Sequence[Band], config: EvaluationConfig) -> Evaluation:
    """All validation metrics of ``score`` (a probability in [0, 1]) against ``label`` (0/1); ``tiers``:
    the target's risk tiers (``models.targets.<t>.tiers``, the ones scoring cuts with).

    Four Spark jobs: decile cut points, one aggregation by (fine bin, ECE bin, tier, decile) whose
    result is bounded by the bin counts, and the two exact curve areas. ``scored`` should be cached.
    """
    data = scored.select(F.col(score).cast("double").alias("s"), F.col(label).cast("double").alias("y"))
    bounds = tier_bounds(tiers)
    cuts = data.approxQuantile("s", _DECILES, config.quantile_relative_error)
    decile = F.lit(10) - sum((F.col("s") > F.lit(c)).cast("int") for c in cuts) if cuts else F.lit(1)
    tier = _tier_index(F.col("s"), tiers)
    groups = (
        data.groupBy(
            score_bin(F.col("s"), config.curve_bins).alias("fine"),
            score_bin(F.col("s"), config.ece_bins).alias("ece"),
            tier.alias("tier"),
            decile.alias("decile"),
        )
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum("y").alias("p"),
            F.sum("s").alias("sum_s"),
            F.sum((F.col("s") - F.col("y")) ** 2).alias("sq"),
            F.min("s").alias("min_s"),
            F.max("s").alias("max_s"),
        )
        .collect()
    )
    cells = [
        (
            r["fine"],
            r["ece"],
            r["tier"],
            r["decile"],
            int(r["n"]),
            int(r["p"]),
            r["sum_s"],
            r["sq"],
            r["min_s"],
            r["max_s"],
        )
        for r in groups
    ]
    n = sum(c[4] for c in cells)
    positives = sum(c[5] for c in cells)
    metrics: dict[str, float] = {
        "rows": float(n),
        "positive_rate": _ratio(positives, n),
        "auc": area_under(data, "s", "y", "areaUnderROC") if n else 0.0,
        "auc_pr": area_under(data, "s", "y", "areaUnderPR") if n else 0.0,
        "brier": _ratio(sum(c[7] for c in cells), n),
    }
    for i, (name, low, _) in enumerate(bounds):
        if low <= 0.0:
            continue
        # Predicted positive at threshold ``low`` = every row in this tier or a higher one.
        pp = sum(c[4] for c in cells if c[2] >= i)
        tp = sum(c[5] for c in cells if c[2] >= i)
        tn = (n - positives) - (pp - tp)
        metrics[f"precision_at_{name}"] = _ratio(tp, pp)
        metrics[f"recall_at_{name}"] = _ratio(tp, positives)
        metrics[f"accuracy_at_{name}"] = _ratio(tp + tn, n)
    ks, roc = _ks_and_roc(_sum_by(cells, 0), positives, n - positives)
    metrics["ks"] = ks
    calibration = [
        {"bin": float(b), "rows": float(cn), "mean_score": ss / cn, "positive_rate": cp / cn}
        for b, (cn, cp, ss, _, _, _) in sorted(_sum_by(cells, 1).items())
    ]
    metrics["ece"] = sum(b["rows"] / n * abs(b["mean_score"] - b["positive_rate"]) for b in calibration) if n else 0.0
    deciles = _deciles(_sum_by(cells, 3), positives, n)
    for d in deciles:
        metrics[f"lift_d{d['decile']}"] = d["lift"]
        metrics[f"gain_d{d['decile']}"] = d["cumulative_gain"]
    tier_rows = _tiers(_sum_by(cells, 2), bounds)
    for t in tier_rows:
        metrics[f"tier_{t['tier']}_rate"] = t["positive_rate"]
        metrics[f"tier_{t['tier']}_share"] = _ratio(t["rows"], n)
    metrics["tiers_consistent"] = float(all(t["consistent"] for t in tier_rows))
    return Evaluation(metrics, deciles, calibration, tier_rows, roc)


def _sum_by(cells: list[tuple], key: int) -> dict[int, tuple[int, int, float, float, float, float]]:
    """Roll the aggregated cells up to one key: (rows, positives, sum score, sum sq error, min, max)."""
    out: dict[int, tuple[int, int, float, float, float, float]] = {}
    for c in cells:
        n, p, ss, sq, lo, hi = out.get(c[key], (0, 0, 0.0, 0.0, math.inf, -math.inf))
        out[c[key]] = (n + c[4], p + c[5], ss + c[6], sq + c[7], min(lo, c[8]), max(hi, c[9]))
    return out


def _ks_and_roc(by_bin: dict, positives: int, negatives: int) -> tuple[float, list[tuple[float, float]]]:
    """KS = max |TPR - FPR| over thresholds at bin edges, walking from the highest scores down."""
    tp = fp = 0
    ks = 0.0
    roc = [(0.0, 0.0)]
    for _, (count, pos, *_rest) in sorted(by_bin.items(), reverse=True):
        tp += pos
        fp += count - pos
        tpr, fpr = _ratio(tp, positives), _ratio(fp, negatives)
        ks = max(ks, abs(tpr - fpr))
        roc.append((fpr, tpr))
    return ks, roc


def _deciles(by_decile: dict, positives: int, n: int) -> list[dict[str, float]]:
    if not n:
        return []
    base_rate = _ratio(positives, n)
    out: list[dict[str, float]] = []
    cum_n = cum_p = 0
    for d in range(1, 11):
        rows, pos, _, _, low, high = by_decile.get(d, (0, 0, 0.0, 0.0, math.nan, math.nan))
        cum_n, cum_p = cum_n + rows, cum_p + pos
        out.append(
            {
                "decile": d,
                "rows": rows,
                "positives": pos,
                "positive_rate": _ratio(pos, rows),
                "lift": _ratio(_ratio(pos, rows), base_rate),
                "cumulative_gain": _ratio(cum_p, positives),
                "cumulative_lift": _ratio(_ratio(cum_p, cum_n), base_rate),
                "min_score": float(low),
                "max_score": float(high),
            }
        )
    return out


def _tiers(by_tier: dict, bounds: list[tuple[str, float, float]]) -> list[dict[str, object]]:
    out = []
    for i, (name, low, high) in enumerate(bounds):
        rows, pos, sum_s, *_ = by_tier.get(i, (0, 0, 0.0, 0.0, 0.0, 0.0))
        rate = _ratio(pos, rows)
        out.append(
            {
                "tier": name,
                "low": low,
                "high": high,
                "rows": rows,
                "positives": pos,
                "positive_rate": rate,
                "mean_score": _ratio(sum_s, rows),
                "consistent": tier_consistent(rate, rows, low, high),
            }
        )
    return out


def tier_consistent(rate: float, rows: int, low: float, high: float, z: float = 1.96) -> bool:
    """Whether an observed rate over ``rows`` is within the tier's [low, high] up to sampling noise
    (a two-sided ``z`` binomial margin at the nearer bound). An empty tier is consistent."""
    if rows == 0:
        return True
    if low <= rate <= high:
        return True
    bound = low if rate < low else high
    return abs(rate - bound) <= z * math.sqrt(max(bound * (1 - bound), 1e-12) / rows)
