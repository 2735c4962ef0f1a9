"""Tiers and grades: a score cut into named bands at configured bounds, as a Column rule."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config.bands import Band


def band(value: Column, bands: Sequence[Band]) -> Column:
    """The first band whose bound holds (:meth:`Band.holds`); the last band takes every other non-null
    value; null stays null."""
    *bounded, last = bands
    expr = F.when(value.isNull(), F.lit(None).cast("string"))
    for b in bounded:
        expr = expr.when(b.holds(value), F.lit(b.name))
    return expr.otherwise(F.lit(last.name))
