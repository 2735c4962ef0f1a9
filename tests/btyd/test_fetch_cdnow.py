"""scripts/fetch_cdnow.py: the raw order and user records it writes, and that re-running changes nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sample_orders_and_users(cdnow_dir: Path) -> None:
    orders = _read_jsonl(cdnow_dir / "sample" / "orders.jsonl")
    users = _read_jsonl(cdnow_dir / "sample" / "users.jsonl")

    # First line of CDNOW_sample.txt: " 00004 0001 19970101  2   29.33".
    assert orders[0] == {
        "order_id": "cdnow-00004-19970101-1",
        "user_id": "cdnow-00004",
        "order_ts": "1997-01-01T00:00:00Z",
        "amount": 29.33,
        "category": "music",
        "channel": "web",
        "coupon_used": False,
        "discount_amount": 0.0,
        "is_refunded": False,
        "item_count": 2,
    }
    assert list(orders[0]) == [
        "order_id",
        "user_id",
        "order_ts",
        "amount",
        "category",
        "channel",
        "coupon_used",
        "discount_amount",
        "is_refunded",
        "item_count",
    ]
    assert len(orders) == 6919 and len({o["order_id"] for o in orders}) == 6919
    assert len(users) == 2357 == len({o["user_id"] for o in orders})

    first_order_ts: dict[str, str] = {}
    for o in orders:
        first_order_ts[o["user_id"]] = min(o["order_ts"], first_order_ts.get(o["user_id"], o["order_ts"]))
    assert {u["user_id"]: u["registered_at"] for u in users} == first_order_ts
    assert users[0] == {
        "user_id": "cdnow-00004",
        "registered_at": "1997-01-01T00:00:00Z",
        "registration_channel": None,
        "gender": None,
        "age_band": None,
        "region": None,
        "member_level": None,
    }


def test_master_has_every_customer(cdnow_dir: Path) -> None:
    users = _read_jsonl(cdnow_dir / "master" / "users.jsonl")
    assert len(users) == 23570
    assert len((cdnow_dir / "master" / "orders.jsonl").read_text().splitlines()) == 69659


def test_rerun_skips_download_and_rewrites_identical_files(cdnow_dir: Path) -> None:
    outputs = ("raw", "master", "sample", "landing")
    files = sorted(p for p in cdnow_dir.rglob("*") if p.is_file() and p.relative_to(cdnow_dir).parts[0] in outputs)
    assert cdnow_dir / "landing" / "sample" / "orders" / "cdnow-sample" / "part-00000.jsonl" in files
    before = {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files}

    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fetch_cdnow.py"), "--out", str(cdnow_dir)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    for p, (mtime, digest) in before.items():
        assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, p
        if p.parent.name == "raw":
            assert p.stat().st_mtime_ns == mtime, f"{p} was downloaded again"
