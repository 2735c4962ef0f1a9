"""Config section ``scoring``: which champion models are scored, their tiers, the value-score fusion,
grades and reasons (jobs/score.py, ``userscore score --as-of D``).

Every output column is named from config: per target ``<prefix>_probability``, ``<prefix>_tier``,
``<prefix>_reasons`` and ``<prefix>_model_version``; then ``value_score``, ``grade``, ``value_reasons``
and ``scored_at``, after the feature columns listed in ``carry``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from types import MappingProxyType
from typing import Annotated, Literal

from userscore.config.features import feature_columns
from userscore.config.typed import KeyPath, NonNegative, Range, Share, frozen

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_COLUMNS = ("user_id", "as_of_date")
VALUE_COLUMNS = ("value_score", "grade", "value_reasons", "scored_at")
TARGET_SUFFIXES = ("probability", "tier", "reasons", "model_version")


@frozen
class Band:
    """One tier or grade. Bands are tried in order: the first whose bound holds wins.

    ``above``: value > above; ``min``: value >= min; the last band has neither (everything else).
    """

    name: str
    min: float | None = None
    above: float | None = None

    def __post_init__(self):
        if self.min is not None and self.above is not None:
            raise ValueError(f"min: give min or above, not both (band {self.name!r})")

    @property
    def bound(self) -> float | None:
        return self.min if self.min is not None else self.above


def check_bands(bands: Sequence[Band], what: str, scale: tuple[float, float]) -> None:
    """Bands with distinct names, strictly decreasing bounds within ``scale`` (the range of the banded
    value: a bound outside it makes a band empty or catch everything) and a last catch-all band."""
    names = [b.name for b in bands]
    if len(bands) < 2 or len(set(names)) != len(names):
        raise ValueError(f"{what}: at least two bands with distinct names, got {names}")
    *bounded, last = bands
    if last.bound is not None:
        raise ValueError(f"{what}: the last band ({last.name!r}) takes everything else: no min/above")
    bounds = [b.bound for b in bounded]
    if any(b is None for b in bounds):
        raise ValueError(f"{what}: every band but the last needs min or above, got {names}")
    if any(b <= a for a, b in zip(bounds[1:], bounds, strict=False)):
        raise ValueError(f"{what}: bounds strictly decreasing from the first band, got {bounds}")
    low, high = scale
    if any(not low <= b <= high for b in bounds):
        raise ValueError(f"{what}: bounds within [{low:g}, {high:g}], got {bounds}")


# The ranges banded values take: tiers cut calibrated probabilities, grades cut value_score.
PROBABILITY_SCALE = (0.0, 1.0)
VALUE_SCALE = (0.0, 100.0)

# The brief's churn risk tiers: high > 70%, mid 30-70%, low < 30%.
DEFAULT_TIERS = (Band(name="high", above=0.7), Band(name="mid", min=0.3), Band(name="low"))
DEFAULT_GRADES = (Band(name="A", min=80.0), Band(name="B", min=60.0), Band(name="C", min=40.0), Band(name="D"))


@frozen
class TargetOutput:
    """A scored target: the champion of ``<models.tracking.model_prefix><target>`` at the promotion alias.

    optional: when no champion exists the job still runs and the target's columns are null (and its
    value-score component is left out); otherwise a missing champion fails the job before any write.
    """

    prefix: str
    optional: bool = False
    tiers: tuple[Band, ...] = DEFAULT_TIERS

    def __post_init__(self):
        if not _NAME.match(self.prefix):
            raise ValueError(f"prefix: a lower_snake_case column prefix, got {self.prefix!r}")
        check_bands(self.tiers, "tiers", PROBABILITY_SCALE)

    def column(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"


@frozen
class RuleComponent:
    """A feature column in the rule part, normalised to [0, 1] as (x - min) / (max - min), clipped."""

    weight: NonNegative
    min: float = 0.0
    max: float = 1.0

    def __post_init__(self):
        if not self.max > self.min:
            raise ValueError(f"max: greater than min ({self.min}), got {self.max}")


@frozen
class ModelComponent:
    """A target's calibrated probability in the model part: p (positive) or 1 - p (negative)."""

    weight: NonNegative
    sign: Literal["positive", "negative"] = "positive"


def _default_rule() -> Mapping[str, RuleComponent]:
    return MappingProxyType(
        {
            "rfm_score": RuleComponent(weight=0.7, min=1.0, max=5.0),
            "preference_score": RuleComponent(weight=0.3, min=0.0, max=1.0),
        }
    )


