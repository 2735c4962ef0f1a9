"""Config section ``features``: the point-in-time feature families, as data.

A *measure* is one per-user aggregate over a source (orders or events) declared in YAML: what to
aggregate, which rows count, and whether it is computed per window (``<name>_<N>d`` for each window)
or over all history before the snapshot date. All measures of one source become ONE groupBy, so
adding a window or a measure is a config change only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Annotated, Literal

from userscore.config.btyd import TimeUnit, fit_resolution
from userscore.config.typed import Days, NonNegative, Positive, Range, frozen

Source = Literal["orders", "events"]
# The silver inputs of a snapshot: measures read orders or events; the profile reads users and level changes.
# count / sum: windowed or all-history, optionally time-decayed; distinct_days: days with a matching
# row in each window; days_since_last / days_since_first: whole days from the row's date to the
# snapshot date; mean_gap_days: (last - first) / (n - 1) in days, the mean of consecutive gaps.
AggKind = Literal["count", "sum", "distinct_days", "days_since_last", "days_since_first", "mean_gap_days"]
_WINDOWED_AGGS = ("count", "sum", "distinct_days")
_TRENDABLE_AGGS = ("count", "sum", "distinct_days")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FilterValue = str | bool
Where = Mapping[str, tuple[FilterValue, ...]]


def check_where(where: Where) -> None:
    """Reject a ``where`` filter (rows whose column takes one of the listed values) with an empty value list."""
    empty = [column for column, values in where.items() if not values]
    if empty:
        raise ValueError(f"where: at least one allowed value for {empty[0]!r}")


@frozen
class MeasureSpec:
    """One aggregate of a source's rows before the snapshot date.

    ``where`` keeps rows whose column value is one of the listed values (all entries must hold).
    """

    source: Source
    agg: AggKind
    column: str | None = None
    where: Where = field(default_factory=dict)
    windowed: bool = False
    decay: bool = False

    def __post_init__(self):
        if self.agg == "sum" and not self.column:
            raise ValueError("column: required when agg is 'sum' (the column summed)")
        if self.agg != "sum" and self.column:
            raise ValueError(f"column: only for agg 'sum', not {self.agg!r} (they use the source's time column)")
        if self.windowed and self.agg not in _WINDOWED_AGGS:
            raise ValueError(f"windowed: only {list(_WINDOWED_AGGS)} can be windowed, not {self.agg!r}")
        if self.agg == "distinct_days" and not self.windowed:
            raise ValueError("windowed: distinct_days is counted per window; set windowed: true")
        if self.decay and (self.agg not in ("count", "sum") or self.windowed):
            raise ValueError("decay: only for all-history (windowed: false) count or sum measures")
        check_where(self.where)


def measure_columns(name: str, spec: MeasureSpec, windows: Iterable[int]) -> list[str]:
    """A measure's output columns: ``<name>_<N>d`` per window when windowed, else ``<name>``."""
    return [f"{name}_{n}d" for n in windows] if spec.windowed else [name]


@frozen
class SourceSpec:
    """A silver table the engine reads, with its event-time column and optional month partition column."""

    table: str
    time: str
    month: str | None = None


@frozen
class FeatureSources:
    users: SourceSpec
    orders: SourceSpec
    events: SourceSpec
    level_changes: SourceSpec


@frozen
class FamilyConfig:
    """A family of measures plus derived ratios and trends.

    ratios: output name -> [numerator, denominator], both generated measure columns; 0 when the
    denominator is 0. trends: measures whose ``<name>_trend`` = (last + 1) / (previous + 1) over two
    consecutive ``trend_days`` periods (the +1 smoothing keeps it defined and finite at 0 activity).
    """

    measures: Mapping[str, MeasureSpec]
    ratios: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    trends: tuple[str, ...] = ()

    def __post_init__(self):
        for name, operands in self.ratios.items():
            if len(operands) != 2:
                raise ValueError(f"ratios: [numerator, denominator] for {name!r}, got {list(operands)}")
        for name in self.trends:
            spec = self.measures.get(name)
            if spec is None:
                raise ValueError(f"trends: a measure of this family, got undefined {name!r}")
            if spec.agg not in _TRENDABLE_AGGS or spec.decay:
                raise ValueError(f"trends: a count, sum or distinct_days measure without decay, got {name!r}")


@frozen
class RfmWeights:
    r: NonNegative
    f: NonNegative
    m: NonNegative


@frozen
class SegmentRule:
    """Users whose R score and FM score fall in these inclusive ranges get ``segment`` (first rule wins)."""

    segment: str
    r: tuple[int, ...]
    fm: tuple[int, ...]

    def __post_init__(self):
        for attr in ("r", "fm"):
            bounds = getattr(self, attr)
            if len(bounds) != 2 or bounds[0] > bounds[1]:
                raise ValueError(f"{attr}: an inclusive range [low, high], got {list(bounds)}")


