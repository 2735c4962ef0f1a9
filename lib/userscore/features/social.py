"""The social family: the per-user measures of ``userscore social`` joined into the snapshot.

Influence (PageRank), communities (label propagation) and 2-hop reach need the whole graph, so the snapshot
does not compute them: it reads the social run's per-user table (``features.social.table``) at the latest
run at or before D. The features job requires the run at exactly D (userscore.features.inputs), so a batch
snapshot holds the measures over the edges and orders before D, its own cutoff; the live rescoring of a few
users reads the latest run, as it reads the other published population figures.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.features import SocialFeaturesConfig
from userscore.keys import AS_OF, USER_ID


def latest_run(social: DataFrame, as_of: dt.date) -> DataFrame:
    """The rows of the latest run (``as_of_date``) at or before ``as_of``; none when there is no such run."""
    runs = social.where(F.col(AS_OF) <= F.lit(as_of))
    return runs.join(runs.agg(F.max(AS_OF).alias(AS_OF)), AS_OF)


def with_social(df: DataFrame, social: DataFrame, as_of: dt.date, config: SocialFeaturesConfig) -> DataFrame:
    """``df`` (one row per user) with the social columns of the latest run at or before ``as_of``, named
    prefix + column; a user without a row there gets 0 (numbers) and false (flags)."""
    names = dict(zip(config.columns, config.feature_columns, strict=True))
    per_user = latest_run(social, as_of).select(USER_ID, *(F.col(c).alias(n) for c, n in names.items()))
    flags = {f.name for f in per_user.schema.fields if isinstance(f.dataType, T.BooleanType)}
    defaults = {n: False if n in flags else 0 for n in names.values()}
    return df.join(per_user, USER_ID, "left").fillna(defaults)
