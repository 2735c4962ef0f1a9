"""Bad graph input at ingest (conf/base/ingest.yaml, social_edges): self-links, edges to unknown users and
repeated relations are quarantined with their reason, repeated shares are kept, and re-ingesting a batch
gives the same rows. Two hand-made batches, ingested once for the module; every expectation is worked out by
hand from the rows below."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pyspark.sql import Row

from tests.conftest import make_config
from tests.ingest.raw import EDGE_COLUMNS, NOW, USER_COLUMNS, parquet_record, user, write_parquet_rows
from userscore.catalog import Catalog
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

SOURCES = ["users", "social_edges"]
U1 = user("u1", "+86-138-0013-8000", "alice@example.com")
U2 = user("u2", "138 0013 8001", "bob@example.com")
U3 = user("u3", None, "carol@example.com")
U4 = user("u4", None, "dave@example.com", registered="2025-06-01T00:00:00Z")


def _edge(edge_id, src, dst, edge_type, created_at):
    return dict(zip(EDGE_COLUMNS, [edge_id, src, dst, edge_type, created_at], strict=True))


# Batch b1 (users u1, u2, u3), in landing order.
S1 = _edge("s1", "u1", "u2", "follow", "2025-04-01T00:00:00Z")  # lands first, but s2 is the earlier follow
S2 = _edge("s2", "u1", "u2", "follow", "2025-03-01T00:00:00Z")
S3_SELF = _edge("s3", "u2", "u2", "follow", "2025-04-02T00:00:00Z")
S4_GHOST_DST = _edge("s4", "u1", "u-ghost", "follow", "2025-04-03T00:00:00Z")
S5_GHOST_SELF = _edge("s5", "u-ghost", "u-ghost", "share", "2025-04-04T00:00:00Z")
S6 = _edge("s6", "u1", "u3", "share", "2025-05-01T00:00:00Z")
S7 = _edge("s7", "u1", "u3", "share", "2025-05-02T00:00:00Z")  # sharing again is another event: kept
S8 = _edge("s8", "u2", "u3", "invite", "2025-01-15T00:00:00Z")
S9 = _edge("s9", "u2", "u3", "invite", "2025-01-15T00:00:00Z")  # same time as s8: landing order keeps s8
S10 = _edge("s10", "u3", "u1", "follow", "2025-04-05T00:00:00Z")  # the reverse of a follow is another one
B1 = [S1, S2, S3_SELF, S4_GHOST_DST, S5_GHOST_SELF, S6, S7, S6, S8, S9, S10]  # s6 twice: an identical copy

# Batch b2 (user u4), a month later.
S11 = _edge("s11", "u1", "u2", "follow", "2025-06-01T00:00:00Z")  # u1 follows u2 again: silver has s2
S12 = _edge("s12", "u1", "u3", "share", "2025-06-02T00:00:00Z")
S13 = _edge("s13", "u3", "u2", "follow", "2025-06-03T00:00:00Z")
S14 = _edge("s14", "u3", "u2", "follow", "2025-06-04T00:00:00Z")
S15 = _edge("s15", "u2", "u4", "follow", "2025-06-05T00:00:00Z")  # u4 is known from this batch's users
B2 = [S14, S11, S12, S13, S15, S10]  # s14 lands before s13, s13 is earlier; s10 re-sent unchanged


def _land(raw_dir, batch, users, edges):
    write_parquet_rows(raw_dir, "users", batch, USER_COLUMNS, users)
    write_parquet_rows(raw_dir, "social_edges", batch, EDGE_COLUMNS, edges)


def _snapshot(catalog, batch):
    edges = catalog.read("silver.social_edges").collect()
    quarantine = catalog.read("silver.quarantine").where(f"source = 'social_edges' AND batch_id = '{batch}'")
    (audit,) = catalog.read("ops.ingest_audit").where(f"batch_id = '{batch}' AND source = 'social_edges'").collect()
    return SimpleNamespace(
        edges=sorted(edges, key=lambda r: r.edge_id),
        quarantine=sorted((r.raw_record, r.reason, r.detail) for r in quarantine.collect()),
        audit=(audit.records_read, audit.accepted, audit.quarantined, audit.duplicates_dropped),
    )


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest_edges")
    config = make_config(tmp)
    catalog = Catalog(spark, config)
    raw_dir = tmp / "raw"
    _land(raw_dir, "b1", [U1, U2, U3], B1)
    _land(raw_dir, "b2", [U4], B2)
    taken = {}
    for run_id, batch, force, name in [
        ("run-1", "b1", False, "b1"),
        ("run-2", "b2", False, "b2"),
        ("run-3", "b2", True, "b2 again"),
        ("run-4", "b1", True, "b1 again"),
    ]:
        plan = plan_ingest(catalog, config.ingest, raw_dir, sources=SOURCES, batch=batch, force=force)
        ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id=run_id)
        taken[name] = _snapshot(catalog, batch)
    return taken


def _row(edge, batch):
    return Row(
        edge_id=edge["edge_id"],
        src_user_id=edge["src_user_id"],
        dst_user_id=edge["dst_user_id"],
        edge_type=edge["edge_type"],
        created_at=dt.datetime.fromisoformat(edge["created_at"].replace("Z", "")),
        ingest_batch_id=batch,
    )


def _q(edge, reason, detail):
    return (parquet_record(edge, EDGE_COLUMNS), reason, detail)


AFTER_B1 = [_row(e, "b1") for e in (S10, S2, S6, S7, S8)]  # sorted by edge_id: s10 < s2 < ...
AFTER_B2 = sorted(AFTER_B1 + [_row(e, "b2") for e in (S12, S13, S15)], key=lambda r: r.edge_id)
NATURAL = "src_user_id, dst_user_id, edge_type"
B1_QUARANTINE = sorted(
    [
        _q(S1, "duplicate_relation", f"duplicate_relation: the same {NATURAL} as edge_id s2, kept in this batch"),
        _q(S3_SELF, "self_link", "self_link: src_user_id equals dst_user_id"),
        _q(S4_GHOST_DST, "unknown_user", "unknown_user: dst_user_id not among accepted users"),
        # Every problem in the detail, in precedence order (self_link before unknown_user; texts sorted).
        _q(
            S5_GHOST_SELF,
            "self_link",
            "self_link: src_user_id equals dst_user_id; unknown_user: dst_user_id not among accepted users; "
            "unknown_user: src_user_id not among accepted users",
        ),
        _q(S9, "duplicate_relation", f"duplicate_relation: the same {NATURAL} as edge_id s8, kept in this batch"),
    ]
)
B2_QUARANTINE = sorted(
    [
        _q(S11, "duplicate_relation", f"duplicate_relation: silver has the same {NATURAL} from batch b1 (edge_id s2)"),
        _q(S14, "duplicate_relation", f"duplicate_relation: the same {NATURAL} as edge_id s13, kept in this batch"),
    ]
)


def test_first_batch_keeps_one_edge_per_relation_and_quarantines_bad_edges(runs):
    assert runs["b1"].edges == AFTER_B1
    assert runs["b1"].quarantine == B1_QUARANTINE
    # 11 read = 5 accepted (s2, s6, s7, s8, s10) + 5 quarantined + 1 duplicate (s6's identical copy).
    assert runs["b1"].audit == (11, 5, 5, 1)


def test_a_later_batch_repeating_a_follow_in_silver_is_quarantined_and_shares_are_kept(runs):
    assert runs["b2"].edges == AFTER_B2
    assert runs["b2"].quarantine == B2_QUARANTINE
    # 6 read = 3 accepted (s12, s13, s15) + 2 quarantined (s11, s14) + 1 duplicate (s10 already in silver).
    assert runs["b2"].audit == (6, 3, 2, 1)


@pytest.mark.parametrize(("again", "first"), [("b2 again", "b2"), ("b1 again", "b1")])
def test_reingesting_a_batch_gives_the_same_rows(runs, again, first):
    # A batch's own rows are not compared with themselves: b1's s2 is still the first u1 -> u2 follow.
    assert runs[again].edges == AFTER_B2
    assert runs[again].quarantine == runs[first].quarantine
    assert runs[again].audit == runs[first].audit
