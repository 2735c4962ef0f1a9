"""The generate job: arguments, replacing a batch on re-run, and failing before writing on bad input."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.generate.conftest import classify, parse_ts, read_lines, read_parquet, run_generate
from userscore.catalog import Catalog
from userscore.config import load_config
from userscore.errors import InputError
from userscore.jobs import generate as generate_job


def test_arguments_override_the_generate_config():
    parser = argparse.ArgumentParser()
    generate_job.add_arguments(parser)
    args = parser.parse_args(
        ["--users", "500", "--seed", "7", "--end-date", "2026-01-01", "--batch-id", "b-9", "--bad-share", "0.01"]
    )
    overrides = generate_job.config_overrides(args)
    assert overrides == {
        "generate": {
            "users": 500, "seed": 7, "end_date": dt.date(2026, 1, 1), "batch_id": "b-9", "bad_record_share": 0.01,
        }
    }  # fmt: skip
    cfg = load_config(env="local", overrides=overrides).generate
    assert (cfg.users, cfg.seed, cfg.end_date, cfg.batch_id, cfg.bad_record_share) == (
        500, 7, dt.date(2026, 1, 1), "b-9", 0.01,
    )  # fmt: skip
    assert generate_job.config_overrides(parser.parse_args([])) == {}


def test_rerunning_a_batch_replaces_its_files_and_truth_rows(spark, tmp_path, landed):
    # Start from the landed seed-42 batch of 1,000 users (files and truth rows), then re-run the same
    # batch with 150 users and seed 43: nothing of the first run may survive.
    batch = landed.config.generate.batch_id
    shutil.copytree(landed.raw_dir, tmp_path / "raw")
    shutil.copytree(Path(landed.config.catalog.root) / "truth", tmp_path / "warehouse" / "truth")
    config = make_config(tmp_path, {"generate": {"users": 150, "seed": 43, "batch_id": batch}})
    assert Catalog(spark, config).read("truth.user_traits").count() == 1000
    run_generate(spark, config)
    raw = tmp_path / "raw"
    users = classify("users", read_parquet(raw / "users" / batch), None)
    assert sorted(u["user_id"] for u in users.clean) == [f"u-{i:06d}" for i in range(1, 151)]
    manifest = json.loads((raw / "_manifest" / f"{batch}.json").read_text())
    assert (manifest["users"], manifest["seed"], manifest["sources"]["users"]["records"]) == (150, 43, users.records)
    numbers = {int(n) for n in re.findall(rb'"user_id":"u-(\d{6})', b"".join(read_lines(raw / "orders" / batch)))}
    for source, column in (("events", "user_id"), ("level_changes", "user_id"), ("identity_links", "user_id"),
                           ("social_edges", "src_user_id"), ("social_edges", "dst_user_id")):  # fmt: skip
        ids = (r[column] or "" for r in read_parquet(raw / source / batch))
        numbers |= {int(m.group(1)) for m in map(re.compile(r"^u-(\d{6})").match, ids) if m}
    assert max(numbers) == 150
    truth = Catalog(spark, config).read("truth.user_traits").collect()
    assert sorted(r["user_id"] for r in truth) == [
        u["user_id"] for u in sorted(users.clean, key=lambda u: u["user_id"])
    ]
    assert {(r["batch_id"], r["seed"]) for r in truth} == {(batch, 43)}
    # The campaign truth too: one row per send of the new run (bad copies name the same campaign and user).
    effects = Catalog(spark, config).read("truth.campaign_effects").collect()
    sends = read_parquet(raw / "campaign_sends" / batch)
    assert {(r["campaign_id"], r["user_id"]) for r in effects} == {
        (s["campaign_id"], s["user_id"]) for s in sends if s["campaign_id"] is not None
    }
    assert effects and {r["batch_id"] for r in effects} == {batch}
    # Another seed, other users: registration times differ from the seed-42 base for every user.
    seed_42 = {u["user_id"]: u["registered_at"] for u in landed.users}
    assert all(parse_ts(u["registered_at"]) != parse_ts(seed_42[u["user_id"]]) for u in users.clean)


def test_a_bad_batch_id_fails_before_anything_is_written(spark, tmp_path):
    config = make_config(tmp_path, {"generate": {"users": 10, "batch_id": "../escape"}})
    with pytest.raises(InputError, match="generate.batch_id: a plain folder name"):
        run_generate(spark, config)
    assert not (tmp_path / "raw").exists() and not (tmp_path / "warehouse").exists()


def test_too_few_events_for_the_orders_fails_before_anything_is_written(spark, tmp_path):
    config = make_config(tmp_path, {"generate": {"users": 10, "mean_events_per_user": 20.0}})
    with pytest.raises(InputError, match=r"mean_events_per_user \(20.0\) is below the \d+\.\d events per user"):
        run_generate(spark, config)
    assert not (tmp_path / "raw").exists() and not (tmp_path / "warehouse").exists()
