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

An uplift champion (userscore.uplift.model: the same preparation, then a treated and a control arm GBT
over one vector, no calibration) is compiled the same way into :class:`CompiledUplift`: one matrix, one
walk of both arms' trees (gbt_trees.uplift_ensemble), uplift = p_treated - p_control, and reasons ranked
by |treated credit - control credit|.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from userscore.config.scoring import ReasonsConfig
from userscore.scoring.ensemble import TreeEnsemble
from userscore.scoring.gbt_trees import arm_stages, gbt_ensemble, uplift_ensemble
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
class Assembly:
    """The assembled feature vector of a served pipeline: its blocks in assembler order."""

    blocks: tuple[NumericBlock | OneHotBlock, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Source columns in slot order, each once: what the reasons name."""
        return tuple(dict.fromkeys(b.column for b in self.blocks))

    def numeric_columns(self) -> set[str]:
        return {b.column for b in self.blocks if isinstance(b, NumericBlock)}

    def string_columns(self) -> set[str]:
        return {b.column for b in self.blocks if isinstance(b, OneHotBlock)}

    @property
    def width(self) -> int:
        """Slots of the vector."""
        return sum(b.width if isinstance(b, OneHotBlock) else 1 for b in self.blocks)

    def matrix(self, numeric: Mapping[str, np.ndarray], strings: Mapping[str, pd.Series], integral: set[str]):
        """The assembled feature matrix (rows x slots) and each slot's source column (index in ``names``)."""
        rows = len(next(iter({**numeric, **strings}.values())))
        x = np.zeros((rows, self.width))
        groups = np.zeros(self.width, dtype=np.int64)
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


@dataclass(frozen=True)
class CompiledModel(Assembly):
    """A served pipeline as arrays: the vector's blocks in assembler order, the trees, the calibration."""

    ensemble: TreeEnsemble
    calibration: Calibration

    def score(self, x: np.ndarray, groups: np.ndarray, explain: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Calibrated probabilities and, when ``explain``, contributions per source column (log-odds)."""
        leaves = descend(self.ensemble, x)
        raw = _sigmoid(margin(self.ensemble, leaves))
        per_column = contributions(self.ensemble, leaves, groups, len(self.names)) if explain else None
        return self.calibration.apply(raw), per_column


@dataclass(frozen=True)
class CompiledUplift(Assembly):
    """A served uplift pipeline as arrays: the vector's blocks and both arms' trees in one table
    (gbt_trees.uplift_ensemble: the first ``treated_trees`` trees are the treated arm's, the others the
    control arm's negated). No calibration: each arm's probability is its GBT's own."""

    ensemble: TreeEnsemble
    treated_trees: int

    def score(
        self, x: np.ndarray, groups: np.ndarray, explain: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Uplift (p_treated - p_control), p_control and, when ``explain``, per source column the treated
        arm's contribution minus the control arm's (log-odds)."""
        leaves = descend(self.ensemble, x)
        split = self.treated_trees
        p_treated = _sigmoid(margin(self.ensemble, leaves[:, :split]))
        p_control = _sigmoid(-margin(self.ensemble, leaves[:, split:]))  # negation is exact: the arm's sum
        per_column = contributions(self.ensemble, leaves, groups, len(self.names)) if explain else None
        return p_treated - p_control, p_control, per_column


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """P(class 1) of Spark's binary GBT from its margin scaled to log-odds."""
    return 1.0 / (1.0 + np.exp(-z))


def compile_pipeline(model, ensemble: TreeEnsemble | None = None) -> CompiledModel | None:
    """The compiled form of a served pipeline (Imputer / StringIndexer / OneHotEncoder / VectorAssembler,
    a binary GBT, an isotonic or Platt calibration), or None when it holds anything else. ``ensemble``:
    the GBT's trees when already read (gbt_trees.gbt_ensemble)."""
    read = _prepared(model)
    if read is None:
        return None
    prep, heads = read
    if len(heads) != 2 or not _binary_gbt(heads[0]):
        return None
    gbt, calibration = heads[0], _calibration(heads[1], heads[0])
    blocks = prep.blocks(gbt.getFeaturesCol())
    if calibration is None or blocks is None:
        return None
    compiled = CompiledModel(blocks, ensemble or gbt_ensemble(gbt), calibration)
    return compiled if compiled.width == compiled.ensemble.num_features else None


def compile_uplift(model, ensemble: TreeEnsemble | None = None) -> CompiledUplift | None:
    """The compiled form of a served uplift pipeline (the preparation stages of :func:`compile_pipeline`,
    then exactly the treated and the control arm's binary GBTs over the same vector, and the difference
    stage; see userscore.uplift.model), or None when it holds anything else. ``ensemble``: both arms' trees when
    already read (gbt_trees.uplift_ensemble)."""
    from userscore.uplift.model import UpliftDifference

    read = _prepared(model)
    arms = arm_stages(model)
    if read is None or arms is None:
        return None
    prep, heads = read
    if heads and isinstance(heads[-1], UpliftDifference):  # p_treated - p_control as `prediction`: computed here
        heads = heads[:-1]
    treated, control = arms
    if len(heads) != 2 or treated.getFeaturesCol() != control.getFeaturesCol():
        return None
    blocks = prep.blocks(treated.getFeaturesCol())
    if blocks is None:
        return None
    compiled = CompiledUplift(blocks, ensemble or uplift_ensemble(treated, control), len(treated.treeWeights))
    return compiled if compiled.width == compiled.ensemble.num_features else None


@dataclass
class _Preparation:
    """What the preparation stages make, by output column."""

    numeric: dict[str, NumericBlock] = field(default_factory=dict)  # imputer output -> block
    indexed: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # indexer output -> (source, labels)
    encoded: dict[str, OneHotBlock] = field(default_factory=dict)  # encoder output -> block
    assembled: dict[str, list[str]] = field(default_factory=dict)  # assembler output -> inputs

    def blocks(self, features_col: str) -> tuple[NumericBlock | OneHotBlock, ...] | None:
        """The blocks of the vector ``features_col``; None when no assembler makes it or it holds an index."""
        if features_col not in self.assembled:
            return None
        blocks: list[NumericBlock | OneHotBlock] = []
        for column in self.assembled[features_col]:
            if column in self.indexed:  # an index used directly as a number: not what the trainer builds
                return None
            blocks.append(self.encoded.get(column) or self.numeric.get(column) or NumericBlock(column))
        return tuple(blocks)


def _prepared(model) -> tuple[_Preparation, list] | None:
    """The preparation stages read into blocks, and the other stages in order (the model's head); None when
    a preparation stage has a setting the blocks do not mirror."""
    from pyspark.ml.feature import ImputerModel, OneHotEncoderModel, StringIndexerModel, VectorAssembler

    prep, heads = _Preparation(), []
    for stage in getattr(model, "stages", [model]):
        if isinstance(stage, ImputerModel):
            surrogates = stage.surrogateDF.first().asDict()
            missing = float(stage.getMissingValue())
            for source, out in zip(_inputs(stage), _outputs(stage), strict=True):
                prep.numeric[out] = NumericBlock(source, float(surrogates[source]), missing)
        elif isinstance(stage, StringIndexerModel):
            if stage.getHandleInvalid() != "keep":
                return None
            for source, out, labels in zip(_inputs(stage), _outputs(stage), stage.labelsArray, strict=True):
                prep.indexed[out] = (source, tuple(labels))
        elif isinstance(stage, OneHotEncoderModel):
            if stage.getHandleInvalid() != "keep":
                return None
            for source, out, size in zip(_inputs(stage), _outputs(stage), stage.categorySizes, strict=True):
                if source not in prep.indexed:
                    return None
                column, labels = prep.indexed[source]
                # Spark's configured sizes: "keep" adds an invalid category, dropLast removes the last one.
                width = size + (0 if stage.getDropLast() else 1)
                prep.encoded[out] = OneHotBlock(column, labels, int(size), int(width))
        elif isinstance(stage, VectorAssembler):
            if stage.getHandleInvalid() != "keep":
                return None
            prep.assembled[stage.getOutputCol()] = list(stage.getInputCols())
        else:
            heads.append(stage)
    return prep, heads


def _binary_gbt(stage) -> bool:
    from pyspark.ml.classification import GBTClassificationModel

    return isinstance(stage, GBTClassificationModel) and stage.numClasses == 2


def _calibration(stage, gbt) -> Calibration | None:
    """The calibration stage reading ``gbt``'s probability, as arrays; None for any other stage."""
    from pyspark.ml.regression import IsotonicRegressionModel

    from userscore.models.calibration import PlattModel

    if isinstance(stage, IsotonicRegressionModel):
        if stage.getFeaturesCol() != gbt.getProbabilityCol() or stage.getFeatureIndex() != 1:
            return None
        return Calibration("isotonic", tuple(stage.boundaries.toArray()), tuple(stage.predictions.toArray()))
    if isinstance(stage, PlattModel):
        slope, intercept = stage.getOrDefault(stage.slope), stage.getOrDefault(stage.intercept)
        return Calibration("platt", slope=float(slope), intercept=float(intercept))
    return None


def _inputs(stage) -> list[str]:
    return list(stage.getInputCols()) if stage.isSet(stage.inputCols) else [stage.getInputCol()]


def _outputs(stage) -> list[str]:
    return list(stage.getOutputCols()) if stage.isSet(stage.outputCols) else [stage.getOutputCol()]


def score_batch(
    models: Sequence[tuple[str, CompiledModel | CompiledUplift]],
    numeric: Mapping[str, np.ndarray],
    strings: Mapping[str, pd.Series],
    integral: set[str],
    reasons: ReasonsConfig | None,
) -> dict[str, object]:
    """Every model on one batch: ``<key>_p`` (calibrated probability) of a CompiledModel, ``<key>_uplift``
    and ``<key>_p_control`` of a CompiledUplift and, when ``reasons`` is given, ``<key>_reasons`` (the text
    of its top reasons, see reasons.reason_texts)."""
    out: dict[str, object] = {}
    for key, model in models:
        x, groups = model.matrix(numeric, strings, integral)
        if isinstance(model, CompiledUplift):
            out[f"{key}_uplift"], out[f"{key}_p_control"], per_column = model.score(x, groups, reasons is not None)
        else:
            out[f"{key}_p"], per_column = model.score(x, groups, explain=reasons is not None)
        if reasons is not None:
            out[f"{key}_reasons"] = reason_texts(per_column, model.names, reasons.top_k, reasons.decimals)
    return out
