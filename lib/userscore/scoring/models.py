"""Champion models for scoring: look up ``<prefix><target>@<alias>`` (and ``<prefix><type>_uplift@<alias>``
for every scored uplift type) in the MLflow registry, load the served Spark PipelineModel of that exact
version, read its trees for the reasons and compile it for the fused pass (scoring.compiled).

Every champion is looked up before any model is loaded, so a missing one fails fast with one message
naming all missing champions (optional targets and uplift types are reported, not failed). Models are
loaded by version number (``models:/<name>/<version>``), not by alias, so a promotion racing the job
cannot mix versions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import types as T

from userscore.config.models import TrackingConfig
from userscore.config.scoring import TargetOutput, UpliftOutput
from userscore.errors import InputError
from userscore.logs import get_logger
from userscore.scoring.compiled import CompiledModel, CompiledUplift, compile_pipeline, compile_uplift
from userscore.scoring.ensemble import TreeEnsemble
from userscore.scoring.gbt_trees import arm_stages, gbt_ensemble, uplift_ensemble
from userscore.scoring.reasons import Explainer
from userscore.uplift.model import CONTROL_PROBABILITY, MARGIN_PER_CONVERSION, TREATED_PROBABILITY, model_name

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

    @property
    def reasons_column(self) -> str:
        return self.output.column("reasons")

    @property
    def score_columns(self) -> tuple[str, ...]:
        """What applying the model adds to the features (scoring.fuse.apply_champions)."""
        return self.output.column("probability"), self.reasons_column


@dataclass(frozen=True)
class UpliftChampion:
    """One loaded uplift champion of a campaign type: the served pipeline (two arm GBTs over one vector,
    userscore.uplift.model), both arms' trees in one table (gbt_trees.uplift_ensemble, for the reasons),
    its compiled form and the margin per conversion its training run logged (for the net margin)."""

    campaign_type: str
    output: UpliftOutput
    model_name: str
    version: str
    registered_at: dt.datetime
    model: object
    ensemble: TreeEnsemble
    features_col: str
    margin_per_conversion: float
    compiled: CompiledUplift | None = None

    def column(self, suffix: str) -> str:
        return UpliftOutput.column(self.campaign_type, suffix)

    @property
    def reasons_column(self) -> str:
        return self.column("uplift_reasons")

    @property
    def p_control_column(self) -> str:
        """P(convert | not contacted): not an output, the tiers read it (dropped by the final select)."""
        return f"_{self.campaign_type}_p_control"

    @property
    def score_columns(self) -> tuple[str, ...]:
        """What applying the model adds to the features (scoring.fuse.apply_champions)."""
        return self.column("uplift"), self.reasons_column, self.p_control_column


@dataclass(frozen=True)
class Champions:
    """The loaded champions of the scored targets and uplift types; ``missing_optional``: the registered
    names (``name@alias``) of the optional ones without a champion (their columns are null)."""

    loaded: tuple[Champion, ...]
    missing_optional: tuple[str, ...]
    uplift: tuple[UpliftChampion, ...] = ()

    @property
    def all(self) -> tuple[Champion | UpliftChampion, ...]:
        return (*self.loaded, *self.uplift)

    def probability_columns(self) -> dict[str, str]:
        """target -> probability column, for loaded champions."""
        return {c.target: c.output.column("probability") for c in self.loaded}


def _registered_names(targets: Iterable[str], uplift_types: Iterable[str], model_prefix: str) -> dict[str, str]:
    """Registered model name -> the target or campaign type it scores: targets first, then uplift types."""
    names = {f"{model_prefix}{t}": t for t in targets}
    return names | {model_name(model_prefix, t): t for t in uplift_types}


def champion_records(
    targets: Iterable[str], tracking: TrackingConfig, alias: str, root: Path, uplift_types: Iterable[str] = ()
) -> dict:
    """Registered model name -> the registry record of ``<name>@<alias>`` (registry look-ups only, no model
    load) for every target's and uplift type's model (see :func:`_registered_names`); a model without a
    champion is left out."""
    from userscore.models.registry import champion
    from userscore.models.tracking import reader, resolve

    # A store that does not exist holds no champion; it is not created just to find that out.
    client = reader(resolve(tracking, root))
    if client is None:
        return {}
    names = _registered_names(targets, uplift_types, tracking.model_prefix)
    records = {name: champion(client, name, alias, scored) for name, scored in names.items()}
    return {name: record for name, record in records.items() if record is not None}


def load_champions(
    targets: Mapping[str, TargetOutput],
    tracking: TrackingConfig,
    alias: str,
    root: Path,
    uplift: Mapping[str, UpliftOutput] | None = None,
) -> Champions:
    """Load the champion of every target and every uplift type (``scoring.uplift``); InputError naming
    the missing non-optional ones, an uplift champion whose run logged no margin per conversion, or one
    that is not a served uplift pipeline."""
    from userscore.models.tracking import load_spark_model, reader, resolve

    store = resolve(tracking, root)
    uplift = uplift or {}
    found = champion_records(targets, tracking, alias, root, uplift)
    prefix = tracking.model_prefix
    wanted = [(f"{prefix}{t}", o.optional, "target") for t, o in targets.items()]
    wanted += [(model_name(prefix, t), o.optional, "uplift") for t, o in uplift.items()]
    absent = [(name, optional, kind) for name, optional, kind in wanted if name not in found]
    missing = [(f"{name}@{alias}", kind) for name, optional, kind in absent if not optional]
    skipped = tuple(f"{name}@{alias}" for name, optional, _ in absent if optional)
    if missing:
        where = "" if reader(store) is not None else " (no store there yet)"
        hints = {
            "target": "train and promote it (`userscore train --target ...`) or mark the target optional in "
            "scoring.targets",
            "uplift": "train and promote it (`userscore uplift`) or mark the campaign type optional in scoring.uplift",
        }
        kinds = dict.fromkeys(kind for _, kind in missing)
        raise InputError(
            f"no champion for {', '.join(name for name, _ in missing)} in the MLflow registry at "
            f"{store.registry}{where}: " + "; ".join(hints[k] for k in kinds)
        )
    # Checked before any model is loaded: a champion the net margin cannot use fails the job early.
    uplift_records = {t: found[model_name(prefix, t)] for t in uplift if model_name(prefix, t) in found}
    margins = {t: _margin_per_conversion(record) for t, record in uplift_records.items()}
    loaded = []
    for target in targets:
        record = found.get(f"{prefix}{target}")
        if record is None:
            continue
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
    scored = []
    for campaign_type, record in uplift_records.items():
        model = load_spark_model(store, record.model_name, record.version)
        scored.append(_uplift_champion(campaign_type, uplift[campaign_type], record, model, margins[campaign_type]))
    return Champions(tuple(loaded), skipped, tuple(scored))


def _margin_per_conversion(record) -> float:
    """The margin per conversion the uplift champion's training run logged; InputError without one."""
    value = record.metrics.get(MARGIN_PER_CONVERSION)
    if value is None or not math.isfinite(value):
        raise InputError(
            f"{record.model_name} v{record.version}: its training run logged no finite {MARGIN_PER_CONVERSION} "
            f"(the net margin needs it): retrain and promote it with `userscore uplift`"
        )
    return float(value)


