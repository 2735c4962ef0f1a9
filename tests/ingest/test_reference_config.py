"""The references rule of an ingest source (a response's send_id names a send) is checked when the config
loads (no Spark): the referenced source exists, is loaded before and is present, and the compared columns
exist on both sides with matching types."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from userscore.errors import ConfigError

AT = "ingest.sources.campaign_responses.references"


def _error(tmp_path, overrides: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"ingest": overrides})
    return caught.value


def _send_id(settings: dict) -> dict:
    return {"sources": {"campaign_responses": {"references": {"send_id": settings}}}}


def test_shipped_responses_reference_their_send(tmp_path):
    ingest = make_config(tmp_path).ingest
    rule = ingest.sources["campaign_responses"].references["send_id"]
    assert (rule.source, rule.reason, rule.mismatch_reason, rule.time_reason) == (
        "campaign_sends",
        "unknown_send",
        "send_mismatch",
        "inconsistent_time",
    )
    assert dict(rule.agree) == {"campaign_id": "campaign_id", "user_id": "user_id"}
    assert dict(rule.not_before) == {"responded_at": "sent_at"}
    # Sends are loaded before responses, both after users.
    order = list(ingest.sources)
    assert order[0] == "users" and order.index("campaign_sends") < order.index("campaign_responses")


@pytest.mark.parametrize(
    ("overrides", "key", "found", "expected"),
    [
        (
            _send_id({"source": "campaign_send"}),
            f"{AT}.send_id.source",
            "unknown source 'campaign_send'",
            "a source declared before campaign_responses in ingest.sources: ['users', 'orders', 'events', "
            "'level_changes', 'social_edges', 'identity_links', 'consents', 'campaign_sends']",
        ),
        (
            _send_id({"source": "campaign_responses"}),
            f"{AT}.send_id.source",
            "source 'campaign_responses' itself",
            "a source declared before campaign_responses in ingest.sources: ['users', 'orders', 'events', "
            "'level_changes', 'social_edges', 'identity_links', 'consents', 'campaign_sends']",
        ),
        (
            # A send naming a response: responses are loaded after sends.
            {"sources": {"campaign_sends": {"references": {"send_id": {"source": "campaign_responses",
                                                                       "reason": "unknown_response"}}}}},
            "ingest.sources.campaign_sends.references.send_id.source",
            "source 'campaign_responses', loaded after campaign_sends",
            "a source declared before campaign_sends in ingest.sources: ['users', 'orders', 'events', "
            "'level_changes', 'social_edges', 'identity_links', 'consents']",
        ),
        (
            {"absent_sources": ["campaign_sends"]},
            f"{AT}.send_id.source",
            "campaign_sends, declared in ingest.absent_sources (every send_id would be unknown_send)",
            "a present source, or campaign_responses declared absent too",
        ),
        (
            _send_id({"agree": {"campaign_id": "campaign"}}),
            f"{AT}.send_id.agree.campaign_id",
            "undefined column 'campaign' of silver.campaign_sends",
            "one of ['send_id', 'campaign_id', 'user_id', 'family', 'segment', 'arm', 'channel', 'offer_value', "
            "'contact_cost', 'sent_at', 'sent_month', 'ingest_batch_id']",
        ),
        (
            _send_id({"agree": {"campaign": "campaign_id"}}),
            f"{AT}.send_id.agree.campaign",
            "undefined column 'campaign' of silver.campaign_responses",
            "one of ['response_id', 'send_id', 'campaign_id', 'user_id', 'response_type', 'responded_at', "
            "'ingest_batch_id']",
        ),
        (
            _send_id({"not_before": {"responded_at": "offer_value"}}),
            f"{AT}.send_id.not_before.responded_at",
            "silver.campaign_responses.responded_at (timestamp) against silver.campaign_sends.offer_value (double)",
            "two timestamp columns",
        ),
        (
            _send_id({"agree": {"user_id": "sent_at"}}),
            f"{AT}.send_id.agree.user_id",
            "silver.campaign_responses.user_id (string) against silver.campaign_sends.sent_at (timestamp)",
            "columns of the same type",
        ),
        (
            {"sources": {"campaign_responses": {"references": {"responded_at": {"source": "campaign_sends",
                                                                                "reason": "unknown_send"}}}}},
            f"{AT}.responded_at.source",
            "silver.campaign_responses.responded_at (timestamp) against silver.campaign_sends.send_id (string)",
            "columns of the same type",
        ),
        (
            _send_id({"mismatch_reason": None}),
            f"{AT}.send_id.mismatch_reason",
            "None (NoneType)",
            "the reason of a record that breaks agree (required with agree)",
        ),
        (
            _send_id({"not_before": None}),
            f"{AT}.send_id.time_reason",
            "'inconsistent_time' (str)",
            "only with not_before (no not_before columns are declared)",
        ),
        (
            _send_id({"reason": "Unknown send"}),
            f"{AT}.send_id.reason",
            "'Unknown send' (str)",
            "a lower_snake_case reason name, got 'Unknown send'",
        ),
    ],
)  # fmt: skip
def test_bad_references_fail_at_load_naming_the_key(tmp_path, overrides, key, found, expected):
    err = _error(tmp_path, overrides)
    assert (err.key_path, err.found, err.expected) == (key, found, expected)


def test_the_referencing_column_must_be_declared(tmp_path):
    err = _error(tmp_path, {"sources": {"campaign_responses": {"references": {"send": {"source": "campaign_sends",
                                                                                        "reason": "unknown_send"}}}}})  # fmt: skip
    assert (err.key_path, err.found) == (f"{AT}.send", "undefined column 'send' of silver.campaign_responses")
