"""What the monitor needs to know about model versions, read from the MLflow registry and runs: the
champion of each target, each version's validation snapshot (run tag ``validation_snapshot``), its model
inputs (params ``features.numeric`` and ``features.categorical``) and its validation AUC (metric ``auc``),
all logged by userscore.models.workflow."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from userscore.config.models import TrackingConfig


@dataclass(frozen=True)
class ModelInfo:
    """One registered version of ``<prefix><target>``."""

    target: str
    model_name: str
    version: str
    validation_date: dt.date | None
    numeric_features: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    training_auc: float | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric_features, *self.categorical_features)


def _json_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


class Registry:
    """Read-only, cached lookups of model versions in the configured MLflow store."""

    def __init__(self, tracking: TrackingConfig, alias: str, root: Path):
        from userscore.models.tracking import reader, resolve

        self.store = resolve(tracking, root)
        self.prefix = tracking.model_prefix
        self.alias = alias
        # None: the local store does not exist (no versions); it is not created by reading.
        self.client = reader(self.store)
        self._versions: dict[tuple[str, str], ModelInfo | None] = {}

    def champion(self, target: str) -> ModelInfo | None:
        """The version holding the promotion alias, or None."""
        from mlflow.exceptions import MlflowException

        if self.client is None:
            return None
        try:
            mv = self.client.get_model_version_by_alias(f"{self.prefix}{target}", self.alias)
        except MlflowException:
            return None
        return self.version(target, str(mv.version))

    def version(self, target: str, version: str) -> ModelInfo | None:
        """A version's validation snapshot, inputs and AUC from its run; None when it is not registered."""
        from mlflow.exceptions import MlflowException

        key = (target, str(version))
        if self.client is None:
            return None
        if key in self._versions:
            return self._versions[key]
        name = f"{self.prefix}{target}"
        try:
            mv = self.client.get_model_version(name, str(version))
            run = self.client.get_run(mv.run_id) if mv.run_id else None
        except MlflowException:
            self._versions[key] = None
            return None
        tags = run.data.tags if run else {}
        params = run.data.params if run else {}
        metrics = run.data.metrics if run else {}
        validation = tags.get("validation_snapshot")
        info = ModelInfo(
            target=target,
            model_name=name,
            version=str(mv.version),
            validation_date=dt.date.fromisoformat(validation) if validation else None,
            numeric_features=_json_list(params.get("features.numeric")),
            categorical_features=_json_list(params.get("features.categorical")),
            training_auc=metrics.get("auc"),
        )
        self._versions[key] = info
        return info

    def load(self, info: ModelInfo):
        """The served Spark pipeline of exactly this version."""
        import mlflow

        mlflow.set_tracking_uri(self.store.uri)
        mlflow.set_registry_uri(self.store.registry)
        return mlflow.spark.load_model(f"models:/{info.model_name}/{info.version}", dfs_tmpdir=self.store.dfs_tmpdir)
