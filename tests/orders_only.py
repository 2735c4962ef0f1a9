"""Config overrides of a business with users and orders only (the CDNOW case): every other source declared
absent, and the targets, scores, tags, segments and analysis breakdowns that need them dropped as conf/cdnow/
drops them."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO, WITHOUT_SOCIAL_FAMILY
from userscore.config import deep_merge

CDNOW_FILES = ("scoring.yaml", "analysis.yaml")  # what conf/cdnow/ drops besides the sources
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
    scoring, analysis = (yaml.safe_load((REPO / "conf" / "cdnow" / f).read_text(encoding="utf-8")) for f in CDNOW_FILES)
    return deep_merge(
        deep_merge(deep_merge(scoring, analysis), WITHOUT_SOCIAL_FAMILY),
        {
            "ingest": {"absent_sources": ABSENT},
            "models": {"targets": {"churn_60d": None, "vip_promotion_90d": None}},
        },
    )
