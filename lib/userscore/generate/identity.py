"""Contact data and identity links: devices (1-3), member id, phone and e-mail that belong to one user.

Phone numbers and e-mail addresses come from a bijection of the user index, so no two people share one.
A person may hold up to three user ids (``person_index``): the further accounts carry the primary
account's phone and first device and no member id. Noise that must not join people: store tablets
(one device id used by many users) and recycled phone numbers (a primary account also carries, from a day
after its first owner's link on, the number of an unrelated person).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.random import hash64, pick, uniform, with_draws
from userscore.generate.timeline import Timeline
from userscore.generate.traits import id_width, registration_seconds, user_number

_CONTACT_SPACE = 10**9
_CONTACT_MULTIPLIER = 387_420_489  # 3**18: coprime with 10**9, so the map below is a bijection
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
DEVICE_COUNT_WEIGHTS = (0.55, 0.3, 0.15)  # 1, 2 or 3 devices
ACCOUNTS_PER_GROUP = 3  # a person holds at most this many user ids: a primary account and two further ones
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


def person_index(cfg: GenerateConfig, idx: Column) -> Column:
    """The index of the primary account of user ``idx``'s person (``idx`` itself for a primary account).

    Users are grouped in threes by index; the first of a group is always primary, so no chain of
    accounts exists and a person's accounts are found without a join.
    """
    offset = F.pmod(idx, F.lit(ACCOUNTS_PER_GROUP))
    further = (offset > 0) & (uniform(cfg.seed, "second-account", idx) < cfg.identity.second_account_share)
    return F.when(further, idx - offset).otherwise(idx)


def person_id(cfg: GenerateConfig, idx: Column) -> Column:
    """The true person of user ``idx`` (truth layer only): ``p-`` and its primary account's number."""
    return F.concat(F.lit("p-"), user_number(person_index(cfg, idx), cfg.users))


def _device(seed: int, idx: Column, j: Column | int) -> Column:
    return F.concat(F.lit("dev-"), F.lower(F.hex(hash64(seed, "device", idx, F.lit(j).cast("long")))))


def _recycled_phone_owner(cfg: GenerateConfig, idx: Column) -> Column:
    """A primary account of another group (whose phone number user ``idx`` took over)."""
    groups = max(1, cfg.users // ACCOUNTS_PER_GROUP)  # whole groups only: their primary index is < users
    own = F.floor(idx / ACCOUNTS_PER_GROUP)
    step = 1 + F.floor(uniform(cfg.seed, "recycled-phone-of", idx) * max(groups - 1, 1))
    return F.pmod(own + step, F.lit(groups)) * ACCOUNTS_PER_GROUP


def identity_links(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """Internal identity links (``ts`` = when linked, inside the history window) of a user frame."""
    s, noise = cfg.seed, cfg.identity
    idx = F.col("idx")
    users = with_draws(
        users,
        _person=person_index(cfg, idx),
        _u_devices=uniform(s, "devices", idx),
        _u_shared=uniform(s, "shared-device", idx),
        _u_recycled=uniform(s, "recycled-phone", idx),
    )
    person = F.col("_person")
    primary = person == idx
    devices = pick([1, 2, 3], "_u_devices", DEVICE_COUNT_WEIGHTS)
    first = F.col("start")
    # Later devices appear while the user is active (or at the start when the window is empty).
    later = F.greatest(F.col("stop") - first, F.lit(0))

    def link(kind: str, j: Column | int, value: Column, ts: Column) -> Column:
        return F.struct(
            F.lit(kind).alias("id_type"), F.lit(j).cast("int").alias("j"), value.alias("id_value"), ts.alias("ts")
        )

    def later_time(salt: str, j: Column | int) -> Column:
        return first + F.floor(later * uniform(s, salt, idx, F.lit(j).cast("long")))

    # A further account's first device is its person's (the same phone runs both apps).
    device_links = F.transform(
        F.sequence(F.lit(1), devices),
        lambda j: link(
            "device",
            j,
            F.when(j == 1, _device(s, person, 1)).otherwise(_device(s, idx, j)),
            F.when(j == 1, first).otherwise(later_time("device-t", j)),
        ),
    )
    member = link("member", 1, F.format_string(f"m-%0{id_width(cfg.users)}d", idx + 1), first)
    store_tablet = F.format_string(
        "dev-store-%02d", F.floor(uniform(s, "shared-device-which", idx) * noise.shared_devices).cast("int")
    )
    # The number passes to this user after its first owner had it: linked a day or more after the owner's
    # own link (the start of the owner's history), while this user is active; never, when there is no such time.
    owner = _recycled_phone_owner(cfg, idx)
    owner_start = F.greatest(registration_seconds(s, owner, cfg, timeline), F.lit(timeline.start).cast("long"))
    recycled_at = F.greatest(later_time("recycled-t", 2), owner_start + 86_400)
    optional = F.array(
        F.when(primary, member),
        F.when(
            F.col("_u_shared") < noise.shared_device_share, link("device", 9, store_tablet, later_time("tablet-t", 9))
        ),
        F.when(
            primary & (F.col("_u_recycled") < noise.recycled_phone_share) & (recycled_at < F.col("stop")),
            link("phone", 2, phone(s, owner), recycled_at),
        ),
    )
    fixed = F.array(link("phone", 1, phone(s, person), first), link("email", 1, email(s, idx), first))
    links = F.concat(device_links, fixed, F.filter(optional, lambda x: x.isNotNull()))
    rows = users.select("idx", "user_id", F.explode(links).alias("link"))
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
