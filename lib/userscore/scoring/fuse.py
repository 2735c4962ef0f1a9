"""The fused scoring plan: one read of the features, every champion, tiers, value score, grade, reasons
and tags as columns of ONE DataFrame.

Every champion whose pipeline compiles (scoring.compiled: the trainer's imputer, indexer, one-hot
encoder, assembler, GBT and calibration; for an uplift type, the two arm GBTs) is scored in ONE pandas
UDF: each batch of users goes to Python once with the raw feature columns the models read, and every
model's probability (or uplift and control-arm probability) and reasons come back together. A champion
that does not compile is applied through its Spark pipeline, keeping only its calibrated ``prediction``
(renamed ``<prefix>_probability``; an uplift pipeline: p_treated - p_control and p_control) and its
assembled vector (for the reasons), so the next pipeline's intermediate columns never collide. Nothing
is cached inside: the features table is scanned once by construction, and a test counts the scans (and
the Python round trips) in the physical plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

from userscore.config.scoring import ReasonsConfig, ScoringConfig, UpliftOutput
from userscore.errors import InputError
from userscore.filters import rule_holds
from userscore.keys import KEY_COLUMNS
from userscore.persons import member_columns
from userscore.scoring.compiled import score_batch
from userscore.scoring.customer_base import CustomerBase, with_customer_base
from userscore.scoring.models import PREDICTION, Champion, Champions, UpliftChampion, explainer_for
from userscore.scoring.reasons import reasons_text
from userscore.scoring.tags import with_tags
from userscore.scoring.tiers import band
from userscore.scoring.uplift_columns import net_margin, uplift_tier
from userscore.scoring.value import value_components, value_reasons, value_score
from userscore.tags.dictionary import TagDictionary
from userscore.uplift.model import CONTROL_PROBABILITY, positive, predicted_uplift

AnyChampion = Champion | UpliftChampion


def _vector(champion: AnyChampion) -> str:
    return f"_{champion.reasons_column}_vector"


_COMPILED = "_compiled_scores"


def apply_champions(
    features: DataFrame,
    champions: Sequence[AnyChampion],
    reasons: ReasonsConfig,
    explain: bool = True,
    compiled: bool = True,
) -> DataFrame:
    """``features`` plus every champion's ``score_columns``: ``<prefix>_probability`` and ``<prefix>_reasons``
    of a target's, ``<type>_uplift``, ``<type>_uplift_reasons`` and the control arm's probability of an
    uplift type's (reasons null when ``explain`` is false: the benchmark's probabilities-only variant).

    Champions with a compiled form (``compiled``) are scored together in one pandas UDF; the others
    through their Spark pipelines.
    """
    numpy = [c for c in champions if compiled and c.compiled is not None]
    mllib = [c for c in champions if c not in numpy]
    return with_compiled_models(with_pipelines(features, mllib, reasons, explain), numpy, reasons, explain)


def with_compiled_models(
    df: DataFrame, champions: Sequence[AnyChampion], reasons: ReasonsConfig, explain: bool
) -> DataFrame:
    """Every champion's scores and reasons from ONE pandas UDF over the raw feature columns they read
    (see scoring.compiled): the rows go to Python once, whatever the number of models."""
    if not champions:
        return df
    for champion in champions:
        absent = sorted((champion.compiled.numeric_columns() | champion.compiled.string_columns()) - set(df.columns))
        if absent:
            raise InputError(
                f"{champion.model_name} v{champion.version} cannot score these features: no column {', '.join(absent)}"
            )
    # Keys by position: a target's prefix may equal a campaign type, their struct fields may not.
    models = [(f"m{i}", c.compiled) for i, c in enumerate(champions)]
    numeric = sorted(set().union(*(m.numeric_columns() for _, m in models)))
    strings = sorted(set().union(*(m.string_columns() for _, m in models)))
    integral = {c for c in numeric if isinstance(df.schema[c].dataType, T.IntegralType)}
    explained = reasons if explain else None
    fields: list[T.StructField] = []
    for (key, _), champion in zip(models, champions, strict=True):
        outputs = ("uplift", "p_control") if isinstance(champion, UpliftChampion) else ("p",)
        fields += [T.StructField(f"{key}_{name}", T.DoubleType()) for name in outputs]
        if explained is not None:
            fields.append(T.StructField(f"{key}_reasons", T.StringType()))
    schema = T.StructType(fields)

    @pandas_udf(schema)
    def _score(*columns: pd.Series) -> pd.DataFrame:
        values = {c: s.to_numpy(dtype=np.float64, na_value=np.nan) for c, s in zip(numeric, columns, strict=False)}
        texts = dict(zip(strings, columns[len(numeric) :], strict=True))
        return pd.DataFrame(score_batch(models, values, texts, integral, explained), columns=schema.fieldNames())

    inputs = [F.col(f"`{c}`").cast("double") for c in numeric] + [F.col(f"`{c}`").cast("string") for c in strings]
    df = df.withColumn(_COMPILED, _score(*inputs))
    outputs = {}
    for (key, _), champion in zip(models, champions, strict=True):
        scores = F.col(_COMPILED)
        if isinstance(champion, UpliftChampion):
            outputs[champion.column("uplift")] = scores[f"{key}_uplift"]
            outputs[champion.p_control_column] = scores[f"{key}_p_control"]
        else:
            outputs[champion.output.column("probability")] = scores[f"{key}_p"]
        reasons_column = scores[f"{key}_reasons"] if explained is not None else F.lit(None)
        outputs[champion.reasons_column] = reasons_column.cast("string")
    return df.withColumns(outputs).drop(_COMPILED)


def _spark_outputs(champion: AnyChampion) -> dict[str, Column]:
    """The scores kept from a champion's Spark pipeline output (its other columns are dropped)."""
    if isinstance(champion, UpliftChampion):
        return {
            champion.column("uplift"): predicted_uplift(),
            champion.p_control_column: positive(CONTROL_PROBABILITY),
        }
    return {champion.output.column("probability"): F.col(PREDICTION).cast("double")}


