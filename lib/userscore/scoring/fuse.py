"""The fused scoring plan: one read of the features, every champion, tiers, value score, grade, reasons
and tags as columns of ONE DataFrame.

Each champion pipeline is applied to the same frame in turn. After a model, only its calibrated
``prediction`` (renamed ``<prefix>_probability``) and its assembled vector (for the reasons) are kept,
so the next pipeline's intermediate columns (features, probability, ...) never collide. All reasons
UDFs are evaluated in one projection, so the rows make one round trip to Python for every model.
Nothing is cached inside: the features table is scanned once by construction, and a test counts the
scans in the physical plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.scoring import KEY_COLUMNS, ReasonsConfig, ScoringConfig
from userscore.errors import InputError
from userscore.scoring.customer_base import CustomerBase, with_customer_base
from userscore.scoring.models import PREDICTION, Champion, Champions, explainer_for
from userscore.scoring.reasons import format_reasons, reasons_struct
from userscore.scoring.tags import with_tags
from userscore.scoring.tiers import band
from userscore.scoring.value import value_components, value_reasons, value_score
from userscore.tags.dictionary import TagDictionary


def _vector(champion: Champion) -> str:
    return f"_{champion.output.prefix}_vector"


def _struct(champion: Champion) -> str:
    return f"_{champion.output.prefix}_reasons_struct"


def apply_champions(
    features: DataFrame, champions: Sequence[Champion], reasons: ReasonsConfig, explain: bool = True
) -> DataFrame:
    """``features`` plus ``<prefix>_probability`` and ``<prefix>_reasons`` for every champion (reasons
    null when ``explain`` is false: the benchmark's probabilities-only variant)."""
    df = features
    explained = []
    for champion in champions:
        try:
            out = champion.model.transform(df)
        except AnalysisException as exc:
            raise InputError(
                f"{champion.model_name} v{champion.version} cannot score these features: {str(exc).splitlines()[0]}"
            ) from None
        columns = [F.col(f"`{c}`") for c in df.columns]
        columns.append(F.col(PREDICTION).cast("double").alias(champion.output.column("probability")))
        explainer = explainer_for(champion, out.schema) if explain else None
        if explainer is not None:
            columns.append(F.col(champion.features_col).alias(_vector(champion)))
            explained.append((champion, explainer))
        df = out.select(*columns)
    structs = {_struct(c): reasons_struct(e, F.col(_vector(c)), reasons.top_k) for c, e in explained}
    df = df.withColumns(structs) if structs else df
    texts = {
        c.output.column("reasons"): format_reasons(F.col(_struct(c)), e.names, reasons.top_k, reasons.decimals)
        for c, e in explained
    }
    done = {c.target for c, _ in explained}
    unexplained = {c.output.column("reasons"): F.lit(None).cast("string") for c in champions if c.target not in done}
    return df.withColumns({**texts, **unexplained}).drop(*[_vector(c) for c, _ in explained], *structs)


def fused_scores(
    features: DataFrame,
    champions: Champions,
    scoring: ScoringConfig,
    dictionary: TagDictionary,
    scored_at: dt.datetime,
    *,
    customer_base: CustomerBase | None,
    explain: bool = True,
) -> DataFrame:
    """Every output column for every user of ``features`` (one snapshot): the scores row.

    Columns: user_id, as_of_date, ``scoring.output_columns(<customer_base columns>)``, then one column per tag.
    ``customer_base``: see ``customer_base.load_customer_base`` (None: the BTYD columns are switched off).
    """
    scored = apply_champions(features, champions.loaded, scoring.reasons, explain)
    return finish_scores(scored, champions, scoring, dictionary, scored_at, customer_base=customer_base)


def finish_scores(
    df: DataFrame,
    champions: Champions,
    scoring: ScoringConfig,
    dictionary: TagDictionary,
    scored_at: dt.datetime,
    *,
    customer_base: CustomerBase | None,
) -> DataFrame:
    """From features + model outputs: BTYD columns, model versions, tiers, value score and reasons, grade,
    tags; the output columns in order. Optional targets without a champion get typed nulls."""
    if customer_base is not None:
        df = with_customer_base(df, customer_base)
    versions = {c.target: c.version for c in champions.loaded}
    model_columns = {}
    for target, output in scoring.targets.items():
        if target not in versions:
            model_columns[output.column("probability")] = F.lit(None).cast("double")
            model_columns[output.column("reasons")] = F.lit(None).cast("string")
        model_columns[output.column("model_version")] = F.lit(versions.get(target)).cast("string")
    df = df.withColumns(model_columns).withColumns(
        {o.column("tier"): band(F.col(o.column("probability")), o.tiers) for o in scoring.targets.values()}
    )
    components = value_components(scoring.value_score, champions.probability_columns())
    df = df.withColumns(
        {
            "value_score": value_score(components),
            "value_reasons": value_reasons(components, scoring.reasons.top_k, scoring.reasons.decimals),
            # A text literal cast in the session time zone (UTC): independent of the Python process's zone.
            "scored_at": F.lit(scored_at.isoformat(sep=" ")).cast("timestamp"),
        }
    ).withColumn("grade", band(F.col("value_score"), scoring.grades))
    df = with_tags(df, dictionary)
    btyd_columns = customer_base.columns if customer_base is not None else ()
    return df.select(*KEY_COLUMNS, *scoring.output_columns(btyd_columns), *dictionary.ids)