@frozen
class RfmConfig(FamilyConfig):
    """RFM core measures and their dynamic 1..bins scores.

    recency / frequency / monetary name the measures scored; F and M use their ``score_window`` column.
    Scores come from quantile boundaries recomputed per snapshot over buyers only (approximate
    quantiles with ``relative_error``); rfm_score is the weighted mean of the three scores.
    """

    recency: str
    frequency: str
    monetary: str
    score_window: Days
    bins: Annotated[int, Range(2, 20)]
    relative_error: Annotated[float, Range(0.0, 0.5, low_open=True, high_open=True)]
    weights: RfmWeights
    segments: tuple[SegmentRule, ...]

    def __post_init__(self):
        super().__post_init__()
        weights = (self.weights.r, self.weights.f, self.weights.m)
        if sum(weights) <= 0:
            raise ValueError(f"weights: non-negative with a positive sum, got {weights}")
        checks = (
            ("recency", "days_since_last", False),
            ("frequency", "count", True),
            ("monetary", "sum", True),
        )
        for attr, agg, windowed in checks:
            name = getattr(self, attr)
            spec = self.measures.get(name)
            if spec is None or spec.agg != agg or spec.windowed != windowed or spec.source != "orders":
                kind = f"a{' windowed' if windowed else 'n all-history'} orders measure with agg {agg!r}"
                raise ValueError(f"{attr}: {kind} of rfm.measures, got {name!r}")
        for rule in self.segments:
            if min(rule.r + rule.fm) < 1 or max(rule.r + rule.fm) > self.bins:
                raise ValueError(f"segments: score ranges within [1, {self.bins}], got rule {rule.segment!r}")
        uncovered = [
            (r, fm)
            for r in range(1, self.bins + 1)
            for fm in range(1, self.bins + 1)
            if not any(x.r[0] <= r <= x.r[1] and x.fm[0] <= fm <= x.fm[1] for x in self.segments)
        ]
        if uncovered:
            raise ValueError(f"segments: rules covering every (R, FM) score pair, missing {uncovered}")


@frozen
class AffinityWeights:
    spend: NonNegative
    visits: NonNegative

    def __post_init__(self):
        if self.spend + self.visits <= 0:
            raise ValueError(f"spend and visits weights with a positive sum, got {self.spend} and {self.visits}")


@frozen
class PreferencePlacement:
    """Where the preference columns sit in the snapshot's column order (model inputs follow that order):
    after the columns of the generic family ``columns``, and category_count after those of ``category_count``."""

    columns: str
    category_count: str


PREFERENCE_SIGNALS = ("top_category_spend_share", "top_category_visit_share", "preferred_channel_share")


@frozen
class PreferenceConfig:
    """Category and channel preference over all history before the snapshot date.

    A category's affinity = spend_weight * its share of the user's spend + visits_weight * its share of
    the user's visits (events of ``visit_event_types`` with a category). preference_score is the
    weighted mean of the ``score_weights`` signals (each a share in [0, 1]). ``categories`` and
    ``channels`` are the vocabularies preferences are chosen from: each value is one conditional
    aggregate of the per-user aggregation (rows with other values do not count for preferences).
    """

    top_k: Annotated[int, Range(1, 20)]
    order_where: Mapping[str, tuple[FilterValue, ...]]
    visit_event_types: tuple[str, ...]
    categories: tuple[str, ...]
    channels: tuple[str, ...]
    affinity_weights: AffinityWeights
    score_weights: Mapping[str, NonNegative]
    placement: PreferencePlacement

    def __post_init__(self):
        for attr in ("categories", "channels"):
            values = getattr(self, attr)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{attr}: a non-empty list of distinct names, got {list(values)}")
        unknown = sorted(set(self.score_weights) - set(PREFERENCE_SIGNALS))
        if unknown:
            raise ValueError(f"score_weights: keys among {list(PREFERENCE_SIGNALS)}, got {unknown}")
        if sum(self.score_weights.values()) <= 0:
            raise ValueError("score_weights: non-negative weights with a positive sum")


@frozen
class DwellBonus:
    """A page view's extra weight for its dwell time: ``per_minute`` x min(dwell_seconds, cap_seconds) / 60."""

    per_minute: NonNegative
    cap_seconds: Positive


