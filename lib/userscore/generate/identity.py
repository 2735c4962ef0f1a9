"""Contact data and identity links: devices (1-3), member id, phone and e-mail that belong to one user.

Phone numbers and e-mail addresses come from a bijection of the user index, so no two users share one.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.random import hash64, pick, uniform, with_draws
from userscore.generate.timeline import Timeline
from userscore.generate.traits import id_width

_CONTACT_SPACE = 10**9
_CONTACT_MULTIPLIER = 387_420_489  # 3**18: coprime with 10**9, so the map below is a bijection
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
DEVICE_COUNT_WEIGHTS = (0.55, 0.3, 0.15)  # 1, 2 or 3 devices
LINK_COLUMNS = ["link_id", "idx", "user_id", "id_type", "id_value", "ts"]


def _contact_number(seed: int, idx: Column) -> Column:
    offset = (seed * 7919) % _CONTACT_SPACE
    return F.pmod(idx * _CONTACT_MULTIPLIER + F.lit(offset), F.lit(_CONTACT_SPACE))


def phone(seed: int, idx: Column) -> Column:
    """``+86-13d-dddd-dddd``, unique per user index (below 10**9)."""
    n = _contact_number(seed, idx)
    return F.format_string(
        "+86-13%d-%04d-%04d", F.floor(n / 10**8), F.pmod(F.floor(n / 10**4), F.lit(10**4)), F.pmod(n, F.lit(10**4))
    )


def email(seed: int, idx: Column) -> Column:
    domain = pick(EMAIL_DOMAINS, uniform(seed, "email-domain", idx))
    return F.format_string("user%09d@%s", _contact_number(seed, idx), domain)


def identity_links(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """Internal identity links (``ts`` = when linked, inside the history window) of a user frame."""
    s = cfg.seed
    idx = F.col("idx")
    users = with_draws(users, _u_devices=uniform(s, "devices", idx))
    devices = pick([1, 2, 3], "_u_devices", DEVICE_COUNT_WEIGHTS)
    first = F.col("start")
    # Later devices appear while the user is active (or at the start when the window is empty).
    later = F.greatest(F.col("stop") - first, F.lit(0))

    def link(kind: str, j: Column | int, value: Column, ts: Column) -> Column:
        return F.struct(
            F.lit(kind).alias("id_type"), F.lit(j).cast("int").alias("j"), value.alias("id_value"), ts.alias("ts")
        )

    device_links = F.transform(
        F.sequence(F.lit(1), devices),
        lambda j: link(
            "device",
            j,
            F.concat(F.lit("dev-"), F.lower(F.hex(hash64(s, "device", idx, j.cast("long"))))),
            F.when(j == 1, first).otherwise(first + F.floor(later * uniform(s, "device-t", idx, j.cast("long")))),
        ),
    )
    fixed = F.array(
        link("member", 1, F.format_string(f"m-%0{id_width(cfg.users)}d", idx + 1), first),
        link("phone", 1, phone(s, idx), first),
        link("email", 1, email(s, idx), first),
    )
    rows = users.select("idx", "user_id", F.explode(F.concat(device_links, fixed)).alias("link"))
    return rows.select(
        F.format_string("l-%s-%s%d", F.col("user_id").substr(3, 100), F.col("link.id_type"), F.col("link.j")).alias(
            "link_id"
        ),
        "idx",
        "user_id",
        F.col("link.id_type").alias("id_type"),
        F.col("link.id_value").alias("id_value"),
        F.col("link.ts").cast("long").alias("ts"),
    )
