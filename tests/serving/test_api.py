"""The look-up API end to end: a tiny wide table in Delta, `build_snapshot` in Spark, then the real
`userscore serve` process called over HTTP. Expected bodies are written out from the fixture rows."""

from __future__ import annotations

import sqlite3
import time
import zlib

import httpx
import pytest

from tests.conftest import make_config
from tests.serving import world
from tests.serving.server import KEYS, running_server
from userscore.catalog import Catalog
from userscore.config import deep_merge
from userscore.serving import layout
from userscore.serving.build import build_snapshot

SHARDS = 4


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    root = tmp / "serving"
    overrides = {"serving": {"snapshot": {"root": str(root), "shards": SHARDS, "changes_versions": 2}}}
    config = make_config(tmp, deep_merge(overrides, world.CONFIG_OVERRIDES))
    catalog = Catalog(spark, config)
    world.write_world(catalog)
    outcome = build_snapshot(catalog, config)
    sets = [
        f"serving.snapshot.root={root}",
        "serving.api.reload_seconds=0.2",
        f"tags.dictionary.{world.RESTRICTED_TAG}.sensitivity=restricted",
    ]
    with running_server(sets, tmp / "serve.log") as url:
        yield {"url": url, "catalog": catalog, "config": config, "outcome": outcome, "root": root}


def get(built, path: str, who: str | None = "all", **params):
    headers = {} if who is None else {"X-API-Key": KEYS[who]}
    return httpx.get(built["url"] + path, headers=headers, params=params, timeout=10)


def _by_id(rows):
    return {r["user_id"]: r for r in rows}


def test_the_manifest_and_the_shards_hold_what_was_written(built):
    m = built["outcome"].manifest
    assert m["source"] == {"table": "tags.user_tag_wide", "version": 3}
    assert (m["as_of_date"], m["segments_as_of"]) == ("2026-11-01", "2026-11-01")
    # Versions 2 and 3: u-2 updated, u-4 inserted, u-3 erased.
    assert m["rows"] == {"users": 3, "segment_members": 4, "changes": 3}
    assert m["changes"] == {"available": True, "from_version": 2, "to_version": 3}
    assert m["model_versions"] == {"churn_60d": ["3"], "repurchase_30d": ["5"], "vip_promotion_90d": [], "btyd": ["2"]}
    assert m["segments"]["retention"] == {"high_risk_high_value": 0, "high_risk": 2, "mid_risk": 0, "low_risk": 1}
    assert m["tags"]["restricted"] == [world.RESTRICTED_TAG]
    # Each user sits in the shard crc32(id) mod 4 names (zlib here, Spark's crc32 in the build).
    folder = built["root"] / "versions" / m["snapshot"]
    for shard in range(SHARDS):
        with sqlite3.connect(folder / f"shard-{shard:05d}.sqlite") as db:
            users = {u for (u,) in db.execute("SELECT user_id FROM users")}
        assert users == {u for u in ("u-1", "u-2", "u-4") if zlib.crc32(u.encode()) % SHARDS == shard}
    assert layout.current_id(built["root"]) == m["snapshot"]


def test_a_user_with_scores_tags_segments_and_model_versions(built):
    config = built["config"]
    response = get(built, "/v1/users/u-1", "all")
    assert response.status_code == 200
    body = response.json()
    snapshot = body.pop("snapshot")
    segments = body.pop("segments")
    # Short decimals: Spark writes each double so that it reads back as the same double.
    assert body == world.expected_document(world.V1[0], config, restricted=True)
    assert segments == [
        {
            "family": "growth",
            "segment": "repurchase_nudge",
            "strategy": "nudge",
            "channel": "app push",
            "priority": 2,
            "is_control": False,
        },
        {
            "family": "retention",
            "segment": "high_risk",
            "strategy": "exclusive win-back coupon",
            "channel": "private domain",
            "priority": 2,
            "is_control": False,
        },
    ]
    assert snapshot == {"id": built["outcome"].snapshot_id, "wide_table_version": 3}
    # The updated user carries its version-2 values.
    u2 = get(built, "/v1/users/u-2", "scores").json()
    assert u2["scores"]["churn_60d"]["probability"] == pytest.approx(0.75)
    assert u2["scores"]["churn_60d"]["tier"] == "high"


