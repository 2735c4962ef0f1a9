"""``spark-submit --py-files dist/userscore-<v>.zip jobs/<job>.py --env cluster`` on a standalone cluster
scores exactly like local mode.

The cluster run (tests/cluster/conftest.py ``clean_run``) is every stage of the deployed pipeline, ingest to
campaigns, each stage one spark-submit. Here the same stages, with the same arguments, raw data and seeds, run
in local mode in the test session; every table they write must match row for row.
"""

from __future__ import annotations

import re
import time

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.analysis.browser import find_browser, render
from tests.base_config import base_config
from tests.cluster.conftest import (
    PARITY_LAUNCH,
    PARITY_SQL,
    PIPELINE,
    SCORE_DATE,
    PipelineRun,
    run_in_session,
)
from userscore.session import runtime_settings

pytestmark = pytest.mark.cluster


# Tables compared in pipeline order, so a difference shows where it starts. Quarantine and audit rows
# carry run ids and wall-clock times, and are left out.
INTERMEDIATE = (
    "silver.users", "silver.orders", "silver.events", "silver.level_changes", "silver.identity_links",
    "identity.person_map", "social.user_social", "features.user_features", "features.rfm_boundaries", "features.btyd_summary",
)  # fmt: skip
# The rest of the identity and social outputs: compared, but a 600-user base need not drop a link, have a
# community of 3+ or a KOL.
GRAPH = (
    "identity.dropped_links", "identity.person_changes", "social.communities", "social.community_members", "social.kols",
)  # fmt: skip
SCORES = "scores.user_scores"
# The monitor's outputs at the scored date. Accuracy and alerts may hold no rows (no scored snapshot has
# matured by then; nothing need fire), so these are compared but not required to be non-empty.
MONITOR = ("monitor.reference", "monitor.score_ladder", "monitor.drift", "monitor.accuracy", "monitor.alerts")
# Every analysis table (conf/base/tables_analysis_*.yaml), written for the scored date by the analyze stage.
ANALYSIS = tuple(sorted(name for name in base_config().tables if name.startswith("analysis.")))
# Doubles are compared to 1e-12 relative, not bit for bit: Spark sums partial aggregates (feature sums,
# GBT split statistics) in the order shuffle blocks arrive, which is not fixed, and floating-point
# addition is not associative; the difference is a few units in the last place, far below any decision.
RTOL, ATOL = 1e-12, 1e-12


