"""The naive baselines a trained model must beat: one feature column each, ranked in its configured
direction and scored by exact AUC on the model's own validation rows.

A baseline's score is the column (``higher``) or its negation (``lower``); a null or NaN value ranks below
every value (the user the rule knows nothing about comes last), and equal values are ties counted one
half, as in the model's AUC (Spark's exact ROC area over distinct scores). A baseline whose column the
snapshot lacks (a snapshot written before its feature family existed) is skipped with the reason; a column
that is there but not numeric is a config error reported before training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.models import TargetConfig
from userscore.errors import InputError
from userscore.models.evaluation import area_under
from userscore.models.registry import BASELINE_BEST_AUC, baseline_metric

_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DecimalType, T.DoubleType)


@dataclass(frozen=True)
class Baseline:
    """One baseline of a target: its name, the column it reads (horizon resolved) and its direction."""

    name: str
    column: str
    direction: str

    def value(self) -> Column:
        """The column as a double, NaN as null."""
        value = F.col(self.column).cast("double")
        return F.when(~F.isnan(value), value)

    def score(self) -> Column:
        """The ranking score: higher = more likely positive; null and NaN lowest of all."""
        value = self.value()
        return F.coalesce(value if self.direction == "higher" else -value, F.lit(-math.inf))


@dataclass(frozen=True)
class Baselines:
    """The baselines of one run: the AUC of each evaluated one (YAML order) and why the others were not."""

    evaluated: tuple[Baseline, ...] = ()
    aucs: Mapping[str, float] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def best(self) -> tuple[str, float] | None:
        """The highest-AUC baseline (the first declared on a tie), None when none was evaluated."""
        if not self.aucs:
            return None
        name = max(self.aucs, key=lambda n: (self.aucs[n], -list(self.aucs).index(n)))
        return name, self.aucs[name]

    def metrics(self) -> dict[str, float]:
        """``baseline_<name>_auc`` per evaluated baseline and ``baseline_best_auc``."""
        out = {baseline_metric(name): auc for name, auc in self.aucs.items()}
        if self.best is not None:
            out[BASELINE_BEST_AUC] = self.best[1]
        return out

    def report(self) -> dict[str, object]:
        """The evaluation.json section: every baseline with its column, direction and AUC or skip reason."""
        best = self.best
        return {
            "best": None if best is None else {"name": best[0], "auc": best[1]},
            "evaluated": {
                b.name: {"column": b.column, "direction": b.direction, "auc": self.aucs[b.name]} for b in self.evaluated
            },
            "skipped": dict(self.skipped),
        }


def available(target: TargetConfig, schema: T.StructType) -> tuple[list[Baseline], dict[str, str]]:
    """The target's baselines whose column is in ``schema`` (the feature snapshots), and the reason each
    other one is skipped; InputError (before any training) for a column that is there but not a number."""
    types = {f.name: f.dataType for f in schema.fields}
    present: list[Baseline] = []
    skipped: dict[str, str] = {}
    for name, (column, direction) in target.baseline_columns().items():
        if column not in types:
            # Also a {horizon} column at a horizon the features do not compute (docs/training.md).
            skipped[name] = f"column {column} is not in the feature snapshots (written before it existed)"
        elif not isinstance(types[column], _NUMERIC):
            raise InputError(
                f"baseline {name}: column {column} is {types[column].simpleString()}, not a number "
                f"(models.defaults.baselines or the target's baselines)"
            )
        else:
            present.append(Baseline(name, column, direction))
    return present, skipped


def evaluate_baselines(
    rows: DataFrame, label: str, baselines: Sequence[Baseline], skipped: Mapping[str, str]
) -> Baselines:
    """The exact AUC of each baseline over ``rows`` (the validation rows, which carry every baseline column
    and ``label``): one distributed ROC area per baseline, only the numbers reach the driver.

    A baseline whose column is null on every row is skipped too: the validation snapshot was written before
    the column existed (the table's schema has it from newer snapshots), or its model could not be fitted
    at that date; ranking everyone as a tie would report an AUC of 0.5 that no rule earned.
    """
    skipped = dict(skipped)
    if baselines:
        counts = rows.agg(*(F.count(b.value()) for b in baselines)).first()
        empty = [b for b, n in zip(baselines, counts, strict=True) if n == 0]
        skipped |= {b.name: f"column {b.column} is null on every validation row" for b in empty}
        baselines = [b for b in baselines if b not in empty]
    if not baselines:
        return Baselines(skipped=skipped)
    scored = rows.select(
        F.col(label).cast("double").alias("y"), *(b.score().alias(f"_b{i}") for i, b in enumerate(baselines))
    )
    aucs = {b.name: area_under(scored, f"_b{i}", "y", "areaUnderROC") for i, b in enumerate(baselines)}
    return Baselines(tuple(baselines), aucs, skipped)
