"""Config section ``models``: targets as data (population, label rule, risk tiers, features, sampling,
estimators; training settings merged over ``models.defaults``), the MLflow tracking store, the evaluation
settings and the champion promotion gate."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field, fields
from typing import Annotated, Literal

from userscore.config.bands import PROBABILITY_SCALE, Band, check_bands
from userscore.config.features import Where, check_where
from userscore.config.params import (
    HORIZON_PLACEHOLDER,
    BaselineSpec,
    CalibrationParams,
    GBTParams,
    LRParams,
    SampleParams,
    SplitParams,
)
from userscore.config.tables import TableSpec
from userscore.config.typed import Count, Days, KeyPath, Positive, Range, Share, frozen
from userscore.keys import KEY_COLUMNS

PopulationKind = Literal["all", "active_within", "below_vip"]
LabelKind = Literal["any_order_within", "no_activity_within", "level_rise_or_spend_crosses"]

_TARGET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_BASELINE_NAME = _TARGET_NAME  # it becomes the metric name baseline_<name>_auc
_RULE_PARAMS = ("include_refunded", "lookback_days", "event_types", "levels", "spend_threshold")
# kind -> (required params, optional params). A param a kind does not use is an error, not ignored.
_KIND_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "all": (frozenset(), frozenset()),
    "active_within": (frozenset({"lookback_days", "include_refunded"}), frozenset({"event_types"})),
    "below_vip": (frozenset({"levels", "spend_threshold", "include_refunded"}), frozenset()),
    "any_order_within": (frozenset({"include_refunded"}), frozenset()),
    "no_activity_within": (frozenset({"include_refunded"}), frozenset({"event_types"})),
    "level_rise_or_spend_crosses": (frozenset({"levels", "spend_threshold", "include_refunded"}), frozenset()),
}

# The silver columns label rules read (the contract with ingest), checked in Config.reference_errors.
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("user_id", "order_ts", "order_month", "amount", "is_refunded", "refunded_at"),
    "events": ("user_id", "event_ts", "event_month", "event_type"),
    "level_changes": ("user_id", "changed_at", "from_level", "to_level"),
}
# rule kind -> the silver inputs (keys of INPUT_COLUMNS / models.inputs) its population or label reads.
RULE_INPUTS: dict[str, tuple[str, ...]] = {
    "all": (),
    "active_within": ("orders", "events"),
    "below_vip": ("orders", "level_changes"),
    "any_order_within": ("orders",),
    "no_activity_within": ("orders", "events"),
    "level_rise_or_spend_crosses": ("orders", "level_changes"),
}


def _check_rule(rule: object) -> None:
    required, optional = _KIND_PARAMS[rule.kind]
    given = {name for name in _RULE_PARAMS if getattr(rule, name) is not None}
    missing = sorted(required - given)
    unused = sorted(given - required - optional)
    if missing:
        raise ValueError(f"kind: {rule.kind!r} needs {missing}")
    if unused:
        raise ValueError(f"kind: {rule.kind!r} does not use {unused} (uses {sorted(required | optional)})")
    if rule.levels is not None and (len(rule.levels) < 2 or len(set(rule.levels)) != len(rule.levels)):
        raise ValueError(f"levels: at least two distinct member levels, lowest first, got {rule.levels}")
    if rule.where and rule.kind == "all":
        raise ValueError("where: kind 'all' reads no orders to filter")
    check_where(rule.where)


@frozen
class PopulationRule:
    """Who is eligible for a label at snapshot D (state strictly before D).

    all: every user in the feature snapshot; active_within: an order or event in [D - lookback_days, D);
    below_vip: below the top level of ``levels`` and cumulative spend below ``spend_threshold``.
    where: the orders the rule reads, as for measures ({column: [allowed values]}; empty: every order).
    """

    kind: PopulationKind
    include_refunded: bool | None = None
    lookback_days: Days | None = None
    event_types: tuple[str, ...] | None = None
    levels: tuple[str, ...] | None = None
    spend_threshold: Positive | None = None
    where: Where = field(default_factory=dict)

    def __post_init__(self):
        _check_rule(self)


@frozen
class LabelRule:
    """What counts as a positive outcome in (D, D + horizon_days].

    any_order_within: an order (refunded ones only if include_refunded); no_activity_within: no order
    and no event (label 1 = churned); level_rise_or_spend_crosses: a higher member level than at D, or
    cumulative spend reaching ``spend_threshold``. where: the orders the rule reads ({column: [allowed
    values]}, e.g. ``{category: [books]}`` for "buys a book"; empty: every order).
    """

    kind: LabelKind
    include_refunded: bool | None = None
    lookback_days: Days | None = None
    event_types: tuple[str, ...] | None = None
    levels: tuple[str, ...] | None = None
    spend_threshold: Positive | None = None
    where: Where = field(default_factory=dict)

    def __post_init__(self):
        _check_rule(self)


@frozen
class FeatureSelection:
    """Model inputs: ``include`` (null = every numeric column of the snapshot) minus ``exclude``, plus
    ``categorical`` string columns (indexed and one-hot encoded inside the served pipeline)."""

    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()


@frozen
class TargetDefaults:
    """``models.defaults``: the training settings of every target. The loader merges each target's own
    keys over these (key by key), so a target states only what differs, e.g. ``gbt: {max_depth: 6}``."""

    features: FeatureSelection
    sample: SampleParams
    split: SplitParams
    gbt: GBTParams
    lr: LRParams
    calibration: CalibrationParams
    # The naive rankings the model must beat (name -> column + direction); a target's null drops one.
    baselines: Mapping[str, BaselineSpec | None]

    def __post_init__(self):
        bad = [name for name in self.baselines if not _BASELINE_NAME.match(name) or name == "best"]
        if bad:
            raise ValueError(f"baselines: lower_snake_case baseline names other than 'best', got {bad}")


@frozen
class TargetConfig(TargetDefaults):
    """One binary target: its rules and tiers, and its training settings (``models.defaults`` with the
    target's own keys merged over them). A new target with an existing rule kind is a config change only."""

    horizon_days: Days
    label: LabelRule
    description: str = ""
    population: PopulationRule
    tiers: tuple[Band, ...]

    def __post_init__(self):
        super().__post_init__()
        check_bands(self.tiers, "tiers", PROBABILITY_SCALE)

    def baseline_columns(self) -> dict[str, tuple[str, str]]:
        """Each baseline (YAML order) -> (the column it reads at this target's horizon, its direction)."""
        return {
            name: (spec.column_for(self.horizon_days), spec.direction)
            for name, spec in self.baselines.items()
            if spec is not None
        }

    def inputs(self) -> list[str]:
        """The silver inputs this target's population and label rules read."""
        return sorted(set(RULE_INPUTS[self.population.kind]) | set(RULE_INPUTS[self.label.kind]))


@frozen
class TrackingConfig:
    """MLflow. A relative ``sqlite:///file`` URI and ``artifact_root`` resolve against the project root;
    any other URI (http://, databricks) is used as is.

    registry_uri: the model registry (null: the tracking URI). On Databricks with Unity Catalog it is
    ``databricks-uc`` while runs go to ``databricks``, and model names are ``<catalog>.<schema>.<name>``.
    artifact_root: where a new experiment keeps its artifacts (null: the tracking server's default, which
    is what Databricks-managed experiments need).
    """

    uri: str
    registry_uri: str | None = None
    artifact_root: str | None
    experiment: str
    model_prefix: str
    dfs_tmpdir: str | None = None


@frozen
class PromotionConfig:
    """The champion gate. A new version becomes ``champion`` when its calibrated ECE is at most
    ``max_ece``, its AUC is at least ``min_auc``, at least the best naive baseline's AUC (on the same
    validation rows) plus ``baseline_margin``, and at least the champion's AUC (on the same validation
    rows) minus ``auc_tolerance``."""

    alias: str
    min_auc: Share
    max_ece: Share
    auc_tolerance: Share
    # Negative: the candidate may trail the best baseline by that much (-1 lets any model through: tests).
    baseline_margin: Annotated[float, Range(-1.0, 1.0)]


@frozen
class EvaluationConfig:
    """Bounded-size aggregations the metrics are computed from."""

    ece_bins: Annotated[int, Range(1, 1000)]
    curve_bins: Annotated[int, Range(2, 1_000_000)]
    quantile_relative_error: Annotated[float, Range(0.0, 0.1, high_open=True)]
    top_features: Count


@frozen
class ModelInputs:
    """Tables training reads: the feature snapshots and the silver tables labels come from."""

    features: str
    orders: str
    events: str
    level_changes: str


@frozen
class ModelsConfig:
    """Targets and everything shared by their training runs."""

    inputs: ModelInputs
    # Where GBT checkpoints its node-id cache; None: <catalog.root>/_checkpoints (set a DFS path on a cluster).
    checkpoint_dir: str | None = None
    # Partitions of the cached training vectors; None: one per task slot of the session.
    training_partitions: Count | None = None
    tracking: TrackingConfig
    defaults: TargetDefaults
    promotion: PromotionConfig
    evaluation: EvaluationConfig
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)

    def __post_init__(self):
        bad = [name for name in self.targets if not _TARGET_NAME.match(name)]
        if bad:
            raise ValueError(f"targets: lower_snake_case target names, got {bad}")


