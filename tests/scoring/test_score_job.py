"""``userscore score --as-of D`` end to end on hand-made features and tiny real champions.

The tests of this module share one warehouse and run in order: D1 is scored, a crash in the second
write leaves every table readable at its previous version, D2 is scored (the wide table changes only
where values changed), D2 again changes nothing, and back-filling D1 leaves newer wide rows alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.conftest import REPO, make_config
from tests.scoring.conftest import (
    D1,
    D2,
    MARGIN,
    MODEL_NUMERIC,
    UPLIFT_CATEGORICAL,
    UPLIFT_NUMERIC,
    UPLIFT_TYPE,
    feature_rows,
    features_frame,
    tracking_overrides,
)
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main
from userscore.config import deep_merge
from userscore.scoring.customer_base import load_customer_base

SCORES, WIDE, AUDIENCES = "scores.user_scores", "tags.user_tag_wide", "audiences.segment_members"
_UPLIFT_TIERS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")  # the summary's order
PREFIX = {"churn_60d": "churn", "repurchase_30d": "repurchase", "vip_promotion_90d": "vip"}
EXCLUDED = "audiences.excluded_members"


def _consent(user: str, status: str, at: dt.datetime, purpose: str = "marketing") -> tuple:
    return (f"c-{user}-{purpose}-{status}-{at:%Y%m%d%H%M%S}", user, purpose, status, at, "b1")


# Marketing consent (audiences need it): u0000 withdrew before D1; u0001 has none on record, only
# profiling; u0002 withdrew at D1 + 1 day 00:00, after D1's end (in D1's audiences, not in D2's); u0003
# withdrew and granted again before D1; u0004 granted and withdrew in the same second (a withdrawal).
CONSENTS = [
    *(_consent(f"u{i:04d}", "granted", dt.datetime(2025, 6, 1)) for i in range(200) if i != 1),
    _consent("u0001", "granted", dt.datetime(2025, 6, 1), purpose="profiling"),
    _consent("u0000", "withdrawn", dt.datetime(2026, 2, 10, 8, 30)),
    _consent("u0002", "withdrawn", dt.datetime(2026, 3, 2)),
    _consent("u0003", "withdrawn", dt.datetime(2025, 9, 1)),
    _consent("u0003", "granted", dt.datetime(2026, 1, 5)),
    _consent("u0004", "withdrawn", dt.datetime(2025, 6, 1)),
]
# The users each snapshot's audiences must leave out, and why.
NO_CONSENT = {
    D1: {"u0000": "marketing consent withdrawn 2026-02-10", "u0001": "no marketing consent on record",
         "u0004": "marketing consent withdrawn 2025-06-01"},
    D2: {"u0000": "marketing consent withdrawn 2026-02-10", "u0001": "no marketing consent on record",
         "u0002": "marketing consent withdrawn 2026-03-02", "u0004": "marketing consent withdrawn 2025-06-01"},
}  # fmt: skip


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory, champion_store):
    """A warehouse with feature snapshots D1 and D2 (D2: the D1 users, 30 of them changed)."""
    store_dir, rows_d1, models = champion_store
    root = tmp_path_factory.mktemp("score-job")
    config = make_config(root, tracking_overrides(store_dir))
    catalog = Catalog(spark, config)
    rows_d2 = [dict(r, as_of_date=D2) for r in rows_d1]
    fresh = feature_rows(config, D2, seed=11)
    for i in range(0, 90, 3):  # every third of the first 90 users gets entirely new features
        rows_d2[i] = dict(fresh[i], user_id=rows_d1[i]["user_id"])
    for day, rows in ((D1, rows_d1), (D2, rows_d2)):
        catalog.overwrite_where("features.user_features", features_frame(spark, config, rows), {"as_of_date": day})
    catalog.append("silver.consents", spark.createDataFrame(CONSENTS, declared_schema(catalog.spec("silver.consents"))))
    sets = [
        "--set", f"catalog.root={root}/warehouse",
        "--set", f"models.tracking.uri=sqlite:///{store_dir}/mlflow.db",
        "--set", f"models.tracking.artifact_root={store_dir}/mlruns",
        "--set", f"models.tracking.dfs_tmpdir={store_dir}/dfs",
        "--set", "spark.master=local[2]",
    ]  # fmt: skip
    return {"config": config, "catalog": catalog, "rows": {D1: rows_d1, D2: rows_d2}, "models": models, "sets": sets}


def _score(world, day: dt.date, capsys=None) -> tuple[int, str]:
    if capsys is not None:
        capsys.readouterr()
    code = main(["score", "--as-of", day.isoformat(), *world["sets"]])
    return code, capsys.readouterr().out if capsys is not None else ""


def _probabilities(spark, world, day) -> dict[str, dict[str, float]]:
    """Each in-memory trained pipeline applied directly to the features (not through the job)."""
    frame = features_frame(spark, world["config"], world["rows"][day])
    out = {}
    for target in PREFIX:
        model = world["models"][target]
        out[target] = {
            r["user_id"]: r["prediction"] for r in model.transform(frame).select("user_id", "prediction").collect()
        }
    return out


def _arm_probabilities(spark, world, day) -> dict[str, tuple[float, float]]:
    """user -> (P(convert | contacted), P(convert | not contacted)) from the in-memory uplift pipeline."""
    from pyspark.ml.functions import vector_to_array

    frame = features_frame(spark, world["config"], world["rows"][day])
    arms = (
        world["models"][UPLIFT_TYPE]
        .transform(frame)
        .select(
            "user_id",
            vector_to_array("_uplift_p_treated")[1].alias("treated"),
            vector_to_array("_uplift_p_control")[1].alias("control"),
        )
    )
    return {r["user_id"]: (r["treated"], r["control"]) for r in arms.collect()}


def _uplift_tier(uplift: float, p_control: float) -> str:
    """campaigns.types.coupon_winback.uplift.tiers in conf/base/campaigns.yaml."""
    if uplift > 0.02:
        return "persuadable"
    if uplift < -0.02:
        return "sleeping_dog"
    return "sure_thing" if p_control >= 0.5 else "lost_cause"


def _eligible(row: dict) -> bool:
    """campaigns.types.coupon_winback.uplift.eligible in conf/base/campaigns.yaml: lapsing buyers."""
    return row["frequency_365d"] > 0 and 30 <= row["recency_days"] <= 365


def _tier(p: float, high: float, mid: float) -> str:
    return "high" if p > high else ("mid" if p >= mid else "low")


def _expected_row(row: dict, p: dict[str, float]) -> dict:
    """conf/base/scoring.yaml and tags.yaml worked out in plain Python for one user."""
    rule = 0.7 * min(max((row["rfm_score"] - 1) / 4, 0), 1) + 0.3 * min(max(row["preference_score"], 0), 1)
    model = 0.5 * p["repurchase_30d"] + 0.3 * (1 - p["churn_60d"]) + 0.2 * p["vip_promotion_90d"]
    value = round(100 * (0.5 * rule + 0.5 * model), 2)
    grade = "A" if value >= 80 else "B" if value >= 60 else "C" if value >= 40 else "D"
    monetary = row["monetary_365d"]
    spend = (
        "none"
        if monetary < 0.01
        else "low"
        if monetary < 200
        else "mid"
        if monetary < 1000
        else "high"
        if monetary < 5000
        else "top"
    )
    churn_tier = _tier(p["churn_60d"], 0.7, 0.3)
    vip_tier = _tier(p["vip_promotion_90d"], 0.5, 0.2)
    return {
        "churn_tier": churn_tier,
        "repurchase_tier": _tier(p["repurchase_30d"], 0.6, 0.25),
        "vip_tier": vip_tier,
        "value_score": value,
        "grade": grade,
        "spend_band": spend,
        "high_value": value >= 80,
        "churn_risk": churn_tier,
        "price_sensitive": row["promotion_sensitivity"] >= 0.2 or row["coupon_order_share"] >= 0.5,
        "recall_candidate": value < 40 and row["days_since_last_activity"] <= 7,
        "vip_candidate": vip_tier == "high" and row["member_level"] != "platinum",
        "interest_top_1": row["interest_1"],
        "interest_top_2": row["interest_2"],
        "interest_top_3": row["interest_3"],
    }


def _retention(tier: str, grade: str) -> tuple[str, float] | None:
    if tier == "high":
        return ("high_risk_high_value", 0.10) if grade in ("A", "B") else ("high_risk", 0.10)
    return {"mid": ("mid_risk", 0.10), "low": ("low_risk", 0.05)}[tier]


def _control(family: str, user: str) -> bool:
    text = f"userscore-control-v1|{family}|{user}"
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 2**32


def _changes(spark, catalog, name, version) -> list:
    path = catalog.location(name)
    return spark.sql(f"SELECT * FROM table_changes_by_path('{path}', {version}, {version})").collect()


def test_score_writes_every_output_as_worked_out_independently(spark, world, capsys):
    from mlflow.tracking import MlflowClient

    code, out = _score(world, D1, capsys)
    assert code == 0, out
    catalog = world["catalog"]
    scores = {r["user_id"]: r.asDict() for r in catalog.read(SCORES, where=F.col("as_of_date") == D1).collect()}
    p = _probabilities(spark, world, D1)
    arms = _arm_probabilities(spark, world, D1)
    rows = {r["user_id"]: r for r in world["rows"][D1]}
    assert set(scores) == set(rows)

    uri = world["config"].models.tracking.uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    registered = [
        dt.datetime.fromtimestamp(
            int(client.get_model_version_by_alias(f"userscore-{name}", "champion").creation_timestamp) / 1000, dt.UTC
        )
        for name in (*PREFIX, f"{UPLIFT_TYPE}_uplift")  # the uplift champion counts too
    ]
    scored_at = max(dt.datetime(2026, 3, 1), max(r.replace(microsecond=0, tzinfo=None) for r in registered))
    for user, got in scores.items():
        mine = {t: p[t][user] for t in PREFIX}
        for target, prefix in PREFIX.items():
            assert got[f"{prefix}_probability"] == pytest.approx(mine[target], abs=1e-12)
            assert got[f"{prefix}_model_version"] == "1"
            reasons = got[f"{prefix}_reasons"].split("; ")
            names = [r.split(" (")[0] for r in reasons]
            values = [abs(float(r.split(" (")[1].rstrip(")"))) for r in reasons]
            assert 1 <= len(reasons) <= 3 and set(names) <= {*MODEL_NUMERIC[target], "member_level"}
            assert values == sorted(values, reverse=True)
        expected = _expected_row(rows[user], mine)
        assert got["value_score"] == pytest.approx(expected.pop("value_score"), abs=0.005 + 1e-9), user
        assert {k: got[k] for k in expected} == expected, user
        assert got["scored_at"] == scored_at
        assert got["r_score"] == rows[user]["r_score"] and got["rfm_segment"] == rows[user]["rfm_segment"]
        # Uplift: the arms' difference, its tier, and net margin = uplift x margin per conversion - contact cost,
        # for the users the type's campaigns are for; null for the others.
        assert got[f"{UPLIFT_TYPE}_uplift_model_version"] == "1"
        if not _eligible(rows[user]):
            uplift_columns = ("uplift", "uplift_tier", "net_margin", "uplift_reasons")
            assert [got[f"{UPLIFT_TYPE}_{c}"] for c in uplift_columns] == [None] * 4, user
            continue
        treated, control = arms[user]
        uplift = got[f"{UPLIFT_TYPE}_uplift"]
        assert uplift == pytest.approx(treated - control, abs=1e-12)
        assert got[f"{UPLIFT_TYPE}_uplift_tier"] == _uplift_tier(treated - control, control), user
        assert got[f"{UPLIFT_TYPE}_net_margin"] == pytest.approx((treated - control) * MARGIN - 0.5, abs=1e-12)
        reasons = got[f"{UPLIFT_TYPE}_uplift_reasons"].split("; ")
        names = [r.split(" (")[0] for r in reasons]
        values = [abs(float(r.split(" (")[1].rstrip(")"))) for r in reasons]
        assert 1 <= len(reasons) <= 3 and set(names) <= {*UPLIFT_NUMERIC, *UPLIFT_CATEGORICAL}
        assert values == sorted(values, reverse=True)
    tiers = [scores[u][f"{UPLIFT_TYPE}_uplift_tier"] for u in scores]
    assert {"persuadable", "sleeping_dog"} <= set(tiers)  # the tiny model tells both apart

    # The wide table holds exactly the score rows (one per user) after the first run.
    assertDataFrameEqual(catalog.read(WIDE), catalog.read(SCORES, where=F.col("as_of_date") == D1))

    # Retention audience: one segment per user by churn tier x grade, control group by hash; users without
    # marketing consent on D1 are listed apart with the reason, so members + excluded = every match.
    members = catalog.read(AUDIENCES).where("family = 'retention'").collect()
    got_members = {r["user_id"]: (r["segment"], r["is_control"]) for r in members}
    excluded = catalog.read(EXCLUDED).where("family = 'retention'").collect()
    got_excluded = {r["user_id"]: (r["segment"], r["is_control"], r["exclusion_reason"]) for r in excluded}
    want, want_excluded = {}, {}
    for user, got in scores.items():
        segment, share = _retention(got["churn_tier"], got["grade"])
        if user in NO_CONSENT[D1]:
            want_excluded[user] = (segment, _control("retention", user) < share, NO_CONSENT[D1][user])
        else:
            want[user] = (segment, _control("retention", user) < share)
    assert got_members == want
    assert got_excluded == want_excluded
    # No family lists a user without consent, and each excluded match holds that user's reason.
    assert catalog.read(AUDIENCES).where(F.col("user_id").isin(list(NO_CONSENT[D1]))).count() == 0
    assert {(r["user_id"], r["exclusion_reason"]) for r in catalog.read(EXCLUDED).collect()} <= set(
        NO_CONSENT[D1].items()
    )
    # Every user is in at most one segment per family.
    per_family = catalog.read(AUDIENCES).groupBy("family", "user_id").count().where("count > 1").count()
    assert per_family == 0

    # The summary prints the tier and grade distribution and the table locations.
    churn = [scores[u]["churn_tier"] for u in scores]
    assert f"churn_tier:       high {churn.count('high'):,} ({100 * churn.count('high') / len(churn):.1f}%)" in out
    assert 0 < tiers.count(None) == sum(not _eligible(r) for r in rows.values())
    shares = [f"{t} {tiers.count(t):,} ({100 * tiers.count(t) / len(tiers):.1f}%)" for t in _UPLIFT_TIERS]
    shares.append(f"not_eligible {tiers.count(None):,} ({100 * tiers.count(None) / len(tiers):.1f}%)")
    assert f"{UPLIFT_TYPE}_uplift_tier: " + "  ".join(shares) in out
    assert f"scores.user_scores         {catalog.location(SCORES)}" in out


def test_features_are_scanned_once_in_the_fused_plan(spark, world):
    from scripts.score_baselines import naive_scores

    from userscore.scoring.fuse import fused_scores
    from userscore.scoring.models import load_champions
    from userscore.scoring.pipeline import read_features
    from userscore.tags import load_dictionary

    config, catalog = world["config"], world["catalog"]
    scoring = config.scoring
    champions = load_champions(scoring.targets, config.models.tracking, "champion", config.path("."), scoring.uplift)
    assert [(c.campaign_type, c.compiled is not None) for c in champions.uplift] == [(UPLIFT_TYPE, True)]
    dictionary = load_dictionary(config.tags)
    at = dt.datetime(2026, 3, 1)
    location = catalog.location("features.user_features")

    def scans(df) -> int:
        """FileScan nodes of the physical plan reading the features table's location."""
        previous = spark.conf.get("spark.sql.maxMetadataStringLength")
        spark.conf.set("spark.sql.maxMetadataStringLength", "100000")  # print whole paths, not "..."
        try:
            plan = df._jdf.queryExecution().executedPlan().toString()
        finally:
            spark.conf.set("spark.sql.maxMetadataStringLength", previous)
        return sum(1 for line in plan.splitlines() if "FileScan" in line and f"{location}]" in line)

    def python_round_trips(df) -> int:
        """Arrow evaluations of Python UDFs in the physical plan."""
        return df._jdf.queryExecution().executedPlan().toString().count("ArrowEvalPython")

    base = load_customer_base(catalog, config, D1)  # no BTYD champion in this store: null columns
    fused = fused_scores(
        read_features(catalog, config, D1),
        champions,
        config.scoring,
        dictionary,
        at,
        customer_base=base,
    )
    naive = naive_scores(
        lambda: read_features(catalog, config, D1),
        champions,
        config.scoring,
        dictionary,
        at,
        customer_base=base,
    )
    assert scans(fused) == 1
    assert scans(naive) == 5  # the counter sees one scan per model (three targets, one uplift) plus the base read
    # The fused plan sends the rows to Python once for all four compiled champions, the uplift one included;
    # the naive plan runs each Spark pipeline and sends each model's vector for its reasons.
    assert python_round_trips(fused) == 1
    assert python_round_trips(naive) == 4
    # Same rows either way: the compiled models give the Spark pipelines' probabilities, uplift and reasons.
    assertDataFrameEqual(fused, naive, rtol=0, atol=1e-12)
    eligible = "frequency_365d > 0 AND recency_days BETWEEN 30 AND 365"  # conf/base/campaigns.yaml
    missing = f"{UPLIFT_TYPE}_uplift IS NULL OR {UPLIFT_TYPE}_uplift_reasons IS NULL"
    assert fused.where(f"({eligible}) AND ({missing})").count() == 0