def test_restricted_tags_reach_only_keys_with_the_restricted_scope(built):
    config = built["config"]
    scores_only = get(built, "/v1/users/u-1", "scores").json()
    assert world.RESTRICTED_TAG not in scores_only["tags"]
    assert scores_only["tags"] == world.expected_document(world.V1[0], config, restricted=False)["tags"]
    assert get(built, "/v1/users/u-1", "all").json()["tags"][world.RESTRICTED_TAG] == "mid"
    assert get(built, f"/v1/tags/{world.RESTRICTED_TAG}", "scores").json() == {"detail": "not found"}
    assert get(built, f"/v1/tags/{world.RESTRICTED_TAG}", "all").json()["sensitivity"] == "restricted"
    listed = [t["id"] for t in get(built, "/v1/tags", "scores").json()["tags"]]
    assert world.RESTRICTED_TAG not in listed and "high_value" in listed
    changes = get(built, "/v1/changes", "scores", since=1).json()["changes"]
    assert all(world.RESTRICTED_TAG not in c["row"]["tags"] for c in changes if "row" in c)


def test_a_tag_definition_comes_from_the_dictionary(built):
    body = get(built, "/v1/tags/high_value", "scores").json()
    assert body == {
        "id": "high_value",
        "name": "High-value customer",
        "category": "value",
        "definition": {"kind": "rule", "text": "value_score >= 80", "rule": "value_score >= 80"},
        "owner": "crm-analytics",
        "refresh": "daily",
        "sensitivity": "internal",
        "description": "Value score of 80 or more (grade A); gets VIP care and is never spammed.",
    }
    clv = get(built, "/v1/tags/clv_band", "scores").json()["definition"]
    assert clv["column"] == "clv_365d" and clv["bins"] == {
        "edges": [50, 300, 1500],
        "labels": ["low", "mid", "high", "top"],
    }


def test_unknown_and_erased_users_are_the_same_404(built):
    unknown = get(built, "/v1/users/u-999", "all")
    erased = get(built, "/v1/users/u-3", "all")  # erased at version 3
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "not found"})
    assert (erased.status_code, erased.content) == (404, unknown.content)


def test_segment_members_are_paged_in_user_id_order(built):
    first = get(built, "/v1/segments/retention/high_risk/members", "segments", limit=1).json()
    assert first["members"] == [
        {
            "user_id": "u-1",
            "strategy": "exclusive win-back coupon",
            "channel": "private domain",
            "priority": 2,
            "is_control": False,
        }
    ]
    assert first["next_after"] == "u-1" and first["as_of_date"] == "2026-11-01"
    second = get(built, "/v1/segments/retention/high_risk/members", "segments", limit=1, after="u-1").json()
    assert [m["user_id"] for m in second["members"]] == ["u-2"] and second["members"][0]["is_control"] is True
    last = get(built, "/v1/segments/retention/high_risk/members", "segments", limit=1, after="u-2").json()
    assert (last["members"], last["next_after"]) == ([], None)
    assert get(built, "/v1/segments/retention/high_risk/members", "segments", limit=1, after="").json() == first
    whole = get(built, "/v1/segments/retention/high_risk/members", "segments").json()
    assert ([m["user_id"] for m in whole["members"]], whole["next_after"]) == (["u-1", "u-2"], None)
    empty = get(built, "/v1/segments/retention/mid_risk/members", "segments").json()
    assert empty["members"] == []
    assert get(built, "/v1/segments/retention/no_such/members", "segments").status_code == 404
    overview = get(built, "/v1/segments", "segments").json()
    assert overview["families"]["growth"]["repurchase_nudge"] == 1


