"""The snapshot's files: shard assignment, publishing through CURRENT, pruning after the grace period."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from userscore.serving import layout


def test_shard_of_is_crc32_of_the_utf8_id_mod_shards():
    # CRC-32 check value of "123456789" is 0xCBF43926 (the standard's published test vector).
    assert layout.shard_of("123456789", 1 << 32) == 0xCBF43926
    assert layout.shard_of("123456789", 7) == 0xCBF43926 % 7
    assert layout.shard_of("123456789", 1) == 0


def _snapshot(root, snapshot_id, complete=True):
    folder = layout.versions_dir(root) / snapshot_id
    folder.mkdir(parents=True)
    if complete:
        (folder / layout.MANIFEST).write_text(json.dumps({"format": layout.FORMAT}))
    return folder


def test_publish_points_current_at_a_complete_snapshot_only(tmp_path):
    assert layout.current_id(tmp_path) is None
    _snapshot(tmp_path, "a")
    _snapshot(tmp_path, "half", complete=False)
    layout.publish(tmp_path, "a")
    assert json.loads((tmp_path / "CURRENT").read_text()) == {"snapshot": "a"}
    with pytest.raises(FileNotFoundError, match="half has no manifest.json"):
        layout.publish(tmp_path, "half")
    assert layout.current_id(tmp_path) == "a"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_reader_never_sees_a_partial_pointer_while_it_is_replaced(tmp_path):
    ids = [f"snapshot-{i:03d}-" + "x" * 200 for i in range(2)]
    for snapshot_id in ids:
        _snapshot(tmp_path, snapshot_id)
    layout.publish(tmp_path, ids[0])
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(layout.current_id(tmp_path))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(300):
        layout.publish(tmp_path, ids[i % 2])
    stop.set()
    reader.join()
    assert seen == set(ids)


def test_prune_keeps_current_and_recently_replaced_snapshots(tmp_path):
    now = time.time()
    for name, age in (("old", 7200), ("abandoned", 7200), ("fresh-build", 60), ("current", 9000)):
        folder = _snapshot(tmp_path, name, complete=name != "abandoned")
        os.utime(folder, (now - age, now - age))
    layout.publish(tmp_path, "current")
    assert sorted(layout.prune(tmp_path, grace_seconds=3600, now=now)) == ["abandoned", "old"]
    assert sorted(p.name for p in layout.versions_dir(tmp_path).iterdir()) == ["current", "fresh-build"]
    # Replacing "current" starts its grace period: it survives the next prune, and goes after the grace.
    _snapshot(tmp_path, "next")
    layout.publish(tmp_path, "next")
    assert layout.prune(tmp_path, grace_seconds=3600) == []
    assert layout.prune(tmp_path, grace_seconds=3600, now=time.time() + 3601) == ["current", "fresh-build"]


def test_current_rejects_a_pointer_outside_versions(tmp_path):
    (tmp_path / "CURRENT").write_text(json.dumps({"snapshot": "../../etc"}))
    with pytest.raises(ValueError, match="CURRENT"):
        layout.current_id(tmp_path)