def test_spark_submit_on_the_cluster_gives_the_scores_of_local_mode(spark, clean_run, raw_dir, tmp_path_factory):
    local = PipelineRun(tmp_path_factory.mktemp("local-run"), raw_dir)
    # The test session is local[2] with 2 default partitions, as the cluster jobs are launched with.
    assert spark.sparkContext.defaultParallelism == int(PARITY_LAUNCH["spark.default.parallelism"])
    with runtime_settings(spark, PARITY_SQL):
        for job, argv in PIPELINE:
            started = time.perf_counter()
            run_in_session(spark, job, [*argv, *local.sets()])
            local.seconds[job] = time.perf_counter() - started
    print(f"cluster (spark-submit) seconds: {clean_run.seconds}; local mode seconds: {local.seconds}")

    for name in INTERMEDIATE:
        cluster_rows, local_rows = clean_run.table(spark, name), local.table(spark, name)
        assert cluster_rows.count() > 0, f"{name} is empty after the cluster run"
        assertDataFrameEqual(cluster_rows, local_rows, rtol=RTOL, atol=ATOL)
    for name in GRAPH:
        assertDataFrameEqual(clean_run.table(spark, name), local.table(spark, name), rtol=RTOL, atol=ATOL)

    cluster_scores, local_scores = clean_run.table(spark, SCORES), local.table(spark, SCORES)
    # Every user of the scored snapshot has one row, scored by version 1 of the repurchase champion.
    snapshot_users = local.table(spark, "features.user_features").where(F.col("as_of_date") == SCORE_DATE)
    assert cluster_scores.count() == snapshot_users.count() > 400
    versions = cluster_scores.groupBy("repurchase_model_version").count().collect()
    assert [tuple(r) for r in versions] == [("1", snapshot_users.count())]
    assert cluster_scores.where(F.col("repurchase_probability").isNull()).count() == 0
    # All columns, scored_at included: both runs score with the same --scored-at.
    assertDataFrameEqual(cluster_scores, local_scores, rtol=RTOL, atol=ATOL)

    # The monitor ran on the scored date: the score ladder covers the repurchase probability, and every
    # monitoring table equals local mode's.
    ladder = clean_run.table(spark, "monitor.score_ladder").where(F.col("score") == "repurchase_probability")
    assert {r["as_of_date"].isoformat() for r in ladder.select("as_of_date").distinct().collect()} == {SCORE_DATE}
    for name in MONITOR:
        assertDataFrameEqual(clean_run.table(spark, name), local.table(spark, name), rtol=RTOL, atol=ATOL)

    # The analyses ran on the scored date: every analysis table has rows of that date only, equal to local
    # mode's, and the report renders completely (in Chromium, where one is installed).
    assert ANALYSIS
    for name in ANALYSIS:
        dates = {r[0].isoformat() for r in clean_run.table(spark, name).select("as_of_date").distinct().collect()}
        assert dates <= {SCORE_DATE}, name
        assertDataFrameEqual(clean_run.table(spark, name), local.table(spark, name), rtol=RTOL, atol=ATOL)
    report = clean_run.root / "reports" / f"analysis-{SCORE_DATE}.html"
    assert report.is_file() and (local.root / "reports" / report.name).is_file()
    browser = find_browser()
    if browser is not None:
        seen = render(browser, report, clean_run.root)
        assert (seen.errors, seen.undecoded()) == ([], [])
        assert [s["id"] for s in seen.sections] == ["funnels", "paths", "consumption", "interests"]

    # The campaigns of the generated data measured at the scored date: the same rows in both modes.
    assert clean_run.table(spark, "campaigns.lift").where(F.col("breakdown") == "all").count() > 0
    for name in ("campaigns.lift", "campaigns.ranking"):
        assertDataFrameEqual(clean_run.table(spark, name), local.table(spark, name), rtol=RTOL, atol=ATOL)

    # The uplift stage trained on winback-2 and judged the model on winback-3 in both modes: the same held-out
    # users with the same score per ranking (the model, the baseline, random and the repurchase champion;
    # churn has none here), and the same version 1 with the same gate verdict. Whether ~60 users per arm
    # earn a promotion is the data's business; both modes must decide alike.
    validation = clean_run.table(spark, "campaigns.uplift_validation")
    rankings = validation.groupBy("campaign_id", "ranking").count().collect()
    assert {(r["campaign_id"], r["ranking"]) for r in rankings} == {
        ("winback-3", r) for r in ("t_learner", "class_transformation", "random", "propensity_repurchase_30d")
    }
    assert len({r["count"] for r in rankings}) == 1 and rankings[0]["count"] >= 100
    assertDataFrameEqual(validation, local.table(spark, "campaigns.uplift_validation"), rtol=RTOL, atol=ATOL)
    verdicts = [_uplift_version(run) for run in (clean_run, local)]
    assert verdicts[0][0] == "1" and verdicts[0][1] in ("passed", "failed")
    assert verdicts[0][:2] == verdicts[1][:2]
    assert verdicts[0][2] == pytest.approx(verdicts[1][2], rel=RTOL, abs=ATOL)

    # No user's id in any stage's log or any MLflow artifact of the run (docs/privacy.md).
    users = {r[0] for r in clean_run.table(spark, "features.user_features").select("user_id").distinct().collect()}
    files = [*(clean_run.root / f"{job}.log" for job, _ in PIPELINE), *(clean_run.root / "mlruns").rglob("*")]
    texts = {str(f.relative_to(clean_run.root)): f.read_bytes().decode("latin-1") for f in files if f.is_file()}
    assert {"train.log", "score.log"} <= set(texts) and any(n.endswith("/MLmodel") for n in texts)
    assert len(users) > 400
    assert {name: ids for name, text in texts.items() if (ids := set(re.findall(r"u-\d{6}", text)) & users)} == {}


def _uplift_version(run: PipelineRun) -> tuple[str, str, float]:
    """(version, gate verdict, held-out Qini) of the run's newest coupon_winback uplift model."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{run.root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (version,) = client.search_model_versions("name = 'userscore-coupon_winback_uplift'")
    qini = client.get_run(version.run_id).data.metrics["qini_coefficient"]
    return str(version.version), version.tags["gate_verdict"], qini  # search results carry an int version
