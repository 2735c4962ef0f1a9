"""Champion pipelines compiled to numpy, so that the fused pass scores every model in ONE Python round trip.

The served artifact stays the MLflow PipelineModel. When a champion is loaded its fitted stages are
read into arrays: the Imputer's surrogates, the StringIndexer's labels, the OneHotEncoder's sizes, the
VectorAssembler's order, the GBT's trees (the tables the reasons use) and the calibration (isotonic
breakpoints or Platt's two numbers). One pandas UDF then receives each batch of users' raw feature
columns once and, for every champion: builds its feature matrix, walks all its trees together (the same
walk yields the Saabas reasons), sums the leaves into log-odds and calibrates.

Running the pipelines through MLlib instead costs, per model, its own vector assembly, tree evaluation
and calibration in the JVM plus a second trip of the assembled vector to Python for the reasons.
Every step below mirrors the fitted Spark stage's documented transform; tests/scoring/test_compiled.py
proves the probabilities and reasons equal MLlib's, nulls, NaN, unseen categories and both calibrations
included. A pipeline with any other stage or setting is not compiled: it is scored through MLlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from userscore.config.scoring import ReasonsConfig
from userscore.scoring.ensemble import TreeEnsemble
from userscore.scoring.gbt_trees import gbt_ensemble
from userscore.scoring.reasons import reason_texts
from userscore.scoring.saabas import contributions, descend, margin

_PLATT_EPS = 1e-7  # userscore.models.calibration clips probabilities before the logit


@dataclass(frozen=True)
class NumericBlock:
    """One vector slot from a numeric column, with the Imputer's replacement for null and ``missing``
    (Spark's ImputerModel casts its output back to the column's type: an integer column gets the
    surrogate truncated). ``surrogate`` None: not imputed, a null passes as NaN (assembler ``keep``)."""

    column: str
    surrogate: float | None = None
    missing: float = math.nan

    def values(self, x: np.ndarray, integral: bool) -> np.ndarray:
        if self.surrogate is None:
            return x
        gap = np.isnan(x) if math.isnan(self.missing) else (np.isnan(x) | (x == self.missing))
        fill = float(math.trunc(self.surrogate)) if integral and math.isfinite(self.surrogate) else self.surrogate
        return np.where(gap, fill, x)


@dataclass(frozen=True)
class OneHotBlock:
    """``width`` slots from a string column: StringIndexer (``keep``: null and unseen values get index
    len(labels)), then OneHotEncoder (``keep``): an index outside [0, category_size) becomes
    category_size; an index below ``width`` sets its slot (dropLast leaves the last category all-zero)."""

    column: str
    labels: tuple[str, ...]
    category_size: int
    width: int

    def indices(self, values: pd.Series) -> np.ndarray:
        codes = pd.Categorical(values, categories=list(self.labels)).codes.astype(np.int64)
        index = np.where(codes < 0, len(self.labels), codes)
        return np.where((index >= 0) & (index < self.category_size), index, self.category_size)


@dataclass(frozen=True)
class Calibration:
    """The served pipeline's last stage: ``isotonic`` (Spark's IsotonicRegressionModel.predict: the
    breakpoint's value on an exact hit, linear interpolation between breakpoints, the end values
    outside) or ``platt`` (userscore.models.calibration.PlattModel: sigmoid(slope * logit(clipped p)
    + intercept))."""

    method: str
    boundaries: tuple[float, ...] = ()
    predictions: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def apply(self, p: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            clipped = np.clip(p, _PLATT_EPS, 1.0 - _PLATT_EPS)
            z = self.slope * np.log(clipped / (1.0 - clipped)) + self.intercept
            return 1.0 / (1.0 + np.exp(-z))
        b, y = np.asarray(self.boundaries), np.asarray(self.predictions)
        found = _binary_search(b, _snap(b, p))
        insert = np.where(found >= 0, 0, -found - 1)
        lo, hi = np.clip(insert - 1, 0, b.size - 1), np.clip(insert, 0, b.size - 1)
        # Spark's linearInterpolation, with the same operations in the same order.
        with np.errstate(invalid="ignore", divide="ignore"):
            between = y[lo] + (y[hi] - y[lo]) * (p - b[lo]) / (b[hi] - b[lo])
        outside = np.where(insert == 0, y[0], np.where(insert == b.size, y[-1], between))
        return np.where(found >= 0, y[np.clip(found, 0, b.size - 1)], outside)


# Raw probabilities agree with Spark's to about 1e-16, not bit for bit: Spark sums the weighted trees with
# SIMD lanes (netlib's VectorBLAS ddot) and exponentiates with Java's Math.exp. A user in the same leaves
# as a calibration row has exactly a breakpoint in Spark, whose isotonic value Spark returns as is; one
# ulp off, interpolation would give that value minus ~1e-16, enough to flip a rule such as p >= 0.5.
_HIT_TOLERANCE = 1e-13


def _snap(b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``p`` moved onto a breakpoint within _HIT_TOLERANCE of it (an exact hit in Spark)."""
    i = np.searchsorted(b, p)  # b[i - 1] < p <= b[i]
    lower, upper = b[np.clip(i - 1, 0, b.size - 1)], b[np.clip(i, 0, b.size - 1)]
    p = np.where(np.abs(upper - p) <= _HIT_TOLERANCE, upper, p)
    return np.where(np.abs(p - lower) <= _HIT_TOLERANCE, lower, p)


