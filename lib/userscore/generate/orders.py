"""Orders: when (the user's purchase process), what (category affinity), how much (spend level) and how
(channel and payment preference, promotion sensitivity, refund propensity)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.activity import occurrences
from userscore.generate.random import lookup, normal, padded, pick, skewed, uniform, with_draws
from userscore.generate.timeline import DAY, Timeline, iso_utc
from userscore.generate.traits import PREFERRED_CHANNEL_SHARE, user_number

ORDER_VALUE_SIGMA = 0.5  # spread of one order's value around the user's spend level
BASKET_ELASTICITY = 0.6  # value grows sub-linearly with the number of items
MORE_ITEMS = 0.45  # P(item_count > n | item_count >= n): geometric basket size
MAX_ITEMS = 20
FULL_DISCOUNT_SHARE = 0.03  # coupon orders paid entirely by the coupon (amount 0)
PEAK_MONTHS, PEAK_COUPON_BOOST = (11, 12), 1.4  # more coupons in the shopping season
PRODUCTS_PER_CATEGORY = 500
MAX_REFUND_DELAY_DAYS = 30  # a refund is recorded 1 to 30 days after the order (capped at the end of history)

# Internal order columns (times in epoch seconds); raw_orders turns them into the landing contract.
ORDER_COLUMNS = [
    "idx", "user_id", "k", "ts", "start", "stop", "order_id", "amount", "discount_amount", "coupon_used",
    "is_refunded", "item_count", "category", "channel", "payment_method", "product", "refunded_ts", "late_refund",
]  # fmt: skip


def generate_orders(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """The clean orders of ``users`` (a user frame from traits.user_frame), internal columns."""
    s = cfg.seed
    keep = ["idx", "user_id", "start", "stop", "spend_level", "promo", "refund_p", "spread",
            "pref_category", "pref_channel", "pref_payment"]  # fmt: skip
    rows = occurrences(users, F.col("order_rate"), seed=s, salt="order", timeline=timeline, keep=keep)
    idx, k = F.col("idx"), F.col("k")

    def u(salt: str) -> Column:
        return uniform(s, salt, idx, k)

    rows = with_draws(rows, _u_category=u("order-category-any"))
    other_category = pick(cfg.categories, "_u_category", skewed(len(cfg.categories), 0.5))
    category = F.when(u("order-category") < F.col("spread"), other_category).otherwise(F.col("pref_category"))
    any_channel = pick(cfg.order_channels, u("order-channel-any"))
    channel = F.when(u("order-channel") < PREFERRED_CHANNEL_SHARE, F.col("pref_channel")).otherwise(any_channel)
    any_payment = pick(cfg.payment_methods, u("order-payment-any"))
    payment = F.when(u("order-payment") < cfg.preferred_payment_share, F.col("pref_payment")).otherwise(any_payment)
    items = basket_items(u("order-items"))
    month = F.month(F.date_from_unix_date(F.floor(F.col("ts") / DAY).cast("int")))
    coupon_p = F.least(F.col("promo") * F.when(month.isin(*PEAK_MONTHS), PEAK_COUPON_BOOST).otherwise(1.0), F.lit(0.95))
    coupon = u("order-coupon") < coupon_p
    gross = gross_value(cfg, normal(s, "order-value", idx, k))
    rate = 0.05 + 0.25 * u("order-discount-rate")
    discount = (
        F.when(~F.col("coupon_used"), F.lit(0.0))
        .when(u("order-discount-full") < FULL_DISCOUNT_SHARE, F.col("_gross"))
        .otherwise(F.round(F.col("_gross") * rate, 2))
    )
    return (
        rows.withColumn("category", category)
        .withColumn("channel", channel)
        .withColumn("payment_method", payment)
        .withColumn("item_count", items)
        .withColumn("coupon_used", coupon)
        .withColumn("is_refunded", u("order-refund") < F.col("refund_p"))
        .withColumn("_gross", gross)
        .withColumn("discount_amount", discount)
        .withColumn("amount", F.round(F.col("_gross") - F.col("discount_amount"), 2))
        .withColumn("product", product_number(u("order-product")))
        .withColumn("order_id", F.concat(F.lit("o-"), user_number(idx, cfg.users), F.lit("-"), padded(k, 4)))
        .withColumn("refunded_ts", F.when(F.col("is_refunded"), refund_time(u("order-refund-delay"), timeline)))
        .withColumn("late_refund", F.col("is_refunded") & (u("order-refund-late") < cfg.late_refund_share))
        .select(*ORDER_COLUMNS)
    )


def basket_items(u: Column) -> Column:
    """Items in a basket (geometric, at most MAX_ITEMS) from the uniform ``u``."""
    return F.least(F.lit(1) + F.floor(F.log(F.lit(1.0) - u) / F.log(F.lit(MORE_ITEMS))), F.lit(MAX_ITEMS)).cast("int")


def gross_value(cfg: GenerateConfig, z: Column) -> Column:
    """An order's value before discount, from the columns spend_level, category and item_count and the
    standard normal ``z`` (the order's deviation from the user's spend level)."""
    noise = F.exp(z * ORDER_VALUE_SIGMA - ORDER_VALUE_SIGMA**2 / 2)
    return F.round(
        F.greatest(
            F.col("spend_level") * lookup(F.col("category"), cfg.category_price_factors, default=1.0) * noise
            * F.pow(F.col("item_count").cast("double"), BASKET_ELASTICITY),
            F.lit(1.0),
        ),
        2,
    )  # fmt: skip


def refund_time(u: Column, timeline: Timeline) -> Column:
    """When a refund is recorded: 1 to MAX_REFUND_DELAY_DAYS days after the order, before the end of history."""
    delay = (F.lit(1.0) + u * (MAX_REFUND_DELAY_DAYS - 1)) * DAY
    return F.least(F.floor(F.col("ts") + delay), F.lit(timeline.end - 1)).cast("long")


def raw_orders(orders: DataFrame) -> DataFrame:
    """Internal orders -> the landing contract's fields (times as ISO-8601 UTC strings), as first landed:
    a late refund is not known yet (the order lands unrefunded; :func:`late_refund_updates` brings it)."""
    known = F.col("is_refunded") & ~F.col("late_refund")
    return _contract(orders, known)


def late_refund_updates(orders: DataFrame) -> DataFrame:
    """The later version of each late-refunded order: refunded, updated_at = refunded_at."""
    return _contract(orders.where(F.col("late_refund")), F.lit(True))


def _contract(orders: DataFrame, refunded: Column) -> DataFrame:
    refunded_at = F.when(refunded, iso_utc(F.col("refunded_ts")))
    return orders.select(
        "order_id",
        "user_id",
        iso_utc(F.col("ts")).alias("order_ts"),
        "amount",
        "category",
        "channel",
        "payment_method",
        "coupon_used",
        "discount_amount",
        refunded.alias("is_refunded"),
        "item_count",
        refunded_at.alias("refunded_at"),
        F.coalesce(refunded_at, iso_utc(F.col("ts"))).alias("updated_at"),
    )


def product_number(u: Column) -> Column:
    """A product of a category: a few products are popular, most are rare."""
    return F.floor(F.pow(u, 2.0) * PRODUCTS_PER_CATEGORY).cast("int")
