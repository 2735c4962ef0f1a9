"""Ops interaction family: the user's response to operations, per window (measures in config).

Default measures (``features.interaction``), per window N: coupons_claimed (coupon_claim events),
coupons_used (orders placed with a coupon, refunded or not), campaigns_joined (campaign_join events),
service_contacts (service_contact events). Users without them get 0.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from userscore.config.features import FeaturesConfig
from userscore.features.measures import with_ratios


def finish(df: DataFrame, config: FeaturesConfig) -> DataFrame:
    return with_ratios(df, config.interaction.ratios)
