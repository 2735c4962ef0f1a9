"""`userscore uplift` end to end on hand-made silver and feature tables with a known effect.

Three campaigns of coupon_winback, one per feature snapshot; a fourth whose window is still open at the
cut-off. Each user's outcome is drawn (numpy, fixed seed) from a known rule: control users convert with
probability 0.15; contacted users with 0.15 + 0.45 when their promotion_sensitivity at the send is above
0.5 (persuadables) and 0.15 - 0.10 when it is below 0.2 (sleeping dogs). Expected figures come from that
rule and from scikit-uplift over the written rows, never from the code under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklift.metrics import qini_auc_score

from tests.conftest import REPO, TEST_SETS, make_config
from tests.scoring.conftest import feature_schema
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main
from userscore.uplift.dataset import CampaignRole, split_campaigns

SNAPSHOTS = [dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 5, 1)]
CAMPAIGNS = {  # id -> first send; each reads the snapshot at or before it
    "winback-1": dt.datetime(2026, 1, 10, 9),
    "winback-2": dt.datetime(2026, 3, 5, 9),
    "winback-3": dt.datetime(2026, 5, 2, 9),
    "winback-4": dt.datetime(2026, 6, 20, 9),  # its 30-day window ends after the cut-off
}
CUTOFF = dt.date(2026, 7, 1)
USERS = 1200  # per campaign
AMOUNTS = (20.0, 30.0, 40.0)


def _world(seed: int = 5):
    """Per snapshot a promotion_sensitivity and recency per user; per campaign arms and outcomes."""
    rng = np.random.default_rng(seed)
    users = [f"u{i:04d}" for i in range(USERS)]
    sensitivity = {d: rng.uniform(0, 1, USERS) for d in SNAPSHOTS}
    recency = {d: rng.uniform(0, 200, USERS) for d in SNAPSHOTS}
    units = []  # (campaign, user index, treated, converted, amount, order time or None)
    for c, sent in CAMPAIGNS.items():
        snapshot = max(d for d in SNAPSHOTS if d <= sent.date())
        treated = rng.uniform(0, 1, USERS) < 0.5
        s = sensitivity[snapshot]
        p = 0.15 + treated * (0.45 * (s > 0.5) - 0.10 * (s < 0.2))
        converted = rng.uniform(0, 1, USERS) < p
        late = rng.uniform(0, 1, USERS) < 0.05  # an order 40 days after the send: outside the window
        for i in range(USERS):
            day = 5 + i % 20 if converted[i] else (40 if late[i] else None)
            units.append((c, i, bool(treated[i]), bool(converted[i]), AMOUNTS[i % 3], day))
    return users, sensitivity, recency, units


def _send(campaign: str, user: str, treated: bool, sent: dt.datetime):
    arm = "treatment" if treated else "control"
    return (f"s-{campaign}-{user}", campaign, user, "retention", "lapsing", arm, "sms", 5.0, 0.5, sent,
            dt.date(sent.year, sent.month, 1), "b1")  # fmt: skip


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uplift")
    overrides = {
        "models": {"tracking": {"uri": f"sqlite:///{tmp}/mlflow.db", "artifact_root": str(tmp / "mlruns")}},
    }
    config = make_config(tmp, overrides)
    catalog = Catalog(spark, config)
    users, sensitivity, recency, units = _world()
    schema = lambda name: declared_schema(config.tables[name])  # noqa: E731
    sends = [_send(c, users[i], t, CAMPAIGNS[c]) for c, i, t, _, _, _ in units]
    catalog.append("silver.campaign_sends", spark.createDataFrame(sends, schema("silver.campaign_sends")))
    catalog.append("silver.campaign_responses", spark.createDataFrame([], schema("silver.campaign_responses")))
    orders = []
    for n, (c, i, _, _, amount, day) in enumerate(units):
        if day is not None:
            t = CAMPAIGNS[c] + dt.timedelta(days=day)
            orders.append((f"o{n}", users[i], t, dt.date(t.year, t.month, 1), amount, "home", "app", None, False,
                           0.0, False, 1, None, t, "b1"))  # fmt: skip
    catalog.append("silver.orders", spark.createDataFrame(orders, schema("silver.orders")))
    features_schema = feature_schema(config)
    rows = [
        {"user_id": u, "as_of_date": d, "promotion_sensitivity": float(sensitivity[d][i]),
         "recency_days": float(recency[d][i]), "frequency_90d": float(i % 7), "frequency_365d": float(i % 5)}
        for d in SNAPSHOTS
        for i, u in enumerate(users)
    ]  # fmt: skip
    frame = [tuple(r.get(f) for f in features_schema.fieldNames()) for r in rows]
    catalog.append("features.user_features", spark.createDataFrame(frame, features_schema))

    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp}/warehouse", *TEST_SETS]
    sets += [
        "--set",
        f"models.tracking.uri=sqlite:///{tmp}/mlflow.db",
        "--set",
        f"models.tracking.artifact_root={tmp}/mlruns",
    ]
    sets += ["--set", "campaigns.uplift.features.include=[promotion_sensitivity, recency_days, frequency_90d]"]
    small = "{max_iter: 15, step_size: 0.3, max_depth: 2, min_instances_per_node: 20}"
    sets += ["--set", f"campaigns.uplift.gbt={small}"]
    sets += ["--set", "campaigns.min_group_size=100"]
    argv = ["uplift", "--all", "--cutoff", CUTOFF.isoformat(), *sets]
    code = main(argv)
    table = catalog.read("campaigns.uplift_validation").toPandas()
    refused = main([*argv, "--set", "campaigns.uplift.gate.min_qini_gain=0.99"])
    again = catalog.read("campaigns.uplift_validation").toPandas()
    return code, refused, table, again, (users, sensitivity, units), tmp, sets


def _client(tmp):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp}/mlflow.db"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_the_held_out_campaign_is_the_latest_complete_one_and_its_table_holds_every_ranking(trained):
    code, _, table, _, (users, _, units), _, _ = trained
    assert code == 0
    assert set(table.campaign_id) == {"winback-3"} and set(table.campaign_type) == {"coupon_winback"}
    # No propensity champion in this store: the model, the baseline and random.
    assert sorted(table.ranking.unique()) == ["class_transformation", "random", "t_learner"]
    mine = table[table.ranking == "t_learner"].set_index("user_id")
    expected = {users[i]: (int(t), int(c)) for cid, i, t, c, _, _ in units if cid == "winback-3"}
    assert len(mine) == USERS
    assert {u: (int(r.treated), int(r.converted)) for u, r in mine.iterrows()} == expected


def test_the_model_recovers_the_effect_it_was_given(trained):
    _, _, table, _, (users, sensitivity, _), _, _ = trained
    mine = table[table.ranking == "t_learner"].set_index("user_id")
    s = dict(zip(users, sensitivity[dt.date(2026, 5, 1)], strict=True))  # winback-3's snapshot
    predicted = mine.score
    persuadable = np.array([s[u] > 0.5 for u in mine.index])
    dogs = np.array([s[u] < 0.2 for u in mine.index])
    # True uplift: +0.45 above 0.5, -0.10 below 0.2, 0 between.
    assert predicted[persuadable].mean() == pytest.approx(0.45, abs=0.1)
    assert predicted[dogs].mean() == pytest.approx(-0.10, abs=0.1)
    assert np.corrcoef(predicted, [0.45 * (s[u] > 0.5) - 0.1 * (s[u] < 0.2) for u in mine.index])[0, 1] > 0.8


def test_logged_metrics_are_scikit_uplifts_over_the_written_rows_and_the_gate_passed(trained):
    _, _, table, _, _, tmp, _ = trained
    client = _client(tmp)
    version = client.get_model_version("userscore-coupon_winback_uplift", "1")
    metrics = client.get_run(version.run_id).data.metrics
    qini = {}
    for ranking, rows in table[table.model_version == "1"].groupby("ranking"):
        qini[ranking] = qini_auc_score(rows.converted, rows.score, rows.treated)
        assert metrics[f"{ranking}_qini_coefficient"] == pytest.approx(qini[ranking], abs=1e-9)
    # Ranked by the true effect, the same users give the best Qini a ranking can hope for here.
    _, _, _, _, (users, sensitivity, units), _, _ = trained
    s = dict(zip(users, sensitivity[dt.date(2026, 5, 1)], strict=True))
    rows = table[(table.model_version == "1") & (table.ranking == "random")]
    truth = [0.45 * (s[u] > 0.5) - 0.1 * (s[u] < 0.2) for u in rows.user_id]
    best = qini_auc_score(rows.converted, truth, rows.treated)
    assert qini["t_learner"] > 0.8 * best and qini["random"] < 0.3 * best
    assert version.tags["gate_verdict"] == "passed"
    # margin_rate 0.35 x the mean amount of the converted contacted users of winback-1 and -2.
    amounts = [a for c, _, t, conv, a, _ in units if c in ("winback-1", "winback-2") and t and conv]
    assert metrics["margin_per_conversion"] == pytest.approx(0.35 * np.mean(amounts), abs=1e-9)


def test_the_run_reports_the_share_of_units_inside_the_eligibility_rule(trained):
    _, _, _, _, (_, _, units), tmp, _ = trained
    _, _, recency, _ = _world()
    metrics = _client(tmp).get_run(_client(tmp).get_model_version("userscore-coupon_winback_uplift", "1").run_id)

    # conf/base: frequency_365d > 0 AND recency_days BETWEEN 30 AND 365, at each campaign's snapshot.
    def eligible(campaign: str, i: int) -> bool:
        snapshot = max(d for d in SNAPSHOTS if d <= CAMPAIGNS[campaign].date())
        return i % 5 != 0 and 30 <= recency[snapshot][i] <= 365

    train = [eligible(c, i) for c, i, *_ in units if c in ("winback-1", "winback-2")]
    held_out = [eligible(c, i) for c, i, *_ in units if c == "winback-3"]
    assert metrics.data.metrics["eligible_share_train"] == pytest.approx(np.mean(train), abs=1e-12)
    assert metrics.data.metrics["eligible_share_validation"] == pytest.approx(np.mean(held_out), abs=1e-12)


def test_a_model_the_gate_refuses_is_registered_but_not_champion(trained):
    _, refused, _, again, _, tmp, _ = trained
    assert refused == 0  # a refusal is a decision, not a failure
    client = _client(tmp)
    second = client.get_model_version("userscore-coupon_winback_uplift", "2")
    assert second.tags["gate_verdict"] == "failed"
    assert str(client.get_model_version_by_alias("userscore-coupon_winback_uplift", "champion").version) == "1"
    # The same data trains the same model: the table is replaced by the same rows (version aside).
    columns = ["ranking", "user_id", "treated", "converted", "score"]
    first, second_rows = (
        t.sort_values(["ranking", "user_id"])[columns].reset_index(drop=True) for t in (trained[2], again)
    )
    assert first.equals(second_rows)


def _role(cid: str, day: int, treated=500, control=500, complete=True, snapshot=True) -> CampaignRole:
    date = dt.date(2026, 1, day)
    return CampaignRole(cid, date, date if snapshot else None, treated, control, complete)


def test_split_holds_out_the_latest_readable_campaign_and_trains_on_the_earlier_ones():
    roles = [
        _role("a", 1), _role("b", 5), _role("small", 8, control=20), _role("c", 10), _role("blast", 12, control=0),
        _role("open", 14, complete=False), _role("early", 2, snapshot=False),
    ]  # fmt: skip
    train, validation, skipped = split_campaigns(sorted(roles, key=lambda r: r.campaign_date), 100, 1, "t")
    assert validation.campaign_id == "c"
    assert [c.campaign_id for c in train] == ["a", "b", "small"]  # small arms still train
    assert sorted(skipped) == sorted([
        "open: its attribution window has not ended",
        "early: no feature snapshot at or before 2026-01-02",
        "blast: sent on or after the validation campaign's date",
    ])  # fmt: skip


def test_split_refuses_without_a_campaign_to_hold_out_or_to_train_on():
    from userscore.errors import InputError

    with pytest.raises(InputError, match="nothing to validate an uplift model on"):
        split_campaigns([_role("a", 1, control=50)], 100, 1, "t")
    with pytest.raises(
        InputError,
        match=r"t: 1 campaigns before the validation campaign c \(2026-01-10\) with both arms; .*min_train_campaigns is 2",
    ):
        split_campaigns([_role("a", 1), _role("c", 10)], 100, 2, "t")


def test_a_type_with_nothing_to_learn_fails_when_named_and_is_skipped_with_all(trained, capsys):
    # At 2026-02-15 only winback-1's window has ended: nothing before it to train on.
    early = ["--cutoff", "2026-02-15", *trained[-1]]
    assert main(["uplift", "--type", "coupon_winback", *early]) == 2
    why = "coupon_winback: 0 campaigns before the validation campaign winback-1 (2026-01-10) with both arms"
    assert f"userscore uplift: error: {why}" in capsys.readouterr().out
    assert main(["uplift", "--all", *early]) == 0
    assert f"coupon_winback: not trained: {why}" in capsys.readouterr().out
