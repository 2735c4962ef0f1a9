"""Transaction family: lifetime order behaviour before D (measures and ratios in config).

Default measures (``features.transaction``): orders_placed (all orders), order_count and
total_order_value (non-refunded orders; zero-amount orders count with 0 spend), refunded_orders,
coupon_orders, days_between_orders_mean ((last - first) / (n - 1) days over non-refunded orders, i.e. the
mean gap between consecutive orders; 0 with fewer than 2 orders), days_since_first_order (tenure as a
customer; 0 without orders); ratios avg_order_value, refund_rate (refunded / placed) and
coupon_order_share; plus category_count (distinct categories with a non-refunded order), computed with
the preference family's per-category aggregation. Users without orders get 0 everywhere.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from userscore.config.features import FeaturesConfig
from userscore.features.measures import with_ratios


def finish(df: DataFrame, config: FeaturesConfig) -> DataFrame:
    """Add the configured ratios (the measures are finished by :func:`measures.finish_measures`)."""
    return with_ratios(df, config.transaction.ratios)
