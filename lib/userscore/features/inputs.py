"""Which snapshot dates have no input: no users registered before D, or no orders before D.

Such a snapshot would be empty (no users) or hold only defaults with placeholder RFM boundaries (no
orders): a date before the data starts, almost always a mistake. Events and level changes are not
checked: a shop without behaviour tracking still has meaningful snapshots. One min() per source
answers for every date, since "a row before D" holds for every D after the earliest row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.features import FeatureSources

_SHOWN = 3


def earliest(df: DataFrame, time_column: str) -> dt.datetime | None:
    """The earliest event time of ``df`` in the session time zone (UTC), None when it has no rows."""
    # Formatted by Spark: collecting a timestamp would convert it to the driver's local time zone.
    text = df.agg(F.date_format(F.min(time_column), "yyyy-MM-dd HH:mm:ss")).first()[0]
    return None if text is None else dt.datetime.fromisoformat(text)


def missing_inputs(users: DataFrame, orders: DataFrame, sources: FeatureSources, dates: Sequence[dt.date]) -> list[str]:
    """One phrase per source without rows before some of ``dates``; empty when every date has input."""
    problems = []
    for df, spec, what in ((users, sources.users, "users registered"), (orders, sources.orders, "orders")):
        first = earliest(df, spec.time)
        empty = [d for d in dates if first is None or first >= dt.datetime.combine(d, dt.time())]
        if not empty:
            continue
        shown = ", ".join(d.isoformat() for d in empty[:_SHOWN])
        more = f" and {len(empty) - _SHOWN} more dates" if len(empty) > _SHOWN else ""
        since = f"earliest {spec.time} {first:%Y-%m-%d %H:%M:%S}" if first else "the table is empty"
        problems.append(f"no {what} before {shown}{more} in {spec.table} ({since})")
    return problems
