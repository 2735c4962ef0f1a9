"""The generator's past campaigns, checked on the landed batch against plain Python over the same rows.

Audiences are recomputed from the landed orders, arms and audience picks with hashlib's md5, the true uplift
with numpy from truth.user_traits, and every response and incremental order is checked against its send, the
window and the truth; the formulas and rules are the ones documented in conf/base/generate.yaml, restated here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.generate.conftest import CAMPAIGN_OVERRIDES, END, parse_ts

SEND_HOUR, SEND_SPREAD = dt.timedelta(hours=10), dt.timedelta(hours=2)
ARMS = {"treatment", "control"}
CHANNELS = {"sms", "email", "app_push", "phone"}
INCREMENTAL = re.compile(r"^o-(\d{6})-(\d{7})$")  # o-<user>-<1000000 + the campaign's position in send order>


def md5_uniform(*parts: str) -> float:
    return int(hashlib.md5("|".join(parts).encode()).hexdigest()[:8], 16) / 2**32


def _dedupe(valid: list[dict], key: str, bad: Counter) -> tuple[list[dict], set[str]]:
    """One record per key (the first); later copies count as duplicates. Also returns the conflicting keys."""
    by_key: dict[str, list[dict]] = defaultdict(list)
    for record in valid:
        by_key[record[key]].append(record)
    clean, conflicts = [], set()
    for k, (first, *others) in by_key.items():
        clean.append(first)
        for other in others:
            exact = other == first
            bad["duplicate_exact" if exact else "duplicate_key_conflict"] += 1
            if not exact:
                conflicts.add(k)
    return clean, conflicts


def classify_sends(records: list[dict]) -> tuple[list[dict], Counter, set[str]]:
    """The contract's rules for campaign_sends (conf/base/tables_silver.yaml as agreed): clean sends, bad per
    kind, and the send ids with conflicting copies."""
    bad, valid = Counter(), []
    required = ("send_id", "campaign_id", "user_id", "arm", "offer_value", "contact_cost", "sent_at")
    for r in records:
        if any(r.get(c) is None for c in required):
            bad["missing_required"] += 1
        elif r["arm"] not in ARMS or r["channel"] not in CHANNELS:
            bad["invalid_value"] += 1
        elif r["offer_value"] < 0 or r["contact_cost"] < 0:
            bad["out_of_range"] += 1
        elif parse_ts(r["sent_at"]) is None:
            bad["bad_timestamp"] += 1
        else:
            valid.append(r)
    clean, conflicts = _dedupe(valid, "send_id", bad)
    return clean, bad, conflicts


def classify_responses(records: list[dict], sends: dict[str, dict]) -> tuple[list[dict], Counter]:
    bad, valid = Counter(), []
    required = ("response_id", "send_id", "campaign_id", "user_id", "response_type", "responded_at")
    for r in records:
        send = sends.get(r.get("send_id"))
        if any(r.get(c) is None for c in required):
            bad["missing_required"] += 1
        elif send is None:
            bad["unknown_send"] += 1
        elif (r["campaign_id"], r["user_id"]) != (send["campaign_id"], send["user_id"]):
            bad["send_mismatch"] += 1
        elif parse_ts(r["responded_at"]) < parse_ts(send["sent_at"]):
            bad["inconsistent_time"] += 1
        else:
            valid.append(r)
    clean, _ = _dedupe(valid, "response_id", bad)
    return clean, bad


@dataclass
class World:
    """The landed campaigns, classified and indexed."""

    schedule: list[tuple[str, dict, dt.datetime]]  # (id, config, send day 00:00 UTC) in send order
    types: dict
    salt: str
    sends: dict[str, dict]  # send id -> clean send
    sends_bad: Counter
    conflicts: set[str]
    responses: dict[str, list[dict]]  # send id -> clean responses
    responses_bad: Counter
    truth: dict[tuple[str, str], dict]  # (campaign, user) -> truth.campaign_effects row
    orders: dict[str, list[dict]]  # user -> clean orders (latest versions), by time
    by_campaign: dict[str, list[dict]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(landed) -> World:
    cfg = landed.config.generate
    campaigns = {cid: _plain(c) for cid, c in cfg.campaigns.items()}
    dated = [(cid, c, END - dt.timedelta(days=c["days_before_end"])) for cid, c in campaigns.items()]
    schedule = sorted(dated, key=lambda t: (t[2], t[0]))
    sends, sends_bad, conflicts = classify_sends(landed.campaign_sends)
    by_id = {s["send_id"]: s for s in sends}
    responses, responses_bad = classify_responses(landed.campaign_responses, by_id)
    per_send = defaultdict(list)
    for r in responses:
        per_send[r["send_id"]].append(r)
    orders = defaultdict(list)
    for o in landed.orders:
        orders[o["user_id"]].append(o)
    for user_orders in orders.values():
        user_orders.sort(key=lambda o: (o["order_ts"], o["order_id"]))
    by_campaign = defaultdict(list)
    for s in sends:
        by_campaign[s["campaign_id"]].append(s)
    return World(
        schedule=schedule,
        types={t: _plain(e) for t, e in cfg.campaign_types.items()},
        salt=cfg.campaign_salt,
        sends=by_id,
        sends_bad=sends_bad,
        conflicts=conflicts,
        responses=per_send,
        responses_bad=responses_bad,
        truth={(r["campaign_id"], r["user_id"]): r for r in landed.campaign_effects},
        orders=orders,
        by_campaign=by_campaign,
    )


def _plain(obj) -> dict:
    out = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = _plain(value) if hasattr(value, "__dataclass_fields__") else value
    return out


def test_bad_campaign_records_reconcile_with_the_manifest(landed, world):
    sources = landed.manifest["sources"]
    for source, bad, clean in (
        ("campaign_sends", world.sends_bad, len(world.sends)),
        ("campaign_responses", world.responses_bad, sum(len(r) for r in world.responses.values())),
    ):
        assert sources[source]["bad"] == dict(bad) and bad, source
        assert sources[source]["clean"] == clean
        assert sources[source]["records"] == clean + sum(bad.values())
    assert set(world.sends_bad) == {
        "missing_required", "invalid_value", "out_of_range", "bad_timestamp", "duplicate_exact",
        "duplicate_key_conflict",
    }  # fmt: skip
    assert set(world.responses_bad) >= {"unknown_send", "inconsistent_time", "missing_required"}


def test_audiences_are_the_eligible_buyers_picked_by_md5_and_arms_follow_md5(landed, world):
    users = {u["user_id"] for u in landed.users}
    for cid, c, day in world.schedule:
        audience = c["audience"]
        eligible = set()
        for user, orders in world.orders.items():
            before = [parse_ts(o["order_ts"]) for o in orders if parse_ts(o["order_ts"]) < day]
            if (
                before
                and audience["min_days_since_order"] <= (day - max(before)).days <= audience["max_days_since_order"]
            ):
                eligible.add(user)
        picked = {u for u in eligible if md5_uniform(world.salt, "audience", cid, u) < audience["share"]}
        sends = world.by_campaign[cid]
        assert sorted(s["user_id"] for s in sends) == sorted(picked) and picked <= users, cid
        if audience["share"] < 1:
            assert len(picked) < len(eligible)
        for s in sends:
            control = md5_uniform(world.salt, cid, s["user_id"]) < c["control_share"]
            assert s["arm"] == ("control" if control else "treatment")
            assert s["send_id"] == f"s-{cid}-{s['user_id'][2:]}"
            assert day + SEND_HOUR <= parse_ts(s["sent_at"]) < day + SEND_HOUR + SEND_SPREAD
            assert (s["family"], s["segment"], s["channel"], s["offer_value"]) == (
                c["family"], c["segment"], c["channel"], c["offer_value"],
            )  # fmt: skip
            assert s["contact_cost"] == c["contact_cost"] or s["send_id"] in world.conflicts
        arms = Counter(s["arm"] for s in sends)
        if c["control_share"] == 0:
            assert arms == {"treatment": len(sends)}
        else:
            n = len(sends)
            assert abs(arms["control"] - c["control_share"] * n) <= 4 * math.sqrt(n * 0.25), (cid, arms)


def test_true_uplift_is_the_documented_formula_of_the_hidden_traits(landed, world):
    assert set(world.truth) == {(s["campaign_id"], s["user_id"]) for s in world.sends.values()}
    rows = sorted(world.sends.values(), key=lambda s: s["send_id"])
    campaign = {cid: c for cid, c, _ in world.schedule}
    traits = [landed.traits[s["user_id"]] for s in rows]
    promo = np.array([t["promo_sensitivity"] for t in traits])
    rate = np.array([t["order_rate"] for t in traits])
    hazard = np.array([t["churn_hazard"] for t in traits])
    e = [world.types[campaign[s["campaign_id"]]["type"]] for s in rows]
    base, promo_lift, heavy, harm, harm_hazard = (
        np.array([x[k] for x in e]) for k in ("base_lift", "promo_lift", "heavy_orders_per_year", "harm", "harm_hazard")
    )
    lift = (base + promo_lift * promo) / (1 + 365 * rate / heavy)
    effect = np.clip(lift - harm * np.maximum(0.0, np.log(hazard / harm_hazard)), -1.0, 1.0)
    delivered = np.array([campaign[s["campaign_id"]]["responses"]["delivered"] for s in rows])
    alive = np.array([t["churn_at"] > parse_ts(s["sent_at"]) for t, s in zip(traits, rows, strict=True)])
    expected = np.where(alive, delivered * effect, 0.0)
    got = np.array([world.truth[(s["campaign_id"], s["user_id"])]["true_uplift"] for s in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert [world.truth[(s["campaign_id"], s["user_id"])]["arm"] for s in rows] == [s["arm"] for s in rows]
    # Persuadables, sleeping dogs and users gone before the send are all there.
    assert (expected > 0.1).any() and (expected < 0).any() and (~alive).any()


def _responses(world, send) -> dict[str, list[dt.datetime]]:
    out = defaultdict(list)
    for r in world.responses.get(send["send_id"], []):
        out[r["response_type"]].append(parse_ts(r["responded_at"]))
    return out


def test_incremental_orders_come_only_from_reached_treated_users_inside_the_window(landed, world):
    ordinal = {n: (cid, c) for n, (cid, c, _) in enumerate(world.schedule, start=1)}
    found = Counter()
    for user, orders in world.orders.items():
        for o in orders:
            m = INCREMENTAL.match(o["order_id"])
            if not m:
                continue
            cid, c = ordinal[int(m.group(2)) - 1_000_000]
            assert m.group(1) == user[2:]
            send = world.sends[f"s-{cid}-{user[2:]}"]
            truth = world.truth[(cid, user)]
            assert send["arm"] == "treatment" and truth["true_uplift"] > 0 and _responses(world, send)["delivered"]
            sent, at = parse_ts(send["sent_at"]), parse_ts(o["order_ts"])
            assert sent < at <= sent + dt.timedelta(days=c["window_days"]) and at < landed.traits[user]["churn_at"]
            # The coupon is the discount (the whole order when it is worth less), never refunded.
            assert o["coupon_used"] and not o["is_refunded"]
            assert o["discount_amount"] == c["offer_value"] or (o["amount"] == 0 and o["discount_amount"] > 0)
            found[(cid, user)] += 1
    assert found == Counter({k: r["incremental_orders"] for k, r in world.truth.items() if r["incremental_orders"]})
    assert all(world.truth[k]["arm"] == "treatment" for k in found)
    # As many as the true uplifts promise: P(extra order) = true_uplift.
    promised = sum(max(r["true_uplift"], 0.0) for r in world.truth.values() if r["arm"] == "treatment")
    assert abs(sum(found.values()) - promised) <= 4 * math.sqrt(promised) + 1, (sum(found.values()), promised)


def test_control_users_get_no_response_but_contamination_and_treated_responses_follow_their_send(landed, world):
    for cid, c, _ in world.schedule:
        control = [s for s in world.by_campaign[cid] if s["arm"] == "control"]
        contaminated = [s for s in control if _responses(world, s)]
        assert all(set(_responses(world, s)) == {"delivered"} for s in contaminated)
        share = c["contamination_share"]
        assert share == CAMPAIGN_OVERRIDES.get(cid, {}).get("contamination_share", 0.0)
        if share == 0:
            assert contaminated == []
        else:
            n = len(control)
            assert contaminated and abs(len(contaminated) - share * n) <= 4 * math.sqrt(n * share * (1 - share))
        treated = [s for s in world.by_campaign[cid] if s["arm"] == "treatment"]
        delivered = 0
        for s in treated:
            got = _responses(world, s)
            sent = parse_ts(s["sent_at"])
            assert all(len(v) == 1 for k, v in got.items() if k != "redeemed")
            if not got.get("delivered"):
                assert got == {}, s
                continue
            delivered += 1
            at = got["delivered"][0]
            assert sent < at <= sent + dt.timedelta(seconds=600)
            if got.get("opened"):
                assert at < got["opened"][0]
            if got.get("clicked"):
                assert got["opened"] and got["opened"][0] < got["clicked"][0] <= got["opened"][0] + dt.timedelta(
                    seconds=1800
                )
            # Redeemed: every coupon order of the user in the window, at its time.
            window = dt.timedelta(days=c["window_days"])
            coupons = sorted(
                parse_ts(o["order_ts"])
                for o in world.orders.get(s["user_id"], [])
                if o["coupon_used"] and sent < parse_ts(o["order_ts"]) <= sent + window
            )
            assert sorted(got.get("redeemed", [])) == coupons
            truth = world.truth[(cid, s["user_id"])]
            if got.get("unsubscribed"):
                assert truth["left"] and got["unsubscribed"][0] == landed.traits[s["user_id"]]["churn_at"]
        p = c["responses"]["delivered"]
        assert abs(delivered - p * len(treated)) <= 4 * math.sqrt(len(treated) * p * (1 - p)) + 1, cid


def test_leavers_leave_soon_after_the_send_and_do_nothing_after(landed, world):
    leavers = {k: r for k, r in world.truth.items() if r["left"]}
    assert leavers
    campaign = {cid: c for cid, c, _ in world.schedule}
    gone = {}
    for (cid, user), truth in leavers.items():
        send = world.sends[f"s-{cid}-{user[2:]}"]
        c = campaign[cid]
        assert send["arm"] == "treatment" and truth["true_uplift"] < 0 and _responses(world, send)["delivered"]
        sent, left_at = parse_ts(send["sent_at"]), landed.traits[user]["churn_at"]
        leave_days = world.types[c["type"]]["leave_within_days"]
        assert sent < left_at <= sent + dt.timedelta(days=leave_days) and landed.traits[user]["churned"]
        assert user not in gone
        gone[user] = left_at
    after = [
        *(
            o["order_id"]
            for o in landed.orders
            if o["user_id"] in gone and parse_ts(o["order_ts"]) >= gone[o["user_id"]]
        ),
        *(
            e["event_id"]
            for e in landed.events
            if e["user_id"] in gone and parse_ts(e["event_ts"]) >= gone[e["user_id"]]
        ),
        *(s["edge_id"] for s in landed.social_edges if parse_ts(s["created_at"]) >= gone.get(s["src_user_id"], END)),
        *(i["link_id"] for i in landed.identity_links if parse_ts(i["linked_at"]) >= gone.get(i["user_id"], END)),
    ]
    assert after == []
    # Sleeping dogs leave at the rate their true uplift says (P(leave) = -true_uplift, unless already leaving).
    risk = sum(-r["true_uplift"] for r in world.truth.values() if r["arm"] == "treatment" and r["true_uplift"] < 0)
    assert len(leavers) <= risk + 4 * math.sqrt(risk) + 1


def test_the_summary_has_a_line_per_campaign_from_the_truth(landed, world):
    for cid, _, day in world.schedule:
        rows = [r for (c, _), r in world.truth.items() if c == cid]
        arms = Counter(r["arm"] for r in rows)
        line = (
            f"campaign {cid} ({day.date()}): {arms['treatment']:,} treatment + {arms['control']:,} control sends, "
            f"{sum(r['incremental_orders'] for r in rows):,} incremental orders, {sum(r['left'] for r in rows):,} leavers"
        )
        assert line in landed.summary
