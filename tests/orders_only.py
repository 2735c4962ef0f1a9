"""Config overrides of a business with users and orders only (the CDNOW case): every other source declared
absent, and the targets, scores, tags and segments that need them dropped as conf/cdnow/ drops them."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO
from userscore.config import deep_merge

ABSENT = ["events", "level_changes", "social_edges", "identity_links", "consents"]


def orders_only() -> dict[str, Any]:
    scoring = yaml.safe_load((REPO / "conf" / "cdnow" / "scoring.yaml").read_text(encoding="utf-8"))
    return deep_merge(
        scoring,
        {
            "ingest": {"absent_sources": ABSENT},
            "models": {"targets": {"churn_60d": None, "vip_promotion_90d": None}},
        },
    )
