"""What the monitor needs to know about model versions: the champion of each target and each version's
typed run record (validation snapshot, model inputs, validation AUC) from userscore.models.registry."""

from __future__ import annotations

from userscore.config import Config
from userscore.models.registry import RunRecord


class Registry:
    """Read-only, cached lookups of model versions in the configured MLflow store."""

    def __init__(self, config: Config):
        from userscore.models.tracking import reader, store_of

        self.store = store_of(config)
        self.prefix = config.models.tracking.model_prefix
        self.alias = config.models.promotion.alias
        # None: the local store does not exist (no versions); it is not created by reading.
        self.client = reader(self.store)
        self._versions: dict[tuple[str, str], RunRecord | None] = {}

    def champion(self, target: str) -> RunRecord | None:
        """The version holding the promotion alias, or None."""
        from userscore.models.registry import champion

        if self.client is None:
            return None
        record = champion(self.client, f"{self.prefix}{target}", self.alias, target)
        if record is not None:
            self._versions.setdefault((target, record.version), record)
        return record

    def version(self, target: str, version: str) -> RunRecord | None:
        """A version's record; None when it is not registered."""
        from userscore.models.registry import read_version

        key = (target, str(version))
        if self.client is None:
            return None
        if key not in self._versions:
            self._versions[key] = read_version(self.client, f"{self.prefix}{target}", str(version), target)
        return self._versions[key]

    def load(self, info: RunRecord):
        """The served Spark pipeline of exactly this version."""
        from userscore.models.tracking import load_spark_model

        return load_spark_model(self.store, info.model_name, info.version)