def with_pipelines(features: DataFrame, champions: Sequence[AnyChampion], reasons: ReasonsConfig, explain: bool):
    """Each champion's Spark pipeline applied to the same frame in turn, its reasons from its vector (for
    an uplift pipeline, from both arms' trees: see gbt_trees.uplift_ensemble)."""
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
        columns += [column.alias(name) for name, column in _spark_outputs(champion).items()]
        explainer = explainer_for(champion, out.schema) if explain else None
        if explainer is not None:
            columns.append(F.col(champion.features_col).alias(_vector(champion)))
            explained.append((champion, explainer))
        df = out.select(*columns)
    texts = {
        c.reasons_column: reasons_text(e, F.col(_vector(c)), reasons.top_k, reasons.decimals) for c, e in explained
    }
    unexplained = {c.reasons_column: F.lit(None).cast("string") for c in champions if c.reasons_column not in texts}
    return df.withColumns({**texts, **unexplained}).drop(*[_vector(c) for c, _ in explained])


def fused_scores(
    features: DataFrame,
    champions: Champions,
    scoring: ScoringConfig,
    dictionary: TagDictionary,
    scored_at: dt.datetime,
    *,
    customer_base: CustomerBase | None,
    explain: bool = True,
    compiled: bool = True,
) -> DataFrame:
    """Every output column for every user of ``features`` (one snapshot): the scores row.

    Columns: user_id, as_of_date, ``scoring.output_columns(<customer_base columns>)``, then one column per tag.
    ``customer_base``: see ``customer_base.load_customer_base`` (None: the BTYD columns are switched off).
    """
    scored = apply_champions(features, champions.all, scoring.reasons, explain, compiled)
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
    """From features + model outputs (``apply_champions``): BTYD columns, model versions, tiers, uplift
    tiers and net margins, value score and reasons, grade, tags; the output columns in order. Optional
    targets and uplift types without a champion get typed nulls."""
    if customer_base is not None:
        df = with_customer_base(df, customer_base)
    versions = {c.target: c.version for c in champions.loaded}
    model_columns = {}
    for target, output in scoring.targets.items():
        if target not in versions:
            model_columns[output.column("probability")] = F.lit(None).cast("double")
            model_columns[output.column("reasons")] = F.lit(None).cast("string")
        model_columns[output.column("model_version")] = F.lit(versions.get(target)).cast("string")
    model_columns |= uplift_columns(champions.uplift, scoring.uplift)
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
    return df.select(*KEY_COLUMNS, *member_columns(df), *scoring.output_columns(btyd_columns), *dictionary.ids)


def uplift_columns(champions: Sequence[UpliftChampion], uplift: Mapping[str, UpliftOutput]) -> dict[str, Column]:
    """Per scored uplift type: tier, net margin and model version from its champion's outputs (``<type>_uplift``
    and the control arm's probability), or typed nulls for every column without a champion. A user outside
    the type's ``eligible`` rule (or where it is null) gets null uplift, reasons, tier and net margin."""
    loaded = {c.campaign_type: c for c in champions}
    out: dict[str, Column] = {}
    for campaign_type, output in uplift.items():
        column = partial(UpliftOutput.column, campaign_type)
        champion = loaded.get(campaign_type)
        if champion is None:
            out |= {column(s): F.lit(None).cast("double") for s in ("uplift", "net_margin")}
            out |= {column(s): F.lit(None).cast("string") for s in ("uplift_tier", "uplift_reasons")}
        else:
            eligible = F.lit(True) if output.eligible is None else rule_holds(output.eligible)
            uplift_value = F.when(eligible, F.col(column("uplift")))
            out[column("uplift")] = uplift_value
            out[column("uplift_reasons")] = F.when(eligible, F.col(column("uplift_reasons")))
            out[column("uplift_tier")] = uplift_tier(uplift_value, F.col(champion.p_control_column), output.tiers)
            out[column("net_margin")] = net_margin(uplift_value, champion.margin_per_conversion, output.contact_cost)
        version = None if champion is None else champion.version
        out[column("uplift_model_version")] = F.lit(version).cast("string")
    return out
