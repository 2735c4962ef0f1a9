"""Every table declares whether it holds data subjects; declarations reach Delta's statistics settings."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.config.tables import TableSpec
from userscore.errors import ConfigError

USER_ID_LIKE = re.compile(r"^(user_id|.+_user_id)$")


def test_every_table_with_a_user_id_column_declares_its_subjects():
    tables = load_config(env="local", conf_dir=REPO / "conf").tables
    undeclared = {}
    for name, spec in tables.items():
        user_columns = {c for c in spec.column_names if USER_ID_LIKE.match(c)}
        if not user_columns:
            continue
        if spec.subject_columns is None:
            undeclared[name] = "no subject_columns"
        elif spec.subject_columns and not user_columns <= set(spec.subject_columns):
            undeclared[name] = f"{sorted(user_columns - set(spec.subject_columns))} not subject columns"
    assert undeclared == {}


def test_the_erased_tables_are_the_per_user_ones():
    tables = load_config(env="local", conf_dir=REPO / "conf").tables
    held = {n: (s.subject_columns, s.subject_json_columns) for n, s in tables.items() if s.holds_subjects}
    assert held == {
        "silver.users": (("user_id",), ()),
        "silver.orders": (("user_id",), ()),
        "silver.events": (("user_id",), ()),
        "silver.level_changes": (("user_id",), ()),
        "silver.social_edges": (("src_user_id", "dst_user_id"), ()),
        "silver.identity_links": (("user_id",), ()),
        "silver.consents": (("user_id",), ()),
        "silver.campaign_sends": (("user_id",), ()),
        "silver.campaign_responses": (("user_id",), ()),
        "silver.quarantine": ((), ("raw_record",)),
        "identity.person_map": (("user_id",), ()),
        "identity.dropped_links": (("user_id",), ()),
        "social.user_social": (("user_id",), ()),
        "social.community_members": (("user_id",), ()),
        "social.kols": (("user_id",), ()),
        "features.user_features": (("user_id",), ()),
        "features.btyd_summary": (("user_id",), ()),
        "scores.user_scores": (("user_id",), ()),
        "scores.live_user_scores": (("user_id",), ()),
        "tags.user_tag_wide": (("user_id",), ()),
        "audiences.segment_members": (("user_id",), ()),
        "audiences.excluded_members": (("user_id",), ()),
        "analysis.funnel_dropped": (("user_id",), ()),
        "campaigns.uplift_validation": (("user_id",), ()),
        "truth.user_traits": (("user_id",), ()),
        "truth.campaign_effects": (("user_id",), ()),
    }
    # Monitoring keeps aggregates only: no table under monitor. holds a user id.
    assert not any(n.startswith("monitor.") for n in held)
    # The analyses keep aggregates only, except the funnel drop-off audiences (erased like segment members).
    assert [n for n in held if n.startswith("analysis.")] == ["analysis.funnel_dropped"]


def _spec(**kwargs) -> TableSpec:
    columns = [
        {"name": "user_id", "type": "string"},
        {"name": "d", "type": "date"},
        {"name": "phone_hash", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "flag", "type": "boolean"},
    ]
    from userscore.config.typed import Origins, parse_dataclass

    return parse_dataclass(TableSpec, {"description": "t", "columns": columns, **kwargs}, ("tables", "t"), Origins())


def test_private_columns_get_no_delta_statistics():
    spec = _spec(subject_columns=["user_id"], personal_columns=["phone_hash"], partition_by=["d"])
    # amount only: user_id and phone_hash are private, d is a partition, booleans have no statistics.
    assert spec.properties == {"delta.dataSkippingStatsColumns": "amount"}
    assert _spec(subject_columns=["user_id", "phone_hash", "amount"], partition_by=["d"]).properties == {
        "delta.dataSkippingNumIndexedCols": "0"
    }
    assert _spec(subject_columns=[]).properties == {}
    assert _spec().subject_columns is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject_columns": ["uid"]}, "tables.t.subject_columns"),
        ({"subject_json_columns": ["phone_hash"]}, "declared (possibly []) when subject_json_columns are"),
    ],
)
def test_bad_declarations_fail_at_load(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _spec(**kwargs)
