"""MLflow for BTYD: one run per fit (parameters, log-likelihoods, diagnostics), the pyfunc registered as
``btyd.model_name`` and the champion alias moved when the gate passes; loading the champion back.

The store and experiment are the GBT models' (userscore.models.tracking); versions, verdicts and the champion
alias go through userscore.models.registry and userscore.models.lifecycle (so ``userscore models promote /
rollback --target btyd`` work on these versions); only what is BTYD-specific lives here.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from userscore.btyd.model import BTYDFit, BTYDModel, ScoreSettings, gate
from userscore.btyd.spend_check import SpendCheck
from userscore.btyd.summary import M_X, T_CAL_DAYS, T_X_DAYS, X
from userscore.config.btyd import BTYDConfig
from userscore.errors import InputError
from userscore.models import lifecycle, registry
from userscore.models.promotion import Decision
from userscore.models.tracking import MODEL_ARTIFACT, Store, config_hash, connect, flat_params, git_commit, reader

# A few typical customers as the logged input example (no real user's data leaves the cluster).
_EXAMPLE = {X: [0, 1, 4], T_X_DAYS: [0, 30, 200], T_CAL_DAYS: [10, 90, 250], M_X: [None, 42.5, 80.0]}


@dataclass(frozen=True)
class Registered:
    """Where a fit was logged and what the gate decided."""

    model_name: str
    run_id: str
    version: str
    decision: Decision
    previous_champion: str | None


def log_and_register(
    fit: BTYDFit,
    spend: SpendCheck,
    btyd: BTYDConfig,
    store: Store,
    alias: str,
    root: Path,
    extra_tags: dict[str, str] | None = None,
) -> Registered:
    """Log ``fit`` as one MLflow run, register its pyfunc as ``btyd.model_name`` and apply the gate.

    Args:
        spend: the gate's spend backtest (userscore.btyd.workflow.spend_backtest), logged with the fit.
        alias: the champion alias (models.promotion.alias), moved to the new version when the gate passes.
        root: the project root (for the git commit tag).
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from userscore.btyd.pyfunc import BTYDPyfunc

    client, experiment_id = connect(store)
    name = btyd.model_name
    previous = registry.champion(client, name, alias)
    decision = gate(fit.diagnostics, spend, btyd.gate)
    metrics = fit.metrics() | spend.metrics()
    settings = ScoreSettings.of(btyd.scoring)
    pyfunc = BTYDPyfunc(fit.model, settings)
    # The summary table's types: whole days and counts are never missing there (m_x is, when x = 0).
    example = pd.DataFrame(_EXAMPLE).astype({X: "int64", T_X_DAYS: "int64", T_CAL_DAYS: "int64", M_X: "float64"})
    signature = infer_signature(example, pyfunc.predict(None, example))
    as_of = fit.model.observation_end.isoformat()
    tags = {
        "model_family": "btyd",
        "as_of_date": as_of,
        "time_unit": fit.model.time_unit,
        "config_hash": config_hash(btyd),
        "git_commit": git_commit(root),
        "registered_model": name,
        **(extra_tags or {}),
    }
    report = {
        "model": fit.model.to_dict(),
        "metrics": metrics,
        "spend_backtest": {"split_date": spend.split_date.isoformat(), "failure": spend.failure},
        "bgnbd": {"converged": fit.bgnbd.converged, "message": fit.bgnbd.message},
        "gamma_gamma": {
            "converged": fit.gamma_gamma.converged,
            "message": fit.gamma_gamma.message,
            "excluded_no_repeat": fit.gamma_gamma.n_excluded_no_repeat,
        },
        "decision": {"promote": decision.promote, "reasons": list(decision.reasons)},
    }
    with tempfile.TemporaryDirectory(prefix="userscore-btyd-") as tmp:
        (Path(tmp) / "btyd_fit.json").write_text(json.dumps(report, indent=2, default=str))
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"btyd {as_of}", tags=tags) as run:
            mlflow.log_params(flat_params(btyd, "btyd."))
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(tmp, artifact_path="diagnostics")
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=pyfunc,
                registered_model_name=name,
                signature=signature,
                input_example=example,
                pip_requirements=_requirements(),
            )
    version = str(info.registered_model_version)
    registry.record_verdict(client, name, version, decision)
    if decision.promote:
        lifecycle.promote(client, name, version, alias)
    return Registered(name, run.info.run_id, version, decision, str(previous.version) if previous else None)


def _requirements() -> list[str]:
    import mlflow
    import numpy
    import pandas
    import scipy

    return [
        f"mlflow=={mlflow.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
        f"scipy=={scipy.__version__}",
    ]


def load_model(store: Store, name: str, alias: str) -> tuple[BTYDModel, ScoreSettings, str]:
    """The model holding ``alias`` (e.g. champion): parameters, the score settings it was registered with,
    and its version. InputError when there is none."""
    import mlflow

    client = reader(store)
    record = registry.champion(client, name, alias) if client is not None else None
    if record is None:
        raise InputError(f"no version of {name} holds alias {alias!r} in {store.uri}: run `userscore btyd` first")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{record.version}")
    wrapped = loaded.unwrap_python_model()
    return wrapped.btyd_model, wrapped.settings, record.version
