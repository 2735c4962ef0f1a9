"""The two ways of scoring the fused pass is compared with: benchmark-only, so outside the library
(scripts/bench_score.py imports it, run as a script; tests import ``scripts.score_baselines``). Same
outputs as :func:`userscore.scoring.fuse.fused_scores`, computed the slow ways:

- :func:`naive_scores`: each champion (targets' and uplift types') in its own pass over a fresh read of
  the features, its outputs (user_id, probability or uplift, reasons) joined back by user_id: one scan
  and one join per model; each model through its Spark pipeline (the served artifact as MLlib runs it)
  unless ``compiled``;
- :func:`pyfunc_scores`: each target's champion through ``mlflow.pyfunc.spark_udf`` (rows serialised to
  Python workers, which run the Spark pipeline through MLflow's pyfunc wrapper); pyfunc returns only the
  probability, so its reasons columns are null. An uplift pipeline has no single prediction for pyfunc
  to return: uplift champions run through their Spark pipelines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.scoring import ScoringConfig
from userscore.scoring.customer_base import CustomerBase
from userscore.scoring.fuse import apply_champions, finish_scores
from userscore.scoring.models import Champions, model_inputs
from userscore.tags.dictionary import TagDictionary


def naive_scores(
    read_features: Callable[[], DataFrame],
    champions: Champions,
    scoring: ScoringConfig,
    dictionary: TagDictionary,
    scored_at: dt.datetime,
    *,
    customer_base: CustomerBase | None,
    explain: bool = True,
    compiled: bool = False,
) -> DataFrame:
    """One pass and one join per model over ``read_features()`` (called once per model, plus once)."""
    df = read_features()
    for champion in champions.all:
        scored = apply_champions(read_features(), [champion], scoring.reasons, explain, compiled)
        df = df.join(scored.select("user_id", *champion.score_columns), "user_id")
    return finish_scores(df, champions, scoring, dictionary, scored_at, customer_base=customer_base)


def pyfunc_scores(
    features: DataFrame,
    champions: Champions,
    scoring: ScoringConfig,
    dictionary: TagDictionary,
    scored_at: dt.datetime,
    *,
    customer_base: CustomerBase | None,
    env_manager: str = "local",
) -> DataFrame:
    """Every model as an ``mlflow.pyfunc.spark_udf`` over the columns its pipeline reads."""
    import mlflow

    df = features
    spark = features.sparkSession
    for champion in champions.loaded:
        udf = mlflow.pyfunc.spark_udf(
            spark, f"models:/{champion.model_name}/{champion.version}", result_type="double", env_manager=env_manager
        )
        inputs = model_inputs(champion.model)
        df = df.withColumns(
            {
                champion.output.column("probability"): udf(F.struct(*[F.col(c) for c in inputs])),
                champion.output.column("reasons"): F.lit(None).cast("string"),
            }
        )
    df = apply_champions(df, champions.uplift, scoring.reasons, compiled=False)
    return finish_scores(df, champions, scoring, dictionary, scored_at, customer_base=customer_base)
