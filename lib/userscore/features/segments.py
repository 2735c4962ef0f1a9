"""The RFM segment map (config ``features.rfm.segments``) as one CASE expression."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config.features import SegmentRule


def fm_score(f_score: Column, m_score: Column) -> Column:
    """The FM score: the mean of F and M rounded half up ((F + M + 1) div 2), an integer score."""
    return ((f_score + m_score + 1) / 2).cast("int")


def segment(r_score: Column, fm: Column, rules: Sequence[SegmentRule]) -> Column:
    """The first rule whose R and FM ranges (inclusive) contain the scores; the config guarantees that
    the rules cover every score pair."""
    expr = None
    for rule in rules:
        condition = r_score.between(rule.r[0], rule.r[1]) & fm.between(rule.fm[0], rule.fm[1])
        expr = F.when(condition, F.lit(rule.segment)) if expr is None else expr.when(condition, F.lit(rule.segment))
    return expr
