"""The landed synthetic user base, checked record by record against the contract and expected behaviour.

Expected values come from the configuration and the contract (restated in conftest), computed in plain
Python over the landed files; nothing here reuses generator code.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict

from tests.generate.conftest import END, HISTORY_DAYS, SHARE, START, USERS, parse_ts, read_parquet

THRESHOLDS = [("silver", 1000.0), ("gold", 5000.0), ("platinum", 15000.0)]  # conf/base/generate.yaml
LEVELS = ["basic", "silver", "gold", "platinum"]
KINDS = {
    "orders": {"malformed_record", "invalid_encoding", "bad_type", "missing_required", "unknown_user", "out_of_range",
               "invalid_value", "bad_timestamp", "future_timestamp", "oversize_string", "duplicate_exact",
               "duplicate_key_conflict"},
    "events": {"missing_required", "unknown_user", "out_of_range", "invalid_value", "bad_timestamp",
               "future_timestamp", "oversize_string", "duplicate_exact", "duplicate_key_conflict"},
    "users": {"missing_required", "bad_timestamp", "future_timestamp", "oversize_string", "duplicate_exact",
              "duplicate_key_conflict"},
}  # fmt: skip
DAY = dt.timedelta(days=1)


def _orders_by_user(landed) -> dict[str, list[dict]]:
    by_user = defaultdict(list)
    for order in landed.orders:
        by_user[order["user_id"]].append(order)
    for orders in by_user.values():
        orders.sort(key=lambda o: (o["order_ts"], o["order_id"]))
    return by_user


def test_manifest_reconciles_with_the_records_found_in_the_files(landed):
    sources = landed.manifest["sources"]
    for source, checked in landed.checked.items():
        assert checked.multiple_defects == [], f"{source}: a bad record must break exactly one rule"
        found = {kind: n for kind, n in checked.bad.items() if n}
        assert set(found) == KINDS[source], f"{source}: every bad-record kind of the contract is present"
        assert sources[source]["bad"] == found
        assert sources[source]["records"] == checked.records
        assert sources[source]["clean"] == len(checked.clean)
        assert sources[source]["expected_ingest"] == {
            "accepted": len(checked.clean),
            "quarantined": sum(found.values()) - found["duplicate_exact"],
            "duplicates_dropped": found["duplicate_exact"],
        }
    for source in ("level_changes", "social_edges", "identity_links"):
        rows = getattr(landed, source)
        assert sources[source]["records"] == sources[source]["clean"] == len(rows)
        assert sources[source]["bad"] == {}
    assert len(landed.users) == USERS


def test_bad_record_share_is_the_configured_share(landed):
    checked = landed.checked
    for source in ("orders", "events"):
        share = sum(checked[source].bad.values()) / checked[source].records
        assert abs(share - SHARE) < 0.15 * SHARE, (source, share)
    assert 0.5 * SHARE < sum(checked["users"].bad.values()) / checked["users"].records < 1.5 * SHARE
    total_bad = sum(sum(c.bad.values()) for c in checked.values())
    total = sum(c.records for c in checked.values())
    assert abs(total_bad / total - SHARE) < 0.1 * SHARE


def test_invalid_utf8_bytes_really_land_in_the_json_file(landed):
    undecodable = []
    for line in landed.order_lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(line)
    assert len(undecodable) == landed.manifest["sources"]["orders"]["bad"]["invalid_encoding"] > 0
    # Apart from the two bytes 0xC3 0x28, each such line is an otherwise valid order with a fresh id.
    for line in undecodable:
        assert line.count(b'\xc3(",') == 1
        text = line.replace(b"\xc3(", b"").decode("utf-8")
        assert text.startswith('{"order_id":"o-') and '-x","user_id":"u-' in text


def test_mean_orders_and_events_per_user_are_near_the_configured_means(landed):
    assert abs(len(landed.orders) / USERS - 20.0) < 0.15 * 20.0
    assert abs(len(landed.events) / USERS - 100.0) < 0.15 * 100.0


def test_spend_is_long_tailed(landed):
    spend = Counter({u["user_id"]: 0.0 for u in landed.users})
    for order in landed.orders:
        if not order["is_refunded"]:
            spend[order["user_id"]] += order["amount"]
    ranked = sorted(spend.values(), reverse=True)
    assert sum(ranked[: USERS // 10]) > 0.4 * sum(ranked)
    buyers = [s for s in ranked if s > 0]
    assert statistics.mean(buyers) > 1.5 * statistics.median(buyers)


def test_churned_users_stop_buying_and_only_stragglers_remain(landed):
    churn = {uid: t["churn_at"] for uid, t in landed.traits.items() if t["churned"]}
    assert 0.2 * USERS < len(churn) < 0.8 * USERS
    late_orders = [o for o in landed.orders if o["user_id"] in churn and parse_ts(o["order_ts"]) >= churn[o["user_id"]]]
    assert late_orders == []
    events = [e for e in landed.events if e["user_id"] in churn]
    late = [e for e in events if parse_ts(e["event_ts"]) >= churn[e["user_id"]]]
    assert 0 < len(late) < 0.03 * len(events)
    assert {e["event_type"] for e in late} == {"login", "page_view", "coupon_claim"}
    assert {e["page"] for e in late if e["event_type"] == "page_view"} == {"home"}


def test_every_timestamp_lies_in_the_history_after_registration(landed):
    registered = {u["user_id"]: parse_ts(u["registered_at"]) for u in landed.users}
    assert all(START - dt.timedelta(days=HISTORY_DAYS) <= t < END for t in registered.values())
    assert sum(t < START for t in registered.values()) > 0.1 * USERS  # some registered before the history
    timed = [
        *((o["user_id"], o["order_ts"]) for o in landed.orders),
        *((e["user_id"], e["event_ts"]) for e in landed.events),
        *((c["user_id"], c["changed_at"]) for c in landed.level_changes),
        *((i["user_id"], i["linked_at"]) for i in landed.identity_links),
        *((s["src_user_id"], s["created_at"]) for s in landed.social_edges),
        *((s["dst_user_id"], s["created_at"]) for s in landed.social_edges),
    ]
    outside = [(uid, ts) for uid, ts in timed if not max(START, registered[uid]) <= parse_ts(ts) < END]
    assert outside == []


def test_level_changes_follow_cumulative_non_refunded_spend(landed):
    expected, current = set(), {}
    for uid, orders in _orders_by_user(landed).items():
        cents, level = 0, 0
        for order in orders:
            if order["is_refunded"]:
                continue
            cents += round(order["amount"] * 100)
            while level < len(THRESHOLDS) and cents >= round(THRESHOLDS[level][1] * 100):
                expected.add((uid, order["order_ts"], LEVELS[level], LEVELS[level + 1]))
                level += 1
        current[uid] = LEVELS[level]
    got = {(c["user_id"], c["changed_at"], c["from_level"], c["to_level"]) for c in landed.level_changes}
    assert got == expected and len(landed.level_changes) == len(expected)
    assert {u["user_id"]: u["member_level"] for u in landed.users} == {
        u["user_id"]: current.get(u["user_id"], "basic") for u in landed.users
    }
    assert {c["to_level"] for c in landed.level_changes} == {"silver", "gold", "platinum"}


def test_orders_follow_traits_and_business_rules(landed):
    orders, traits = landed.orders, landed.traits
    refunds = sum(o["is_refunded"] for o in orders) / len(orders)
    assert 0.03 <= refunds <= 0.08
    assert all(o["discount_amount"] == 0 for o in orders if not o["coupon_used"])
    assert all(o["amount"] > 0 for o in orders if not o["coupon_used"])
    zero = [o for o in orders if o["amount"] == 0]
    assert zero and all(o["coupon_used"] and o["discount_amount"] > 0 for o in zero)
    amounts = sorted(o["amount"] for o in orders)
    assert amounts[int(0.99 * len(amounts))] > 5 * statistics.median(amounts)
    preferred = sum(o["category"] == traits[o["user_id"]]["preferred_category"] for o in orders) / len(orders)
    assert 0.6 < preferred < 0.9
    channel = sum(o["channel"] == traits[o["user_id"]]["preferred_channel"] for o in orders) / len(orders)
    assert 0.7 < channel < 0.85  # 0.7 preferred + 0.3 spread over 4 channels
    # conf/base/generate.yaml: 0.8 preferred + 0.2 spread over 5 methods; every landed order has one.
    paid = sum(o["payment_method"] == traits[o["user_id"]]["preferred_payment_method"] for o in orders) / len(orders)
    assert 0.78 < paid < 0.9
    methods = Counter(o["payment_method"] for o in orders)
    assert set(methods) == {"card", "wallet", "bank_transfer", "cash_on_delivery", "gift_card"}
    assert methods.most_common(1)[0][0] == "card"  # the first method is the common preference

    def coupon_rate(users):
        chosen = [o for o in orders if o["user_id"] in users]
        return sum(o["coupon_used"] for o in chosen) / len(chosen)

    by_promo = sorted(traits, key=lambda uid: traits[uid]["promo_sensitivity"])
    assert coupon_rate(set(by_promo[-USERS // 4 :])) > 3 * coupon_rate(set(by_promo[: USERS // 4]))
    non_buyers = {uid for uid, t in traits.items() if not t["buyer"]}
    assert non_buyers and not any(o["user_id"] in non_buyers for o in orders)


def test_orders_show_weekly_and_year_end_seasonality(landed):
    per_day = Counter(parse_ts(o["order_ts"]).date() for o in landed.orders)

    def daily(first: dt.date, last: dt.date, weekdays: tuple[int, ...] = tuple(range(7))) -> float:
        days = [first + i * DAY for i in range((last - first).days + 1)]
        days = [d for d in days if d.weekday() in weekdays]
        return sum(per_day[d] for d in days) / len(days)

    autumn = daily(dt.date(2025, 9, 1), dt.date(2025, 10, 31))
    assert daily(dt.date(2025, 11, 1), dt.date(2025, 12, 31)) > 1.2 * autumn
    weekdays, weekend = (
        daily(START.date(), END.date() - DAY, (0, 1, 2, 3)),
        daily(START.date(), END.date() - DAY, (5, 6)),
    )
    assert 1.08 < weekend / weekdays < 1.4


def test_events_correlate_with_purchases(landed):
    product_views = defaultdict(list)
    for e in landed.events:
        if e["event_type"] == "page_view" and (e["page"] or "").startswith("product/"):
            product_views[e["user_id"]].append((parse_ts(e["event_ts"]), e["page"]))
    for views in product_views.values():
        views.sort()
    online = [o for o in landed.orders if o["channel"] != "store"]
    missing = []
    for order in online:
        ts, views = parse_ts(order["order_ts"]), product_views[order["user_id"]]
        lo = bisect.bisect_left(views, (ts - dt.timedelta(minutes=41), ""))
        hi = bisect.bisect_right(views, (ts, "\uffff"))
        if not any(page.startswith(f"product/{order['category']}/") for _, page in views[lo:hi]):
            missing.append(order)
    assert online and missing == []
    events_per_user = Counter(e["user_id"] for e in landed.events)
    buyers = {o["user_id"] for o in landed.orders}
    assert sum(1 for u in events_per_user if u not in buyers) > 0.05 * USERS  # browse but never buy
    assert sum(1 for u in buyers if events_per_user[u] < 5) > 0  # buy (in store) but hardly browse
    assert all((e["dwell_seconds"] is not None) == (e["event_type"] == "page_view") for e in landed.events)
    assert all(e["dwell_seconds"] > 0 for e in landed.events if e["event_type"] == "page_view")
    assert {e["event_type"] for e in landed.events} == {
        "login", "page_view", "click", "search", "favorite", "add_to_cart", "share", "comment", "coupon_claim",
        "campaign_join", "service_contact",
    }  # fmt: skip


def test_recent_buyers_repurchase_more_but_not_certainly(landed):
    cut = END - dt.timedelta(days=90)
    month = dt.timedelta(days=30)
    before, recent, after = set(), set(), set()
    for order in landed.orders:
        ts = parse_ts(order["order_ts"])
        if ts < cut - month:
            before.add(order["user_id"])
        elif ts < cut:
            recent.add(order["user_id"])
        elif ts < cut + month:
            after.add(order["user_id"])
    lapsed = before - recent
    recent_rate, lapsed_rate = len(recent & after) / len(recent), len(lapsed & after) / len(lapsed)
    assert recent_rate > 2 * lapsed_rate
    assert recent_rate < 0.95 and lapsed_rate > 0.02


def test_social_graph_is_sparse_skewed_and_consistent(landed):
    edges, users = landed.social_edges, {u["user_id"]: u for u in landed.users}
    assert 1.5 < len(edges) / USERS < 4.0
    assert len({e["edge_id"] for e in edges}) == len(edges)
    assert all(e["src_user_id"] in users and e["dst_user_id"] in users for e in edges)
    assert all(e["src_user_id"] != e["dst_user_id"] for e in edges)
    # Follows and invites are relations (ingest's unique_by): one edge per source, target and type.
    relations = Counter(
        (e["src_user_id"], e["dst_user_id"], e["edge_type"]) for e in edges if e["edge_type"] != "share"
    )
    assert max(relations.values()) == 1
    assert {e["edge_type"] for e in edges} == {"follow", "invite", "share"}
    followers = Counter(e["dst_user_id"] for e in edges if e["edge_type"] == "follow")
    mean_followers = sum(followers.values()) / USERS
    assert followers.most_common(1)[0][1] > 15 * mean_followers  # influencers
    invites = [e for e in edges if e["edge_type"] == "invite"]
    assert invites and all(e["created_at"] == users[e["dst_user_id"]]["registered_at"] for e in invites)


def test_identity_links_make_people_of_up_to_three_user_ids_plus_noise(landed):
    # conf/base/generate.yaml: users grouped in threes by number; the 2nd and 3rd of a group are each, with
    # probability 0.15, another account of the 1st's person (its phone and first device, no member card);
    # 1% of users also use one of 5 store tablets, 1% of primary accounts carry a recycled phone number (from a
    # day after its first owner's link, while active: so a few of these draws never land).
    links = defaultdict(dict)  # user -> {link kind (id type + number): value}
    linked_at = {}
    for link in landed.identity_links:
        kind = link["link_id"].rsplit("-", 1)[1]
        assert kind not in links[link["user_id"]]
        links[link["user_id"]][kind] = (link["id_type"], link["id_value"])
        linked_at[(link["user_id"], kind)] = parse_ts(link["linked_at"])
    users = {u["user_id"]: u for u in landed.users}
    assert set(links) == set(users)
    person = {uid: landed.traits[uid]["person_id"] for uid in users}
    number = {uid: int(uid[2:]) for uid in users}
    primary = {uid: person[uid] == f"p-{uid[2:]}" for uid in users}
    further = [uid for uid in users if not primary[uid]]
    # A further account belongs to the first account of its group of three.
    assert all(number[u] % 3 != 1 and person[u] == f"p-{number[u] - (number[u] - 1) % 3:06d}" for u in further)
    eligible = sum(1 for u in users if number[u] % 3 != 1)
    assert abs(len(further) - 0.15 * eligible) <= 4 * (0.15 * 0.85 * eligible) ** 0.5
    by_person = {person[u]: u for u in users if primary[u]}
    for uid, kinds in links.items():
        head = by_person.get(person[uid], uid)
        # Member card: primary accounts only, its own number; phone: the person's, on the profile too.
        assert kinds.get("member1") == (("member", f"m-{uid[2:]}") if primary[uid] else None)
        assert kinds["phone1"] == ("phone", users[head]["phone"]) == ("phone", users[uid]["phone"])
        assert kinds["email1"] == ("email", users[uid]["email"])
        assert kinds["device1"] == links[head]["device1"]
        assert {k for k in kinds if k.startswith("device")} - {"device9"} in (
            {"device1"},
            {"device1", "device2"},
            {"device1", "device2", "device3"},
        )
    emails = [k["email1"] for k in links.values()]
    assert len(set(emails)) == len(emails)
    tablets = Counter(k["device9"][1] for k in links.values() if "device9" in k)
    assert set(tablets) <= {f"dev-store-{i:02d}" for i in range(5)} and 3 <= sum(tablets.values()) <= 25
    phones = {users[u]["phone"]: u for u in users if primary[u]}
    recycled = {u: k["phone2"][1] for u, k in links.items() if "phone2" in k}
    assert all(primary[u] and person[phones[p]] != person[u] for u, p in recycled.items())
    day = dt.timedelta(days=1)
    assert all(linked_at[(u, "phone2")] >= linked_at[(phones[p], "phone1")] + day for u, p in recycled.items())
    primaries = sum(primary.values())
    assert 1 <= len(recycled) <= 0.01 * primaries + 4 * (0.01 * 0.99 * primaries) ** 0.5


def test_consents_grant_at_registration_and_withdraw_later(landed):
    # conf/base/generate.yaml: grant shares 0.85 / 0.95 / 0.97, withdrawal shares 0.08 / 0.02 / 0.01 of grants.
    grant, withdraw = {"marketing": 0.85, "profiling": 0.95, "analytics": 0.97}, {"marketing": 0.08, "profiling": 0.02}
    registered = {u["user_id"]: parse_ts(u["registered_at"]) for u in landed.users}
    events = defaultdict(dict)
    for c in landed.consents:
        assert c["consent_id"] == f"c-{c['user_id'][2:]}-{c['purpose']}-{c['status']}"
        events[(c["user_id"], c["purpose"])][c["status"]] = parse_ts(c["consented_at"])
    assert {p for _, p in events} == set(grant) and {u for u, _ in events} <= set(registered)
    for (user, _), by_status in events.items():
        # Every record starts with a grant at registration; a withdrawal comes later, inside the history.
        assert by_status["granted"] == registered[user]
        assert by_status.get("withdrawn", END - dt.timedelta(seconds=1)) > by_status["granted"]
        assert by_status.get("withdrawn", START) < END
    n = len(registered)
    for purpose, share in grant.items():
        granted = sum(1 for (_, p) in events if p == purpose)
        assert abs(granted - share * n) <= 4 * (share * (1 - share) * n) ** 0.5, purpose
        withdrawn = sum(1 for (_, p), s in events.items() if p == purpose and "withdrawn" in s)
        w = withdraw.get(purpose, 0.01)
        assert abs(withdrawn - w * granted) <= 4 * (w * (1 - w) * granted) ** 0.5 + 1, purpose


def test_truth_has_the_traits_of_every_landed_user(landed):
    traits = landed.traits
    assert set(traits) == {u["user_id"] for u in landed.users}
    assert {(t["batch_id"], t["seed"]) for t in traits.values()} == {("b-test", 42)}
    assert all(t["churned"] == (t["churn_at"] < END) for t in traits.values())
    registered = {u["user_id"]: u["registered_at"] for u in landed.users}
    assert all(t["registered_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == registered[uid] for uid, t in traits.items())
    orders_line = next(line for line in landed.summary if line.startswith("orders "))
    assert f"{landed.manifest['sources']['orders']['records']:,} records (json)" in orders_line


def test_late_refunds_land_as_later_versions_of_first_landed_orders(landed):
    late, late_id = landed.late_orders, landed.manifest["late_batch"]["batch_id"]
    assert late_id == "b-test-late"
    assert len(late) == landed.manifest["late_batch"]["orders"] == landed.late_manifest["sources"]["orders"]["clean"]
    first = {o["order_id"]: o for o in landed.first_orders}
    times = ("is_refunded", "refunded_at", "updated_at")
    for order in late:
        before = first[order["order_id"]]
        # The first version: unrefunded, no refund time, updated at its order time; otherwise the same order.
        assert (before["is_refunded"], before.get("refunded_at"), before["updated_at"]) == (
            False,
            None,
            before["order_ts"],
        )
        assert {k: v for k, v in order.items() if k not in times} == {k: v for k, v in before.items() if k not in times}
        ordered, refunded = parse_ts(order["order_ts"]), parse_ts(order["refunded_at"])
        assert order["is_refunded"] and order["updated_at"] == order["refunded_at"]
        assert ordered < refunded <= ordered + 30 * DAY and refunded < END
    # Refunds known at first landing carry their time too; about half of all refunds arrive late.
    known = [o for o in landed.first_orders if o["is_refunded"]]
    assert all(parse_ts(o["order_ts"]) < parse_ts(o["refunded_at"]) == parse_ts(o["updated_at"]) for o in known)
    assert 0.35 <= len(late) / (len(late) + len(known)) <= 0.65
    # Every other source has a batch folder without records, as ingest expects.
    for source in ("users", "events", "level_changes", "social_edges", "identity_links", "campaign_sends",
                   "campaign_responses"):  # fmt: skip
        assert read_parquet(landed.raw_dir / source / late_id) == []
        assert landed.late_manifest["sources"][source]["records"] == 0
