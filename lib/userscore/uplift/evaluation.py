"""Judge rankings of the held-out campaign's users by the uplift they find: the model, the baseline,
random order and ranking by propensity (a target champion's probability at the send: the likeliest buyers,
who may buy anyway). Every ranking is scored over the same units, so their metrics compare directly.

Per ranking: Qini coefficient, uplift AUC, uplift at k (userscore.uplift.metrics, scikit-uplift's
definitions) and the observed uplift by decile of the score with its standard error,
sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c) (decile 1 = the highest scores; cut at approximate
deciles per ranking). Only aggregates reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.hashing import uniform_hash
from userscore.keys import USER_ID
from userscore.uplift.dataset import CONVERTED, TREATED
from userscore.uplift.metrics import UpliftMetrics, uplift_metrics

T_LEARNER, BASELINE, RANDOM = "t_learner", "class_transformation", "random"
PROPENSITY = "propensity_"
RANKING, SCORE = "ranking", "score"
UNIT_KEYS = ("campaign_id", "campaign_date", USER_ID, TREATED, CONVERTED)


@dataclass(frozen=True)
class RankingResult:
    ranking: str
    metrics: UpliftMetrics
    deciles: list[dict]


def random_score(seed: int) -> F.Column:
    """A reproducible random order of the users (a hash of the user id and the seed)."""
    return uniform_hash(f"uplift-random-{seed}", F.col(USER_ID))


def ranking_frame(scored: DataFrame, name: str, score: F.Column) -> DataFrame:
    """The units of ``scored`` (``UNIT_KEYS``) with ``ranking`` = name and ``score``: one ranking's rows."""
    return scored.select(*UNIT_KEYS, F.lit(name).alias(RANKING), score.cast("double").alias(SCORE))


def deciles(long: DataFrame, buckets: int) -> dict[str, list[dict]]:
    """ranking -> per decile (1 = highest scores): users per arm, conversion rates, uplift and its
    standard error."""
    probabilities = [i / buckets for i in range(1, buckets)]
    cuts = long.groupBy(RANKING).agg(F.percentile_approx(SCORE, probabilities, 10_000).alias("_cuts"))
    above = F.aggregate(F.col("_cuts"), F.lit(0), lambda acc, cut: acc + F.when(F.col(SCORE) > cut, 1).otherwise(0))
    rows = (
        long.where(F.col(SCORE).isNotNull())
        .join(F.broadcast(cuts), RANKING)
        .withColumn("decile", F.lit(buckets) - above)
        .groupBy(RANKING, "decile")
        .agg(
            F.sum(TREATED).alias("treated"),
            F.sum(1 - F.col(TREATED)).alias("control"),
            F.sum(F.col(TREATED) * F.col(CONVERTED)).alias("treated_conversions"),
            F.sum((1 - F.col(TREATED)) * F.col(CONVERTED)).alias("control_conversions"),
        )
        .orderBy(RANKING, "decile")
        .collect()
    )
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r[RANKING], []).append(decile_row(r.asDict()))
    return out


def decile_row(counts: dict) -> dict:
    """The decile's counts with conversion rates, uplift and its standard error (None without both arms)."""
    nt, nc = counts["treated"], counts["control"]
    row = dict(counts)
    if not nt or not nc:
        return row | {"rate_treated": None, "rate_control": None, "uplift": None, "uplift_se": None}
    pt, pc = counts["treated_conversions"] / nt, counts["control_conversions"] / nc
    se = (pt * (1 - pt) / nt + pc * (1 - pc) / nc) ** 0.5
    return row | {"rate_treated": pt, "rate_control": pc, "uplift": pt - pc, "uplift_se": se}


def evaluate_rankings(long: DataFrame, names: Sequence[str], k: float, buckets: int) -> dict[str, RankingResult]:
    """The metrics and deciles of every ranking in ``names`` over ``long`` (the union of their
    :func:`ranking_frame`; read several times: persist it)."""
    by_decile = deciles(long, buckets)
    results = {}
    for name in names:
        mine = long.where((F.col(RANKING) == name) & F.col(SCORE).isNotNull())
        metrics = uplift_metrics(mine, SCORE, TREATED, CONVERTED, order_by=USER_ID, k=k)
        results[name] = RankingResult(name, metrics, by_decile.get(name, []))
    return results
