"""Champion models for scoring: look up ``<prefix><target>@<alias>`` in the MLflow registry, load the
served Spark PipelineModel of that exact version, read its trees for the reasons and compile it for
the fused pass (scoring.compiled).

Every champion is looked up before any model is loaded, so a missing one fails fast with one message
naming all missing champions (optional targets are reported, not failed). Models are loaded by version
number (``models:/<name>/<version>``), not by alias, so a promotion racing the job cannot mix versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import types as T

from userscore.config.models import TrackingConfig
from userscore.config.scoring import TargetOutput
from userscore.errors import InputError
from userscore.logs import get_logger
from userscore.scoring.compiled import CompiledModel, compile_pipeline
from userscore.scoring.ensemble import TreeEnsemble
from userscore.scoring.gbt_trees import gbt_ensemble
from userscore.scoring.reasons import Explainer

log = get_logger(__name__)

PREDICTION = "prediction"


@dataclass(frozen=True)
class Champion:
    """One loaded champion: the served pipeline (last stage writes ``prediction``) and its GBT trees."""

    target: str
    output: TargetOutput
    model_name: str
    version: str
    registered_at: dt.datetime
    model: object
    ensemble: TreeEnsemble | None
    features_col: str | None
    compiled: CompiledModel | None = None


@dataclass(frozen=True)
class Champions:
    loaded: tuple[Champion, ...]
    missing_optional: tuple[str, ...]

    def probability_columns(self) -> dict[str, str]:
        """target -> probability column, for loaded champions."""
        return {c.target: c.output.column("probability") for c in self.loaded}


def champion_records(targets: Iterable[str], tracking: TrackingConfig, alias: str, root: Path) -> dict:
    """target -> the registry record of ``<model_prefix><target>@<alias>`` (registry look-ups only, no model
    load), in ``targets`` order; a target without one is left out."""
    from userscore.models.registry import champion
    from userscore.models.tracking import reader, resolve

    # A store that does not exist holds no champion; it is not created just to find that out.
    client = reader(resolve(tracking, root))
    if client is None:
        return {}
    records = {t: champion(client, f"{tracking.model_prefix}{t}", alias, t) for t in targets}
    return {t: record for t, record in records.items() if record is not None}


def load_champions(targets: Mapping[str, TargetOutput], tracking: TrackingConfig, alias: str, root: Path) -> Champions:
    """Load the champion of every target; InputError naming the missing non-optional ones."""
    from userscore.models.tracking import load_spark_model, reader, resolve

    store = resolve(tracking, root)
    found = champion_records(targets, tracking, alias, root)
    absent = [
        (f"{tracking.model_prefix}{t}@{alias}", output.optional) for t, output in targets.items() if t not in found
    ]
    missing = [name for name, optional in absent if not optional]
    skipped = [name for name, optional in absent if optional]
    if missing:
        where = "" if reader(store) is not None else " (no store there yet)"
        raise InputError(
            f"no champion for {', '.join(missing)} in the MLflow registry at {store.registry}{where}: train and "
            f"promote it (`userscore train --target ...`) or mark the target optional in scoring.targets"
        )
    loaded = []
    for target, record in found.items():
        model = load_spark_model(store, record.model_name, record.version)
        ensemble, features_col = tree_stage(model)
        compiled = compile_pipeline(model, ensemble)
        if compiled is None:
            log.warning("%s v%s does not compile: scored through its Spark pipeline", record.model_name, record.version)
        loaded.append(
            Champion(
                target,
                targets[target],
                record.model_name,
                record.version,
                record.registered_at,
                model,
                ensemble,
                features_col,
                compiled,
            )
        )
    return Champions(tuple(loaded), tuple(skipped))


def tree_stage(model) -> tuple[TreeEnsemble | None, str | None]:
    """The trees and feature column of the pipeline's GBT stage; (None, None) without one (no reasons)."""
    from pyspark.ml.classification import GBTClassificationModel

    for stage in getattr(model, "stages", [model]):
        if isinstance(stage, GBTClassificationModel):
            return gbt_ensemble(stage), stage.getFeaturesCol()
    return None, None


def _param(stage, name: str) -> list[str]:
    if not stage.hasParam(name):
        return []
    param = stage.getParam(name)
    if not stage.isDefined(param):
        return []
    value = stage.getOrDefault(param)
    return list(value) if isinstance(value, list | tuple) else [value]


def explainer_for(champion: Champion, schema: T.StructType) -> Explainer | None:
    """Map each slot of the GBT's feature vector to the source column it comes from.

    Slot names come from the vector's ML attribute metadata (set by VectorAssembler in ``schema``, the
    transformed frame's schema; no data is read). A slot belongs to the assembler input it is named
    after (``col`` or ``col_<value>`` for one-hot vectors); inputs are traced back through the
    pipeline's stages (imputer, indexer, encoder outputs -> their inputs) to the feature column.
    """
    if champion.ensemble is None or champion.features_col is None:
        return None
    stages = list(getattr(champion.model, "stages", []))
    produced_by: dict[str, str] = {}
    assembler_inputs: list[str] = []
    for stage in stages:
        outputs = _param(stage, "outputCols") or _param(stage, "outputCol")
        inputs = _param(stage, "inputCols") or _param(stage, "inputCol")
        if outputs == [champion.features_col]:
            assembler_inputs = inputs
        elif len(outputs) == len(inputs):
            produced_by.update(zip(outputs, inputs, strict=True))

    def source(column: str) -> str:
        seen = set()
        while column in produced_by and column not in seen:
            seen.add(column)
            column = produced_by[column]
        return column

    slots = _slot_names(schema, champion.features_col, champion.ensemble.num_features)
    names: list[str] = []
    groups: list[int] = []
    for slot in slots:
        owner = max((c for c in assembler_inputs if slot == c or slot.startswith(c + "_")), key=len, default=slot)
        name = source(owner)
        if name not in names:
            names.append(name)
        groups.append(names.index(name))
    return Explainer(champion.ensemble, tuple(groups), tuple(names))


def _slot_names(schema: T.StructType, column: str, size: int) -> list[str]:
    attrs = schema[column].metadata.get("ml_attr", {}).get("attrs", {})
    by_index = {int(a["idx"]): a.get("name", f"feature_{a['idx']}") for group in attrs.values() for a in group}
    return [by_index.get(i, f"feature_{i}") for i in range(size)]


def logical_scored_at(as_of: dt.date, champions: Sequence[Champion]) -> dt.datetime:
    """The deterministic scoring time: when snapshot D and every champion used were all available,
    i.e. max(D 00:00 UTC, newest champion registration). Re-running D with the same champions gives
    the same value, so the rows are identical."""
    start = dt.datetime.combine(as_of, dt.time())
    return max([start, *(c.registered_at.replace(microsecond=0) for c in champions)])


def model_inputs(model) -> list[str]:
    """The columns a served pipeline reads from its input frame (stage inputs no earlier stage makes)."""
    produced: set[str] = set()
    needed: list[str] = []
    for stage in getattr(model, "stages", [model]):
        for column in _param(stage, "inputCols") or _param(stage, "inputCol") or _param(stage, "featuresCol"):
            if column not in produced and column not in needed:
                needed.append(column)
        for name in ("outputCols", "outputCol", "predictionCol", "probabilityCol", "rawPredictionCol"):
            produced.update(c for c in _param(stage, name) if c)
    return needed