def _binary_search(a: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``java.util.Arrays.binarySearch(a, key)`` for every key at once, the same halving steps (so that
    with repeated breakpoints an exact hit lands on the same one): the index when found, else
    -(insertion point) - 1."""
    low = np.zeros(keys.shape, dtype=np.int64)
    high = np.full(keys.shape, a.size - 1, dtype=np.int64)
    found = np.full(keys.shape, -1, dtype=np.int64)
    active = low <= high
    while active.any():
        mid = (low + high) >> 1
        value = a[np.clip(mid, 0, a.size - 1)]
        below, above = active & (value < keys), active & (value > keys)
        hit = active & ~below & ~above
        low, high = np.where(below, mid + 1, low), np.where(above, mid - 1, high)
        found = np.where(hit, mid, found)
        active = active & ~hit & (low <= high)
    return np.where(found >= 0, found, -low - 1)


@dataclass(frozen=True)
class CompiledModel:
    """A served pipeline as arrays: the vector's blocks in assembler order, the trees, the calibration."""

    blocks: tuple[NumericBlock | OneHotBlock, ...]
    ensemble: TreeEnsemble
    calibration: Calibration

    @property
    def names(self) -> tuple[str, ...]:
        """Source columns in slot order, each once: what the reasons name."""
        return tuple(dict.fromkeys(b.column for b in self.blocks))

    def numeric_columns(self) -> set[str]:
        return {b.column for b in self.blocks if isinstance(b, NumericBlock)}

    def string_columns(self) -> set[str]:
        return {b.column for b in self.blocks if isinstance(b, OneHotBlock)}

    def matrix(self, numeric: Mapping[str, np.ndarray], strings: Mapping[str, pd.Series], integral: set[str]):
        """The assembled feature matrix (rows x slots) and each slot's source column (index in ``names``)."""
        rows = len(next(iter({**numeric, **strings}.values())))
        x = np.zeros((rows, self.ensemble.num_features))
        groups = np.zeros(self.ensemble.num_features, dtype=np.int64)
        names = self.names
        at = 0
        for block in self.blocks:
            if isinstance(block, NumericBlock):
                x[:, at] = block.values(numeric[block.column], block.column in integral)
                width = 1
            else:
                index = block.indices(strings[block.column])
                hit = index < block.width
                x[np.flatnonzero(hit), at + index[hit]] = 1.0
                width = block.width
            groups[at : at + width] = names.index(block.column)
            at += width
        return x, groups

    def score(self, x: np.ndarray, groups: np.ndarray, explain: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Calibrated probabilities and, when ``explain``, contributions per source column (log-odds)."""
        leaves = descend(self.ensemble, x)
        raw = 1.0 / (1.0 + np.exp(-margin(self.ensemble, leaves)))
        per_column = contributions(self.ensemble, leaves, groups, len(self.names)) if explain else None
        return self.calibration.apply(raw), per_column


def compile_pipeline(model, ensemble: TreeEnsemble | None = None) -> CompiledModel | None:
    """The compiled form of a served pipeline (Imputer / StringIndexer / OneHotEncoder / VectorAssembler,
    a binary GBT, an isotonic or Platt calibration), or None when it holds anything else. ``ensemble``:
    the GBT's trees when already read (gbt_trees.gbt_ensemble)."""
    from pyspark.ml.classification import GBTClassificationModel
    from pyspark.ml.feature import ImputerModel, OneHotEncoderModel, StringIndexerModel, VectorAssembler
    from pyspark.ml.regression import IsotonicRegressionModel

    from userscore.models.calibration import PlattModel

    numeric: dict[str, NumericBlock] = {}  # imputer output -> block
    indexed: dict[str, tuple[str, tuple[str, ...]]] = {}  # indexer output -> (source, labels)
    encoded: dict[str, OneHotBlock] = {}  # encoder output -> block
    assembled: dict[str, list[str]] = {}  # assembler output -> inputs
    gbt = calibration = None
    for stage in getattr(model, "stages", [model]):
        if isinstance(stage, ImputerModel):
            surrogates = stage.surrogateDF.first().asDict()
            missing = float(stage.getMissingValue())
            for source, out in zip(_inputs(stage), _outputs(stage), strict=True):
                numeric[out] = NumericBlock(source, float(surrogates[source]), missing)
        elif isinstance(stage, StringIndexerModel):
            if stage.getHandleInvalid() != "keep":
                return None
            for source, out, labels in zip(_inputs(stage), _outputs(stage), stage.labelsArray, strict=True):
                indexed[out] = (source, tuple(labels))
        elif isinstance(stage, OneHotEncoderModel):
            if stage.getHandleInvalid() != "keep":
                return None
            for source, out, size in zip(_inputs(stage), _outputs(stage), stage.categorySizes, strict=True):
                if source not in indexed:
                    return None
                column, labels = indexed[source]
                # Spark's configured sizes: "keep" adds an invalid category, dropLast removes the last one.
                width = size + (0 if stage.getDropLast() else 1)
                encoded[out] = OneHotBlock(column, labels, int(size), int(width))
        elif isinstance(stage, VectorAssembler):
            if stage.getHandleInvalid() != "keep":
                return None
            assembled[stage.getOutputCol()] = list(stage.getInputCols())
        elif isinstance(stage, GBTClassificationModel) and gbt is None and stage.numClasses == 2:
            gbt = stage
        elif isinstance(stage, IsotonicRegressionModel) and gbt is not None and calibration is None:
            if stage.getFeaturesCol() != gbt.getProbabilityCol() or stage.getFeatureIndex() != 1:
                return None
            calibration = Calibration("isotonic", tuple(stage.boundaries.toArray()), tuple(stage.predictions.toArray()))
        elif isinstance(stage, PlattModel) and gbt is not None and calibration is None:
            slope, intercept = stage.getOrDefault(stage.slope), stage.getOrDefault(stage.intercept)
            calibration = Calibration("platt", slope=float(slope), intercept=float(intercept))
        else:
            return None
    if gbt is None or calibration is None or gbt.getFeaturesCol() not in assembled:
        return None
    blocks: list[NumericBlock | OneHotBlock] = []
    for column in assembled[gbt.getFeaturesCol()]:
        if column in indexed:  # an index used directly as a number: not what the trainer builds
            return None
        blocks.append(encoded.get(column) or numeric.get(column) or NumericBlock(column))
    ensemble = ensemble or gbt_ensemble(gbt)
    slots = sum(b.width if isinstance(b, OneHotBlock) else 1 for b in blocks)
    return CompiledModel(tuple(blocks), ensemble, calibration) if slots == ensemble.num_features else None


def _inputs(stage) -> list[str]:
    return list(stage.getInputCols()) if stage.isSet(stage.inputCols) else [stage.getInputCol()]


def _outputs(stage) -> list[str]:
    return list(stage.getOutputCols()) if stage.isSet(stage.outputCols) else [stage.getOutputCol()]


def score_batch(
    models: Sequence[tuple[str, CompiledModel]],
    numeric: Mapping[str, np.ndarray],
    strings: Mapping[str, pd.Series],
    integral: set[str],
    reasons: ReasonsConfig | None,
) -> dict[str, object]:
    """Every model on one batch: ``<key>_p`` (calibrated probability) and, when ``reasons`` is given,
    ``<key>_reasons`` (the text of its top reasons, see reasons.reason_texts)."""
    out: dict[str, object] = {}
    for key, model in models:
        x, groups = model.matrix(numeric, strings, integral)
        probability, per_column = model.score(x, groups, explain=reasons is not None)
        out[f"{key}_p"] = probability
        if reasons is not None:
            out[f"{key}_reasons"] = reason_texts(per_column, model.names, reasons.top_k, reasons.decimals)
    return out
