"""Refunds as of a point in time: the one rule every point-in-time computation applies to orders.

silver.orders keeps the latest version of each order: ``is_refunded`` and ``refunded_at`` say whether and
when it was refunded, as far as the source knows now. A computation as of D must not see a refund
recorded at or after D (that would be information from the future), so an order counts as refunded at D
only when ``is_refunded`` and ``refunded_at < D``. A refunded order without ``refunded_at`` never counts
as refunded (ingest always fills it; see docs/features.md).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

REFUNDED = "is_refunded"
REFUNDED_AT = "refunded_at"


def refunded_as_of(as_of: Column, *, inclusive: bool = False) -> Column:
    """True when the order's refund was recorded before ``as_of`` (a timestamp Column, may vary per row).

    Args:
        inclusive: also count a refund recorded exactly at ``as_of``, for windows closed on the right such
            as label windows (D, D + h].
    """
    at = F.col(REFUNDED_AT)
    recorded = at <= as_of if inclusive else at < as_of
    return F.col(REFUNDED) & F.coalesce(recorded, F.lit(False))


def refunds_as_of(orders: DataFrame, as_of: Column, *, inclusive: bool = False) -> DataFrame:
    """``orders`` with ``is_refunded`` replaced by its value as of ``as_of`` (see :func:`refunded_as_of`),
    so that filters on ``is_refunded`` (feature ``where`` clauses, label rules) apply the point-in-time rule."""
    return orders.withColumn(REFUNDED, refunded_as_of(as_of, inclusive=inclusive))
