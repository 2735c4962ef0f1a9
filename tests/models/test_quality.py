"""Model quality on generated data: for every target the GBT beats the LR baseline on AUC, the served
probability has ECE <= 0.02, and each risk tier's observed positive rate fits its probability range; the
uplift champion ranks the generator's hidden effect better than its baseline and the propensity scores.

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


def _true_qini(score, effect) -> float:
    """The Qini coefficient of ``score`` against the true per-user ``effect`` (numpy, from its definition in
    docs/uplift.md): the area under the cumulative true effect of the first n users by score (tied scores
    enter together), above the straight line, over the same for the order of the effect itself."""
    import numpy as np

    def area(order_by):
        keys, inverse = np.unique(-np.asarray(order_by), return_inverse=True)  # highest score first
        n = np.cumsum(np.bincount(inverse, minlength=len(keys)))
        v = np.cumsum(np.bincount(inverse, weights=effect, minlength=len(keys)))
        return float(np.sum((n - np.r_[0, n[:-1]]) * (v + np.r_[0.0, v[:-1]]) / 2))

    effect = np.asarray(effect, dtype=float)
    baseline = len(effect) * effect.sum() / 2
    return (area(score) - baseline) / (area(effect) - baseline)


def test_the_uplift_champion_ranks_the_true_effect_better_than_the_baseline_and_propensity(spark, tmp_path):
    """On the demo's held-out campaign (campaigns.uplift_validation, written by `userscore uplift`): the
    T-learner's ranking of the generator's hidden per-user effect (truth.campaign_effects, never read by the
    product) beats the class-transformation baseline's and every propensity score's (docs/uplift.md)."""
    import numpy as np

    config = make_config(tmp_path, {"catalog": {"root": WAREHOUSE}})
    catalog = Catalog(spark, config)
    truth = catalog.read("truth.campaign_effects").select("campaign_id", "user_id", "true_uplift")
    rows = catalog.read(config.campaigns.uplift.validation_table).join(truth, ["campaign_id", "user_id"]).toPandas()
    qini = {r: _true_qini(g.score.to_numpy(), g.true_uplift.to_numpy()) for r, g in rows.groupby("ranking")}
    corr = {r: float(np.corrcoef(g.score, g.true_uplift)[0, 1]) for r, g in rows.groupby("ranking")}
    print(f"true Qini { ({r: round(v, 4) for r, v in qini.items()}) }")
    print(f"correlation with the true uplift { ({r: round(v, 4) for r, v in corr.items()}) }")
    others = [r for r in qini if r == "class_transformation" or r.startswith("propensity_")]
    assert "class_transformation" in others and any(r.startswith("propensity_") for r in others)
    assert qini["t_learner"] > 0 and corr["t_learner"] > 0
    assert all(qini["t_learner"] > qini[r] for r in others), qini
