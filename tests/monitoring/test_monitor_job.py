"""The monitor job end to end on hand-made score, feature and silver tables and a hand-made registry entry.

Scores (repurchase only; value_score = 100 p): JAN (the champion's validation snapshot, scored by v1) and
FEB have p_i = 0.05 i; MAR has 8 users at 0.55 and 12 at 0.95. Features: f1 = i on every date; level is
'basic' for everyone, then half 'gold' at MAR. Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from tests.conftest import TEST_SPARK, make_config
from tests.monitoring.world import FEB, JAN, MAR, USERS, P, order_rows, repurchase_tier
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main
from userscore.monitoring import monitor_snapshot

MAR_P = {u: (0.55 if i < 8 else 0.95) for i, u in enumerate(USERS)}


def _grade(value: float) -> str:
    return "A" if value >= 80 else "B" if value >= 60 else "C" if value >= 40 else "D"


def _scores(spark, catalog: Catalog, day: dt.date, p: dict[str, float]):
    schema = declared_schema(catalog.spec("scores.user_scores"))
    rows = []
    for u in USERS:
        row = {f.name: None for f in schema.fields}
        row |= {
            "user_id": u,
            "as_of_date": day,
            "repurchase_probability": p[u],
            "repurchase_tier": repurchase_tier(p[u]),
            "repurchase_model_version": "1",
            "value_score": 100 * p[u],
            "grade": _grade(100 * p[u]),
            "scored_at": dt.datetime.combine(day, dt.time()),
        }
        rows.append(tuple(row[f.name] for f in schema.fields))
    catalog.overwrite_where("scores.user_scores", spark.createDataFrame(rows, schema), {"as_of_date": day})


def _features(spark, catalog: Catalog, day: dt.date):
    rows = [(u, day, float(i), "gold" if day == MAR and i > 10 else "basic") for i, u in enumerate(USERS, 1)]
    frame = spark.createDataFrame(rows, "user_id string, as_of_date date, f1 double, level string")
    catalog.overwrite_where("features.user_features", frame, {"as_of_date": day})


def _register(uri: str, artifacts: str) -> None:
    """A registry entry like the training workflow's: run tags, params and AUC, version 1 @champion."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("userscore", artifact_location=artifacts)
    run = client.create_run(experiment, tags={"validation_snapshot": JAN.isoformat()})
    client.log_param(run.info.run_id, "features.numeric", json.dumps(["f1"]))
    client.log_param(run.info.run_id, "features.categorical", json.dumps(["level"]))
    client.log_metric(run.info.run_id, "auc", 0.9)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("userscore-repurchase_30d")
    mv = client.create_model_version("userscore-repurchase_30d", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("userscore-repurchase_30d", "champion", mv.version)


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor")
    uri = f"sqlite:///{tmp}/mlflow.db"
    settings = {
        "catalog.root": str(tmp / "warehouse"),
        "models.tracking.uri": uri,
        "models.tracking.artifact_root": str(tmp / "mlruns"),
        "monitor.report.dir": str(tmp / "reports"),
        "monitor.psi.quantile_relative_error": 0,
        "monitor.accuracy.quantile_relative_error": 0,
    }
    overrides: dict = {}
    for key, value in settings.items():
        node = overrides
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    config = make_config(tmp, overrides)
    catalog = Catalog(spark, config)
    _register(uri, (tmp / "mlruns").as_uri())
    for day, p in ((JAN, P), (FEB, P), (MAR, MAR_P)):
        _scores(spark, catalog, day, p)
        _features(spark, catalog, day)
    catalog.append("silver.orders", order_rows(spark))
    args = ["monitor", "--as-of", MAR.isoformat(), "--fail-on-alert"]
    args += [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
    try:
        code = main(args)
    finally:  # the CLI applied the local overlay's SQL settings to the shared session: restore the test ones
        for key in ("spark.sql.adaptive.enabled", "spark.sql.shuffle.partitions"):
            spark.conf.set(key, TEST_SPARK["spark"]["conf"][key])
    return config, catalog, code, tmp


def _rows(catalog, table, *columns):
    return sorted(tuple(r) for r in catalog.read(table).where(f"as_of_date = DATE'{MAR}'").select(*columns).collect())


def test_the_job_exits_3_when_alerts_fire_with_fail_on_alert(world):
    assert world[2] == 3


def test_reference_is_the_validation_snapshot_as_scored_by_the_champion(world):
    _, catalog, _, _ = world
    ref = catalog.read("monitor.reference").where("kind in ('bin', 'category')")
    got = sorted(tuple(r) for r in ref.select("target", "model_version", "source", "name", "key", "rows").collect())
    # JAN deciles of p: edges 0.10 .. 0.90 -> two users per bin; f1 = 1..20 -> edges 2, 4, .., 18; level: all basic
    expected = [("repurchase_30d", "1", "scores", "f1", str(k), 2) for k in range(10)]
    expected += [("repurchase_30d", "1", "scores", "level", "basic", 20)]
    expected += [("repurchase_30d", "1", "scores", "repurchase_probability", str(k), 2) for k in range(10)]
    assert got == sorted(expected)
    assert {r["as_of_date"] for r in catalog.read("monitor.reference").collect()} == {JAN}


def test_ladder_compares_with_previous_snapshot_and_reference(world):
    _, catalog, _, _ = world
    rows = {
        (r[0], r[1], r[2]): r[3:]
        for r in _rows(
            catalog,
            "monitor.score_ladder",
            "score",
            "kind",
            "key",
            "value",
            "previous_value",
            "reference_value",
            "previous_date",
        )  # fmt: skip
    }
    # MAR mean: (8 x 0.55 + 12 x 0.95) / 20 = 0.79; JAN = FEB: 10.5 / 20 = 0.525
    value, prev, ref, prev_date = rows[("repurchase_probability", "stat", "mean")]
    assert (value, prev, ref, prev_date) == (pytest.approx(0.79), pytest.approx(0.525), pytest.approx(0.525), FEB)
    # tiers: MAR high 12/20, mid 8/20, low 0; FEB high (p > 0.6) 8/20, mid 8/20, low 4/20
    for tier, now, before in (("high", 0.6, 0.4), ("mid", 0.4, 0.4), ("low", 0.0, 0.2)):
        assert rows[("repurchase_probability", "band", tier)][:3] == (
            pytest.approx(now),
            pytest.approx(before),
            pytest.approx(before),
        )
    # grades of 100 p: MAR A 12 (95), C 8 (55); FEB A 5, B 4, C 4, D 7; no reference for value_score
    for grade, now, before in (("A", 0.6, 0.25), ("B", 0.0, 0.2), ("C", 0.4, 0.2), ("D", 0.0, 0.35)):
        assert rows[("value_score", "band", grade)][:3] == (pytest.approx(now), pytest.approx(before), None)
    assert rows[("repurchase_probability", "stat", "p50")][:3] == (0.95, 0.5, 0.5)


def _psi(shares_e, shares_a, eps=1e-4):
    return sum(
        (max(a, eps) - max(e, eps)) * math.log(max(a, eps) / max(e, eps))
        for e, a in zip(shares_e, shares_a, strict=True)
    )


def test_drift_of_scores_and_features_by_hand(world):
    _, catalog, _, _ = world
    got = {(r[0], r[1], r[2], r[3]): r[4:] for r in _rows(catalog, "monitor.drift", "kind", "name", "baseline",
                                                               "target", "psi", "bins", "rank")}  # fmt: skip
    # p at MAR in the JAN/FEB decile bins (edges 0.1 .. 0.9): 0.55 -> bin 5 (8 users), 0.95 -> bin 9 (12)
    shifted = _psi([0.1] * 10, [0, 0, 0, 0, 0, 0.4, 0, 0, 0, 0.6])
    level = _psi([1.0, 0.0], [0.5, 0.5])  # basic -> half gold
    assert got == {
        ("score", "repurchase_probability", "previous", ""): (pytest.approx(shifted), 10, 1),
        ("score", "value_score", "previous", ""): (pytest.approx(shifted), 10, 2),  # a tie: ranked by name
        ("score", "repurchase_probability", "reference", "repurchase_30d"): (pytest.approx(shifted), 10, 1),
        ("feature", "f1", "previous", ""): (pytest.approx(0.0), 10, 2),
        ("feature", "level", "previous", ""): (pytest.approx(level), 2, 1),
        ("feature", "f1", "reference", "repurchase_30d"): (pytest.approx(0.0), 10, 2),
        ("feature", "level", "reference", "repurchase_30d"): (pytest.approx(level), 2, 1),
    }


def test_realised_accuracy_of_the_matured_snapshot(world):
    _, catalog, _, _ = world
    rows = _rows(catalog, "monitor.accuracy", "target", "snapshot_date", "model_version", "level", "bucket", "rows",
                 "positives", "auc", "training_auc", "auc_drop")  # fmt: skip
    overall = [r for r in rows if r[3] == "overall"]
    # only JAN has matured for the 30-day target (FEB + 30 > MAR); AUC 69 / 84 (see test_accuracy)
    assert overall == [
        ("repurchase_30d", JAN, "1", "overall", "all", 20, 6, pytest.approx(69 / 84), 0.9, pytest.approx(0.9 - 69 / 84))
    ]
    tiers = [(r[4], r[5], r[6]) for r in rows if r[3] == "tier"]
    assert sorted(tiers) == [("high", 8, 4), ("low", 4, 0), ("mid", 8, 2)]


def test_alerts_fired_and_written(world):
    _, catalog, _, _ = world
    got = _rows(catalog, "monitor.alerts", "rule", "subject", "baseline")
    assert got == sorted(
        [
            ("auc_drop", "repurchase_30d", "training"),  # 0.9 - 0.821 = 0.079 > 0.05
            ("score_drift", "repurchase_probability", "reference"),
            ("score_drift_previous", "repurchase_probability", "previous"),
            ("score_drift_previous", "value_score", "previous"),
            ("feature_drift", "level [repurchase_30d]", "reference"),
            ("tier_share_shift", "repurchase_probability=high", "previous"),  # +0.20
            ("tier_share_shift", "repurchase_probability=low", "previous"),  # -0.20
            ("tier_share_shift", "value_score=A", "previous"),  # +0.35
            ("tier_share_shift", "value_score=B", "previous"),  # -0.20
            ("tier_share_shift", "value_score=C", "previous"),  # +0.20
            ("tier_share_shift", "value_score=D", "previous"),  # -0.35
        ]
    )


def test_report_is_self_contained_and_logged_to_mlflow(world):
    config, _, _, tmp = world
    report = tmp / "reports" / f"monitor-{MAR}.html"
    text = report.read_text()
    assert text.count('src="data:image/png;base64,') == 4  # distributions, shares, heat map, calibration + lift
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "11 alert(s)" in text
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=config.models.tracking.uri)
    runs = client.search_runs([client.get_experiment_by_name("userscore-monitor").experiment_id])
    assert [(r.data.tags["as_of_date"], r.data.metrics["alerts"]) for r in runs] == [(MAR.isoformat(), 11.0)]
    assert [a.path for a in client.list_artifacts(runs[0].info.run_id, "report")] == [f"report/monitor-{MAR}.html"]


def test_rerunning_the_date_gives_the_same_rows(world, spark):
    config, catalog, _, _ = world
    tables = ("monitor.score_ladder", "monitor.drift", "monitor.accuracy", "monitor.alerts")
    before = {t: sorted(map(tuple, catalog.read(t).collect())) for t in tables}
    reference_version = catalog.version("monitor.reference")
    monitor_snapshot(catalog, config, MAR, log_to_mlflow=False)
    assert {t: sorted(map(tuple, catalog.read(t).collect())) for t in tables} == before
    assert catalog.version("monitor.reference") == reference_version  # computed once per model version
