"""Reading snapshots without Spark: hand-made shards, the merge of pages across shards, the switch to a new
snapshot (and keeping the old one when the new one is broken), and a bare 500 on an unexpected error."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import zlib

import httpx

from tests.base_config import base_config
from userscore.config.serving import ApiKeySpec
from userscore.serving import layout
from userscore.serving.app import create_app
from userscore.serving.keys import KeyRing, digest
from userscore.serving.shards import create_shard
from userscore.serving.store import SnapshotHolder
from userscore.tags import load_dictionary

SHARDS = 3
IDS = ["a-1", "a-2", "b-7", "c-3", "x-9", "z-0"]


def _snapshot(root, snapshot_id: str, value: int, drop_shard: int | None = None) -> None:
    folder = layout.versions_dir(root) / snapshot_id
    folder.mkdir(parents=True)
    for shard in range(SHARDS):
        path = folder / f"shard-{shard:05d}.sqlite"
        create_shard(path)
        with sqlite3.connect(path) as db:
            for user_id in IDS:
                if zlib.crc32(user_id.encode()) % SHARDS == shard:
                    db.execute("INSERT INTO users VALUES (?, ?, '{}')", (user_id, json.dumps({"v": value, "tags": {}})))
                    db.execute("INSERT INTO segment_members VALUES ('f', 's', ?, '{\"priority\": 1}')", (user_id,))
        if shard == drop_shard:
            path.unlink()
    manifest = {
        "format": layout.FORMAT,
        "shards": SHARDS,
        "segments": {"f": {"s": len(IDS)}},
        "segments_as_of": "2026-11-01",
    }
    (folder / layout.MANIFEST).write_text(json.dumps(manifest))
    layout.publish(root, snapshot_id)


def test_users_and_pages_across_shards_and_the_switch(tmp_path):
    _snapshot(tmp_path, "one", 1)
    assert len({zlib.crc32(u.encode()) % SHARDS for u in IDS}) > 1  # the ids really spread over shards
    holder = SnapshotHolder(tmp_path, reload_seconds=0)
    snapshot = holder.get()
    assert snapshot.user("b-7").doc == {"v": 1, "tags": {}} and snapshot.user("b-8") is None
    assert [m["user_id"] for m in snapshot.members("f", "s", "", 4)] == ["a-1", "a-2", "b-7", "c-3"]
    assert [m["user_id"] for m in snapshot.members("f", "s", "c-3", 4)] == ["x-9", "z-0"]

    _snapshot(tmp_path, "two", 2)
    assert holder.get().id == "two" and holder.get().user("b-7").doc["v"] == 2
    # A published snapshot missing a shard is not switched to: the last good one keeps serving.
    _snapshot(tmp_path, "broken", 3, drop_shard=1)
    assert holder.get().id == "two" and holder.get().user("z-0").doc["v"] == 2
    # Withdrawn (CURRENT removed, as `userscore forget` does when it cannot rebuild): nothing is served.
    assert layout.withdraw(tmp_path) == ["broken", "one", "two"]
    assert holder.get() is None and holder.current_id is None
    holder.close()


class _Failing:
    id = "x"
    manifest: dict = {}

    def user(self, user_id):
        raise RuntimeError("disk I/O error at /srv/secret/shard-00001.sqlite")


class _Holder:
    def get(self):
        return _Failing()


def test_an_unexpected_error_is_a_bare_500(caplog):
    config = base_config()
    keys = KeyRing({"k": ApiKeySpec(sha256=digest("key"), scopes=("scores:read",))})
    app = create_app(config.serving.api, keys, _Holder(), load_dictionary(config.tags))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/v1/users/u-1", headers={"X-API-Key": "key"})

    response = asyncio.run(call())
    assert (response.status_code, response.json()) == (500, {"detail": "internal error"})
    assert "secret" not in response.text
    assert "disk I/O error at /srv/secret" in caplog.text  # the server log keeps it
