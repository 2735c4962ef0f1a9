"""Config sections ``analysis.profile`` and ``analysis.consumption`` (conf/base/analysis_consumption.yaml).

Value is the spend of orders kept (not refunded as of D) in the ``value_window_days`` before D; the
same measure weighs the profile distributions and makes the consumption analysis' revenue. The tables both
read (users, scores, segments, orders) are the job's inputs, named once in ``analysis.inputs``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from userscore.config.analysis_inputs import AnalysisInputTables
from userscore.config.typed import Count, Days, KeyPath, Share, frozen

# Columns the analyses derive themselves (not read from a table).
TENURE_BAND = "tenure_band"


@frozen
class Band:
    """A tenure band: users registered at least ``min_days`` and less than ``max_days`` before D (the
    last band has no ``max_days``)."""

    name: str
    max_days: Days | None = None


@frozen
class ProfileAnalysis:
    """Basic profile: user distributions by profile dimension, each crossed with score columns."""

    table: str
    # Columns of the users input (plus tenure_band, derived from registered_at and tenure_bands).
    dimensions: tuple[str, ...]
    # Columns of the scores input each dimension is crossed with (besides the whole population).
    crosses: tuple[str, ...]
    tenure_bands: tuple[Band, ...]
    value_window_days: Days

    def __post_init__(self):
        if not self.dimensions:
            raise ValueError("dimensions: at least one dimension")
        for key in ("dimensions", "crosses"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ValueError(f"{key}: each column once, got {list(values)}")
        names = [b.name for b in self.tenure_bands]
        if TENURE_BAND in self.dimensions and not names:
            raise ValueError("tenure_bands: bands are needed when tenure_band is a dimension")
        if len(set(names)) != len(names):
            raise ValueError(f"tenure_bands: each name once, got {names}")
        bounds = [b.max_days for b in self.tenure_bands]
        if names and (bounds[-1] is not None or any(b is None for b in bounds[:-1])):
            raise ValueError("tenure_bands: every band but the last has max_days; the last has none")
        inner = bounds[:-1]
        if any(a >= b for a, b in zip(inner, inner[1:], strict=False)):
            raise ValueError(f"tenure_bands: max_days strictly increasing, got {inner}")


@frozen
class ConsumptionTables:
    """The consumption analysis' output tables."""

    rf_grid: str
    lorenz: str
    summary: str
    category_mix: str
    promotion: str
    distributions: str
    payment_mix: str


@frozen
class ConsumptionAnalysis:
    """Consumption: R x F grid, spend concentration, category and payment mix and promotion dependence by
    segment, order-value and repurchase-interval distributions."""

    tables: ConsumptionTables
    value_window_days: Days
    recency_column: str
    frequency_column: str
    lorenz_points: Count
    top_shares: tuple[Share, ...]
    # Buckets of the exact rank computation behind the Lorenz curve and Gini (quantiles of spend).
    rank_buckets: Count
    # A buyer is coupon dependent when at least this share of their kept orders used a coupon.
    coupon_dependence_share: Share
    # Histogram bin edges: bin i is [edges[i], edges[i + 1]), the last bin is [edges[-1], inf).
    order_value_edges: tuple[float, ...]
    repurchase_days_edges: tuple[float, ...]
    payment_column: str

    def __post_init__(self):
        if any(s <= 0 for s in self.top_shares):
            raise ValueError(f"top_shares: shares in (0, 1], got {list(self.top_shares)}")
        for key in ("order_value_edges", "repurchase_days_edges"):
            edges = getattr(self, key)
            if not edges or edges[0] != 0 or any(a >= b for a, b in zip(edges, edges[1:], strict=False)):
                raise ValueError(f"{key}: strictly increasing edges starting at 0, got {list(edges)}")


def _columns(tables: Mapping[str, object], name: str) -> tuple[str, ...]:
    spec = tables.get(name)
    return tuple(getattr(spec, "column_names", ()))


def reference_errors(
    profile: ProfileAnalysis,
    consumption: ConsumptionAnalysis,
    inputs: AnalysisInputTables,
    tables: Mapping[str, object],
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined tables the two analyses write, and columns the users / scores inputs do not declare (an
    undefined input table is named by analysis.inputs' check; its columns are then not checked)."""
    known = sorted(tables)
    section = ("analysis", "profile")
    if profile.table not in tables:
        yield (*section, "table"), f"undefined table {profile.table!r}", f"one of {known}"
    users = (*_columns(tables, inputs.users), TENURE_BAND)
    for i, column in enumerate(profile.dimensions):
        if inputs.users in tables and column not in users:
            yield (*section, "dimensions", str(i)), f"unknown column {column!r}", f"one of {list(users)}"
    scores = _columns(tables, inputs.scores)
    for i, column in enumerate(profile.crosses):
        if inputs.scores in tables and column not in scores:
            yield (*section, "crosses", str(i)), f"unknown column {column!r}", f"a column of {inputs.scores}"
    section = ("analysis", "consumption")
    for field in dataclasses.fields(consumption.tables):
        key, name = field.name, getattr(consumption.tables, field.name)
        if name not in tables:
            yield (*section, "tables", key), f"undefined table {name!r}", f"one of {known}"
    for key in ("recency_column", "frequency_column"):
        column = getattr(consumption, key)
        if inputs.scores in tables and column not in scores:
            yield (*section, key), f"unknown column {column!r}", f"a column of {inputs.scores}"
