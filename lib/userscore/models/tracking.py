"""MLflow, configured here and nowhere else: the store resolved from models.tracking, the tracking and
registry URIs set, clients made (``reader``, ``connect``); plus the helpers a run is logged with (params,
config hash, git commit, the served model with signature and input example)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from userscore.config.models import TrackingConfig

if TYPE_CHECKING:
    from userscore.config import Config

MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class Store:
    """The resolved tracking store: URI, experiment and where its artifacts go."""

    uri: str
    artifact_location: str | None
    experiment: str
    dfs_tmpdir: str | None
    # None: the registry is the tracking store (the local SQLite store holds both).
    registry_uri: str | None = None

    @property
    def registry(self) -> str:
        """The model registry URI: ``registry_uri``, else the tracking URI."""
        return self.registry_uri or self.uri

    @property
    def ui_command(self) -> str:
        return f"mlflow ui --backend-store-uri {self.uri}"

    def pointer_lines(self) -> list[str]:
        """Where to look: the store, its artifacts and the command that opens the MLflow UI (one format for
        every job, so the demo's closing summary lists each once)."""
        artifacts = f" (artifacts {self.artifact_location})" if self.artifact_location else ""
        return [f"MLflow tracking: {self.uri}{artifacts}", f"MLflow UI:       {self.ui_command}"]


def resolve(tracking: TrackingConfig, root: Path) -> Store:
    """Resolve relative ``sqlite:///file`` URIs and a relative artifact root against the project root."""
    uri = tracking.uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str((root / uri[len(prefix) :]).resolve())
    artifacts = tracking.artifact_root
    if artifacts is not None and "://" not in artifacts:
        path = Path(artifacts)
        artifacts = (path if path.is_absolute() else (root / path).resolve()).as_uri()
    return Store(uri, artifacts, tracking.experiment, tracking.dfs_tmpdir, tracking.registry_uri)


def local_store_path(uri: str) -> Path | None:
    """The file or folder a local tracking URI names (``sqlite:///path``, ``file:///path``, a plain path),
    None for a server (http, databricks, ...)."""
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:///"):
        return Path(unquote(uri[len("sqlite:///") :].split("?", 1)[0]))
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    # "databricks", "databricks-uc" and "uc" name servers, not folders.
    return Path(uri) if parsed.scheme == "" and uri not in ("databricks", "databricks-uc", "uc") else None


def store_exists(store: Store) -> bool:
    """False when the registry is a local store that does not exist yet: opening it would create it
    (an empty database and ``./mlruns``), so a job that only reads it must not."""
    path = local_store_path(store.registry)
    return path is None or path.exists()


def store_of(config: Config) -> Store:
    """The configured store (models.tracking resolved against the project root)."""
    return resolve(config.models.tracking, Path(config.root))


def _client(store: Store):
    """The one place MLflow is pointed at a store: the fluent API (``models:/`` URIs, runs) and a client."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.registry)
    return MlflowClient(tracking_uri=store.uri, registry_uri=store.registry)


def reader(store: Store):
    """A client to read the registry and runs (and MLflow pointed at the store for ``models:/`` URIs),
    or None when the local store does not exist; creates nothing, unlike :func:`connect`."""
    return _client(store) if store_exists(store) else None


def connect(store: Store):
    """Point MLflow at the store, create the experiment if needed; return (client, experiment id)."""
    client = _client(store)
    experiment = client.get_experiment_by_name(store.experiment)
    if experiment is None:
        experiment_id = client.create_experiment(store.experiment, artifact_location=store.artifact_location)
    else:
        experiment_id = experiment.experiment_id
    return client, experiment_id


def load_spark_model(store: Store, model_name: str, version: str):
    """The served Spark pipeline of exactly this registered version."""
    import mlflow

    _client(store)
    return mlflow.spark.load_model(f"models:/{model_name}/{version}", dfs_tmpdir=store.dfs_tmpdir)


def git_commit(root: Path) -> str:
    """The checkout's commit (with a ``-dirty`` mark when files changed), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def plain(value: Any) -> Any:
    """Config objects (frozen dataclasses, mappings, tuples) as JSON-ready values."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def config_hash(*parts: Any) -> str:
    """A short stable hash of config objects: equal config, equal hash."""
    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested config as MLflow params: ``gbt.max_depth`` -> ``5``."""
    out: dict[str, str] = {}
    data = plain(value)
    if isinstance(data, dict):
        for key, item in data.items():
            out.update(flat_params(item, f"{prefix}{key}."))
        return out
    out[prefix.rstrip(".")] = json.dumps(data) if isinstance(data, list) else str(data)
    return out


def log_model(
    spark_model,
    input_example,
    predictions,
    registered_name: str,
    dfs_tmpdir: str | None,
    pip_requirements: list[str],
):
    """Log the served PipelineModel in the active run and register it; return the ModelInfo."""
    import mlflow
    from mlflow.models import infer_signature

    signature = infer_signature(input_example, predictions)
    return mlflow.spark.log_model(
        spark_model,
        artifact_path=MODEL_ARTIFACT,
        registered_model_name=registered_name,
        signature=signature,
        input_example=input_example,
        dfs_tmpdir=dfs_tmpdir,
        pip_requirements=pip_requirements,
    )
