"""Past marketing campaigns over the generated history: who was targeted, in which arm, the hidden effect of the
contact on each user, what it did (extra orders, users who left), and the sends and responses as landed.

Campaigns (generate.campaigns) are applied in send order, between order generation and everything derived from
orders (events, level changes), each audience computed from the orders as the earlier campaigns left them:

- audience: buyers whose last order (any) before the send day is ``min..max_days_since_order`` whole days old,
  of whom those with uniform_hash(campaign_salt, 'audience', campaign, user) < audience.share;
- arm: control when uniform_hash(campaign_salt, campaign, user) < control_share (reproducible outside Spark:
  int(md5('salt|campaign|user').hexdigest()[:8], 16) / 2**32), else treatment;
- effect (generate.campaign_types, see :func:`effect`): a treated user's contact is delivered with probability
  responses.delivered; a delivered contact to a user who has not gone yet (churn_at after sent_at) adds one
  incremental order in the window with probability ``effect`` (> 0), or makes the user leave within
  leave_within_days with probability ``-effect`` (< 0). So true_uplift = delivered share x effect for users not
  gone at the send, 0 for the others (truth.campaign_effects, both arms). Control users are never affected; a
  share contamination_share of them wrongly gets a delivered response.

All draws are hashes of (seed, campaign id, user index); the work is one aggregation of the users' order times,
one row-wise step per campaign over that per-user state, and joins: no per-user Python. The loop over campaigns
runs on the driver (one iteration per configured campaign).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import CampaignConfig, CampaignEffectConfig, GenerateConfig
from userscore.generate.orders import ORDER_COLUMNS, basket_items, gross_value, product_number
from userscore.generate.random import exponential, normal, padded, uniform
from userscore.generate.timeline import DAY, HOUR, Timeline, epoch_seconds, iso_utc
from userscore.generate.traits import user_number
from userscore.hashing import uniform_hash

# An incremental order's record index k is INCREMENTAL_K + the campaign's position in send order (1-based), so
# its id (o-<user>-<k>) and its draws never meet an ordinary order's (whose k stays in the hundreds).
INCREMENTAL_K = 1_000_000
SEND_HOUR = 10  # a campaign goes out at 10:00 UTC on its day ...
SEND_SPREAD_SECONDS = 2 * HOUR  # ... spread over two hours
DELIVERY_DELAY_SECONDS = 600  # delivered within ten minutes of the send
OPEN_DELAY_MEAN_SECONDS = 6 * HOUR  # opened an exponential delay after delivery (at least a minute)
CLICK_DELAY_SECONDS = 1800  # clicked within half an hour of opening
TREATMENT, CONTROL = "treatment", "control"

# The user frame's columns a campaign reads: traits of the effect, the churn time and the incremental order's.
_PEOPLE = ["idx", "user_id", "start", "stop", "churn", "promo", "order_rate", "hazard", "spend_level",
           "pref_category", "pref_channel", "pref_payment"]  # fmt: skip
# Internal send rows (times in epoch seconds), one per campaign and audience member.
SEND_COLUMNS = [
    "ordinal", "campaign_id", "family", "segment", "channel", "offer_value", "contact_cost", "window_seconds",
    "p_opened", "p_clicked", "p_unsubscribed", "idx", "user_id", "arm", "sent_ts", "true_uplift", "delivered",
    "contaminated", "incremental", "incremental_ts", "left", "leave_ts",
    # for the incremental order
    "start", "stop", "spend_level", "pref_category", "pref_channel", "pref_payment",
]  # fmt: skip
_SEND_SCHEMA = (
    "ordinal int, campaign_id string, family string, segment string, channel string, offer_value double, "
    "contact_cost double, window_seconds long, p_opened double, p_clicked double, p_unsubscribed double, "
    "idx long, user_id string, arm string, sent_ts long, true_uplift double, delivered boolean, "
    "contaminated boolean, incremental boolean, incremental_ts long, left boolean, leave_ts long, start long, "
    "stop long, spend_level double, pref_category string, pref_channel string, pref_payment string"
)


@dataclass(frozen=True)
class CampaignOutcome:
    """What the campaigns did to a generated history.

    ``orders``: every order after the campaigns (internal order columns): the ordinary ones without those at or
    after a leaver's leave time, plus the incremental ones. ``leaves``: idx, leave_ts of the users a contact made
    leave (one row per such user). ``sends``: one internal row per campaign and audience member (SEND_COLUMNS).
    ``persisted``: what the rest derives from (one row per user with orders before a send, carrying every
    campaign's outcome): keep it while writing (SyntheticUserBase.cached).
    """

    orders: DataFrame
    leaves: DataFrame
    sends: DataFrame
    persisted: tuple[DataFrame, ...]


def apply_campaigns(users: DataFrame, orders: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> CampaignOutcome:
    """Run generate.campaigns in send order over ``users`` (a user frame) and their ``orders`` (internal).

    One aggregation gathers each user's order times around the send days; each campaign is then a row-wise step
    over that per-user state (the orders as the earlier campaigns left them: without those after the user's
    leave time, with the incremental ones), so the plan grows linearly with the number of campaigns.
    """
    spark = users.sparkSession
    schedule = cfg.campaign_schedule()
    if not schedule:
        leaves = spark.createDataFrame([], "idx long, leave_ts long")
        return CampaignOutcome(orders, leaves, spark.createDataFrame([], _SEND_SCHEMA), ())
    days = [epoch_seconds(day) for _, _, day in schedule]
    # An order older than every audience's oldest last order cannot make anybody eligible.
    oldest = min(d - (c.audience.max_days_since_order + 1) * DAY for d, (_, c, _) in zip(days, schedule, strict=True))
    history = (
        orders.where((F.col("ts") > oldest) & (F.col("ts") < max(days)))
        .groupBy("idx")
        .agg(F.collect_list("ts").alias("_orders"))
    )
    state = (
        users.select(*_PEOPLE)
        .join(history, "idx")
        .select(
            *_PEOPLE,
            "_orders",
            F.lit(None).cast("long").alias("leave_ts"),
            F.array().cast("array<struct<k:long,ts:long>>").alias("_added"),
        )
    )
    for ordinal, ((cid, campaign, _), day) in enumerate(zip(schedule, days, strict=True), start=1):
        state = _campaign_step(state, cid, campaign, cfg.campaign_types[campaign.type], ordinal, day, cfg, timeline)
    outcomes = F.filter(F.array(*(F.col(f"_c{n}") for n in range(1, len(schedule) + 1))), lambda c: c.isNotNull())
    sends = (
        state.select(*_PEOPLE, F.explode(outcomes).alias("_c"))
        .select(*(f"_c.{c}" for c in _OUTCOME), *_PEOPLE)
        .select(*SEND_COLUMNS)
    )
    # From the exploded outcomes, not a filter on the state's leave_ts: the optimizer would push such a filter
    # down through every step, inlining each step's expressions into the next (exponentially).
    leaves = sends.where(F.col("left")).select("idx", "leave_ts")
    added = incremental_orders(sends.where(F.col("incremental")), cfg)
    return CampaignOutcome(
        orders=before_leaving(orders.unionByName(added), leaves), leaves=leaves, sends=sends, persisted=(state,)
    )


def effect(cfg: CampaignEffectConfig) -> Column:
    """The effect of a delivered contact on the user in scope (columns promo, order_rate, hazard)::

    lift   = (base_lift + promo_lift * promo_sensitivity) / (1 + 365 * order_rate / heavy_orders_per_year)
    harm   = harm * max(0, ln(churn_hazard / harm_hazard))
    effect = clip(lift - harm, -1, 1)
    """
    lift = (F.lit(cfg.base_lift) + cfg.promo_lift * F.col("promo")) / (
        F.lit(1.0) + 365.0 * F.col("order_rate") / cfg.heavy_orders_per_year
    )
    harm = cfg.harm * F.greatest(F.log(F.col("hazard") / cfg.harm_hazard), F.lit(0.0))
    return F.least(F.greatest(lift - harm, F.lit(-1.0)), F.lit(1.0))


def before_leaving(df: DataFrame, leaves: DataFrame, idx: str = "idx", ts: str = "ts") -> DataFrame:
    """``df`` without the rows of a leaver at or after their leave time (``leaves`` is small: broadcast)."""
    gone = leaves.select(F.col("idx").alias("_leaver"), F.col("leave_ts").alias("_leave_ts"))
    joined = df.join(F.broadcast(gone), F.col(idx) == F.col("_leaver"), "left")
    return joined.where(F.col("_leave_ts").isNull() | (F.col(ts) < F.col("_leave_ts"))).drop("_leaver", "_leave_ts")


# The fields of a campaign's outcome struct (column _c<ordinal> of the state; null for users not in the audience).
_OUTCOME = [c for c in SEND_COLUMNS if c not in _PEOPLE]


def _campaign_step(
    state: DataFrame,
    cid: str,
    campaign: CampaignConfig,
    effect_cfg: CampaignEffectConfig,
    ordinal: int,
    day: int,
    cfg: GenerateConfig,
    timeline: Timeline,
) -> DataFrame:
    """``state`` plus column ``_c<ordinal>``: the campaign's outcome for the users in its audience (null for the
    others); ``leave_ts`` and ``_added`` (incremental orders) updated with what the contact did."""
    s, audience = cfg.seed, campaign.audience
    gone = F.coalesce(F.col("leave_ts"), F.lit(timeline.end * 2))

    def before_send(times: Column) -> Column:
        return F.array_max(F.filter(times, lambda t: (t < day) & (t < gone)))

    last = F.greatest(before_send(F.col("_orders")), before_send(F.transform(F.col("_added"), lambda a: a["ts"])))

    def u(salt: str) -> Column:
        return uniform(s, f"campaign-{salt}", cid, F.col("idx"))

    drawn = state.select(
        "*",
        last.alias("_last"),
        F.least(F.col("churn"), F.coalesce(F.col("leave_ts"), F.col("churn"))).alias("_churn_now"),
        (F.lit(day + SEND_HOUR * HOUR) + F.floor(u("sent") * SEND_SPREAD_SECONDS)).cast("long").alias("_sent"),
        effect(effect_cfg).alias("_effect"),
        u("delivered").alias("_u_delivered"),
        u("contaminated").alias("_u_contaminated"),
        u("effect").alias("_u_effect"),
        u("order-t").alias("_u_order_t"),
        u("leave-t").alias("_u_leave_t"),
    )
    age_days = F.floor((F.lit(day) - F.col("_last")) / DAY)
    picked = uniform_hash(cfg.campaign_salt, F.lit("audience"), F.lit(cid), F.col("user_id")) < audience.share
    member = age_days.between(audience.min_days_since_order, audience.max_days_since_order) & picked
    control = uniform_hash(cfg.campaign_salt, F.lit(cid), F.col("user_id")) < campaign.control_share
    sent, churn_now, eff = F.col("_sent"), F.col("_churn_now"), F.col("_effect")
    alive = churn_now > sent
    delivered = ~control & (F.col("_u_delivered") < campaign.responses.delivered)
    reached = delivered & alive
    # The incremental order comes in (sent_at, sent_at + window], before the user's churn and the history's end.
    window_end = F.least(sent + campaign.window_days * DAY, churn_now - 1, F.lit(timeline.end - 1))
    incremental = reached & (F.col("_u_effect") < eff) & (window_end > sent)
    order_ts = sent + 1 + F.floor(F.col("_u_order_t") * (window_end - sent))
    leave_at = sent + 1 + F.floor(F.col("_u_leave_t") * (effect_cfg.leave_within_days * DAY))
    left = reached & (F.col("_u_effect") < -eff) & (leave_at < churn_now)
    responses = campaign.responses
    # Plain columns first, then the outcome struct of plain columns: the optimizer never inlines one step's
    # expressions into the next (a struct's fields would be, and the plan would grow exponentially).
    decided = drawn.select(
        *state.columns,
        member.alias("_member"),
        F.when(control, CONTROL).otherwise(TREATMENT).alias("_arm"),
        "_sent",
        F.when(alive, responses.delivered * eff).otherwise(F.lit(0.0)).alias("_true_uplift"),
        delivered.alias("_delivered"),
        (control & (F.col("_u_contaminated") < campaign.contamination_share)).alias("_contaminated"),
        incremental.alias("_incremental"),
        F.when(incremental, order_ts).cast("long").alias("_incremental_ts"),
        left.alias("_left"),
        F.when(left, leave_at).cast("long").alias("_leave_at"),
    )
    fields = {
        "ordinal": F.lit(ordinal),
        "campaign_id": F.lit(cid),
        "family": F.lit(campaign.family),
        "segment": F.lit(campaign.segment),
        "channel": F.lit(campaign.channel),
        "offer_value": F.lit(float(campaign.offer_value)),
        "contact_cost": F.lit(float(campaign.contact_cost)),
        "window_seconds": F.lit(campaign.window_days * DAY).cast("long"),
        "p_opened": F.lit(float(responses.opened)),
        "p_clicked": F.lit(float(responses.clicked)),
        "p_unsubscribed": F.lit(float(responses.unsubscribed)),
        "arm": F.col("_arm"),
        "sent_ts": F.col("_sent"),
        "true_uplift": F.col("_true_uplift"),
        "delivered": F.col("_delivered"),
        "contaminated": F.col("_contaminated"),
        "incremental": F.col("_incremental"),
        "incremental_ts": F.col("_incremental_ts"),
        "left": F.col("_left"),
        "leave_ts": F.col("_leave_at"),
    }
    outcome = F.when(F.col("_member"), F.struct(*(fields[c].alias(c) for c in _OUTCOME)))
    added = F.struct(F.lit(INCREMENTAL_K + ordinal).cast("long").alias("k"), F.col("_incremental_ts").alias("ts"))
    was_added = F.col("_member") & F.col("_incremental")
    return decided.select(
        *(col for col in state.columns if col not in ("leave_ts", "_added")),
        F.coalesce(F.col("leave_ts"), F.when(F.col("_member"), F.col("_leave_at"))).alias("leave_ts"),
        F.when(was_added, F.concat(F.col("_added"), F.array(added))).otherwise(F.col("_added")).alias("_added"),
        outcome.alias(f"_c{ordinal}"),
    )


def incremental_orders(sends: DataFrame, cfg: GenerateConfig) -> DataFrame:
    """The incremental order of each send row (internal order columns): at incremental_ts, in the user's
    preferred category, channel and payment method, valued like their ordinary orders, the coupon
    (offer_value, at most the order's value) as its discount; never refunded."""
    s = cfg.seed
    idx, k = F.col("idx"), F.col("k")
    rows = sends.select(
        "idx",
        "user_id",
        (F.lit(INCREMENTAL_K) + F.col("ordinal")).cast("long").alias("k"),
        F.col("incremental_ts").alias("ts"),
        "start",
        "stop",
        "spend_level",
        "offer_value",
        F.col("pref_category").alias("category"),
        F.col("pref_channel").alias("channel"),
        F.col("pref_payment").alias("payment_method"),
    )
    return (
        rows.withColumn("item_count", basket_items(uniform(s, "order-items", idx, k)))
        .withColumn("_gross", gross_value(cfg, normal(s, "order-value", idx, k)))
        .withColumn("discount_amount", F.round(F.least(F.col("offer_value"), F.col("_gross")), 2))
        .withColumn("amount", F.round(F.col("_gross") - F.col("discount_amount"), 2))
        .withColumn("coupon_used", F.lit(True))
        .withColumn("is_refunded", F.lit(False))
        .withColumn("product", product_number(uniform(s, "order-product", idx, k)))
        .withColumn("order_id", F.concat(F.lit("o-"), user_number(idx, cfg.users), F.lit("-"), padded(k, 4)))
        .withColumn("refunded_ts", F.lit(None).cast("long"))
        .withColumn("late_refund", F.lit(False))
        .select(*ORDER_COLUMNS)
    )


def raw_sends(sends: DataFrame, cfg: GenerateConfig) -> DataFrame:
    """Internal sends -> the landing contract's campaign_sends fields (both arms)."""
    return sends.select(
        _send_id(cfg).alias("send_id"),
        "campaign_id",
        "user_id",
        "family",
        "segment",
        "arm",
        "channel",
        "offer_value",
        "contact_cost",
        iso_utc(F.col("sent_ts")).alias("sent_at"),
    )


def raw_responses(sends: DataFrame, orders: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """The landing contract's campaign_responses fields, plus ``_sent_ts`` (the send's time in epoch seconds, for
    the bad records; not landed). Treated users: delivered, opened, clicked, unsubscribed (leavers) and redeemed (every
    coupon order of a delivered user in the window, at its time); contaminated control users: delivered."""
    s = cfg.seed
    last = F.lit(timeline.end - 1)

    def u(salt: str) -> Column:
        return uniform(s, f"campaign-{salt}", F.col("campaign_id"), F.col("idx"))

    delivered_ts = F.col("sent_ts") + 1 + F.floor(u("delivered-t") * DELIVERY_DELAY_SECONDS)
    open_delay = F.lit(60) + F.floor(exponential(s, "campaign-opened-t", F.col("campaign_id"), F.col("idx"))
                                     * OPEN_DELAY_MEAN_SECONDS)  # fmt: skip
    timed = sends.select(
        "campaign_id",
        "idx",
        "user_id",
        "sent_ts",
        "leave_ts",
        (F.col("delivered") | F.col("contaminated")).alias("_delivered"),
        (F.col("delivered") & (u("opened") < F.col("p_opened"))).alias("_opened"),
        (u("clicked") < F.col("p_clicked")).alias("_click"),
        (F.col("left") & (u("unsubscribed") < F.col("p_unsubscribed"))).alias("_unsubscribed"),
        delivered_ts.cast("long").alias("_delivered_ts"),
        F.least(delivered_ts + open_delay, last).cast("long").alias("_opened_ts"),
        u("clicked-t").alias("_u_click_t"),
    )
    clicked_ts = F.least(F.col("_opened_ts") + 1 + F.floor(F.col("_u_click_t") * CLICK_DELAY_SECONDS), last)

    def response(kind: str, when: Column, ts: Column) -> Column:
        return F.when(when, F.struct(F.lit(kind).alias("type"), ts.cast("long").alias("ts")))

    events = F.array(
        response("delivered", F.col("_delivered"), F.col("_delivered_ts")),
        response("opened", F.col("_opened"), F.col("_opened_ts")),
        response("clicked", F.col("_opened") & F.col("_click"), clicked_ts),
        response("unsubscribed", F.col("_unsubscribed"), F.col("leave_ts")),
    )
    contact = timed.select(
        "campaign_id", "idx", "user_id", "sent_ts", F.explode(F.filter(events, lambda e: e.isNotNull())).alias("r")
    ).select(
        "campaign_id",
        "idx",
        "user_id",
        "sent_ts",
        F.col("r.type").alias("response_type"),
        F.col("r.ts").alias("ts"),
        F.col("r.type").alias("_suffix"),
    )
    windows = sends.where(F.col("delivered")).select(
        "campaign_id", F.col("idx").alias("_idx"), "user_id", "sent_ts", "window_seconds"
    )
    coupons = orders.where(F.col("coupon_used")).select("idx", "k", "ts")
    in_window = (F.col("ts") > F.col("sent_ts")) & (F.col("ts") <= F.col("sent_ts") + F.col("window_seconds"))
    redeemed = coupons.join(windows, (F.col("idx") == F.col("_idx")) & in_window).select(
        "campaign_id",
        "idx",
        "user_id",
        "sent_ts",
        F.lit("redeemed").alias("response_type"),
        "ts",
        F.concat(F.lit("redeemed-"), padded(F.col("k"), 4)).alias("_suffix"),
    )
    send_id = _send_id(cfg)
    return contact.unionByName(redeemed).select(
        F.concat(
            F.lit("r-"),
            F.col("campaign_id"),
            F.lit("-"),
            user_number(F.col("idx"), cfg.users),
            F.lit("-"),
            F.col("_suffix"),
        ).alias("response_id"),
        send_id.alias("send_id"),
        "campaign_id",
        "user_id",
        "response_type",
        iso_utc(F.col("ts")).alias("responded_at"),
        F.col("sent_ts").alias("_sent_ts"),
    )


def campaign_effects(sends: DataFrame, orders: DataFrame, batch_id: str) -> DataFrame:
    """The rows of truth.campaign_effects: per send, the true uplift, the incremental orders the contact added
    (counted in the final ``orders``) and whether it made the user leave."""
    added = (
        orders.where(F.col("k") >= INCREMENTAL_K)
        .groupBy("idx", (F.col("k") - INCREMENTAL_K).cast("int").alias("ordinal"))
        .agg(F.count(F.lit(1)).cast("int").alias("incremental_orders"))
    )
    return sends.join(added, ["idx", "ordinal"], "left").select(
        F.lit(batch_id).alias("batch_id"),
        "campaign_id",
        "user_id",
        "arm",
        "true_uplift",
        F.coalesce(F.col("incremental_orders"), F.lit(0)).alias("incremental_orders"),
        "left",
    )


def campaign_summary(effects: DataFrame) -> dict[str, dict[str, int]]:
    """Per campaign id: sends per arm (``treatment``, ``control``), ``incremental_orders`` and ``leavers`` (one
    small aggregation; a row per campaign reaches the driver)."""
    rows = effects.groupBy("campaign_id").agg(
        F.count_if(F.col("arm") == TREATMENT).alias("treatment"),
        F.count_if(F.col("arm") == CONTROL).alias("control"),
        F.coalesce(F.sum("incremental_orders"), F.lit(0)).alias("incremental_orders"),
        F.count_if(F.col("left")).alias("leavers"),
    )
    return {row["campaign_id"]: {k: int(v) for k, v in row.asDict().items() if k != "campaign_id"} for row in
            rows.collect()}  # fmt: skip


def _send_id(cfg: GenerateConfig) -> Column:
    """``s-<campaign id>-<user number>``: unique per campaign and user (user numbers have no '-')."""
    return F.concat(F.lit("s-"), F.col("campaign_id"), F.lit("-"), user_number(F.col("idx"), cfg.users))
