"""The model registry as userscore sees it: a typed record per registered version (what its training run
logged and the gate's verdict on it), written and read only here, and the alias moves (promote, rollback).

Storage: the run's tags, params and metrics (visible in the MLflow UI) and the version's tags. The keys
below are the whole contract between training, validation, promotion, the ``models`` command and the
monitor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from userscore.errors import InputError
from userscore.models.promotion import Decision

# Run tags and params of a training run.
_TARGET = "target"
_TRAIN = "train_snapshots"
_CALIBRATION = "calibration_snapshots"
_VALIDATION = "validation_snapshot"
_CUTOFF = "cutoff"
_CONFIG_HASH = "config_hash"
_GIT = "git_commit"
_REGISTERED = "registered_model"
_CHAMPION_VERSION = "champion_version"
_CHAMPION_NOTE = "champion_note"
_NUMERIC = "features.numeric"
_CATEGORICAL = "features.categorical"
_CHAMPION_AUC = "champion_auc"  # a metric
_BASELINE_BEST = "baseline_best"  # the best baseline's name; its AUC is the metric baseline_best_auc
# Version tags.
_VERDICT = "gate_verdict"
_REASONS = "gate_reasons"
_PROMOTED_FROM = "promoted_from"
_ROLLED_BACK = "rolled_back"
_PASSED, _FAILED = "passed", "failed"


def baseline_metric(name: str) -> str:
    """The metric holding baseline ``name``'s validation AUC (``best``: the best baseline's)."""
    return f"baseline_{name}_auc"


BASELINE_BEST_AUC = baseline_metric("best")


@dataclass(frozen=True)
class RunRecord:
    """One registered version of ``model_name``: its training run's evaluation and the gate's verdict.

    champion_version / champion_auc / champion_note: the champion when the run was trained, its AUC on the
    run's validation rows and how that AUC was obtained (None / "" when there was no champion).
    baseline_best: the name of the best naive baseline on the run's validation rows (its AUC is the
    metric ``baseline_best_auc``); "" when none was evaluated.
    verdict: the gate's decision recorded by validation, None before the version is validated.
    promoted_from: the version that held the champion alias when this one was promoted (rollback target).
    registered_at: when the version was registered (UTC, naive), None when the registry does not say.
    """

    target: str
    model_name: str
    version: str
    run_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    validation_date: dt.date | None = None
    train_snapshots: tuple[dt.date, ...] = ()
    calibration_snapshots: tuple[dt.date, ...] = ()
    cutoff: dt.datetime | None = None
    numeric_features: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    champion_version: str | None = None
    champion_auc: float | None = None
    champion_note: str = ""
    baseline_best: str = ""
    config_hash: str = ""
    git_commit: str = ""
    verdict: Decision | None = None
    aliases: tuple[str, ...] = ()
    promoted_from: str | None = None
    registered_at: dt.datetime | None = None

    @property
    def training_auc(self) -> float | None:
        """The validation AUC logged at training (what realised accuracy is compared with)."""
        return self.metrics.get("auc")

    @property
    def best_baseline(self) -> tuple[str, float] | None:
        """(name, AUC) of the best baseline evaluated at training, None when none was (or the run predates
        baselines)."""
        auc = self.metrics.get(BASELINE_BEST_AUC)
        return None if auc is None else (self.baseline_best or "unnamed", auc)

    def run_fields(self) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
        """The tags, params and metrics that store this record on its training run."""
        tags = {
            _TARGET: self.target,
            _TRAIN: _dates(self.train_snapshots),
            _CALIBRATION: _dates(self.calibration_snapshots),
            _VALIDATION: self.validation_date.isoformat() if self.validation_date else "",
            _CUTOFF: self.cutoff.isoformat(sep=" ") if self.cutoff else "",
            _CONFIG_HASH: self.config_hash,
            _GIT: self.git_commit,
            _REGISTERED: self.model_name,
            _CHAMPION_VERSION: self.champion_version or "",
            _CHAMPION_NOTE: self.champion_note,
            _BASELINE_BEST: self.baseline_best,
        }
        params = {
            _NUMERIC: json.dumps(list(self.numeric_features)),
            _CATEGORICAL: json.dumps(list(self.categorical_features)),
        }
        metrics = dict(self.metrics)
        if self.champion_auc is not None:
            metrics[_CHAMPION_AUC] = self.champion_auc
        return tags, params, metrics


def read_version(client, model_name: str, version: str, target: str = "") -> RunRecord | None:
    """The record of ``model_name`` version ``version``, None when it is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(model_name, str(version))
        run = client.get_run(mv.run_id) if mv.run_id else None
    except MlflowException:
        return None
    tags = run.data.tags if run else {}
    params = run.data.params if run else {}
    metrics = dict(run.data.metrics) if run else {}
    vtags = mv.tags or {}
    verdict = vtags.get(_VERDICT)
    champion_auc = metrics.pop(_CHAMPION_AUC, None)
    return RunRecord(
        target=tags.get(_TARGET) or target,
        model_name=model_name,
        version=str(mv.version),
        run_id=mv.run_id or "",
        metrics=metrics,
        validation_date=_date(tags.get(_VALIDATION)),
        train_snapshots=_date_list(tags.get(_TRAIN)),
        calibration_snapshots=_date_list(tags.get(_CALIBRATION)),
        cutoff=dt.datetime.fromisoformat(tags[_CUTOFF]) if tags.get(_CUTOFF) else None,
        numeric_features=_json_list(params.get(_NUMERIC)),
        categorical_features=_json_list(params.get(_CATEGORICAL)),
        champion_version=tags.get(_CHAMPION_VERSION) or None,
        champion_auc=champion_auc,
        champion_note=tags.get(_CHAMPION_NOTE, ""),
        baseline_best=tags.get(_BASELINE_BEST, ""),
        config_hash=tags.get(_CONFIG_HASH, ""),
        git_commit=tags.get(_GIT, ""),
        verdict=None if verdict is None else Decision(verdict == _PASSED, _json_list(vtags.get(_REASONS))),
        aliases=tuple(sorted(getattr(mv, "aliases", None) or ())),
        promoted_from=vtags.get(_PROMOTED_FROM) or None,
        registered_at=_millis(mv.creation_timestamp),
    )


