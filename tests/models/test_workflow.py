"""End to end on a tiny learnable world: train -> MLflow run -> registered version -> validated -> champion ->
``userscore models``; the registered artifact scores feature rows into the logged metrics; the same version is
then re-validated and promoted as separate steps, and the monitor reads its typed record."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, make_config
from tests.models.conftest import E2E_DATES, e2e_world
from userscore.catalog import Catalog
from userscore.cli import main
from userscore.config import deep_merge
from userscore.errors import InputError


def _auc(scores: list[float], labels: list[int]) -> float:
    """Mann-Whitney AUC with ties counted one half (plain Python)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


FEATURES = "user_id string, as_of_date date, signal double, noise long, member_level string"


def _world(spark, tmp_path, models: dict | None = None, recency: bool = False):
    """The tiny world in a private warehouse and MLflow store; ``recency``: its snapshots also have
    recency_days, the signal on a day scale (fewer days = more likely to buy; null where the signal is)."""
    overrides = {
        "models": {
            "checkpoint_dir": str(tmp_path / "checkpoints"),
            "tracking": {
                "uri": f"sqlite:///{tmp_path}/mlflow.db",
                "artifact_root": str(tmp_path / "mlruns"),
                "dfs_tmpdir": str(tmp_path / "dfs"),
            },
            "promotion": {"max_ece": 1.0, "min_auc": 0.5},
            # The tiny world's snapshot has none of the base exclusions (interest_<i>_lift, ...): exclude nothing.
            "targets": {
                "repurchase_30d": {
                    "gbt": {"max_iter": 5, "max_depth": 3, "min_instances_per_node": 5},
                    "features": {"exclude": []},
                }
            },
        }
    }
    config = make_config(tmp_path, deep_merge(overrides, {"models": models or {}}))
    catalog = Catalog(spark, config)
    features, orders, bought = e2e_world()
    schema = FEATURES
    if recency:
        for f in features:
            f["recency_days"] = None if f["signal"] is None else round(50 - 10 * f["signal"])
        schema += ", recency_days long"
    catalog.append("features.user_features", spark.createDataFrame(features, schema))
    catalog.append("silver.orders", spark.createDataFrame(orders, _empty(spark, catalog, "silver.orders").schema))
    return config, catalog, features, bought, tmp_path


@pytest.fixture
def world(spark, tmp_path):
    return _world(spark, tmp_path)


def _empty(spark, catalog, name):
    from userscore.catalog import declared_schema

    return spark.createDataFrame([], declared_schema(catalog.spec(name)))