def test_crash_in_a_write_leaves_every_table_readable_at_its_previous_version(spark, world, monkeypatch):
    catalog = world["catalog"]
    before = {name: (catalog.version(name), catalog.read(name).collect()) for name in (SCORES, WIDE, AUDIENCES)}
    original = Catalog.conform

    def failing(self, name, df):
        out = original(self, name, df)
        if name == WIDE:  # the second write fails mid-way, inside Spark, on one user's row
            boom = F.when(F.col("user_id") == "u0150", F.raise_error(F.lit("injected failure"))).otherwise(
                F.col("grade")
            )
            out = out.withColumn("grade", boom)
        return out

    monkeypatch.setattr(Catalog, "conform", failing)
    with pytest.raises(Exception, match="injected failure"):
        main(["score", "--as-of", D2.isoformat(), *world["sets"]])
    monkeypatch.undo()

    # The failed table and the one after it: previous version, previous rows.
    for name in (WIDE, AUDIENCES):
        version, rows = before[name]
        assert catalog.version(name) == version
        assertDataFrameEqual(catalog.read(name), rows)
    # The table written before the failure holds the complete new snapshot next to the old one.
    assert catalog.version(SCORES) == before[SCORES][0] + 1
    assertDataFrameEqual(catalog.read(SCORES, where=F.col("as_of_date") == D1), before[SCORES][1])
    assert catalog.read(SCORES, where=F.col("as_of_date") == D2).count() == len(world["rows"][D2])


