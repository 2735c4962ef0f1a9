"""The monitor's MLflow run: headline metrics and the HTML report as an artifact."""

from __future__ import annotations

import dataclasses

from userscore.config import Config
from userscore.monitoring.outcome import MonitorOutcome


def log_run(config: Config, outcome: MonitorOutcome) -> str | None:
    """One MLflow run per monitor run: headline metrics and the report as an artifact."""
    import mlflow

    from userscore.models.tracking import connect, store_of

    store = dataclasses.replace(store_of(config), experiment=config.monitor.report.mlflow_experiment)
    _, experiment_id = connect(store)
    metrics = {"alerts": float(len(outcome.alerts))}
    for r in outcome.drift:
        key = f"psi_{r['kind']}_{r['baseline']}_max"
        metrics[key] = max(metrics.get(key, 0.0), r["psi"])
    for r in outcome.accuracy:
        if r["level"] == "overall" and r["auc"] is not None:
            metrics[f"auc_{r['target']}"] = r["auc"]
    tags = {"as_of_date": outcome.as_of.isoformat(), "previous_snapshot": str(outcome.previous or "")}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"monitor {outcome.as_of}", tags=tags) as run:
        mlflow.log_metrics(metrics)
        if outcome.report_path is not None:
            mlflow.log_artifact(str(outcome.report_path), artifact_path="report")
    return run.info.run_id
