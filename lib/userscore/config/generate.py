"""Config section ``generate``: the synthetic user base."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated

from userscore.config.typed import MAX_DAYS, Count, NonNegative, Positive, Range, frozen

# Shares of users or orders: strictly below 1 so some users / orders remain on the other side.
_Share = Annotated[float, Range(0.0, 1.0, high_open=True)]


@frozen
class IdentityNoiseConfig:
    """People behind several user ids, and the identifiers that would wrongly join people.

    Users are grouped in threes by index: the first of a group is a person's primary account, each of the
    other two is (with probability ``second_account_share``) a further account of that person (an app or
    mini-program account without a member card), sharing the primary's phone and first device. A share
    ``shared_device_share`` of users also use one of ``shared_devices`` store tablets; a share
    ``recycled_phone_share`` of primary accounts also carry a phone number another person had before.
    """

    second_account_share: _Share
    shared_devices: Count
    shared_device_share: _Share
    recycled_phone_share: _Share


@frozen
class GenerateConfig:
    """Size, seed, time span, vocabulary and behaviour knobs of the synthetic data set.

    ``end_date`` is exclusive: generated history covers [end_date - history_days, end_date); a share
    ``pre_history_share`` of users registered up to ``history_days`` before that.
    """

    users: Count
    seed: int
    end_date: dt.date
    history_days: Annotated[int, Range(60, MAX_DAYS)]
    bad_record_share: Annotated[float, Range(0.0, 0.5, high_open=True)]
    raw_dir: str
    batch_id: str
    users_per_partition: Count
    mean_orders_per_user: Positive
    mean_events_per_user: Positive
    categories: tuple[str, ...]
    order_channels: tuple[str, ...]
    payment_methods: tuple[str, ...]
    # Share of a user's orders paid with their preferred payment method (the rest: any method).
    preferred_payment_share: _Share
    registration_channels: tuple[str, ...]
    regions: tuple[str, ...]
    age_bands: tuple[str, ...]
    genders: tuple[str, ...]
    member_levels: tuple[str, ...]
    # Cumulative non-refunded spend at which each member level is reached (first level: 0).
    level_thresholds: tuple[float, ...]
    pre_history_share: _Share
    non_buyer_share: _Share
    median_lifetime_days: Positive
    mean_order_value: Positive
    mean_coupon_rate: _Share
    mean_refund_rate: _Share
    # Share of refunds that arrive late: the order lands unrefunded in batch_id and its refunded version in
    # the batch ``<batch_id>-late`` (updated_at = refunded_at).
    late_refund_share: _Share
    edges_per_user: NonNegative
    # Seasonality: relative activity per calendar month (Jan..Dec) and per weekday (Mon..Sun).
    month_weights: tuple[Positive, ...]
    weekday_weights: tuple[Positive, ...]
    # Price level of a category relative to the user's spend level (missing categories: 1.0).
    category_price_factors: Mapping[str, Positive]
    # Relative frequency of background behaviour events (funnel events around orders come on top).
    event_type_weights: Mapping[str, NonNegative]
    # Consent per purpose: granted at registration with probability consent_grant_share[purpose]; a share
    # consent_withdraw_share[purpose] of those grants is withdrawn later (uniform over the rest of the history).
    # A user never granted a purpose has no record of it.
    consent_grant_share: Mapping[str, _Share]
    consent_withdraw_share: Mapping[str, _Share]
    identity: IdentityNoiseConfig

    def __post_init__(self):
        unknown = sorted(set(self.consent_withdraw_share) - set(self.consent_grant_share))
        if unknown:
            raise ValueError(f"consent_withdraw_share: purposes of consent_grant_share, got {unknown}")
        for name in (
            "categories",
            "order_channels",
            "payment_methods",
            "registration_channels",
            "regions",
            "age_bands",
            "genders",
        ):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name}: a non-empty list of distinct values, got {list(values)}")
        thresholds = self.level_thresholds
        if (
            len(thresholds) != len(self.member_levels)
            or thresholds[:1] != (0.0,)
            or list(thresholds) != sorted(set(thresholds))
        ):
            raise ValueError(
                f"level_thresholds: one strictly increasing spend threshold per member level starting at 0 "
                f"({len(self.member_levels)} values), got {list(thresholds)}"
            )
        if len(self.month_weights) != 12 or len(self.weekday_weights) != 7:
            raise ValueError("month_weights: 12 month weights (Jan..Dec) and 7 weekday_weights (Mon..Sun)")
        unknown = sorted(set(self.category_price_factors) - set(self.categories))
        if unknown:
            raise ValueError(f"category_price_factors: factors for configured categories, got {unknown}")
        if sum(self.event_type_weights.values()) <= 0:
            raise ValueError("event_type_weights: non-negative weights with a positive sum")