def input_tables(inputs: ModelInputs) -> dict[str, str]:
    """Silver input name -> table name."""
    return {f.name: getattr(inputs, f.name) for f in fields(inputs) if f.name in INPUT_COLUMNS}


def reference_errors(
    models: ModelsConfig, tables: Mapping[str, TableSpec], feature_columns: Sequence[str]
) -> Iterator[tuple[KeyPath, str, str]]:
    """Tables and columns the targets read must be declared: the feature keys and the silver inputs; each
    baseline's column (at the target's horizon) must be one the features job writes (``feature_columns``)."""
    if not models.targets:
        return
    yield from _baseline_errors(models, set(feature_columns))
    known = sorted(tables)
    needed = {"features": (models.inputs.features, KEY_COLUMNS)}
    needed |= {name: (table, INPUT_COLUMNS[name]) for name, table in input_tables(models.inputs).items()}
    for name, (table, columns) in needed.items():
        at: KeyPath = ("models", "inputs", name)
        if table not in tables:
            yield at, f"undefined table {table!r}", f"one of {known}"
            continue
        missing = [c for c in columns if c not in tables[table].column_names]
        if missing:
            yield at, f"table {table} without columns {missing}", f"a table declaring columns {list(columns)}"
    orders = tables.get(models.inputs.orders)
    for name, target in models.targets.items():
        for rule in ("population", "label"):
            for column in getattr(target, rule).where:
                if orders is not None and column not in orders.column_names:
                    yield (
                        ("models", "targets", name, rule, "where", column),
                        f"undefined column {column!r} of {models.inputs.orders}",
                        f"one of {list(orders.column_names)}",
                    )


def _baseline_errors(models: ModelsConfig, feature_columns: set[str]) -> Iterator[tuple[KeyPath, str, str]]:
    # A column no snapshot can ever have is a mistake (a typo). A `{horizon}` column is checked at every
    # horizon: the one a target needs may not be computed (e.g. a 14-day target while the features fit
    # BG/NBD at 30, 60, 90 days), and then training skips that baseline with the reason, as it skips a column
    # older snapshots lack (userscore.models.baselines).
    for name, target in models.targets.items():
        for baseline, spec in target.baselines.items():
            if spec is None:
                continue
            pattern = re.compile(re.escape(spec.column).replace(re.escape(HORIZON_PLACEHOLDER), r"[0-9]+") + "$")
            if not any(pattern.match(c) for c in feature_columns):
                yield (
                    ("models", "targets", name, "baselines", baseline, "column"),
                    f"column {spec.column!r} that no feature snapshot has",
                    "a feature column the features section produces",
                )
