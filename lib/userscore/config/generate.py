"""Config section ``generate``: the synthetic user base."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import field
from typing import Annotated

from userscore.config.typed import MAX_DAYS, Count, Days, NonNegative, Positive, Range, Share, frozen

# Shares of users or orders: strictly below 1 so some users / orders remain on the other side.
_Share = Annotated[float, Range(0.0, 1.0, high_open=True)]
# Campaign ids appear in send and response ids and in the text uniform_hash hashes ('salt|campaign|user').
_CAMPAIGN_ID = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


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
class CampaignEffectConfig:
    """The hidden effect of one campaign type's contact on a user (truth.campaign_effects.true_uplift).

    For a user in the audience, from their latent traits (truth.user_traits)::

        lift   = (base_lift + promo_lift * promo_sensitivity) / (1 + 365 * order_rate / heavy_orders_per_year)
        harm   = harm * max(0, ln(churn_hazard / harm_hazard))
        effect = clip(lift - harm, -1, 1)
        true_uplift = delivered * effect    if churn_at > sent_at (the user has not gone yet), else 0

    where ``delivered`` is the campaign's delivered share (the contact reaches a user only when delivered).
    Price-sensitive users gain most, heavy buyers (who buy anyway) little, and users whose churn hazard is
    above ``harm_hazard`` (per day) are pushed away: the sleeping dogs. A positive true_uplift is the
    probability of one extra (incremental) order in the attribution window; a negative one, of the user
    leaving within ``leave_within_days`` of the send (no order or event after that).
    """

    base_lift: float
    promo_lift: NonNegative
    heavy_orders_per_year: Positive
    harm: NonNegative
    harm_hazard: Positive
    leave_within_days: Days


@frozen
class CampaignAudienceConfig:
    """Who a campaign targets, from the history observable before the send day: buyers whose last order
    (any order, refunded or not) before the send day is between ``min_days_since_order`` and
    ``max_days_since_order`` days old (whole days, both included); a share ``share`` of them is picked by
    uniform_hash(campaign_salt, 'audience', campaign id, user id) < share."""

    min_days_since_order: Annotated[int, Range(0, MAX_DAYS)]
    max_days_since_order: Days
    share: Annotated[float, Range(0.0, 1.0, low_open=True)]

    def __post_init__(self):
        if self.min_days_since_order > self.max_days_since_order:
            raise ValueError(
                f"max_days_since_order: at least min_days_since_order ({self.min_days_since_order}), "
                f"got {self.max_days_since_order}"
            )


@frozen
class CampaignResponseConfig:
    """Response probabilities of a treated user: delivered; opened given delivered; clicked given opened;
    unsubscribed given that the contact made the user leave. Redemptions are the coupon orders in the window."""

    delivered: Share
    opened: Share
    clicked: Share
    unsubscribed: Share


@frozen
class CampaignConfig:
    """One past campaign: sent ``days_before_end`` days before generate.end_date (at 10:00 UTC, over two
    hours), so the campaigns move with the history; ``type`` names its effect in generate.campaign_types.

    ``control_share`` of the audience is the control arm (uniform_hash(campaign_salt, campaign id, user id) <
    control_share): listed in campaign_sends with arm control, never contacted nor affected, except that a
    share ``contamination_share`` of them wrongly gets a delivered response. ``contact_cost`` is the cost of
    one contact (control rows carry it too); ``offer_value`` the coupon's value (the discount of the incremental
    order); conversions count in (sent_at, sent_at + window_days].
    """

    type: str
    days_before_end: Days
    family: str
    segment: str
    audience: CampaignAudienceConfig
    control_share: _Share
    contamination_share: Share
    channel: str
    offer_value: NonNegative
    contact_cost: NonNegative
    window_days: Days
    responses: CampaignResponseConfig

    def __post_init__(self):
        for name in ("family", "segment"):
            if not _NAME.match(getattr(self, name)):
                raise ValueError(f"{name}: a lower_snake_case name, got {getattr(self, name)!r}")
        if self.days_before_end <= self.window_days:
            raise ValueError(
                f"days_before_end: more than window_days ({self.window_days}), so that the attribution window of "
                f"a send (10:00-12:00 UTC on its day) ends inside the history, got {self.days_before_end}"
            )


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
    # Past campaigns (raw campaign_sends and campaign_responses; truth.campaign_effects): arms are drawn with
    # campaign_salt, channels come from campaign_channels, effects from campaign_types (by campaign type).
    campaign_salt: str
    campaign_channels: tuple[str, ...]
    campaign_types: Mapping[str, CampaignEffectConfig]
    # None of them: `generate.campaigns: null` in an overlay (a history too short for the base's campaigns).
    campaigns: Mapping[str, CampaignConfig] = field(default_factory=dict)

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
            "campaign_channels",
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
        self._check_campaigns()

    def _check_campaigns(self) -> None:
        if not self.campaign_salt:
            raise ValueError("campaign_salt: a non-empty string")
        bad = [t for t in self.campaign_types if not _NAME.match(t)]
        if bad:
            raise ValueError(f"campaign_types: lower_snake_case type names, got {bad}")
        bad = [c for c in self.campaigns if not _CAMPAIGN_ID.match(c)]
        if bad:
            raise ValueError(
                f"campaigns: ids of lower-case letters, digits, '_' and '-' starting with a letter (at most 64), "
                f"got {bad}"
            )
        for cid, campaign in self.campaigns.items():
            if campaign.type not in self.campaign_types:
                raise ValueError(
                    f"campaigns: campaign {cid!r} has type {campaign.type!r}, not one of campaign_types "
                    f"{sorted(self.campaign_types)}"
                )
            if campaign.channel not in self.campaign_channels:
                raise ValueError(
                    f"campaigns: campaign {cid!r} has channel {campaign.channel!r}, not one of campaign_channels "
                    f"{list(self.campaign_channels)}"
                )
            if campaign.days_before_end > self.history_days:
                raise ValueError(
                    f"campaigns: campaign {cid!r} is sent {campaign.days_before_end} days before end_date, before "
                    f"the history starts (history_days {self.history_days})"
                )
            leave_days = self.campaign_types[campaign.type].leave_within_days
            if leave_days > campaign.window_days:
                raise ValueError(
                    f"campaigns: campaign {cid!r}: its type's leave_within_days ({leave_days}) exceeds its "
                    f"window_days ({campaign.window_days}); a contact's leavers must leave inside the window"
                )

    def campaign_schedule(self) -> list[tuple[str, CampaignConfig, dt.date]]:
        """(id, campaign, send date) in send order (ties by id): the order campaigns are applied in."""
        dated = [(self.end_date - dt.timedelta(days=c.days_before_end), cid, c) for cid, c in self.campaigns.items()]
        return [(cid, c, day) for day, cid, c in sorted(dated, key=lambda t: (t[0], t[1]))]
