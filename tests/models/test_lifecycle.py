"""Validate, promote and roll back registered versions as separate steps, on a temporary MLflow store whose
versions carry hand-chosen logged metrics (no Spark): the verdicts and alias moves are worked out by hand."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from userscore.cli import main
from userscore.config.models import PromotionConfig
from userscore.errors import InputError
from userscore.models import lifecycle, registry
from userscore.models.promotion import Decision
from userscore.models.registry import RunRecord

NAME = "userscore-repurchase_30d"
POLICY = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.05, auc_tolerance=0.01, baseline_margin=0.02)


@pytest.fixture
def store(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("lifecycle", artifact_location=(tmp_path / "mlruns").as_uri())
    client.create_registered_model(NAME)
    return client, experiment, uri, tmp_path


def _register(store, auc: float, ece: float, metrics: dict | None = None, **record) -> str:
    """A training run storing a RunRecord with these metrics (and ``metrics``), registered as the next version."""
    client, experiment, _, _ = store
    rec = RunRecord(
        target="repurchase_30d",
        model_name=NAME,
        version="",
        run_id="",
        metrics={"auc": auc, "ece": ece, **(metrics or {})},
        validation_date=dt.date(2026, 3, 1),
        train_snapshots=(dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
        cutoff=dt.datetime(2026, 4, 1),
        numeric_features=("signal", "noise"),
        categorical_features=("member_level",),
        **record,
    )
    tags, params, metrics = rec.run_fields()
    run = client.create_run(experiment, tags=tags)
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    return str(client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run.info.run_id).version)


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def test_the_record_round_trips_through_the_run_and_version(store):
    client = store[0]
    # MLflow stamps versions in whole milliseconds: the registration time lies within the call.
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(milliseconds=1)
    version = _register(store, 0.71, 0.02, champion_version="3", champion_auc=0.69, champion_note="re-scored")
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    read = registry.read_version(client, NAME, version)
    assert before <= read.registered_at <= after
    assert read.run_id and read.version == "1"
    assert read == RunRecord(
        target="repurchase_30d",
        model_name=NAME,
        version="1",
        run_id=read.run_id,
        metrics={"auc": 0.71, "ece": 0.02},
        validation_date=dt.date(2026, 3, 1),
        train_snapshots=(dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
        cutoff=dt.datetime(2026, 4, 1),
        numeric_features=("signal", "noise"),
        categorical_features=("member_level",),
        champion_version="3",
        champion_auc=0.69,
        champion_note="re-scored",
        registered_at=read.registered_at,
    )
    assert (read.training_auc, read.verdict) == (0.71, None)


def test_validate_promote_rollback_move_the_alias_as_worked_out(store):
    client = store[0]
    v1 = _register(store, 0.70, 0.02)
    # No champion yet: only the absolute limits apply.
    record, verdict = lifecycle.validate(client, NAME, v1, POLICY, "champion")
    assert verdict == Decision(
        True,
        ("ECE 0.0200 <= limit 0.0500", "AUC 0.7000 >= minimum 0.6000", "no baseline evaluated", "no current champion"),
    )
    assert registry.read_version(client, NAME, v1).verdict == verdict
    assert str(lifecycle.promote(client, NAME, v1, "champion")) == f"{NAME}@champion: v- -> v1"
    assert _champion(client) == "1"

    # v2 was trained while v1 was champion and re-scored it at 0.72 on v2's rows: 0.715 >= 0.72 - 0.01.
    v2 = _register(store, 0.715, 0.03, champion_version="1", champion_auc=0.72, champion_note="v1 re-scored")
    _, verdict = lifecycle.validate(client, NAME, None, POLICY, "champion")  # default: the newest, v2
    assert verdict.promote and verdict.reasons[3:] == (
        "AUC 0.7150 >= champion 0.7200 - tolerance 0.0100",
        "v1 re-scored",
    )
    move = lifecycle.promote(client, NAME, None, "champion")
    assert (move.previous, move.current, _champion(client)) == ("1", "2", "2")
    # Promoting the champion again moves nothing.
    assert str(lifecycle.promote(client, NAME, v2, "champion")) == f"{NAME}@champion stays at v2"

    # Rollback returns to v1, recorded on v2; a second rollback finds nothing before v1.
    move = lifecycle.rollback(client, NAME, "champion")
    assert (move.previous, move.current, _champion(client)) == ("2", "1", "1")
    assert client.get_model_version(NAME, v2).tags["rolled_back"].startswith("champion moved back to v1 at ")
    with pytest.raises(InputError, match=r"v1 replaced no earlier champion: nothing to go back to"):
        lifecycle.rollback(client, NAME, "champion")


def test_a_version_failing_the_gate_cannot_be_promoted(store):
    client = store[0]
    v1 = _register(store, 0.70, 0.02)
    lifecycle.validate(client, NAME, v1, POLICY, "champion")
    lifecycle.promote(client, NAME, v1, "champion")
    # v2 was trained under another champion (none re-scored): compared with v1's logged AUC 0.70;
    # 0.68 < 0.70 - 0.01, and ECE 0.06 > 0.05.
    v2 = _register(store, 0.68, 0.06)
    with pytest.raises(InputError, match=r"v2 has not been validated"):
        lifecycle.promote(client, NAME, v2, "champion")
    _, verdict = lifecycle.validate(client, NAME, v2, POLICY, "champion")
    assert verdict == Decision(
        False,
        (
            "ECE 0.0600 > limit 0.0500",
            "AUC 0.6800 >= minimum 0.6000",
            "no baseline evaluated",
            "AUC 0.6800 < champion 0.7000 - tolerance 0.0100",
            "champion v1 not re-scored on v2's validation rows; its logged AUC used",
        ),
    )
    with pytest.raises(InputError) as refused:
        lifecycle.promote(client, NAME, v2, "champion")
    assert str(refused.value) == (
        f"{NAME} v2 failed the gate, not promoted: ECE 0.0600 > limit 0.0500; AUC 0.6800 >= minimum 0.6000; "
        "no baseline evaluated; AUC 0.6800 < champion 0.7000 - tolerance 0.0100; champion v1 not re-scored on v2's validation rows; "
        "its logged AUC used"
    )
    assert _champion(client) == "1"
    with pytest.raises(InputError, match=rf"{NAME} has no version 7: registered versions are \[1, 2\]"):
        lifecycle.validate(client, NAME, "7", POLICY, "champion")


def test_models_command_runs_the_steps_and_refuses_with_exit_code_2(store, capsys):
    client, _, uri, tmp_path = store
    _register(store, 0.70, 0.02)
    _register(store, 0.65, 0.02)
    common = ["--set", f"models.tracking.uri={uri}", "--set", f"catalog.root={tmp_path}/warehouse"]
    strict = ["--set", "models.promotion.min_auc=0.68"]

    assert main(["models", "validate", "--target", "repurchase_30d", "--version", "1", *common]) == 0
    assert main(["models", "promote", "--target", "repurchase_30d", "--version", "1", *common]) == 0
    assert f"{NAME}@champion: v- -> v1" in capsys.readouterr().out
    # v2 (the newest) under a stricter min_auc: 0.65 < 0.68.
    assert main(["models", "validate", "--target", "repurchase_30d", *common, *strict]) == 0
    assert f"{NAME} v2 (run " in capsys.readouterr().out
    assert json.loads(client.get_model_version(NAME, "2").tags["gate_reasons"])[1] == "AUC 0.6500 < minimum 0.6800"
    assert main(["models", "promote", "--target", "repurchase_30d", *common]) == 2
    assert f"{NAME} v2 failed the gate, not promoted: " in capsys.readouterr().out
    assert _champion(client) == "1"
    assert main(["models", "rollback", "--target", "repurchase_30d", *common]) == 2
    assert "nothing to go back to" in capsys.readouterr().out

    assert main(["models", *common]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith(NAME)]
    assert [r[:4] + r[-1:] for r in rows] == [
        [NAME, "2", "-", "2026-03-01", "failed"],
        [NAME, "1", "champion", "2026-03-01", "passed"],
    ]


def test_models_command_checks_its_arguments_before_mlflow(tmp_path, capsys):
    common = ["--set", f"models.tracking.uri=sqlite:///{tmp_path}/absent/mlflow.db"]
    assert main(["models", "promote", *common]) == 2
    assert "promote needs --target T" in capsys.readouterr().out
    assert main(["models", "validate", "--target", "nope", *common]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().out
    assert main(["models", "rollback", "--target", "repurchase_30d", "--version", "2", *common]) == 2
    assert "rollback takes no --version" in capsys.readouterr().out
    assert main(["models", "validate", "--target", "btyd", *common]) == 2
    assert "btyd versions are gated when fitted" in capsys.readouterr().out
    assert main(["models", "validate", "--target", "repurchase_30d", *common]) == 2
    assert "no MLflow store at" in capsys.readouterr().out
    assert not (tmp_path / "absent").exists()


BASELINES = {"baseline_recency_auc": 0.695, "baseline_rfm_score_auc": 0.64, "baseline_best_auc": 0.695}


def test_validate_reapplies_the_baseline_gate_from_the_logged_metrics(store, capsys):
    client, _, uri, tmp_path = store
    v1 = _register(store, 0.70, 0.02, metrics=BASELINES, baseline_best="recency")
    record = registry.read_version(client, NAME, v1)
    assert (record.baseline_best, record.best_baseline) == ("recency", ("recency", 0.695))
    # POLICY's margin 0.02: 0.70 < 0.695 + 0.02 = 0.715, although every other check passes.
    _, verdict = lifecycle.validate(client, NAME, v1, POLICY, "champion")
    assert verdict == Decision(
        False,
        (
            "ECE 0.0200 <= limit 0.0500",
            "AUC 0.7000 >= minimum 0.6000",
            "AUC 0.7000 < best baseline recency 0.6950 + margin 0.0200",
            "no current champion",
        ),
    )
    common = ["--set", f"models.tracking.uri={uri}", "--set", f"catalog.root={tmp_path}/warehouse"]
    lenient = ["--set", "models.promotion.max_ece=0.05"]
    # conf/base's margin 0.01: 0.70 < 0.705, kept out; the models command refuses to promote it.
    assert main(["models", "validate", "--target", "repurchase_30d", *lenient, *common]) == 0
    assert "KEEP: " in capsys.readouterr().out
    assert json.loads(client.get_model_version(NAME, v1).tags["gate_reasons"])[2] == (
        "AUC 0.7000 < best baseline recency 0.6950 + margin 0.0100"
    )
    assert main(["models", "promote", "--target", "repurchase_30d", *common]) == 2
    capsys.readouterr()
    # A margin of 0.004 in YAML (here --set): 0.70 >= 0.695 + 0.004 = 0.699; validated again, it passes.
    looser = ["--set", "models.promotion.baseline_margin=0.004"]
    assert main(["models", "validate", "--target", "repurchase_30d", *lenient, *looser, *common]) == 0
    assert "PROMOTE: " in capsys.readouterr().out
    assert json.loads(client.get_model_version(NAME, v1).tags["gate_reasons"])[2] == (
        "AUC 0.7000 >= best baseline recency 0.6950 + margin 0.0040"
    )
    assert main(["models", "promote", "--target", "repurchase_30d", *common]) == 0
    capsys.readouterr()
    # The list shows the best baseline's AUC next to the model's.
    assert main(["models", *common]) == 0
    row = next(line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith(NAME))
    assert row[4:] == ["0.7000", "0.0200", "-", "0.6950", "passed"]
