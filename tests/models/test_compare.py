"""compare_target (the training notebook's engine) on the tiny learnable world: the train job's split and
evaluation, the served model's AUC recomputed independently, and nothing written to MLflow."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from tests.conftest import make_config
from tests.models.conftest import E2E_DATES, e2e_world
from userscore.catalog import Catalog, declared_schema
from userscore.errors import InputError
from userscore.models.compare import MODELS, compare_target

FEATURES = "user_id string, as_of_date date, signal double, noise long, member_level string"

SKIPPED = "is not in the feature snapshots (written before it existed)"


def _auc(scores: list[float], labels: list[int]) -> float:
    """Mann-Whitney AUC with ties counted one half (plain Python)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.fixture
def world(spark, tmp_path):
    overrides = {
        "models": {
            "checkpoint_dir": str(tmp_path / "checkpoints"),
            "tracking": {"uri": f"sqlite:///{tmp_path}/mlflow.db", "artifact_root": str(tmp_path / "mlruns")},
            # The tiny world's snapshot has none of the base exclusions (interest_<i>_lift, ...): exclude nothing.
            "targets": {
                "repurchase_30d": {
                    "gbt": {"max_iter": 5, "max_depth": 3, "min_instances_per_node": 5},
                    "features": {"exclude": []},
                }
            },
        }
    }
    config = make_config(tmp_path, overrides)
    catalog = Catalog(spark, config)
    features, orders, bought = e2e_world()
    catalog.append("features.user_features", spark.createDataFrame(features, FEATURES))
    orders_schema = declared_schema(catalog.spec("silver.orders"))
    catalog.append("silver.orders", spark.createDataFrame(orders, orders_schema))
    return config, catalog, features, bought, tmp_path


def test_compare_evaluates_served_raw_and_baseline_on_the_validation_snapshot(spark, world):
    config, catalog, features, bought, tmp_path = world
    tuned = replace(config.models.targets["repurchase_30d"])
    tuned = replace(tuned, gbt=replace(tuned.gbt, max_iter=4))
    comparison = compare_target(catalog, config, "repurchase_30d", dt.date(2026, 4, 1), tuned)

    assert comparison.snapshots.train == tuple(E2E_DATES[:2])
    assert comparison.snapshots.validation == E2E_DATES[2]
    assert comparison.fitted.gbt.getNumTrees == 4  # the given settings, not the configured 5 trees
    march = [f for f in features if f["as_of_date"] == E2E_DATES[2]]
    labels = [int((f["user_id"], E2E_DATES[2]) in bought) for f in march]
    for model in MODELS:
        metrics = comparison.evaluations[model].metrics
        assert metrics["rows"] == len(march)
        assert metrics["positive_rate"] == pytest.approx(sum(labels) / len(labels))

    frame = spark.createDataFrame(march, FEATURES)
    scored = {r["user_id"]: r["prediction"] for r in comparison.fitted.served.transform(frame).collect()}
    expected = _auc([scored[f["user_id"]] for f in march], labels)
    assert comparison.evaluations["served"].metrics["auc"] == pytest.approx(expected, abs=1e-9)
    # The world's outcome depends on `signal` only, and every model finds it.
    assert [name for name, _ in comparison.importances][0] == "signal"
    assert min(comparison.evaluations[m].metrics["auc"] for m in MODELS) > 0.75

    lines = comparison.metric_lines()
    assert lines[0].split() == ["metric", "served", "raw", "lr"]
    auc_row = next(line for line in lines if line.startswith("auc "))
    assert [float(v) for v in auc_row.split()[1:]] == [
        pytest.approx(round(comparison.evaluations[m].metrics["auc"], 4), abs=1e-4) for m in MODELS
    ]
    # The base baselines' columns are not in the tiny world's snapshots: skipped, and said so.
    assert lines[-4:] == [
        f"baseline {name} skipped: column {column} {SKIPPED}"
        for name, column in (
            ("recency", "recency_days"),
            ("rfm_score", "rfm_score"),
            ("bgnbd_expected_purchases", "bgnbd_expected_purchases_30d"),
            ("bgnbd_p_alive", "bgnbd_p_alive"),
        )
    ]
    # Interactive: no MLflow store is created, nothing is registered.
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_compare_names_the_known_targets_for_an_unknown_one(spark, world):
    config, catalog, *_ = world
    with pytest.raises(InputError, match=r"unknown target 'nope'.*'churn_60d'"):
        compare_target(catalog, config, "nope")
