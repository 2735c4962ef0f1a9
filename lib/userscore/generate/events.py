"""Behaviour events: background browsing, funnels around orders, and rare stragglers after churn.

Background events follow the user's visit rate with the same busy months as their orders. Every online
order is preceded by a product page view, mostly an add-to-cart, sometimes a cart and a checkout page;
coupon orders by a coupon claim; refunds are followed by a service contact. So events correlate with
purchases. After churn only a few stragglers (logins, home page, coupon claims) remain.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.activity import occurrences
from userscore.generate.orders import product_number
from userscore.generate.random import normal, padded, pick, poisson, skewed, uniform, with_draws
from userscore.generate.timeline import DAY, HOUR, Timeline, iso_utc
from userscore.generate.traits import channel_probability, user_number

OFFLINE_CHANNELS = ("store",)
CATEGORY_EVENTS = ("page_view", "click", "search", "favorite", "add_to_cart", "share", "comment")
PRODUCT_EVENTS = ("favorite", "add_to_cart")
PROMO_EVENTS = ("coupon_claim", "campaign_join")
PROMO_EVENT_SHARE = 0.12  # x promotion sensitivity: share of background events that are promo events
PAGE_KINDS, PAGE_WEIGHTS = ("home", "category", "product", "cart", "checkout"), (0.15, 0.3, 0.45, 0.06, 0.04)
DWELL_LOG_MEAN, DWELL_LOG_SD, MAX_DWELL = 3.0, 1.0, 3600.0  # median page view ~20 s
STRAGGLER_RATE = 0.003  # events per day after churn
STRAGGLER_TYPES, STRAGGLER_WEIGHTS = ("login", "page_view", "coupon_claim"), (0.5, 0.3, 0.2)
# Funnel steps and their probabilities (see funnel_events); used by calibration too.
ADD_TO_CART_P, CART_PAGE_P, CHECKOUT_PAGE_P, COUPON_CLAIM_P, SERVICE_CONTACT_P = 0.8, 0.3, 0.5, 0.8, 0.6

EVENT_COLUMNS = ["event_id", "idx", "user_id", "ts", "event_type", "category", "page", "dwell_seconds"]


def generate_events(users: DataFrame, orders: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """All clean events (internal columns) of ``users`` (a user frame) and their ``orders``."""
    return (
        background_events(users, cfg, timeline)
        .unionByName(funnel_events(orders, cfg))
        .unionByName(straggler_events(users, cfg, timeline))
    )


def background_events(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    s = cfg.seed
    keep = ["idx", "user_id", "promo", "spread", "pref_category"]
    rows = occurrences(users, F.col("visit_rate"), seed=s, salt="event", timeline=timeline, keep=keep)
    idx, k = F.col("idx"), F.col("k")

    def u(salt: str) -> Column:
        return uniform(s, salt, idx, k)

    rows = with_draws(rows, _u_type=u("event-type"), _u_category=u("event-category-any"), _u_page=u("event-page"))
    types, weights = zip(*cfg.event_type_weights.items(), strict=True)
    promo_types = [t for t in PROMO_EVENTS if t in types] or list(types)
    promo_event = u("event-promo") < F.col("promo") * PROMO_EVENT_SHARE
    event_type = F.when(promo_event, pick(promo_types, u("event-promo-type"))).otherwise(
        pick(list(types), "_u_type", list(weights))
    )
    any_category = pick(cfg.categories, "_u_category", skewed(len(cfg.categories), 0.5))
    category = F.when(u("event-category") < F.col("spread") + 0.2, any_category).otherwise(F.col("pref_category"))
    page_kind = pick(PAGE_KINDS, "_u_page", PAGE_WEIGHTS)
    product = _product_page(F.col("category"), product_number(u("event-product")))
    page = (
        F.when(F.col("event_type").isin(*PRODUCT_EVENTS), product)
        .when(F.col("event_type") != "page_view", F.lit(None).cast("string"))
        .when(page_kind == "category", F.concat(F.lit("category/"), F.col("category")))
        .when(page_kind == "product", product)
        .otherwise(page_kind)
    )
    general_page = F.coalesce(F.col("page"), F.lit("")).isin("home", "cart", "checkout")
    has_category = F.col("event_type").isin(*CATEGORY_EVENTS) & ~general_page
    return (
        rows.withColumn("event_type", event_type)
        .withColumn("category", category)
        .withColumn("page", page)
        .withColumn("category", F.when(has_category, F.col("category")))
        .withColumn("dwell_seconds", _dwell(s, "event-dwell", F.col("event_type"), idx, k))
        .withColumn("event_id", _event_id(cfg, "-b", padded(k, 5)))
        .select(*EVENT_COLUMNS)
    )


def funnel_events(orders: DataFrame, cfg: GenerateConfig) -> DataFrame:
    """Events around each order: browsing and cart before online orders, a coupon claim before coupon
    orders, a service contact after refunded ones."""
    s = cfg.seed
    idx, k = F.col("idx"), F.col("k")

    def u(salt: str) -> Column:
        return uniform(s, salt, idx, k)

    online = ~F.col("channel").isin(*OFFLINE_CHANNELS)
    product_page = _product_page(F.col("category"), F.col("product"))
    lead = 300.0 + 2100.0 * u("funnel-lead")  # the product page comes 5-40 minutes before the order

    def step(j: int, when: Column, offset: Column, event_type: str, page: Column | None, category: bool):
        return F.when(
            when,
            F.struct(
                F.lit(j).alias("j"),
                F.floor(offset).cast("long").alias("offset"),
                F.lit(event_type).alias("event_type"),
                (page if page is not None else F.lit(None).cast("string")).alias("page"),
                (F.col("category") if category else F.lit(None).cast("string")).alias("category"),
            ),
        )

    coupon_claim = F.col("coupon_used") & (u("funnel-coupon") < COUPON_CLAIM_P)
    service_contact = F.col("is_refunded") & (u("funnel-service") < SERVICE_CONTACT_P)
    steps = F.array(
        step(1, online, -lead, "page_view", product_page, True),
        step(2, online & (u("funnel-cart") < ADD_TO_CART_P), -lead * (0.2 + 0.6 * u("funnel-cart-t")), "add_to_cart",
             product_page, True),
        step(3, online & (u("funnel-cart-page") < CART_PAGE_P), -lead * 0.15, "page_view", F.lit("cart"), False),
        step(4, online & (u("funnel-checkout") < CHECKOUT_PAGE_P), -30.0 * (1.0 + u("funnel-checkout-t")),
             "page_view", F.lit("checkout"), False),
        step(5, coupon_claim, -HOUR * (1.0 + 71.0 * u("funnel-coupon-t")), "coupon_claim", None, False),
        step(6, service_contact, DAY * (1.0 + 9.0 * u("funnel-service-t")), "service_contact", None, False),
    )  # fmt: skip
    rows = orders.select("idx", "user_id", "k", "ts", "start", "stop", F.explode(steps).alias("step")).where(
        F.col("step").isNotNull()
    )
    ts = F.greatest(F.col("ts") + F.col("step.offset"), F.col("start"))
    return (
        rows.withColumn("ts", ts)
        .where(F.col("ts") < F.col("stop"))
        .withColumn("event_type", F.col("step.event_type"))
        .withColumn("category", F.col("step.category"))
        .withColumn("page", F.col("step.page"))
        .withColumn("dwell_seconds", _dwell(s, "funnel-dwell", F.col("event_type"), idx, k, F.col("step.j")))
        .withColumn("event_id", _event_id(cfg, "-o", padded(k, 4), F.lit("-"), F.col("step.j").cast("string")))
        .select(*EVENT_COLUMNS)
    )


def straggler_events(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """A few events after churn (re-activation mails, app opens), none before the history window."""
    s = cfg.seed
    idx = F.col("idx")
    after = F.greatest(F.col("churn"), F.lit(timeline.start))
    days = F.greatest(F.lit(timeline.end) - after, F.lit(0)) / DAY
    count = poisson(days * STRAGGLER_RATE, s, "straggler-n", idx)
    rows = users.select("idx", "user_id", after.alias("_after"), F.posexplode(F.array_repeat(F.lit(0), count)))
    k = F.col("pos")
    rows = with_draws(rows, _u_type=uniform(s, "straggler-type", idx, k))
    span = F.lit(timeline.end) - F.col("_after")
    event_type = pick(STRAGGLER_TYPES, "_u_type", STRAGGLER_WEIGHTS)
    return (
        rows.withColumn("k", k)
        .withColumn("ts", (F.col("_after") + F.floor(span * uniform(s, "straggler-t", idx, k))).cast("long"))
        .withColumn("event_type", event_type)
        .withColumn("category", F.lit(None).cast("string"))
        .withColumn("page", F.when(F.col("event_type") == "page_view", F.lit("home")))
        .withColumn("dwell_seconds", _dwell(s, "straggler-dwell", F.col("event_type"), idx, k))
        .withColumn("event_id", _event_id(cfg, "-s", padded(k, 3)))
        .select(*EVENT_COLUMNS)
    )


def funnel_per_order(cfg: GenerateConfig) -> Column:
    """Expected funnel events per order of the user in scope (for calibrating background events)."""
    online = F.lit(1.0)
    for channel in OFFLINE_CHANNELS:
        online = online - channel_probability(channel, cfg)
    return (
        online * (1.0 + ADD_TO_CART_P + CART_PAGE_P + CHECKOUT_PAGE_P)
        + F.col("promo") * COUPON_CLAIM_P
        + F.col("refund_p") * SERVICE_CONTACT_P
    )


def expected_stragglers(timeline: Timeline) -> Column:
    after = F.greatest(F.col("churn"), F.lit(timeline.start))
    return F.greatest(F.lit(timeline.end) - after, F.lit(0)) / DAY * STRAGGLER_RATE


def raw_events(events: DataFrame) -> DataFrame:
    """Internal events -> the landing contract's columns."""
    return events.select(
        "event_id",
        "user_id",
        iso_utc(F.col("ts")).alias("event_ts"),
        "event_type",
        "category",
        "page",
        "dwell_seconds",
    )


def _event_id(cfg: GenerateConfig, kind: str, *parts: Column) -> Column:
    """``e-<user number><kind><parts>``: background ``-b00012``, funnel ``-o0003-2``, straggler ``-s001``."""
    return F.concat(F.lit("e-"), user_number(F.col("idx"), cfg.users), F.lit(kind), *parts)


def _product_page(category: Column, product: Column) -> Column:
    return F.concat(F.lit("product/"), category, F.lit("/"), product.cast("string"))


def _dwell(seed: int, salt: str, event_type: Column, *keys: Column) -> Column:
    """Seconds on a page (page views only): lognormal, capped at an hour."""
    seconds = F.least(F.exp(DWELL_LOG_MEAN + DWELL_LOG_SD * normal(seed, salt, *keys)), F.lit(MAX_DWELL))
    return F.when(event_type == "page_view", F.round(seconds, 1)).otherwise(F.lit(None).cast("double"))