@frozen
class InterestConfig:
    """Point-in-time interest affinity per category (the ``preference.categories`` vocabulary).

    A user's affinity for a category = sum over their rows before D in that category of
    weight x 0.5 ** (age_days / half_life_days): events of the ``event_weights`` types (a page view adds
    the dwell bonus) and orders kept by ``purchase_where`` (``purchase_weight`` each). Lift = the category's
    share of the user's affinity / its share of the whole population's affinity, so a popular category
    needs a larger share to stand out. A category is an interest when its share >= ``min_share`` and its
    lift >= ``min_lift``; the ``top_k`` interests are ranked by lift, then share, then name.
    """

    top_k: Annotated[int, Range(1, 20)]
    half_life_days: Positive
    event_weights: Mapping[str, Positive]
    dwell: DwellBonus
    purchase_weight: Positive
    purchase_where: Mapping[str, tuple[FilterValue, ...]]
    min_share: Annotated[float, Range(0.0, 1.0)]
    min_lift: NonNegative

    def __post_init__(self):
        if not self.event_weights:
            raise ValueError("event_weights: at least one event type with its weight")
        check_where(self.purchase_where)


@frozen
class ProfileConfig:
    """Profile columns copied from the users table (nulls become ``unknown_value``)."""

    columns: tuple[str, ...]
    level_column: str
    unknown_value: str


@frozen
class CustomerBaseConfig:
    """The point-in-time BG/NBD family (``bgnbd_*`` columns): a fit at each snapshot D on its own orders.

    The BTYD summary of the orders before D (refunded ones excluded, as of D) gives each buyer x, t_x and T;
    BG/NBD is fitted on its distinct groups (t_x and T rounded to ``fit_resolution_days``, null = one
    ``time_unit``; the scores use exact days) with ``penalizer`` and ``max_iter`` as in ``btyd``; each buyer
    gets P(alive) and the expected purchases in the ``horizons_days`` days after D.
    """

    horizons_days: tuple[Days, ...]
    time_unit: TimeUnit
    fit_resolution_days: Annotated[int, Range(1, 28)] | None = None
    penalizer: NonNegative
    max_iter: Annotated[int, Range(10)]

    def __post_init__(self):
        if not self.horizons_days or len(set(self.horizons_days)) != len(self.horizons_days):
            raise ValueError(f"horizons_days: distinct horizons, got {list(self.horizons_days)}")

    @property
    def resolution_days(self) -> int:
        """The effective fit resolution in days, as ``btyd`` computes it (config.btyd.fit_resolution)."""
        return fit_resolution(self.time_unit, self.fit_resolution_days)


@frozen
class SocialFeaturesConfig:
    """The social family: ``columns`` of the per-user table of ``userscore social`` (``table``), from its
    partition at D (edges and orders before D, the snapshot's own cutoff), named ``prefix`` + column. Users
    without a row there (registered after the latest social run the live rescoring reads) get 0 and false."""

    table: str
    columns: tuple[str, ...]
    prefix: str

    @property
    def feature_columns(self) -> list[str]:
        return [self.prefix + c for c in self.columns]

    def __post_init__(self):
        if not self.columns or len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns: distinct columns of {self.table}, got {list(self.columns)}")
        keys = [c for c in self.columns if c in ("user_id", "as_of_date")]
        if keys:
            raise ValueError(f"columns: the table's keys are no features, got {keys}")


# Families with their own Python (profile, rfm scores, preference, interests, customer base, social); a generic
# family may not take these names.
BUILT_IN_FAMILIES = ("profile", "rfm", "preference", "interests", "customer_base", "social")


@frozen
class FeaturesConfig:
    """Every feature family of the point-in-time snapshot (features.user_features).

    ``families`` are the generic families, in output order: measures, trends and ratios declared in YAML
    and computed by one builder, so a new family over orders or events is a config change only.
    """

    output_table: str
    boundaries_table: str
    population_table: str
    sources: FeatureSources
    windows: tuple[Days, ...]
    trend_days: Days
    half_life_days: Positive
    rfm: RfmConfig
    families: Mapping[str, FamilyConfig]
    preference: PreferenceConfig
    interests: InterestConfig
    profile: ProfileConfig
    customer_base: CustomerBaseConfig
    # null: no social columns (a business without a social network).
    social: SocialFeaturesConfig | None = None

    def __post_init__(self):
        if not self.windows or len(set(self.windows)) != len(self.windows):
            raise ValueError(f"windows: distinct positive numbers of days, got {list(self.windows)}")
        if self.rfm.score_window not in self.windows:
            raise ValueError(f"rfm: score_window {self.rfm.score_window} must be one of windows {list(self.windows)}")
        bad = [f for f in self.families if not _NAME.match(f) or f in BUILT_IN_FAMILIES]
        if bad:
            raise ValueError(f"families: lower_snake_case names other than {list(BUILT_IN_FAMILIES)}, got {bad}")
        placement = self.preference.placement
        for key in ("columns", "category_count"):
            if getattr(placement, key) not in self.families:
                raise ValueError(
                    f"preference: placement.{key} names a family of features.families, got "
                    f"{getattr(placement, key)!r} (families: {list(self.families)})"
                )
        seen: dict[str, str] = {}
        for family, config in self.measure_families().items():
            for name in config.measures:
                if name in seen:
                    raise ValueError(
                        f"{self._key(family)}: measure {name!r} is already defined in family {seen[name]!r}"
                    )
                seen[name] = family
        known = set(self.measure_columns())
        clashing = [c for c in (self.social.feature_columns if self.social else ()) if c in known]
        if clashing:
            raise ValueError(f"social: columns {clashing} are already measures of a family")
        for family, config in self.measure_families().items():
            for ratio, operands in config.ratios.items():
                missing = [o for o in operands if o not in known]
                if missing:
                    raise ValueError(f"{self._key(family)}: ratio {ratio!r} uses undefined measure columns {missing}")

    @staticmethod
    def _key(family: str) -> str:
        # The key a family's error is reported at: families.<name> is not a field, so report ``families``.
        return "rfm" if family == "rfm" else "families"

    def measure_families(self) -> dict[str, FamilyConfig]:
        """Every measure-bearing family (rfm, then the generic families), in output order."""
        return {"rfm": self.rfm, **self.families}

    def measures(self) -> dict[str, MeasureSpec]:
        """Every declared measure of every family, by name."""
        return {name: spec for family in self.measure_families().values() for name, spec in family.measures.items()}

    def measure_columns(self) -> list[str]:
        """The output columns the measures generate (``<name>_<N>d`` per window for windowed ones)."""
        measures = self.measures().items()
        return [column for name, spec in measures for column in measure_columns(name, spec, self.windows)]


