"""Train one target and compare its models on the validation snapshot, for interactive work (notebooks):
the train job's labelled sample, fit and evaluation, without MLflow, registration or the champion gate.

The served model (GBT + calibration), the raw GBT and the logistic-regression baseline are scored in one
pass over the validation rows and evaluated by ``userscore.models.evaluation.evaluate``, and the naive
baselines by ``userscore.models.baselines``, so the numbers are the ones a training run would log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.models import TargetConfig
from userscore.errors import InputError
from userscore.models.baselines import Baselines, available, evaluate_baselines
from userscore.models.dataset import VALIDATION, SnapshotSplit, training_set
from userscore.models.evaluation import Evaluation, evaluate
from userscore.models.targets import LABEL
from userscore.models.training import FittedModels, fit_models
from userscore.models.workflow import checkpoint_dir, score_validation, training_inputs

# Evaluated score columns: the served (calibrated) GBT, the raw GBT and the LR baseline.
MODELS = ("served", "raw", "lr")
_SHOWN = ("auc", "auc_pr", "ks", "lift_d1", "brier", "ece", "positive_rate", "rows")


@dataclass
class Comparison:
    """One target's fitted models and their validation metrics."""

    target: str
    snapshots: SnapshotSplit
    fitted: FittedModels
    evaluations: dict[str, Evaluation]
    importances: list[tuple[str, float]]
    baselines: Baselines = field(default_factory=Baselines)

    def metric_lines(self) -> list[str]:
        """A fixed-width table: one row per metric, one column per model; then each naive baseline's AUC."""
        lines = [f"{'metric':<14}" + "".join(f"{m:>12}" for m in MODELS)]
        for metric in _SHOWN:
            cells = (self.evaluations[m].metrics.get(metric) for m in MODELS)
            lines.append(f"{metric:<14}" + "".join("           -" if v is None else f"{v:>12.4f}" for v in cells))
        lines += [f"baseline {name} auc {auc:.4f}" for name, auc in self.baselines.aucs.items()]
        return lines + [f"baseline {name} skipped: {why}" for name, why in self.baselines.skipped.items()]


def compare_target(
    catalog: Catalog,
    config: Config,
    name: str,
    cutoff: dt.date | None = None,
    target: TargetConfig | None = None,
) -> Comparison:
    """Label, sample, fit and evaluate target ``name`` as the train job would, and log nothing.

    Args:
        cutoff: data complete up to this date (default: the newest order or event in silver).
        target: settings to use instead of ``config.models.targets[name]`` (e.g. fewer trees, a smaller
            sample, other features), so a change can be tried before it goes into conf/.
    """
    models = config.models
    if name not in models.targets:
        raise InputError(f"unknown target {name!r}: defined in conf (models.targets) are {sorted(models.targets)}")
    target = target or models.targets[name]
    features, silver, dates, cut, persons = training_inputs(catalog, config, [target], cutoff)
    present, skipped = available(target, features.schema)
    data = training_set(features, silver, target, cut, dates, carry=[b.column for b in present], persons=persons)
    fitted = fit_models(data, target, checkpoint_dir(config), models.training_partitions, models.evaluation.ece_bins)
    scored = score_validation(fitted, data.part(VALIDATION)).persist()
    evaluations = {m: evaluate(scored, m, LABEL, target.tiers, models.evaluation) for m in MODELS}
    scored.unpersist()
    baselines = evaluate_baselines(data.part(VALIDATION), LABEL, present, skipped)
    data.rows.unpersist()
    weights = (float(v) for v in fitted.gbt.featureImportances.toArray())
    importances = sorted(zip(fitted.feature_names, weights, strict=True), key=lambda item: -item[1])
    top = importances[: models.evaluation.top_features]
    return Comparison(name, data.snapshots, fitted, evaluations, top, baselines)
