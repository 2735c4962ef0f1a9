"""Alert rules over the monitor's metric rows (bounded tables on the driver): a rule fires once per
subject whose metric is above the rule's threshold.

- score_psi / feature_psi: monitor.drift rows of kind score / feature against the rule's baseline;
- auc_drop: monitor.accuracy overall rows of the newest matured snapshot of each target (older snapshots
  were judged by earlier runs);
- band_share_change / mean_change: |change| of a tier/grade share / of a score's mean in monitor.score_ladder
  against the rule's baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from userscore.config.monitoring import AlertRule

_SEVERITY = {"critical": 0, "warning": 1}


def evaluate_rules(
    as_of: dt.date,
    rules: Mapping[str, AlertRule],
    ladder: Sequence[Mapping],
    drift: Sequence[Mapping],
    accuracy: Sequence[Mapping],
) -> list[dict]:
    """Rows of monitor.alerts for ``as_of``, most severe first."""
    alerts: list[dict] = []
    for name, rule in rules.items():
        for subject, baseline, value, detail in _candidates(rule, ladder, drift, accuracy):
            if value is None or not value > rule.above:
                continue
            alerts.append(
                {
                    "as_of_date": as_of,
                    "rule": name,
                    "severity": rule.severity,
                    "metric": rule.metric,
                    "subject": subject,
                    "baseline": baseline,
                    "value": float(value),
                    "threshold": rule.above,
                    "message": f"{rule.metric} of {subject} vs {detail} is {value:.3f} > {rule.above:g}"
                    + (f": {rule.description}" if rule.description else ""),
                }
            )
    return sorted(alerts, key=lambda a: (_SEVERITY.get(a["severity"], 9), a["rule"], -a["value"], a["subject"]))


def _candidates(rule: AlertRule, ladder, drift, accuracy):
    """(subject, baseline label, metric value, what it was compared with) for every row the rule reads."""
    if rule.metric in ("score_psi", "feature_psi"):
        kind = "score" if rule.metric == "score_psi" else "feature"
        for r in drift:
            if r["kind"] != kind or r["baseline"] != rule.baseline:
                continue
            subject = r["name"] + (f" [{r['target']}]" if r.get("target") and kind == "feature" else "")
            what = (
                f"previous snapshot {r.get('baseline_date')}"
                if rule.baseline == "previous"
                else f"reference {r.get('target')} v{r.get('model_version')} ({r.get('baseline_date')})"
            )
            yield subject, rule.baseline, r["psi"], what
    elif rule.metric == "auc_drop":
        overall = [r for r in accuracy if r["level"] == "overall"]
        newest: dict[str, dt.date] = {}
        for r in overall:
            newest[r["target"]] = max(newest.get(r["target"], r["snapshot_date"]), r["snapshot_date"])
        for r in overall:
            if r["snapshot_date"] != newest[r["target"]]:
                continue
            what = f"training AUC {r.get('training_auc')} of v{r['model_version']} (snapshot {r['snapshot_date']})"
            yield r["target"], "training", r.get("auc_drop"), what
    else:
        kind, keys = ("band", None) if rule.metric == "band_share_change" else ("stat", {"mean"})
        column = f"change_vs_{rule.baseline}"
        for r in ladder:
            if r["kind"] != kind or (keys and r["key"] not in keys):
                continue
            change = r.get(column)
            subject = f"{r['score']}={r['key']}" if kind == "band" else f"{r['score']} mean"
            yield subject, rule.baseline, None if change is None else abs(change), rule.baseline