def test_next_snapshot_changes_only_changed_wide_rows_and_reruns_change_nothing(spark, world):
    catalog = world["catalog"]
    d1 = {r["user_id"]: r.asDict() for r in catalog.read(SCORES, where=F.col("as_of_date") == D1).collect()}
    assert main(["score", "--as-of", D2.isoformat(), *world["sets"]]) == 0
    d2 = {r["user_id"]: r.asDict() for r in catalog.read(SCORES, where=F.col("as_of_date") == D2).collect()}
    ignored = {"as_of_date", "scored_at"}
    changed = {u for u in d2 if any(d2[u][c] != d1[u][c] for c in d2[u] if c not in ignored)}
    assert 0 < len(changed) <= 30  # only the 30 users whose features changed can change

    # Change Data Feed of the MERGE: exactly the changed users, as updates.
    version = catalog.version(WIDE)
    feed = _changes(spark, catalog, WIDE, version)
    assert {r["user_id"] for r in feed if r["_change_type"] == "update_postimage"} == changed
    assert {r["_change_type"] for r in feed} == {"update_preimage", "update_postimage"}
    wide = {r["user_id"]: r.asDict() for r in catalog.read(WIDE).collect()}
    assert {u for u, r in wide.items() if r["as_of_date"] == D2} == changed
    for user in changed:
        assert wide[user] == d2[user]

    # u0002's withdrawal on D1 + 1 day counts from D2 on.
    excluded = {r["user_id"] for r in catalog.read(EXCLUDED, where=F.col("as_of_date") == D2).collect()}
    members = {r["user_id"] for r in catalog.read(AUDIENCES, where=F.col("as_of_date") == D2).collect()}
    assert excluded == set(NO_CONSENT[D2]) and not members & excluded

    # Re-running D2: identical score and audience rows, and no change in the wide table's feed.
    scores = catalog.read(SCORES, where=F.col("as_of_date") == D2).collect()
    audiences = catalog.read(AUDIENCES, where=F.col("as_of_date") == D2).collect()
    assert main(["score", "--as-of", D2.isoformat(), *world["sets"]]) == 0
    assertDataFrameEqual(catalog.read(SCORES, where=F.col("as_of_date") == D2), scores)
    assertDataFrameEqual(catalog.read(AUDIENCES, where=F.col("as_of_date") == D2), audiences)
    assert all(_changes(spark, catalog, WIDE, v) == [] for v in range(version + 1, catalog.version(WIDE) + 1))

    # Back-filling D1 leaves the wide rows that already hold D2 values alone.
    assert main(["score", "--as-of", D1.isoformat(), *world["sets"]]) == 0
    after = {r["user_id"]: r.asDict() for r in catalog.read(WIDE).collect()}
    assert after == wide