def require_version(client, model_name: str, version: str | None) -> RunRecord:
    """The record of ``version`` (default: the newest version); InputError naming what exists otherwise."""
    versions = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{model_name}'"))
    if not versions:
        raise InputError(f"no registered versions of {model_name}: train it first (`userscore train --target ...`)")
    chosen = str(versions[-1]) if version is None else str(version)
    record = read_version(client, model_name, chosen) if int(chosen) in versions else None
    if record is None:
        raise InputError(f"{model_name} has no version {chosen}: registered versions are {versions}")
    return record


def champion(client, model_name: str, alias: str, target: str = "") -> RunRecord | None:
    """The record of the version holding ``alias``, or None (no such model or alias)."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    return read_version(client, model_name, str(mv.version), target)


def record_verdict(client, model_name: str, version: str, verdict: Decision) -> None:
    """Store the gate's verdict on the version (a later validation replaces it)."""
    client.set_model_version_tag(model_name, version, _VERDICT, _PASSED if verdict.promote else _FAILED)
    client.set_model_version_tag(model_name, version, _REASONS, json.dumps(list(verdict.reasons)))


def move_alias(client, model_name: str, alias: str, version: str, previous: str | None) -> None:
    """Point ``alias`` at ``version``, remembering the version it leaves (what rollback returns to)."""
    client.set_model_version_tag(model_name, version, _PROMOTED_FROM, previous or "")
    client.set_registered_model_alias(model_name, alias, version)


def move_alias_back(client, model_name: str, alias: str, current: RunRecord, previous: str) -> None:
    """Point ``alias`` back at ``previous`` and record the rollback on the version it leaves."""
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    client.set_registered_model_alias(model_name, alias, previous)
    client.set_model_version_tag(
        model_name, current.version, _ROLLED_BACK, f"{alias} moved back to v{previous} at {at} UTC"
    )


def list_records(client, prefix: str) -> list[RunRecord]:
    """Every version of every registered model whose name starts with ``prefix`` (bounded by versions)."""
    records: list[RunRecord] = []
    for model in client.search_registered_models(filter_string=f"name LIKE '{prefix}%'"):
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            record = read_version(client, model.name, str(mv.version))
            if record is not None:
                records.append(record)
    return sorted(records, key=lambda r: (r.model_name, -int(r.version)))


def format_table(records: list[RunRecord]) -> list[str]:
    """Fixed-width lines for the terminal: version, aliases, validation snapshot, key metrics, verdict."""
    header = (
        f"{'model':<32} {'version':>7}  {'aliases':<12} {'validated':<10} {'auc':>7} {'ece':>7} {'lr_auc':>7} "
        f"{'base_auc':>8}  verdict"
    )
    lines = [header, "-" * len(header)]
    for r in records:
        auc, ece, lr, base = (r.metrics.get(k) for k in ("auc", "ece", "lr_auc", BASELINE_BEST_AUC))
        verdict = "-" if r.verdict is None else _PASSED if r.verdict.promote else _FAILED
        validated = r.validation_date.isoformat() if r.validation_date else "-"
        lines.append(
            f"{r.model_name:<32} {r.version:>7}  {','.join(r.aliases) or '-':<12} {validated:<10} "
            f"{_num(auc):>7} {_num(ece):>7} {_num(lr):>7} {_num(base):>8}  {verdict}"
        )
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _millis(value: int | None) -> dt.datetime | None:
    """An MLflow timestamp (epoch milliseconds) as a naive UTC datetime."""
    return None if value is None else dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).replace(tzinfo=None)


def _dates(values: tuple[dt.date, ...]) -> str:
    return ",".join(d.isoformat() for d in values)


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _date_list(text: str | None) -> tuple[dt.date, ...]:
    return tuple(dt.date.fromisoformat(t) for t in text.split(",")) if text else ()


def _json_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