def _uplift_champion(campaign_type: str, output: UpliftOutput, record, model, margin: float) -> UpliftChampion:
    """The loaded uplift champion: arms found, trees read, compiled (else scored through Spark, warned)."""
    arms = arm_stages(model)
    if arms is None:
        raise InputError(
            f"{record.model_name} v{record.version} is not a served uplift pipeline: no binary GBT stages writing "
            f"{TREATED_PROBABILITY} and {CONTROL_PROBABILITY} (see userscore.uplift.model.served_pipeline)"
        )
    treated, control = arms
    if treated.getFeaturesCol() != control.getFeaturesCol() or treated.numFeatures != control.numFeatures:
        raise InputError(f"{record.model_name} v{record.version}: its two arms do not read the same feature vector")
    ensemble = uplift_ensemble(treated, control)
    compiled = compile_uplift(model, ensemble)
    if compiled is None:
        log.warning("%s v%s does not compile: scored through its Spark pipeline", record.model_name, record.version)
    return UpliftChampion(
        campaign_type,
        output,
        record.model_name,
        record.version,
        record.registered_at,
        model,
        ensemble,
        treated.getFeaturesCol(),
        margin,
        compiled,
    )


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


def explainer_for(champion: Champion | UpliftChampion, schema: T.StructType) -> Explainer | None:
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


def logical_scored_at(as_of: dt.date, champions: Champions) -> dt.datetime:
    """The deterministic scoring time: when snapshot D and every champion used (targets' and uplift
    types') were all available, i.e. max(D 00:00 UTC, newest champion registration). Re-running D with
    the same champions gives the same value, so the rows are identical."""
    start = dt.datetime.combine(as_of, dt.time())
    return max([start, *(c.registered_at.replace(microsecond=0) for c in champions.all)])


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