# Columns the engine reads besides those named by measures, per source (checked against the tables).
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "users": ("user_id",),
        # is_refunded and refunded_at: refunds count as of the snapshot (userscore.refunds).
        "orders": ("user_id", "amount", "discount_amount", "category", "channel", "is_refunded", "refunded_at"),
        # dwell_seconds: the page-view dwell bonus of the interest affinity.
        "events": ("user_id", "event_type", "category", "dwell_seconds"),
        "level_changes": ("user_id", "from_level", "to_level"),
    }
)


def reference_errors(features: FeaturesConfig, tables: Mapping[str, object]) -> list[tuple[tuple[str, ...], str, str]]:
    """Undefined tables or columns referenced by ``features``, as (key path, found, expected).

    ``tables`` maps table names to specs with a ``column_names`` attribute.
    """
    errors: list[tuple[tuple[str, ...], str, str]] = []
    known_tables = sorted(tables)
    for key in ("output_table", "boundaries_table", "population_table"):
        name = getattr(features, key)
        if name not in tables:
            errors.append((("features", key), f"undefined table {name!r}", f"one of {known_tables}"))

    def columns_of(source: str) -> tuple[str, ...] | None:
        return getattr(tables.get(getattr(features.sources, source).table), "column_names", None)

    def check(path: tuple[str, ...], source: str, column: str | None) -> None:
        columns = columns_of(source)
        if column is not None and columns is not None and column not in columns:
            table = getattr(features.sources, source).table
            errors.append((path, f"undefined column {column!r} of {table}", f"one of {list(columns)}"))

    for source in ("users", "orders", "events", "level_changes"):
        spec: SourceSpec = getattr(features.sources, source)
        at = ("features", "sources", source)
        if spec.table not in tables:
            errors.append(((*at, "table"), f"undefined table {spec.table!r}", f"one of {known_tables}"))
            continue
        check((*at, "time"), source, spec.time)
        check((*at, "month"), source, spec.month)
        for column in REQUIRED_COLUMNS[source]:
            check((*at, "table"), source, column)
    for family, config in features.measure_families().items():
        for name, measure in config.measures.items():
            at = ("features", *(("rfm",) if family == "rfm" else ("families", family)), "measures", name)
            check((*at, "column"), measure.source, measure.column)
            for column in measure.where:
                check((*at, "where", column), measure.source, column)
    for column in features.preference.order_where:
        check(("features", "preference", "order_where", column), "orders", column)
    for column in features.interests.purchase_where:
        check(("features", "interests", "purchase_where", column), "orders", column)
    for i, column in enumerate((*features.profile.columns, features.profile.level_column)):
        key = (
            ("features", "profile", "columns", str(i))
            if i < len(features.profile.columns)
            else ("features", "profile", "level_column")
        )
        check(key, "users", column)
    if features.social is not None:
        social = features.social
        if social.table not in tables:
            found = f"undefined table {social.table!r}"
            errors.append((("features", "social", "table"), found, f"one of {known_tables}"))
        else:
            columns = tables[social.table].column_names
            for i, column in enumerate(social.columns):
                if column not in columns:
                    found = f"undefined column {column!r} of {social.table}"
                    errors.append((("features", "social", "columns", str(i)), found, f"one of {list(columns)}"))
    return errors
