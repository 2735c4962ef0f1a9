"""Config section ``features``: the point-in-time feature families, as data.

A *measure* is one per-user aggregate over a source (orders or events) declared in YAML: what to
aggregate, which rows count, and whether it is computed per window (``<name>_<N>d`` for each window)
or over all history before the snapshot date. All measures of one source become ONE groupBy, so
adding a window or a measure is a config change only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Annotated, Literal

from userscore.config.typed import Days, NonNegative, Positive, Range, frozen

Source = Literal["orders", "events"]
# count / sum: windowed or all-history, optionally time-decayed; distinct_days: days with a matching
# row in each window; days_since_last / days_since_first: whole days from the row's date to the
# snapshot date; mean_gap_days: (last - first) / (n - 1) in days, the mean of consecutive gaps.
AggKind = Literal["count", "sum", "distinct_days", "days_since_last", "days_since_first", "mean_gap_days"]
_WINDOWED_AGGS = ("count", "sum", "distinct_days")
_TRENDABLE_AGGS = ("count", "sum", "distinct_days")
FilterValue = str | bool


@frozen
class MeasureSpec:
    """One aggregate of a source's rows before the snapshot date.

    ``where`` keeps rows whose column value is one of the listed values (all entries must hold).
    """

    source: Source
    agg: AggKind
    column: str | None = None
    where: Mapping[str, tuple[FilterValue, ...]] = field(default_factory=dict)
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
        for column, values in self.where.items():
            if not values:
                raise ValueError(f"where: at least one allowed value for {column!r}")


@frozen
class SourceSpec:
    """A silver table the engine reads, with its event-time column and optional month partition column."""

    table: str
    time: str
    month: str | None = None


@frozen
class FeatureSources:
    users: SourceSpec = SourceSpec(table="silver.users", time="registered_at")
    orders: SourceSpec = SourceSpec(table="silver.orders", time="order_ts", month="order_month")
    events: SourceSpec = SourceSpec(table="silver.events", time="event_ts", month="event_month")
    level_changes: SourceSpec = SourceSpec(table="silver.level_changes", time="changed_at")


@frozen
class FamilyConfig:
    """A family of measures plus derived ratios and trends.

    ratios: output name -> [numerator, denominator], both generated measure columns; 0 when the
    denominator is 0. trends: measures whose ``<name>_trend`` = (last + 1) / (previous + 1) over two
    consecutive ``trend_days`` periods (the +1 smoothing keeps it defined and finite at 0 activity).
    """

    measures: Mapping[str, MeasureSpec] = field(default_factory=dict)
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
    r: NonNegative = 0.4
    f: NonNegative = 0.3
    m: NonNegative = 0.3


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


def _rule(segment: str, r: tuple[int, int], fm: tuple[int, int]) -> SegmentRule:
    return SegmentRule(segment=segment, r=r, fm=fm)


# The standard R x FM grid (rows: R score, columns: FM score, both 1-5):
#   R5: New customers   Potential loyalist  Loyal           Champions        Champions
#   R4: Promising       Potential loyalist  Loyal           Champions        Champions
#   R3: Promising       Need attention      Need attention  Loyal            Loyal
#   R2: About to sleep  About to sleep      At risk         At risk          Can't lose them
#   R1: Lost            Hibernating         At risk         Can't lose them  Can't lose them
DEFAULT_SEGMENTS: tuple[SegmentRule, ...] = (
    _rule("Champions", (4, 5), (4, 5)),
    _rule("Loyal", (4, 5), (3, 3)),
    _rule("Loyal", (3, 3), (4, 5)),
    _rule("Potential loyalist", (4, 5), (2, 2)),
    _rule("New customers", (5, 5), (1, 1)),
    _rule("Promising", (3, 4), (1, 1)),
    _rule("Need attention", (3, 3), (2, 3)),
    _rule("About to sleep", (2, 2), (1, 2)),
    _rule("At risk", (2, 2), (3, 4)),
    _rule("At risk", (1, 1), (3, 3)),
    _rule("Can't lose them", (1, 2), (5, 5)),
    _rule("Can't lose them", (1, 1), (4, 4)),
    _rule("Hibernating", (1, 1), (2, 2)),
    _rule("Lost", (1, 1), (1, 1)),
)

_KEPT_ORDERS: Mapping[str, tuple[FilterValue, ...]] = MappingProxyType({"is_refunded": (False,)})


def _default_rfm_measures() -> Mapping[str, MeasureSpec]:
    return MappingProxyType(
        {
            "recency_days": MeasureSpec(source="orders", agg="days_since_last", where=_KEPT_ORDERS),
            "frequency": MeasureSpec(source="orders", agg="count", where=_KEPT_ORDERS, windowed=True),
            "monetary": MeasureSpec(source="orders", agg="sum", column="amount", where=_KEPT_ORDERS, windowed=True),
            "decayed_frequency": MeasureSpec(source="orders", agg="count", where=_KEPT_ORDERS, decay=True),
            "decayed_monetary": MeasureSpec(
                source="orders", agg="sum", column="amount", where=_KEPT_ORDERS, decay=True
            ),
        }
    )


@frozen
class RfmConfig(FamilyConfig):
    """RFM core measures and their dynamic 1..bins scores.

    recency / frequency / monetary name the measures scored; F and M use their ``score_window`` column.
    Scores come from quantile boundaries recomputed per snapshot over buyers only (approximate
    quantiles with ``relative_error``); rfm_score is the weighted mean of the three scores.
    """

    measures: Mapping[str, MeasureSpec] = field(default_factory=_default_rfm_measures)
    recency: str = "recency_days"
    frequency: str = "frequency"
    monetary: str = "monetary"
    score_window: Days = 365
    bins: Annotated[int, Range(2, 20)] = 5
    relative_error: Annotated[float, Range(0.0, 0.5, low_open=True, high_open=True)] = 0.001
    weights: RfmWeights = RfmWeights()
    segments: tuple[SegmentRule, ...] = DEFAULT_SEGMENTS

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
    spend: NonNegative = 0.6
    visits: NonNegative = 0.4

    def __post_init__(self):
        if self.spend + self.visits <= 0:
            raise ValueError(f"spend and visits weights with a positive sum, got {self.spend} and {self.visits}")


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

    top_k: Annotated[int, Range(1, 20)] = 3
    order_where: Mapping[str, tuple[FilterValue, ...]] = field(default_factory=lambda: _KEPT_ORDERS)
    visit_event_types: tuple[str, ...] = ("page_view", "click", "favorite", "add_to_cart")
    categories: tuple[str, ...] = (
        "apparel",
        "beauty",
        "books",
        "electronics",
        "grocery",
        "home",
        "sports",
        "toys",
    )
    channels: tuple[str, ...] = ("app", "web", "store", "mini_program")
    affinity_weights: AffinityWeights = AffinityWeights()
    score_weights: Mapping[str, NonNegative] = field(
        default_factory=lambda: MappingProxyType(
            {"top_category_spend_share": 0.4, "top_category_visit_share": 0.3, "preferred_channel_share": 0.3}
        )
    )

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
class ProfileConfig:
    """Profile columns copied from the users table (nulls become ``unknown_value``)."""

    columns: tuple[str, ...] = ("region", "registration_channel", "age_band")
    level_column: str = "member_level"
    unknown_value: str = "unknown"


def _measures(**specs: MeasureSpec) -> Mapping[str, MeasureSpec]:
    return MappingProxyType(specs)


def _default_transaction() -> FamilyConfig:
    orders = {"source": "orders"}
    return FamilyConfig(
        measures=_measures(
            orders_placed=MeasureSpec(**orders, agg="count"),
            order_count=MeasureSpec(**orders, agg="count", where=_KEPT_ORDERS),
            total_order_value=MeasureSpec(**orders, agg="sum", column="amount", where=_KEPT_ORDERS),
            refunded_orders=MeasureSpec(**orders, agg="count", where={"is_refunded": (True,)}),
            coupon_orders=MeasureSpec(**orders, agg="count", where={**_KEPT_ORDERS, "coupon_used": (True,)}),
            days_between_orders_mean=MeasureSpec(**orders, agg="mean_gap_days", where=_KEPT_ORDERS),
            days_since_first_order=MeasureSpec(**orders, agg="days_since_first", where=_KEPT_ORDERS),
        ),
        ratios=MappingProxyType(
            {
                "avg_order_value": ("total_order_value", "order_count"),
                "refund_rate": ("refunded_orders", "orders_placed"),
                "coupon_order_share": ("coupon_orders", "order_count"),
            }
        ),
    )


def _event_count(*types: str, windowed: bool = True) -> MeasureSpec:
    return MeasureSpec(source="events", agg="count", where={"event_type": types}, windowed=windowed)


def _default_behaviour() -> FamilyConfig:
    return FamilyConfig(
        measures=_measures(
            logins=_event_count("login"),
            active_days=MeasureSpec(source="events", agg="distinct_days", windowed=True),
            page_views=_event_count("page_view"),
            dwell_seconds=MeasureSpec(source="events", agg="sum", column="dwell_seconds", windowed=True),
            favorites=_event_count("favorite"),
            carts=_event_count("add_to_cart"),
            shares=_event_count("share"),
            comments=_event_count("comment"),
            searches=_event_count("search"),
            days_since_last_activity=MeasureSpec(source="events", agg="days_since_last"),
        ),
        trends=("logins", "active_days", "page_views"),
    )


def _default_interaction() -> FamilyConfig:
    return FamilyConfig(
        measures=_measures(
            coupons_claimed=_event_count("coupon_claim"),
            coupons_used=MeasureSpec(source="orders", agg="count", where={"coupon_used": (True,)}, windowed=True),
            campaigns_joined=_event_count("campaign_join"),
            service_contacts=_event_count("service_contact"),
        )
    )


@frozen
class FeaturesConfig:
    """Every feature family of the point-in-time snapshot (features.user_features)."""

    output_table: str = "features.user_features"
    boundaries_table: str = "features.rfm_boundaries"
    sources: FeatureSources = FeatureSources()
    windows: tuple[Days, ...] = (30, 90, 365)
    trend_days: Days = 30
    half_life_days: Positive = 90.0
    rfm: RfmConfig = RfmConfig()
    transaction: FamilyConfig = field(default_factory=_default_transaction)
    behaviour: FamilyConfig = field(default_factory=_default_behaviour)
    interaction: FamilyConfig = field(default_factory=_default_interaction)
    preference: PreferenceConfig = PreferenceConfig()
    profile: ProfileConfig = ProfileConfig()

    def __post_init__(self):
        if not self.windows or len(set(self.windows)) != len(self.windows):
            raise ValueError(f"windows: distinct positive numbers of days, got {list(self.windows)}")
        if self.rfm.score_window not in self.windows:
            raise ValueError(f"rfm: score_window {self.rfm.score_window} must be one of windows {list(self.windows)}")
        seen: dict[str, str] = {}
        for family, config in self.families.items():
            for name in config.measures:
                if name in seen:
                    raise ValueError(f"{family}: measure {name!r} is already defined in family {seen[name]!r}")
                seen[name] = family
        known = set(self.measure_columns())
        for family, config in self.families.items():
            for ratio, operands in config.ratios.items():
                missing = [o for o in operands if o not in known]
                if missing:
                    raise ValueError(f"{family}: ratio {ratio!r} uses undefined measure columns {missing}")

    @property
    def families(self) -> dict[str, FamilyConfig]:
        """The measure-bearing families, in output order."""
        return {
            "rfm": self.rfm,
            "transaction": self.transaction,
            "behaviour": self.behaviour,
            "interaction": self.interaction,
        }

    def measures(self) -> dict[str, MeasureSpec]:
        """Every declared measure of every family, by name."""
        return {name: spec for family in self.families.values() for name, spec in family.measures.items()}

    def measure_columns(self) -> list[str]:
        """The output columns the measures generate (``<name>_<N>d`` per window for windowed ones)."""
        return [
            column
            for name, spec in self.measures().items()
            for column in ([f"{name}_{n}d" for n in self.windows] if spec.windowed else [name])
        ]


# Columns the engine reads besides those named by measures, per source (checked against the tables).
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "users": ("user_id",),
        # is_refunded and refunded_at: refunds count as of the snapshot (userscore.refunds).
        "orders": ("user_id", "amount", "discount_amount", "category", "channel", "is_refunded", "refunded_at"),
        "events": ("user_id", "event_type", "category"),
        "level_changes": ("user_id", "from_level", "to_level"),
    }
)


def reference_errors(features: FeaturesConfig, tables: Mapping[str, object]) -> list[tuple[tuple[str, ...], str, str]]:
    """Undefined tables or columns referenced by ``features``, as (key path, found, expected).

    ``tables`` maps table names to specs with a ``column_names`` attribute.
    """
    errors: list[tuple[tuple[str, ...], str, str]] = []
    known_tables = sorted(tables)
    for key in ("output_table", "boundaries_table"):
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
    for family, config in features.families.items():
        for name, measure in config.measures.items():
            at = ("features", family, "measures", name)
            check((*at, "column"), measure.source, measure.column)
            for column in measure.where:
                check((*at, "where", column), measure.source, column)
    for column in features.preference.order_where:
        check(("features", "preference", "order_where", column), "orders", column)
    for i, column in enumerate((*features.profile.columns, features.profile.level_column)):
        key = (
            ("features", "profile", "columns", str(i))
            if i < len(features.profile.columns)
            else ("features", "profile", "level_column")
        )
        check(key, "users", column)
    return errors
