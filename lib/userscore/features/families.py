"""Generic feature families (``features.families``): measures, trends and ratios declared in YAML.

One builder serves every such family: its measures join the ONE aggregation per source of
:mod:`.snapshot` (compiled by :mod:`.measures`), its trends are finished with them, and this module adds
its ratios (column names are config: ``userscore.config.features.family_columns``). A new family over
orders or events is therefore a YAML entry only. RFM (scores, segments), preference and profile compute
more than measures and have their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.features import FamilyConfig


def with_ratios(df: DataFrame, ratios: Mapping[str, tuple[str, ...]]) -> DataFrame:
    """Add each ratio numerator / denominator, 0 when the denominator is 0."""
    return df.withColumns(
        {
            name: F.when(F.col(den) != 0, F.col(num).cast("double") / F.col(den)).otherwise(F.lit(0.0))
            for name, (num, den) in ratios.items()
        }
    )


def finish_families(df: DataFrame, families: Mapping[str, FamilyConfig]) -> DataFrame:
    """Add every family's ratios to finished measures (ratios may use measures of any family)."""
    for family in families.values():
        df = with_ratios(df, family.ratios)
    return df
