"""Config overrides of a business with users and orders only (the CDNOW case): every other source declared
absent, and the targets, scores, tags, segments and analysis breakdowns that need them dropped as conf/cdnow/
drops them."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO, WITHOUT_SOCIAL_FAMILY
from userscore.config import deep_merge

CDNOW_FILES = ("scoring.yaml", "analysis.yaml", "campaigns.yaml")  # what conf/cdnow/ drops besides the sources
ABSENT = [
    "events",
    "level_changes",
    "social_edges",
    "identity_links",
    "consents",
    "campaign_sends",
    "campaign_responses",
]


def orders_only() -> dict[str, Any]:
    dropped: dict[str, Any] = {}
    for name in CDNOW_FILES:
        dropped = deep_merge(dropped, yaml.safe_load((REPO / "conf" / "cdnow" / name).read_text(encoding="utf-8")))
    return deep_merge(
        deep_merge(dropped, WITHOUT_SOCIAL_FAMILY),
        {
            "ingest": {"absent_sources": ABSENT},
            "models": {"targets": {"churn_60d": None, "vip_promotion_90d": None}},
        },
    )
