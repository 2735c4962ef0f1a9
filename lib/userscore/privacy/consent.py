"""Consent at a date, and the reason a user may not be part of a stage's output.

A user's consent to a purpose on day D is the latest event (granted / withdrawn) recorded before the end
of D: a withdrawal takes effect in every run for D that starts after it (a re-run of D honours a
withdrawal recorded later that day), and a withdrawal and a grant at the same second count as a
withdrawal. A user with no record for a purpose has the configured ``missing`` consent. Rows keyed by person
(identity.resolve) need the consent of every member user id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config.consent import ConsentConfig
from userscore.errors import InputError
from userscore.keys import USER_ID
from userscore.persons import MEMBERS

REASON = "exclusion_reason"
WITHDRAWN = "withdrawn"


def read_consents(catalog: Catalog, consent: ConsentConfig, stage: str) -> DataFrame | None:
    """The consent events ``stage`` must honour (lazy), or None when it needs no purpose.

    Raises:
        InputError: the stage needs consent and the consent table does not exist (before any write).
    """
    if not consent.purposes(stage):
        return None
    if not catalog.exists(consent.table):
        raise InputError(
            f"{consent.table} does not exist, and {stage} needs {list(consent.purposes(stage))} consent "
            f"(consent.required.{stage}): ingest the consents source first"
        )
    return catalog.read(consent.table)


def consent_on(consents: DataFrame, day: dt.date, purposes: Sequence[str]) -> DataFrame:
    """One row per user with any event for ``purposes`` before the end of ``day``: per purpose a struct
    (consented_at, withdrawn, status) of the latest event, null when the user has none for it (column
    ``_consent_<purpose>``)."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    events = consents.where((F.col("consented_at") < F.lit(end)) & F.col("purpose").isin(list(purposes)))
    # max over (time, withdrawn) picks the latest event, a withdrawal on a tie.
    latest = F.struct("consented_at", (F.col("status") == WITHDRAWN).alias("withdrawn"), "status")
    return events.groupBy("user_id").agg(
        *[F.max(F.when(F.col("purpose") == p, latest)).alias(_state(p)) for p in purposes]
    )


def _state(purpose: str) -> str:
    return f"_consent_{purpose}"


def _reason(purpose: str, missing: str) -> Column:
    state = F.col(_state(purpose))
    withdrawn = F.concat(F.lit(f"{purpose} consent withdrawn "), F.date_format(state["consented_at"], "yyyy-MM-dd"))
    reason = F.when(state["status"] == WITHDRAWN, withdrawn)
    if missing == "denied":
        reason = reason.when(state.isNull(), F.lit(f"no {purpose} consent on record"))
    return reason


def with_exclusion_reason(
    rows: DataFrame, consents: DataFrame, day: dt.date, purposes: Sequence[str], missing: str
) -> DataFrame:
    """``rows`` (with user_id) plus ``exclusion_reason``: why the user lacks consent on ``day`` for some
    of ``purposes`` ("marketing consent withdrawn 2026-03-02", "no marketing consent on record", joined
    by "; "), or null when every purpose is granted. Rows keyed by person (``member_user_ids``): null when
    every member has consent, else the distinct reasons of the members without it, sorted, joined by "; "."""
    states = consent_on(consents, day, purposes)
    reasons = F.concat_ws("; ", *[_reason(p, missing) for p in purposes])
    if MEMBERS not in rows.columns:
        return (
            rows.join(states, USER_ID, "left")
            .withColumn(REASON, F.when(reasons != "", reasons))
            .drop(*[_state(p) for p in purposes])
        )
    # Keyed by person (identity.resolve): every member's consent is needed; each distinct reason of those
    # without it, once (no member id in the text: the reason column is not erasable by member).
    members = rows.select(USER_ID, F.explode(MEMBERS).alias("_member"))
    per_member = members.join(states.withColumnRenamed(USER_ID, "_member"), "_member", "left").select(
        USER_ID, F.when(reasons != "", reasons).alias("_reason")
    )
    per_person = per_member.groupBy(USER_ID).agg(
        F.concat_ws("; ", F.array_sort(F.collect_set("_reason"))).alias("_reason")
    )
    return (
        rows.join(per_person, USER_ID, "left")
        .withColumn(REASON, F.when(F.col("_reason") != "", F.col("_reason")))
        .drop("_reason")
    )