def test_missing_champion_fails_before_anything_is_written(tmp_path, champion_store, capsys):
    store_dir, _, _ = champion_store
    extra = ["--set", "models.targets.ltv_365d={horizon_days: 365, population: {kind: all}, label: {kind: any_order_within, include_refunded: false}, "
             "tiers: [{name: high, min: 0.5}, {name: low}]}",
             "--set", "scoring.targets.ltv_365d={prefix: ltv}"]  # fmt: skip
    sets = [
        "--set",
        f"catalog.root={tmp_path}/warehouse",
        "--set",
        f"models.tracking.uri=sqlite:///{store_dir}/mlflow.db",
    ]
    capsys.readouterr()
    assert main(["score", "--as-of", D1.isoformat(), *sets, *extra]) == 2
    out = capsys.readouterr().out
    assert "no champion for userscore-ltv_365d@champion" in out
    assert not (tmp_path / "warehouse").exists()


def test_no_tracking_store_exits_2_and_leaves_no_store_behind(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    sets = [
        "--set", f"catalog.root={tmp_path}/warehouse",
        "--set", f"models.tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        "--set", f"models.tracking.artifact_root={tmp_path}/artifacts",
        "--set", "spark.master=local[2]",
    ]  # fmt: skip
    capsys.readouterr()
    assert main(["score", "--as-of", D1.isoformat(), "--conf-dir", str(REPO / "conf"), *sets]) == 2
    assert capsys.readouterr().out == (
        "userscore score: error: no champion for userscore-churn_60d@champion, userscore-repurchase_30d@champion "
        f"in the MLflow registry at sqlite:///{tmp_path}/mlflow.db (no store there yet): train and promote it "
        "(`userscore train --target ...`) or mark the target optional in scoring.targets\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no mlflow.db, mlruns/, artifacts/ or warehouse/


# A second campaign type with an uplift model (conf/base/campaigns.yaml's vip_preview has none), whose
# champion the store lacks.
VIP_UPLIFT = {
    "campaigns": {
        "types": {
            "vip_preview": {
                "uplift": {"tiers": {"persuadable_above": 0.05, "sleeping_dog_below": 0, "sure_thing_min": 0.6}}
            }
        }
    }
}


def test_optional_target_and_uplift_type_without_champion_get_null_columns(spark, world, champion_store, tmp_path):
    from userscore.scoring.fuse import fused_scores
    from userscore.scoring.models import load_champions
    from userscore.scoring.pipeline import read_features
    from userscore.tags import load_dictionary

    store_dir, _, _ = champion_store
    overrides = deep_merge(tracking_overrides(store_dir), VIP_UPLIFT)
    overrides["models"]["targets"] = {
        "ltv_365d": {
            "horizon_days": 365,
            "population": {"kind": "all"},
            "label": {"kind": "any_order_within", "include_refunded": False},
            "tiers": [{"name": "high", "min": 0.5}, {"name": "low"}],
        }
    }
    overrides["scoring"] = {
        "targets": {"ltv_365d": {"prefix": "ltv", "optional": True}},
        "uplift": {"vip_preview": {"optional": True}},
    }
    config = make_config(tmp_path, overrides)
    scoring = config.scoring
    champions = load_champions(scoring.targets, config.models.tracking, "champion", config.path("."), scoring.uplift)
    assert champions.missing_optional == ("userscore-ltv_365d@champion", "userscore-vip_preview_uplift@champion")
    assert sorted(c.target for c in champions.loaded) == sorted(PREFIX)
    assert [c.campaign_type for c in champions.uplift] == [UPLIFT_TYPE]

    catalog = world["catalog"]  # the features of the module's warehouse
    frame = fused_scores(
        read_features(catalog, config, D1),
        champions,
        config.scoring,
        load_dictionary(config.tags),
        dt.datetime(2026, 3, 1),
        customer_base=load_customer_base(catalog, config, D1),
    )
    vip = [
        f"vip_preview_{s}" for s in ("uplift", "uplift_tier", "uplift_reasons", "net_margin", "uplift_model_version")
    ]
    kept = [f"{UPLIFT_TYPE}_{s}" for s in ("uplift", "uplift_tier", "net_margin")]
    got = frame.select(
        "user_id", "ltv_probability", "ltv_tier", "ltv_reasons", "ltv_model_version", *vip, "value_score", *kept
    )
    # The ltv and vip_preview uplift columns are typed nulls; the value score (without an ltv component) and
    # the scored uplift type's columns are the job's.
    written = catalog.read(SCORES, where=F.col("as_of_date") == D1)
    expected = written.select(
        "user_id",
        F.lit(None).cast("double").alias("ltv_probability"),
        F.lit(None).cast("string").alias("ltv_tier"),
        F.lit(None).cast("string").alias("ltv_reasons"),
        F.lit(None).cast("string").alias("ltv_model_version"),
        *(
            F.lit(None).cast(t).alias(c)
            for c, t in zip(vip, ("double", "string", "string", "double", "string"), strict=True)
        ),
        "value_score",
        *kept,
    )
    assertDataFrameEqual(got, expected)


def test_missing_uplift_champion_fails_before_anything_is_written(tmp_path, champion_store, capsys):
    store_dir, _, _ = champion_store
    extra = [
        "--set", "campaigns.types.vip_preview.uplift={tiers: {persuadable_above: 0.05, sleeping_dog_below: 0, "
        "sure_thing_min: 0.6}}",
        "--set", "scoring.uplift.vip_preview={optional: false}",
    ]  # fmt: skip
    sets = [
        "--set",
        f"catalog.root={tmp_path}/warehouse",
        "--set",
        f"models.tracking.uri=sqlite:///{store_dir}/mlflow.db",
    ]
    capsys.readouterr()
    assert main(["score", "--as-of", D1.isoformat(), *sets, *extra]) == 2
    assert capsys.readouterr().out == (
        "userscore score: error: no champion for userscore-vip_preview_uplift@champion in the MLflow registry at "
        f"sqlite:///{store_dir}/mlflow.db: train and promote it (`userscore uplift`) or mark the campaign type "
        "optional in scoring.uplift\n"
    )
    assert not (tmp_path / "warehouse").exists()


def test_uplift_champion_without_margin_or_arms_fails_naming_it(tmp_path, champion_store):
    """A private store whose coupon_winback uplift champion is a target's pipeline: first on a run without
    margin_per_conversion (fails before any model is loaded), then on a run with it (no arms to score)."""
    from mlflow.tracking import MlflowClient

    from tests.scoring.conftest import register
    from userscore.errors import InputError
    from userscore.scoring.models import load_champions

    name = f"userscore-{UPLIFT_TYPE}_uplift"
    register(champion_store[2]["churn_60d"], name, tmp_path)
    config = make_config(tmp_path, tracking_overrides(tmp_path))

    def load():
        return load_champions({}, config.models.tracking, "champion", tmp_path, config.scoring.uplift)

    with pytest.raises(InputError, match=rf"{name} v1: its training run logged no finite margin_per_conversion"):
        load()
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    first = client.get_model_version(name, "1")
    run = client.create_run(client.get_experiment_by_name("scoring-tests").experiment_id)
    client.log_metric(run.info.run_id, "margin_per_conversion", MARGIN)
    second = client.create_model_version(name, first.source, run.info.run_id)
    client.set_registered_model_alias(name, "champion", second.version)
    with pytest.raises(InputError, match=rf"{name} v2 is not a served uplift pipeline"):
        load()
