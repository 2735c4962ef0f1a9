"""The 0-100 value score: a configurable hybrid of rule components and model outputs, and its reasons.

value_score = sum over components of ``points_i * normalised_i``, where
- rule components (e.g. rfm_score, preference_score) are normalised to [0, 1] by (x - min) / (max - min)
  and clipped; model components are the calibrated probability p, or 1 - p for a negative sign (churn);
- ``points_i`` = 100 x (the part's share) x (the component's weight / the part's total weight); the rule
  part's share is ``rule_weight``, the model part's 1 - rule_weight. Model components of targets whose
  champion is unavailable (optional targets) are left out and the model part is renormalised; with no
  model component at all the rule part takes the whole 100 points.

Reasons: each component's contribution is exactly its points x normalised value, so the contributions
add up to the score; the top-k positive ones are the reasons ("rfm_score (+24.50)").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config.scoring import ValueScoreConfig


@dataclass(frozen=True)
class ValueComponent:
    """One term of the value score: its reason label, its [0, 1] value and its maximum points."""

    label: str
    normalised: Column
    points: float


def _clip01(x: Column) -> Column:
    return F.least(F.greatest(x, F.lit(0.0)), F.lit(1.0))


def value_components(config: ValueScoreConfig, probabilities: Mapping[str, str]) -> list[ValueComponent]:
    """The components in config order. ``probabilities``: target -> probability column, for the targets
    whose champion is loaded (others are left out)."""
    rule = [(column, c) for column, c in config.rule.items() if c.weight > 0]
    model = [(target, c) for target, c in config.model.items() if c.weight > 0 and target in probabilities]
    rule_share = config.rule_weight if model else 1.0
    if not rule:
        rule_share = 0.0
    if not rule and not model:
        raise ValueError("value_score has no component with a positive weight among the available inputs")
    components = []
    rule_total = sum(c.weight for _, c in rule)
    for column, c in rule:
        x = F.coalesce(F.col(column).cast("double"), F.lit(c.min))
        normalised = _clip01((x - F.lit(c.min)) / F.lit(c.max - c.min))
        components.append(ValueComponent(column, normalised, 100.0 * rule_share * c.weight / rule_total))
    model_total = sum(c.weight for _, c in model)
    for target, c in model:
        column = probabilities[target]
        p = _clip01(F.coalesce(F.col(column).cast("double"), F.lit(0.0)))
        normalised, label = (p, column) if c.sign == "positive" else (1.0 - p, f"low {column}")
        components.append(ValueComponent(label, normalised, 100.0 * (1.0 - rule_share) * c.weight / model_total))
    return components


def value_score(components: Sequence[ValueComponent], decimals: int = 2) -> Column:
    """The score in [0, 100], rounded to ``decimals`` (grades cut the rounded value people see)."""
    total = sum((F.lit(c.points) * c.normalised for c in components), F.lit(0.0))
    return F.round(F.least(F.greatest(total, F.lit(0.0)), F.lit(100.0)), decimals)


def value_reasons(components: Sequence[ValueComponent], k: int, decimals: int) -> Column:
    """'label (+points); ...' for the k components that add the most points (ties: config order)."""
    entries = F.array(
        *[
            F.struct(
                (-F.lit(c.points) * c.normalised).alias("rank"),
                F.lit(i).alias("order"),
                F.lit(c.label).alias("label"),
                (F.lit(c.points) * c.normalised).alias("points"),
            )
            for i, c in enumerate(components)
        ]
    )
    positive = F.filter(entries, lambda e: e["points"] > F.lit(0.5 * 10.0**-decimals))
    top = F.slice(F.array_sort(positive), 1, k)
    text = F.array_join(
        F.transform(top, lambda e: F.format_string(f"%s (+%.{decimals}f)", e["label"], e["points"])), "; "
    )
    return F.when(text != "", text)
