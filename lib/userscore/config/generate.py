"""Config section ``generate``: the synthetic user base."""

from __future__ import annotations

import datetime as dt

from userscore.config.typed import frozen


@frozen
class GenerateConfig:
    """Size, seed, time span and vocabulary of the synthetic data set.

    ``end_date`` is exclusive: generated history covers [end_date - history_days, end_date).
    """

    users: int = 20_000
    seed: int = 42
    end_date: dt.date = dt.date(2026, 11, 1)
    history_days: int = 730
    bad_record_share: float = 0.005
    raw_dir: str = "data/raw"
    batch_id: str = "batch-0001"
    users_per_partition: int = 50_000
    mean_orders_per_user: float = 20.0
    mean_events_per_user: float = 100.0
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
    order_channels: tuple[str, ...] = ("app", "web", "store", "mini_program")
    registration_channels: tuple[str, ...] = ("organic", "search_ad", "social", "referral", "store")
    regions: tuple[str, ...] = ("north", "south", "east", "west", "central")
    age_bands: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55+")
    genders: tuple[str, ...] = ("female", "male", "unknown")
    member_levels: tuple[str, ...] = ("basic", "silver", "gold", "platinum")

    def __post_init__(self):
        if self.users < 1:
            raise ValueError(f"users: a positive number of users, got {self.users}")
        if not 0.0 <= self.bad_record_share < 0.5:
            raise ValueError(f"bad_record_share: a share in [0, 0.5), got {self.bad_record_share}")
        if self.history_days < 60:
            raise ValueError(f"history_days: at least 60 days, got {self.history_days}")