@frozen
class ValueScoreConfig:
    """value_score = 100 * (rule_weight * rule part + (1 - rule_weight) * model part), each part the
    weighted mean of its normalised components. Without any model component available the rule part
    takes the whole weight."""

    rule_weight: Share = 0.5
    rule: Mapping[str, RuleComponent] = field(default_factory=_default_rule)
    model: Mapping[str, ModelComponent] = field(default_factory=dict)

    def __post_init__(self):
        if self.rule_weight > 0 and sum(c.weight for c in self.rule.values()) <= 0:
            raise ValueError("rule: components with a positive total weight (rule_weight > 0)")
        if self.rule_weight < 1 and self.model and sum(c.weight for c in self.model.values()) <= 0:
            raise ValueError("model: components with a positive total weight")


@frozen
class ReasonsConfig:
    """How many reasons each score carries and how contributions are printed."""

    top_k: Annotated[int, Range(1, 10)] = 3
    decimals: Annotated[int, Range(0, 6)] = 2


@frozen
class CustomerBaseOutput:
    """The BTYD columns (p_alive, expected purchases, expected average value, CLV; names from the ``btyd``
    section): the champion of ``btyd.model_name`` applied to the BTYD summary at D. ``optional``: without
    a champion those columns are null instead of the job failing."""

    enabled: bool = True
    optional: bool = True


def _default_carry() -> tuple[str, ...]:
    return ("r_score", "f_score", "m_score", "rfm_score", "rfm_segment", "preference_score")


@frozen
class ScoringConfig:
    """The fused scoring pass: inputs, outputs and every business setting of the scores."""

    features_table: str = "features.user_features"
    scores_table: str = "scores.user_scores"
    wide_table: str = "tags.user_tag_wide"
    carry: tuple[str, ...] = field(default_factory=_default_carry)
    targets: Mapping[str, TargetOutput] = field(default_factory=dict)
    value_score: ValueScoreConfig = ValueScoreConfig()
    grades: tuple[Band, ...] = DEFAULT_GRADES
    reasons: ReasonsConfig = ReasonsConfig()
    btyd: CustomerBaseOutput = CustomerBaseOutput()

    def __post_init__(self):
        prefixes = [t.prefix for t in self.targets.values()]
        duplicated = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if duplicated:
            raise ValueError(f"targets: distinct prefixes, {duplicated} used twice")
        unknown = sorted(set(self.value_score.model) - set(self.targets))
        if unknown:
            raise ValueError(f"value_score: model components name scored targets {sorted(self.targets)}, got {unknown}")
        check_bands(self.grades, "grades", VALUE_SCALE)

    def target_columns(self) -> list[str]:
        return [t.column(s) for t in self.targets.values() for s in TARGET_SUFFIXES]

    def output_columns(self, btyd_columns: Sequence[str] = ()) -> list[str]:
        """The columns of a scores row after user_id and as_of_date (tags follow them); ``btyd_columns``:
        the customer-base columns when ``btyd.enabled`` (see ``Config.btyd_score_columns``)."""
        return [*self.carry, *self.target_columns(), *btyd_columns, *VALUE_COLUMNS]


def known_feature_columns(features) -> list[str]:
    """The feature snapshot's columns."""
    return [*KEY_COLUMNS, *feature_columns(features)]


def reference_errors(
    scoring: ScoringConfig,
    tables: Mapping[str, object],
    feature_columns: Sequence[str],
    model_targets: Sequence[str],
    btyd_columns: Sequence[str] = (),
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined tables, columns and targets referenced by ``scoring``; declared output tables that expect
    columns the section does not produce (they would fail at write time)."""
    if not scoring.targets:
        return
    known = sorted(tables)
    features = set(feature_columns)
    for key in ("features_table", "scores_table", "wide_table"):
        name = getattr(scoring, key)
        if name not in tables:
            yield ("scoring", key), f"undefined table {name!r}", f"one of {known}"
    for i, column in enumerate(scoring.carry):
        if column not in features:
            yield ("scoring", "carry", str(i)), f"undefined feature column {column!r}", "a feature column"
    for column in scoring.value_score.rule:
        if column not in features:
            yield ("scoring", "value_score", "rule", column), f"undefined feature column {column!r}", "a feature column"
    for target in scoring.targets:
        if target not in model_targets:
            yield ("scoring", "targets", target), f"undefined target {target!r}", f"one of {sorted(model_targets)}"
    produced = set(scoring.output_columns(btyd_columns))
    clashes = sorted((produced - set(scoring.carry)) & features)
    if clashes:
        yield ("scoring", "targets"), f"output columns {clashes} that are feature columns", "distinct names"
    for key in ("scores_table", "wide_table"):
        spec = tables.get(getattr(scoring, key))
        if spec is None:
            continue
        unproduced = [c for c in spec.column_names if c not in produced and c not in KEY_COLUMNS]
        if unproduced:
            yield (
                ("scoring", key),
                f"table {getattr(scoring, key)} declaring columns {unproduced} the scoring section does not produce",
                f"declared columns among user_id, as_of_date and {sorted(produced)}",
            )
