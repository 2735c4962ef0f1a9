"""Model quality on generated data: for every target the GBT beats the LR baseline on AUC, the served
probability has ECE <= 0.02, and each risk tier's observed positive rate fits its probability range.

Slow and data-dependent, so it runs only when pointed at a warehouse built by the real pipeline
(generate -> ingest -> features backfill), e.g. (docs/training.md, "Quality on generated data"):

    USERSCORE_QUALITY_WAREHOUSE=/tmp/train-run/warehouse .venv/bin/pytest -m slow tests/models/test_quality.py
"""

from __future__ import annotations

import logging
import os

import pytest

from tests.conftest import make_config
from userscore.catalog import Catalog

WAREHOUSE = os.environ.get("USERSCORE_QUALITY_WAREHOUSE")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not WAREHOUSE, reason="set USERSCORE_QUALITY_WAREHOUSE to a warehouse with generated data"),
]


def test_every_target_beats_the_baseline_and_is_calibrated(spark, tmp_path):
    from userscore.models.workflow import summary_lines, train_targets

    config = make_config(
        tmp_path,
        {
            "catalog": {"root": WAREHOUSE},
            "models": {
                "checkpoint_dir": str(tmp_path / "checkpoints"),
                "tracking": {"uri": f"sqlite:///{tmp_path}/mlflow.db", "artifact_root": str(tmp_path / "mlruns")},
            },
        },
    )
    names = sorted(config.models.targets)
    outcome = train_targets(Catalog(spark, config), config, names, None, logging.getLogger("quality"))
    print("\n".join(summary_lines(outcome)))
    for report in outcome.reports:
        served, baseline = report.served.metrics, report.baseline.metrics
        assert served["auc"] > baseline["auc"], report.target
        assert served["ece"] <= 0.02, report.target
        assert all(t["consistent"] for t in report.served.tiers), (report.target, report.served.tiers)