def test_train_registers_champion_then_steps_run_alone(spark, world, capsys):
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    from userscore.models.workflow import train_targets
    from userscore.monitoring.models import Registry

    config, catalog, features, bought, tmp_path = world
    outcome = train_targets(catalog, config, ["repurchase_30d"], dt.date(2026, 4, 1), logging.getLogger("test"))
    report = outcome.reports[0]
    assert (report.model_name, report.version, report.decision.promote) == ("userscore-repurchase_30d", "1", True)
    assert report.snapshots.train == tuple(E2E_DATES[:2]) and report.snapshots.validation == E2E_DATES[2]

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("userscore-repurchase_30d", "champion")
    run = client.get_run(champion.run_id)
    assert str(champion.version) == "1"
    assert run.data.tags["validation_snapshot"] == "2026-03-01"
    assert run.data.tags["train_snapshots"] == "2026-01-01,2026-02-01"
    assert client.get_model_version("userscore-repurchase_30d", "1").tags["gate_verdict"] == "passed"
    assert run.data.params["gbt.max_iter"] == "5"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {f"evaluation/{n}.png" for n in ("roc", "lift_gain", "calibration", "feature_importance")} <= artifacts
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert run.data.tags["git_commit"].removesuffix("-dirty") == head.strip()
    assert run.data.tags["cutoff"] == "2026-04-01 00:00:00"

    # Logged with a signature (the numeric feature columns in, one probability out) and an input example that
    # is no user's row: the validation snapshot's means (member_level is a string and not configured as
    # categorical: not an input).
    local = mlflow.artifacts.download_artifacts("models:/userscore-repurchase_30d/1", dst_path=str(tmp_path / "dl"))
    logged = Model.load(local)
    assert logged.signature.inputs.input_names() == ["signal", "noise"]
    assert [spec.type.name for spec in logged.signature.inputs.inputs] == ["double", "double"]
    assert logged.signature.outputs.input_names() == ["prediction"]
    example = json.loads(Path(local, logged.saved_input_example_info["artifact_path"]).read_text())
    march = [f for f in features if f["as_of_date"] == E2E_DATES[2]]
    signals = [f["signal"] for f in march if f["signal"] is not None]
    assert example["columns"] == ["signal", "noise"] and len(example["data"]) == 1
    assert example["data"][0] == pytest.approx(
        [sum(signals) / len(signals), sum(f["noise"] for f in march) / len(march)]
    )

    # No training user's id, in any file of any artifact (model, example, evaluation report, plots).
    user_ids = {f["user_id"] for f in features}
    artifact_files = [p for p in Path(tmp_path, "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "evaluation.json" for p in artifact_files) and any(p.name == "MLmodel" for p in artifact_files)
    leaks = {p.name: u for p in artifact_files for u in user_ids if u.encode() in p.read_bytes()}
    assert leaks == {}

    # The registered artifact maps raw feature rows (nulls included) to calibrated probabilities whose
    # AUC over the validation snapshot is the logged AUC.
    model = mlflow.spark.load_model("models:/userscore-repurchase_30d@champion", dfs_tmpdir=str(tmp_path / "dfs"))
    frame = spark.createDataFrame(march, FEATURES)
    scored = {r["user_id"]: r["prediction"] for r in model.transform(frame).select("user_id", "prediction").collect()}
    labels = [int((f["user_id"], E2E_DATES[2]) in bought) for f in march]
    expected_auc = _auc([scored[f["user_id"]] for f in march], labels)
    assert run.data.metrics["auc"] == pytest.approx(expected_auc, abs=1e-9)
    # The gate saw that AUC (no champion before: the absolute limits of the fixture, min_auc 0.5, only).
    # No baseline: the tiny world's snapshots have none of the baselines' columns (skipped, reasons logged).
    assert report.decision.reasons[1:] == (
        f"AUC {expected_auc:.4f} >= minimum 0.5000",
        "no baseline evaluated",
        "no current champion",
    )
    skipped = {
        name: f"column {column} is not in the feature snapshots (written before it existed)"
        for name, column in (
            ("recency", "recency_days"),
            ("rfm_score", "rfm_score"),
            ("bgnbd_expected_purchases", "bgnbd_expected_purchases_30d"),
            ("bgnbd_p_alive", "bgnbd_p_alive"),
        )
    }
    evaluation = json.loads(next(p for p in artifact_files if p.name == "evaluation.json").read_text())
    assert evaluation["baselines"] == {"best": None, "evaluated": {}, "skipped": skipped}
    assert "baseline_best_auc" not in run.data.metrics and run.data.tags.get("baseline_best", "") == ""
    assert run.data.metrics["rows"] == len(march)
    assert run.data.metrics["positive_rate"] == pytest.approx(sum(labels) / len(labels))
    assert all(0.0 <= p <= 1.0 for p in scored.values())

    capsys.readouterr()
    common = ["--set", f"models.tracking.uri={uri}", "--set", f"catalog.root={tmp_path}/warehouse"]
    code = main(["models", *common])
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if line.strip().startswith("userscore-repurchase_30d"))
    fields = row.split()
    assert fields[:3] == ["userscore-repurchase_30d", "1", "champion"]
    assert fields[3] == "2026-03-01"
    assert float(fields[4]) == pytest.approx(round(run.data.metrics["auc"], 4))
    assert float(fields[5]) == pytest.approx(round(run.data.metrics["ece"], 4))
    assert float(fields[6]) == pytest.approx(round(run.data.metrics["lr_auc"], 4))
    assert fields[7:] == ["-", "passed"]  # no baseline AUC logged
    # Where to look, in the one format train, btyd and models share (the demo lists each line once).
    assert [line.strip() for line in out.splitlines() if line.strip().startswith("MLflow")] == [
        f"MLflow tracking: {uri} (artifacts {(REPO / 'mlruns').resolve().as_uri()})",
        f"MLflow UI:       mlflow ui --backend-store-uri {uri}",
    ]

    # The monitor reads the typed record of the champion: validation snapshot, inputs and validation AUC.
    name = "userscore-repurchase_30d"
    record = Registry(config).champion("repurchase_30d")
    assert (record.target, record.model_name, record.version) == ("repurchase_30d", name, "1")
    assert (record.validation_date, record.train_snapshots) == (E2E_DATES[2], tuple(E2E_DATES[:2]))
    assert (record.numeric_features, record.categorical_features) == (("signal", "noise"), ())
    assert record.training_auc == pytest.approx(expected_auc, abs=1e-9)
    assert record.metrics["rows"] == len(march) and record.champion_version is None

    # Re-validated under a min_auc above its AUC: failed, recorded; promote refuses (exit 2) and says why;
    # the champion alias stays (it was promoted under the earlier verdict).
    lenient = ["--set", "models.promotion={max_ece: 1.0, min_auc: 0.5}"]  # the fixture's gate
    strict = [*lenient, "--set", "models.promotion.min_auc=0.999"]
    assert main(["models", "validate", "--target", "repurchase_30d", *strict, *common]) == 0
    assert f"{name} v1 (run {record.run_id}): KEEP: " in capsys.readouterr().out
    assert main(["models", "promote", "--target", "repurchase_30d", "--version", "1", *common]) == 2
    assert f"{name} v1 failed the gate, not promoted: " in capsys.readouterr().out
    assert client.get_model_version(name, "1").tags["gate_verdict"] == "failed"
    # Back under the fixture's gate: passes again (compared with itself, the current champion).
    assert main(["models", "validate", "--target", "repurchase_30d", *lenient, *common]) == 0
    out = capsys.readouterr().out
    assert "PROMOTE: " in out and "v1 is the current champion" in out
    assert main(["models", "promote", "--target", "repurchase_30d", *common]) == 0
    assert f"{name}@champion stays at v1" in capsys.readouterr().out


def test_a_model_that_loses_to_a_baseline_is_registered_but_kept_out(spark, tmp_path):
    """The model sees only ``noise``; recency_days carries the signal: the one-column rule wins and the gate
    keeps the model out, whatever its other metrics."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from userscore.models.workflow import summary_lines, train_targets

    models = {"promotion": {"min_auc": 0.0}, "targets": {"repurchase_30d": {"features": {"include": ["noise"]}}}}
    config, catalog, features, bought, _ = _world(spark, tmp_path, models, recency=True)
    outcome = train_targets(catalog, config, ["repurchase_30d"], dt.date(2026, 4, 1), logging.getLogger("test"))
    report = outcome.reports[0]

    # The baseline's AUC, in plain Python over the validation snapshot (every March row; none sampled
    # away): fewer days first, a null last, ties one half.
    march = [f for f in features if f["as_of_date"] == E2E_DATES[2]]
    labels = [int((f["user_id"], E2E_DATES[2]) in bought) for f in march]
    recency_auc = _auc([-math.inf if f["recency_days"] is None else -f["recency_days"] for f in march], labels)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(report.run_id)
    assert run.data.metrics["rows"] == len(march)
    assert run.data.metrics["baseline_recency_auc"] == pytest.approx(recency_auc, abs=1e-9)
    assert run.data.metrics["baseline_best_auc"] == pytest.approx(recency_auc, abs=1e-9)
    assert run.data.tags["baseline_best"] == "recency"
    assert "baseline_rfm_score_auc" not in run.data.metrics  # rfm_score: not in these snapshots

    model_auc = run.data.metrics["auc"]
    assert model_auc < recency_auc + 0.01  # the premise: noise alone cannot rank like the signal
    assert report.decision.promote is False
    assert report.decision.reasons[2] == (
        f"AUC {model_auc:.4f} < best baseline recency {recency_auc:.4f} + margin 0.0100"
    )
    assert client.get_model_version("userscore-repurchase_30d", report.version).tags["gate_verdict"] == "failed"
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("userscore-repurchase_30d", "champion")

    lines = summary_lines(outcome)
    header = next(line for line in lines if line.startswith("target"))
    assert "best baseline" in header and "margin" in header
    row = next(line for line in lines if line.startswith("repurchase_30d")).split()
    assert row[6:9] == ["recency", f"{recency_auc:.4f}", f"{model_auc - recency_auc:+.4f}"]
    assert (
        "  repurchase_30d: rfm_score: column rfm_score is not in the feature snapshots (written before it existed)"
        in (lines)
    )


def test_unknown_target_and_missing_features_fail_before_training(spark, tmp_path):
    from userscore.models.workflow import train_targets

    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    with pytest.raises(InputError, match=r"unknown targets \['nope'\]"):
        train_targets(catalog, config, ["nope"], None, logging.getLogger("test"))
    with pytest.raises(InputError, match="table features.user_features does not exist"):
        train_targets(catalog, config, ["churn_60d"], None, logging.getLogger("test"))


def test_train_job_checks_its_arguments_before_starting_spark(capsys):
    assert main(["train"]) == 2
    assert "give --target T ... or --all" in capsys.readouterr().out
    assert main(["train", "--target", "nope"]) == 2
    assert "unknown targets ['nope']" in capsys.readouterr().out
    assert main(["train", "--all", "--cutoff", "31/12/2026"]) == 2
    assert "--cutoff: a date YYYY-MM-DD" in capsys.readouterr().out