def test_changes_since_a_version_page_through_the_change_feed(built):
    config = built["config"]
    page = get(built, "/v1/changes", "all", since=1, limit=2).json()
    assert page["since"] == 1 and page["wide_table_version"] == 3
    rows = page["changes"]
    assert [(c["commit_version"], c["user_id"], c["change"]) for c in rows] == [
        (2, "u-2", "upsert"),
        (2, "u-4", "upsert"),
    ]
    assert rows[1]["row"] == world.expected_document(world.V2[1], config, restricted=True)
    rest = get(built, "/v1/changes", "all", since=1, limit=2, cursor=page["next_cursor"]).json()
    assert [(c["commit_version"], c["user_id"], c["change"]) for c in rest["changes"]] == [(3, "u-3", "delete")]
    assert "row" not in rest["changes"][0] and rest["next_cursor"] is None
    assert [c["user_id"] for c in get(built, "/v1/changes", "all", since=2).json()["changes"]] == ["u-3"]
    assert get(built, "/v1/changes", "all", since=3).json()["changes"] == []
    gone = get(built, "/v1/changes", "all", since=0)
    assert gone.status_code == 410 and "since must be >= 1" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/v1/users/u-1", None, 401),
        ("/v1/users/u-1", "wrong", 401),
        ("/v1/users/u-1", "segments", 403),
        ("/v1/changes?since=1", "segments", 403),
        ("/v1/segments/retention/high_risk/members", "scores", 403),
        ("/v1/segments", "scores", 403),
        ("/v1/users/u-999", None, 401),  # no key: nothing about the id
    ],
)
def test_keys_and_scopes(built, path, who, status):
    headers = {} if who is None else {"X-API-Key": KEYS.get(who, "not-a-key")}
    response = httpx.get(built["url"] + path, headers=headers, timeout=10)
    assert response.status_code == status


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/u-1'%20OR%20'1'='1",
        "/v1/users/%3Bdrop%20table%20users",
        "/v1/users/" + "u" * 300,
        "/v1/users/%00",
        "/v1/segments/retention/high_risk/members?limit=100000",
        "/v1/segments/retention/high_risk/members?limit=0",
        "/v1/segments/retention/high_risk/members?after=x'%20OR%201=1--",
        "/v1/segments/Retention;--/high_risk/members",
        "/v1/changes?since=abc",
        "/v1/changes",
        "/v1/changes?since=1&cursor=not-a-cursor",
        "/v1/changes?since=1&cursor=" + "A" * 600,
        "/v1/changes?since=99999999999999999999999",
        "/v1/tags/high_value%27--",
    ],
)
def test_malformed_parameters_are_a_400_without_internals(built, path):
    response = httpx.get(built["url"] + path, headers={"X-API-Key": KEYS["all"]}, timeout=10)
    assert response.status_code == 400, response.text
    text = response.text
    assert "Traceback" not in text and "sqlite" not in text.lower() and 'File "' not in text
    assert "OR" not in text and "drop" not in text  # the value is not echoed


def test_an_oversized_request_is_refused(built):
    response = httpx.get(
        built["url"] + "/v1/users/u-1", params={"pad": "x" * 20_000}, headers={"X-API-Key": KEYS["all"]}, timeout=10
    )
    assert (response.status_code, response.json()) == (414, {"detail": "request URL longer than 2048 bytes"})


def test_health_readiness_and_docs(built):
    assert get(built, "/health", None).json() == {"status": "ok"}
    ready = get(built, "/ready", None).json()
    assert ready["status"] == "ready" and ready["snapshot"] == built["outcome"].snapshot_id
    assert (ready["wide_table_version"], ready["as_of_date"], ready["stale"]) == (3, "2026-11-01", False)
    assert "swagger" in get(built, "/docs", None).text.lower()
    paths = get(built, "/openapi.json", None).json()["paths"]
    assert {
        "/v1/users/{user_id}",
        "/v1/tags/{tag_id}",
        "/v1/segments/{family}/{segment}/members",
        "/v1/changes",
    } <= set(paths)


def test_a_new_snapshot_is_served_after_the_swap(built):
    """Last in the module: two more score runs (version 4: u-1 and u-4, version 5: u-1 again) and a new
    snapshot; the running server switches to it, and a sync since 3 gets each user once, as it is now."""
    catalog, config = built["catalog"], built["config"]
    wide = config.scoring.wide_table
    for rows in (world.V4, world.V5):
        catalog.merge(wide, world.wide_frame(catalog, rows), ignore_changes=("as_of_date", "scored_at"))
    before = built["outcome"].snapshot_id
    outcome = build_snapshot(catalog, config)
    assert outcome.snapshot_id != before and outcome.manifest["source"]["version"] == 5
    deadline = time.monotonic() + 10
    while get(built, "/ready", None).json()["snapshot"] != outcome.snapshot_id:
        assert time.monotonic() < deadline, "the server did not switch to the new snapshot"
        time.sleep(0.1)
    u1 = get(built, "/v1/users/u-1", "all").json()
    assert u1["value"] == {"value_score": 90.0, "grade": "A", "reasons": "rfm_score (+25.90)"}
    assert u1["tags"][world.RESTRICTED_TAG] == "top"
    page = get(built, "/v1/changes", "all", since=3).json()
    assert [(c["commit_version"], c["user_id"], c["change"]) for c in page["changes"]] == [
        (4, "u-4", "upsert"),
        (5, "u-1", "upsert"),
    ]
    assert page["changes"][1]["row"] == world.expected_document(world.V5[0], config, restricted=True)
    assert page["wide_table_version"] == 5
    # The window is now versions 4..5 (changes_versions = 2): a client still at version 2 must re-sync.
    assert get(built, "/v1/changes", "all", since=2).status_code == 410
    # The replaced snapshot stays on disk for the grace period.
    assert (built["root"] / "versions" / before / "manifest.json").is_file()
