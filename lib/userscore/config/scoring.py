"""Config section ``scoring``: which champion models are scored (each cut into the tiers of its target,
``models.targets.<t>.tiers``), the value-score fusion, grades and reasons (jobs/score.py,
``userscore score --as-of D``).

Every output column is named from config: per target ``<prefix>_probability``, ``<prefix>_tier``,
``<prefix>_reasons`` and ``<prefix>_model_version``; then ``value_score``, ``grade``, ``value_reasons``
and ``scored_at``, after the feature columns listed in ``carry``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field
from typing import Annotated, Literal

from userscore.config.bands import VALUE_SCALE, Band, check_bands
from userscore.config.campaigns import CampaignsConfig, UpliftTiers
from userscore.config.columns import feature_columns
from userscore.config.features import FeaturesConfig
from userscore.config.typed import DERIVED, KeyPath, NonNegative, Range, Share, frozen
from userscore.keys import KEY_COLUMNS

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_COLUMNS = ("value_score", "grade", "value_reasons", "scored_at")
TARGET_SUFFIXES = ("probability", "tier", "reasons", "model_version")
UPLIFT_SUFFIXES = ("uplift", "uplift_tier", "uplift_reasons", "net_margin", "uplift_model_version")


@frozen
class TargetOutput:
    """A scored target: the champion of ``<models.tracking.model_prefix><target>`` at the promotion alias.

    optional: when no champion exists the job still runs and the target's columns are null (and its
    value-score component is left out); otherwise a missing champion fails the job before any write.
    ``tiers``: not a YAML key; the loader copies the target's one tier definition
    (``models.targets.<t>.tiers``) here, so scoring and monitoring cut with it.
    """

    prefix: str
    optional: bool = False
    tiers: tuple[Band, ...] = field(default=(), metadata={DERIVED: True})

    def __post_init__(self):
        if not _NAME.match(self.prefix):
            raise ValueError(f"prefix: a lower_snake_case column prefix, got {self.prefix!r}")

    def column(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"


@frozen
class UpliftOutput:
    """A scored campaign type T: the champion of ``<models.tracking.model_prefix>T_uplift`` (userscore uplift)
    gives ``T_uplift`` (P(convert | contacted) - P(convert | not contacted)), ``T_uplift_tier``,
    ``T_uplift_reasons`` (the features that most raise the treated arm's log-odds over the control arm's),
    ``T_net_margin`` (uplift x the model's margin per conversion - the type's contact_cost: what contacting
    the user is expected to earn) and ``T_uplift_model_version``.

    optional: without a champion the columns are null instead of the job failing.
    ``tiers`` / ``contact_cost`` / ``eligible``: not YAML keys; copied by the loader from
    ``campaigns.types.<T>`` (users outside ``eligible`` get null columns).
    """

    optional: bool = False
    tiers: UpliftTiers | None = field(default=None, metadata={DERIVED: True})
    contact_cost: float | None = field(default=None, metadata={DERIVED: True})
    eligible: str | None = field(default=None, metadata={DERIVED: True})

    @staticmethod
    def column(campaign_type: str, suffix: str) -> str:
        return f"{campaign_type}_{suffix}"


@frozen
class RuleComponent:
    """A feature column in the rule part, normalised to [0, 1] as (x - min) / (max - min), clipped."""

    weight: NonNegative
    min: float
    max: float

    def __post_init__(self):
        if not self.max > self.min:
            raise ValueError(f"max: greater than min ({self.min}), got {self.max}")


@frozen
class ModelComponent:
    """A target's calibrated probability in the model part: p (positive) or 1 - p (negative)."""

    weight: NonNegative
    sign: Literal["positive", "negative"]


@frozen
class ValueScoreConfig:
    """value_score = 100 * (rule_weight * rule part + (1 - rule_weight) * model part), each part the
    weighted mean of its normalised components. Without any model component available the rule part
    takes the whole weight."""

    rule_weight: Share
    rule: Mapping[str, RuleComponent]
    model: Mapping[str, ModelComponent] = field(default_factory=dict)

    def __post_init__(self):
        if self.rule_weight > 0 and sum(c.weight for c in self.rule.values()) <= 0:
            raise ValueError("rule: components with a positive total weight (rule_weight > 0)")
        if self.rule_weight < 1 and self.model and sum(c.weight for c in self.model.values()) <= 0:
            raise ValueError("model: components with a positive total weight")


@frozen
class ReasonsConfig:
    """How many reasons each score carries and how contributions are printed."""

    top_k: Annotated[int, Range(1, 10)]
    decimals: Annotated[int, Range(0, 6)]


@frozen
class CustomerBaseOutput:
    """The BTYD columns (p_alive, expected purchases, expected average value, CLV; names from the ``btyd``
    section): the champion of ``btyd.model_name`` applied to the BTYD summary at D. ``optional``: without
    a champion those columns are null instead of the job failing."""

    enabled: bool
    optional: bool


@frozen
class ScoringConfig:
    """The fused scoring pass: inputs, outputs and every business setting of the scores."""

    features_table: str
    scores_table: str
    wide_table: str
    carry: tuple[str, ...]
    targets: Mapping[str, TargetOutput] = field(default_factory=dict)
    value_score: ValueScoreConfig
    grades: tuple[Band, ...]
    reasons: ReasonsConfig
    btyd: CustomerBaseOutput
    uplift: Mapping[str, UpliftOutput] = field(default_factory=dict)

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

    def uplift_columns(self) -> list[str]:
        return [UpliftOutput.column(t, s) for t in self.uplift for s in UPLIFT_SUFFIXES]

    def output_columns(self, btyd_columns: Sequence[str] = ()) -> list[str]:
        """The columns of a scores row after user_id and as_of_date (tags follow them); ``btyd_columns``:
        the customer-base columns when ``btyd.enabled`` (see ``Config.btyd_score_columns``)."""
        return [*self.carry, *self.target_columns(), *self.uplift_columns(), *btyd_columns, *VALUE_COLUMNS]


def known_feature_columns(features: FeaturesConfig) -> list[str]:
    """The feature snapshot's columns, keys first."""
    return [*KEY_COLUMNS, *feature_columns(features)]


def reference_errors(
    scoring: ScoringConfig,
    tables: Mapping[str, object],
    feature_columns: Sequence[str],
    model_targets: Sequence[str],
    campaigns: CampaignsConfig,
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
    modelled = campaigns.uplift_types
    for kind in scoring.uplift:
        if kind not in modelled:
            yield (
                ("scoring", "uplift", kind),
                f"campaign type {kind!r} without an uplift model",
                f"a campaigns.types entry with an uplift block: one of {list(modelled)}",
            )
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
