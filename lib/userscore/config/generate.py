"""Config section ``generate``: the synthetic user base."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from dataclasses import field
from typing import Annotated

from userscore.config.typed import MAX_DAYS, Count, NonNegative, Positive, Range, frozen

# Shares of users or orders: strictly below 1 so some users / orders remain on the other side.
_Share = Annotated[float, Range(0.0, 1.0, high_open=True)]


def _mapping(**items: float) -> Mapping[str, float]:
    return types.MappingProxyType(items)


@frozen
class GenerateConfig:
    """Size, seed, time span, vocabulary and behaviour knobs of the synthetic data set.

    ``end_date`` is exclusive: generated history covers [end_date - history_days, end_date); a share
    ``pre_history_share`` of users registered up to ``history_days`` before that.
    """

    users: Count = 20_000
    seed: int = 42
    end_date: dt.date = dt.date(2026, 11, 1)
    history_days: Annotated[int, Range(60, MAX_DAYS)] = 730
    bad_record_share: Annotated[float, Range(0.0, 0.5, high_open=True)] = 0.005
    raw_dir: str = "data/raw"
    batch_id: str = "batch-0001"
    users_per_partition: Count = 50_000
    mean_orders_per_user: Positive = 20.0
    mean_events_per_user: Positive = 100.0
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
    # Cumulative non-refunded spend at which each member level is reached (first level: 0).
    level_thresholds: tuple[float, ...] = (0.0, 1000.0, 5000.0, 15000.0)
    pre_history_share: _Share = 0.2
    non_buyer_share: _Share = 0.15
    median_lifetime_days: Positive = 720.0
    mean_order_value: Positive = 90.0
    mean_coupon_rate: _Share = 0.25
    mean_refund_rate: _Share = 0.05
    # Share of refunds that arrive late: the order lands unrefunded in batch_id and its refunded version in
    # the batch ``<batch_id>-late`` (updated_at = refunded_at).
    late_refund_share: _Share = 0.5
    edges_per_user: NonNegative = 3.0
    # Seasonality: relative activity per calendar month (Jan..Dec) and per weekday (Mon..Sun).
    month_weights: tuple[Positive, ...] = (0.9, 0.8, 0.95, 0.95, 1.0, 1.05, 0.95, 0.95, 1.0, 1.0, 1.55, 1.35)
    weekday_weights: tuple[Positive, ...] = (0.92, 0.9, 0.93, 0.97, 1.05, 1.13, 1.1)
    # Price level of a category relative to the user's spend level (missing categories: 1.0).
    category_price_factors: Mapping[str, Positive] = field(
        default_factory=lambda: _mapping(
            apparel=1.0, beauty=0.8, books=0.4, electronics=2.5, grocery=0.5, home=1.5, sports=1.2, toys=0.8
        )
    )
    # Relative frequency of background behaviour events (funnel events around orders come on top).
    event_type_weights: Mapping[str, NonNegative] = field(
        default_factory=lambda: _mapping(
            login=0.10,
            page_view=0.46,
            click=0.18,
            search=0.08,
            favorite=0.04,
            add_to_cart=0.04,
            share=0.02,
            comment=0.02,
            coupon_claim=0.02,
            campaign_join=0.02,
            service_contact=0.02,
        )
    )

    # Consent per purpose: granted at registration with probability consent_grant_share[purpose]; a share
    # consent_withdraw_share[purpose] of those grants is withdrawn later (uniform over the rest of the history).
    # A user never granted a purpose has no record of it.
    consent_grant_share: Mapping[str, _Share] = field(
        default_factory=lambda: _mapping(marketing=0.85, profiling=0.95, analytics=0.97)
    )
    consent_withdraw_share: Mapping[str, _Share] = field(
        default_factory=lambda: _mapping(marketing=0.08, profiling=0.02, analytics=0.01)
    )

    def __post_init__(self):
        unknown = sorted(set(self.consent_withdraw_share) - set(self.consent_grant_share))
        if unknown:
            raise ValueError(f"consent_withdraw_share: purposes of consent_grant_share, got {unknown}")
        for name in ("categories", "order_channels", "registration_channels", "regions", "age_bands", "genders"):
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
