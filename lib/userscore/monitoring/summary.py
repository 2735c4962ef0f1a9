"""The monitor run as console lines: the ladder at D, top drift, realised AUCs, notes and alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from userscore.monitoring.outcome import MonitorOutcome


def alert_lines(alerts: Sequence[Mapping]) -> list[str]:
    """One log line per alert."""
    return [f"ALERT [{a['severity']}] {a['rule']}: {a['message']}" for a in alerts]


def summary_lines(outcome: MonitorOutcome) -> list[str]:
    """What the job prints: the ladder at D, top drift, realised AUCs, alerts and the report's path."""
    lines = [f"snapshot {outcome.as_of} (previous {outcome.previous or '-'})"]
    lines.append(
        "champions: "
        + (", ".join(f"{i.model_name} v{i.version} (reference {i.validation_date})" for i in outcome.models.values())
           or "none")
    )  # fmt: skip
    lines.append(f"{'score':<26} {'mean':>8} {'p50':>8} {'Δprev':>8} {'Δref':>8}  bands (share)")
    by_score: dict[str, dict[str, dict]] = {}
    for r in outcome.ladder:
        by_score.setdefault(r["score"], {})[f"{r['kind']}:{r['key']}"] = r
    for score, cells in by_score.items():
        mean, p50 = cells.get("stat:mean", {}), cells.get("stat:p50", {})
        bands = ", ".join(
            f"{k[5:]} {c['value']:.2f}" for k, c in cells.items() if k.startswith("band:") and c["value"] is not None
        )
        lines.append(
            f"{score:<26} {_n(mean.get('value')):>8} {_n(p50.get('value')):>8} {_n(mean.get('change_vs_previous')):>8} "
            f"{_n(mean.get('change_vs_reference')):>8}  {bands}"
        )
    top = sorted((r for r in outcome.drift if r["kind"] == "feature"), key=lambda r: -r["psi"])[:5]
    if top:
        shown = [f"{r['name']} {r['psi']:.3f} ({r['baseline']} {r['target']})".replace(" )", ")") for r in top]
        lines.append("top drifting features: " + ", ".join(shown))
    for r in outcome.accuracy:
        if r["level"] == "overall":
            lines.append(
                f"realised {r['target']} @ {r['snapshot_date']} v{r['model_version']}: AUC {_n(r['auc'])} "
                f"(training {_n(r['training_auc'])}), {r['rows']:,} users, observed {_n(r['observed_rate'])} "
                f"vs predicted {_n(r['mean_predicted'])}"
            )
    lines += outcome.notes
    lines += alert_lines(outcome.alerts) or ["no alerts"]
    if outcome.report_path:
        lines.append(f"report: {outcome.report_path}")
    if outcome.mlflow_run_id:
        lines.append(f"MLflow run: {outcome.mlflow_run_id}")
    return lines


def _n(value) -> str:
    return "-" if value is None else f"{value:.4f}"
