"""Alert rules on small hand-made metric tables."""

from __future__ import annotations

import datetime as dt

from userscore.config.monitoring import AlertRule
from userscore.monitoring.alerts import evaluate_rules

D = dt.date(2026, 3, 1)
RULES = {
    "score_drift": AlertRule(metric="score_psi", baseline="reference", above=0.2, severity="critical"),
    "feature_drift_prev": AlertRule(metric="feature_psi", baseline="previous", above=0.2, severity="warning"),
    "auc_drop": AlertRule(metric="auc_drop", baseline="reference", above=0.05, severity="critical"),
    "tier_shift": AlertRule(metric="band_share_change", baseline="previous", above=0.10, severity="warning"),
    "mean_shift": AlertRule(metric="mean_change", baseline="reference", above=0.05, severity="warning"),
}


def _drift(kind, name, baseline, target, psi):
    return {"kind": kind, "name": name, "baseline": baseline, "target": target, "psi": psi,
            "baseline_date": dt.date(2026, 2, 1), "model_version": "3"}  # fmt: skip


DRIFT = [
    _drift("score", "churn_probability", "reference", "churn_60d", 0.31),  # fires
    _drift("score", "churn_probability", "previous", "", 0.50),  # previous: no score rule for it
    _drift("score", "repurchase_probability", "reference", "repurchase_30d", 0.20),  # not above 0.2
    _drift("feature", "orders_30d", "previous", "", 0.45),  # fires
    _drift("feature", "recency_days", "previous", "", 0.05),
    _drift("feature", "orders_30d", "reference", "churn_60d", 0.90),  # reference: no feature rule for it
]
ACCURACY = [
    # churn: newest matured snapshot 02-01 dropped 0.08 -> fires; the older one (0.20) is not judged again
    {"target": "churn_60d", "snapshot_date": dt.date(2026, 1, 1), "level": "overall", "auc_drop": 0.20,
     "model_version": "3", "auc": 0.6, "training_auc": 0.8},
    {"target": "churn_60d", "snapshot_date": dt.date(2026, 2, 1), "level": "overall", "auc_drop": 0.08,
     "model_version": "3", "auc": 0.72, "training_auc": 0.8},
    {"target": "churn_60d", "snapshot_date": dt.date(2026, 2, 1), "level": "decile", "auc_drop": None,
     "model_version": "3", "auc": None, "training_auc": None},
    {"target": "repurchase_30d", "snapshot_date": dt.date(2026, 2, 1), "level": "overall", "auc_drop": 0.05,
     "model_version": "1", "auc": 0.75, "training_auc": 0.8},  # exactly at the threshold: silent
]  # fmt: skip
LADDER = [
    {"score": "churn_probability", "kind": "band", "key": "high", "change_vs_previous": -0.12,
     "change_vs_reference": 0.0},  # |-0.12| > 0.10 fires
    {"score": "churn_probability", "kind": "band", "key": "low", "change_vs_previous": 0.09,
     "change_vs_reference": 0.3},
    {"score": "grade", "kind": "band", "key": "A", "change_vs_previous": None, "change_vs_reference": None},
    {"score": "value_score", "kind": "stat", "key": "mean", "change_vs_previous": 9.0, "change_vs_reference": 0.06},
    {"score": "value_score", "kind": "stat", "key": "p50", "change_vs_previous": 9.0, "change_vs_reference": 9.0},
]  # fmt: skip


def test_rules_fire_exactly_on_the_rows_above_their_threshold():
    alerts = evaluate_rules(D, RULES, LADDER, DRIFT, ACCURACY)
    got = [(a["rule"], a["severity"], a["subject"], a["baseline"], round(a["value"], 6)) for a in alerts]
    assert got == [
        ("auc_drop", "critical", "churn_60d", "training", 0.08),
        ("score_drift", "critical", "churn_probability", "reference", 0.31),
        ("feature_drift_prev", "warning", "orders_30d", "previous", 0.45),
        ("mean_shift", "warning", "value_score mean", "reference", 0.06),
        ("tier_shift", "warning", "churn_probability=high", "previous", 0.12),
    ]
    assert all(a["as_of_date"] == D for a in alerts)
    assert alerts[1]["threshold"] == 0.2
    assert "churn_probability" in alerts[1]["message"] and "0.310 > 0.2" in alerts[1]["message"]


def test_quiet_metrics_raise_no_alert():
    quiet_drift = [_drift("score", "churn_probability", "reference", "churn_60d", 0.05)]
    quiet_ladder = [{"score": "churn_probability", "kind": "band", "key": "high", "change_vs_previous": 0.02,
                     "change_vs_reference": 0.01}]  # fmt: skip
    assert evaluate_rules(D, RULES, quiet_ladder, quiet_drift, []) == []
