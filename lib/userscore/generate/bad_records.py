"""Deliberately bad raw records, one defect each, so ingest's validation can be tested and reconciled.

A clean record is chosen with probability share / (1 - share) by a hash of its key (so about ``share``
of all landed records are bad) and then gets one extra copy carrying one kind of defect, picked by
another hash. The clean record stays as it is: the clean data stays consistent (levels, funnels) and the
bad copy is the only thing ingest must reject. Copies that are not duplicates get a fresh key (the
clean key + ``-x``). Each output row carries ``bad_kind`` (null when clean) for tallies; it is not landed.

Campaign responses reference their send: the bad copy of a response keeps a valid send_id unless it is
``unknown_send`` (a send id that no send has), and a bad copy of a send has a fresh send id, so no response
refers to it.

Kinds are named after ingest's quarantine reasons, plus ``duplicate_exact`` (an identical copy, which
ingest drops and counts) and ``duplicate_key_conflict`` (same key, different content: quarantined).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.generate.random import hash64, pick, uniform
from userscore.generate.timeline import DAY, iso_utc

DUPLICATE_EXACT = "duplicate_exact"
DUPLICATE_CONFLICT = "duplicate_key_conflict"
_FIELD_KINDS = (
    "missing_required", "unknown_user", "out_of_range", "invalid_value", "bad_timestamp", "future_timestamp",
    "oversize_string",
)  # fmt: skip
KINDS: dict[str, tuple[str, ...]] = {
    "orders": ("malformed_record", "invalid_encoding", "bad_type", *_FIELD_KINDS, DUPLICATE_EXACT, DUPLICATE_CONFLICT),
    "events": (*_FIELD_KINDS, DUPLICATE_EXACT, DUPLICATE_CONFLICT),
    "users": ("missing_required", "bad_timestamp", "future_timestamp", "oversize_string", DUPLICATE_EXACT,
              DUPLICATE_CONFLICT),
    "campaign_sends": ("missing_required", "invalid_value", "out_of_range", "bad_timestamp", DUPLICATE_EXACT,
                       DUPLICATE_CONFLICT),
    "campaign_responses": ("unknown_send", "send_mismatch", "inconsistent_time", "missing_required",
                           DUPLICATE_EXACT),
}  # fmt: skip
OVERSIZE_LENGTH = 5000
FUTURE_YEAR = "2096"  # a leap year, so that Feb 29 stays a valid (future) date
BAD_TIMESTAMPS = ("2025-13-45T25:61:00Z", "not-a-timestamp")
BAD_CHANNELS = ("fax", "carrier_pigeon")
BAD_EVENT_TYPE = "teleport"
BAD_ARM = "holdout"
# Bytes that are not valid UTF-8 (0xC3 opens a 2-byte sequence, "(" cannot continue it).
INVALID_UTF8_HEX = "C328"
_PLACEHOLDER = "@@bad-bytes@@"  # survives to_json unescaped


def _with_bad_copies(
    df: DataFrame, source: str, key: Column, seed: int, share: float, bad: dict[str, Column]
) -> DataFrame:
    """``df`` plus one bad copy of the chosen records, with ``bad_kind`` and ``bad_variant`` (null when
    clean); ``bad`` maps a column to its corrupted value, an expression of ``bad_kind`` and ``bad_variant``."""
    chosen = uniform(seed, f"bad-{source}", key) < share / (1.0 - share) if share > 0 else F.lit(False)
    marked = df.withColumn("bad_kind", F.when(chosen, pick(KINDS[source], uniform(seed, f"bad-kind-{source}", key))))
    marked = marked.withColumn("bad_variant", uniform(seed, f"bad-variant-{source}", key) < 0.5)
    clean = F.struct(
        *(F.col(c) for c in df.columns),
        F.lit(None).cast("string").alias("bad_kind"),
        F.lit(None).cast("boolean").alias("bad_variant"),
    )
    copy = F.struct(*(bad.get(c, F.col(c)).alias(c) for c in df.columns), F.col("bad_kind"), F.col("bad_variant"))
    both = F.array(clean, F.when(F.col("bad_kind").isNotNull(), copy))
    return marked.select(F.explode(both).alias("r")).where(F.col("r").isNotNull()).select("r.*")


def _kind(*names: str) -> Column:
    return F.col("bad_kind").isin(*names)


def _fresh_key(key: str) -> Column:
    return F.when(_kind(DUPLICATE_EXACT, DUPLICATE_CONFLICT), F.col(key)).otherwise(F.concat(F.col(key), F.lit("-x")))


def _variant(a: Column | str, b: Column | str) -> Column:
    a = a if isinstance(a, Column) else F.lit(a)
    b = b if isinstance(b, Column) else F.lit(b)
    return F.when(F.col("bad_variant"), a).otherwise(b)


def _ghost_user(seed: int, key: Column) -> Column:
    return F.concat(F.lit("u-ghost-"), F.lower(F.hex(hash64(seed, "ghost", key))))


def _timestamp(column: str) -> Column:
    return (
        F.when(_kind("bad_timestamp"), _variant(*BAD_TIMESTAMPS))
        .when(_kind("future_timestamp"), F.concat(F.lit(FUTURE_YEAR), F.substring(F.col(column), 5, 100)))
        .when(_kind("missing_required") & ~F.col("bad_variant"), F.lit(None).cast("string"))
        .otherwise(F.col(column))
    )


def _oversize(prefix: str = "") -> Column:
    return F.lit(prefix + "x" * OVERSIZE_LENGTH)


def orders_with_bad_lines(orders: DataFrame, seed: int, share: float) -> DataFrame:
    """Raw orders (contract fields) -> JSON lines: columns ``value`` and ``bad_kind``."""
    key = F.col("order_id")
    user = F.when(_kind("missing_required") & F.col("bad_variant"), F.lit(None).cast("string")).when(
        _kind("unknown_user"), _ghost_user(seed, key)
    )
    bad = {
        "order_id": _fresh_key("order_id"),
        "user_id": user.otherwise(F.col("user_id")),
        "order_ts": _timestamp("order_ts"),
        "amount": F.when(_kind("out_of_range"), _variant(F.lit(-50.0), F.lit(9.0e9)))
        .when(_kind(DUPLICATE_CONFLICT), F.round(F.col("amount") + 1.0, 2))
        .otherwise(F.col("amount")),
        "category": F.when(_kind("oversize_string"), _oversize())
        .when(_kind("invalid_encoding"), F.concat(F.col("category"), F.lit(_PLACEHOLDER)))
        .otherwise(F.col("category")),
        "channel": F.when(_kind("invalid_value"), _variant(*BAD_CHANNELS)).otherwise(F.col("channel")),
    }
    fields = [F.col(c) for c in orders.columns]
    rows = _with_bad_copies(orders, "orders", key, seed, share, bad).withColumn("_line", F.to_json(F.struct(*fields)))
    line = F.col("_line")
    # Wrong types: a decimal comma in the amount or a number spelled out.
    as_text = {
        "amount": F.regexp_replace(F.format_string("%.2f", F.col("amount")), r"\.", ","),
        "item_count": F.lit("two"),
    }
    typed_amount = F.to_json(
        F.struct(*(as_text["amount"].alias(c) if c == "amount" else F.col(c) for c in orders.columns))
    )
    typed_items = F.to_json(
        F.struct(*(as_text["item_count"].alias(c) if c == "item_count" else F.col(c) for c in orders.columns))
    )
    cut = F.floor(F.length(line) * (0.3 + 0.4 * uniform(seed, "bad-cut", F.col("order_id")))).cast("int")
    # Splice raw bytes into the serialized line: to_json would replace invalid UTF-8 with U+FFFD.
    invalid = F.unhex(F.lit(INVALID_UTF8_HEX)).cast("string")
    spliced = F.concat(F.substring_index(line, _PLACEHOLDER, 1), invalid, F.substring_index(line, _PLACEHOLDER, -1))
    value = (
        F.when(_kind("malformed_record"), F.substring(line, 1, cut))
        .when(_kind("invalid_encoding"), spliced)
        .when(_kind("bad_type"), F.when(F.col("bad_variant"), typed_amount).otherwise(typed_items))
        .otherwise(line)
    )
    return rows.select(value.alias("value"), "bad_kind")


def events_with_bad_records(events: DataFrame, seed: int, share: float) -> DataFrame:
    """Raw events (contract columns) plus bad copies; adds ``bad_kind``."""
    key = F.col("event_id")
    bad = {
        "event_id": _fresh_key("event_id"),
        "user_id": F.when(_kind("missing_required") & F.col("bad_variant"), F.lit(None).cast("string"))
        .when(_kind("unknown_user"), _ghost_user(seed, key))
        .otherwise(F.col("user_id")),
        "event_ts": _timestamp("event_ts"),
        "event_type": F.when(_kind("invalid_value"), F.lit(BAD_EVENT_TYPE)).otherwise(F.col("event_type")),
        "page": F.when(_kind("oversize_string"), _oversize("product/")).otherwise(F.col("page")),
        "dwell_seconds": F.when(_kind("out_of_range"), _variant(F.lit(-5.0), F.lit(1.0e7)))
        .when(_kind(DUPLICATE_CONFLICT), F.coalesce(F.col("dwell_seconds"), F.lit(0.0)) + 1.5)
        .otherwise(F.col("dwell_seconds")),
    }
    return _with_bad_copies(events, "events", key, seed, share, bad).drop("bad_variant")


def users_with_bad_records(users: DataFrame, seed: int, share: float, regions: tuple[str, ...]) -> DataFrame:
    """Raw users (contract columns) plus bad copies; adds ``bad_kind``."""
    moved = _next_value(F.col("region"), regions)
    bad = {
        "user_id": F.when(_kind("missing_required") & F.col("bad_variant"), F.lit(None).cast("string")).otherwise(
            _fresh_key("user_id")
        ),
        "registered_at": _timestamp("registered_at"),
        "region": F.when(_kind("oversize_string"), _oversize())
        .when(_kind(DUPLICATE_CONFLICT), moved)
        .otherwise(F.col("region")),
    }
    return _with_bad_copies(users, "users", F.col("user_id"), seed, share, bad).drop("bad_variant")


def _next_value(column: Column, values: tuple[str, ...]) -> Column:
    """Another valid value (the next one in the vocabulary), for a conflicting duplicate."""
    expr = F.when(F.lit(False), F.lit(None).cast("string"))
    for value, following in zip(values, (*values[1:], values[0]), strict=True):
        expr = expr.when(column == value, F.lit(following))
    return expr.otherwise(F.lit(values[0]))


def sends_with_bad_records(sends: DataFrame, seed: int, share: float) -> DataFrame:
    """Raw campaign sends (contract columns) plus bad copies; adds ``bad_kind``."""
    bad = {
        "send_id": _fresh_key("send_id"),
        "campaign_id": F.when(_kind("missing_required") & F.col("bad_variant"), F.lit(None).cast("string")).otherwise(
            F.col("campaign_id")
        ),
        "arm": F.when(_kind("invalid_value") & F.col("bad_variant"), F.lit(BAD_ARM)).otherwise(F.col("arm")),
        "channel": F.when(_kind("invalid_value") & ~F.col("bad_variant"), F.lit(BAD_CHANNELS[0])).otherwise(
            F.col("channel")
        ),
        "offer_value": F.when(_kind("out_of_range") & F.col("bad_variant"), F.lit(-5.0)).otherwise(
            F.col("offer_value")
        ),
        "contact_cost": F.when(_kind("out_of_range") & ~F.col("bad_variant"), F.lit(-0.01))
        .when(_kind(DUPLICATE_CONFLICT), F.round(F.col("contact_cost") + 0.01, 4))
        .otherwise(F.col("contact_cost")),
        "sent_at": _timestamp("sent_at"),
    }
    return _with_bad_copies(sends, "campaign_sends", F.col("send_id"), seed, share, bad).drop("bad_variant")


def responses_with_bad_records(responses: DataFrame, seed: int, share: float) -> DataFrame:
    """Raw campaign responses (contract columns plus ``_sent_ts``, the send's time in epoch seconds, dropped here)
    plus bad copies; adds ``bad_kind``. ``inconsistent_time``: a day before its send; ``send_mismatch``: another
    campaign id than its send's; ``unknown_send``: a send id no send has."""
    key = F.col("response_id")
    one_day_earlier = iso_utc(F.col("_sent_ts") - DAY)
    bad = {
        "response_id": _fresh_key("response_id"),
        "send_id": F.when(
            _kind("unknown_send"), F.concat(F.lit("s-ghost-"), F.lower(F.hex(hash64(seed, "ghost-send", key))))
        ).otherwise(F.col("send_id")),
        "campaign_id": F.when(_kind("send_mismatch"), F.concat(F.col("campaign_id"), F.lit("-other"))).otherwise(
            F.col("campaign_id")
        ),
        "response_type": F.when(_kind("missing_required") & F.col("bad_variant"), F.lit(None).cast("string")).otherwise(
            F.col("response_type")
        ),
        "responded_at": F.when(_kind("inconsistent_time"), one_day_earlier)
        .when(_kind("missing_required") & ~F.col("bad_variant"), F.lit(None).cast("string"))
        .otherwise(F.col("responded_at")),
    }
    rows = _with_bad_copies(responses, "campaign_responses", key, seed, share, bad)
    return rows.drop("bad_variant", "_sent_ts")
