"""Per-user reasons behind a tree-ensemble score: Saabas path attributions, vectorised.

Method (Saabas, "treeinterpreter"): in a regression tree every node holds the mean target of its
training rows (Spark keeps it as the node's ``prediction``). Following a user's path from the root to
a leaf, each split moves the expected value from the parent's mean to the child's mean; that change is
credited to the split's feature. So per tree ``prediction = root mean + sum of feature credits``, and
for a GBT the weighted sum over trees gives ``margin = bias + sum_f contribution_f``. Spark's binary
GBT returns p = 1 / (1 + exp(-2 * margin)), so contributions scaled by 2 are additive in log-odds:
``logit(p_raw) = 2 * bias + sum_f 2 * contribution_f`` exactly (a test checks this against Spark).

Relation to SHAP: Saabas is the single-ordering special case of TreeSHAP (the order the features are
met along the path). It is locally exact (contributions add up to the score) and much cheaper, but not
*consistent*: a feature split near the root gets less credit than under SHAP's average over orderings.
It ranks the main drivers of a user's score well, which is what "top 3 reasons" needs.

The calibration stage after the GBT is monotone (isotonic or Platt with a positive slope), so the sign
of a contribution is also its direction on the served probability; magnitudes stay in raw log-odds.

Tree structure is read once per model on the driver (bounded by model size, ~ trees x 2^depth nodes):
one JVM call serialises every tree's nodes (Spark's own ``NodeData`` persistence records) to JSON; if
that internal API is unavailable, a walk over the public Node API (``rootNode``, ``split``,
``leftChild``...) gives the same tables, more slowly. Attribution runs in a pandas UDF over a batch of
users at a time, in two compiled loops (numba): the walk to every tree's leaf, and the leaves' credits.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import types as T

_LEAF = -1


@dataclass(frozen=True)
class TreeEnsemble:
    """Every node of every tree in flat arrays (global node index: trees in order, each breadth first
    with the two children of a node adjacent), values already weighted and scaled.

    walk_base/walk_feature/walk_threshold, for :func:`descend`: from a node go to walk_base +
    (x[walk_feature] > walk_threshold), NaN counting as greater, as Spark sends it right; a leaf has
    walk_feature num_features (no feature) and walk_base itself. category_row: the row of
    ``left_categories`` for a split on a feature of more than two categories (go to walk_base when x is a
    left category), else -1.
    value: tree weight x scale x node mean; roots: the root of each tree. path_feature/path_delta (nodes
    x depth): for every node, the feature of each split on the way from its root and the change of value
    that split made (zero past the node's own depth): the Saabas credits of a user who ends there.
    """

    category_row: np.ndarray
    left_categories: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int
    num_features: int
    path_feature: np.ndarray
    path_delta: np.ndarray
    walk_base: np.ndarray
    walk_feature: np.ndarray
    walk_threshold: np.ndarray

    @property
    def bias(self) -> float:
        """The score of a user before any split: the sum of the root values."""
        return float(self.value[self.roots].sum())


# -- building the tables ------------------------------------------------------------------------------
def ensemble_from_nodes(
    trees: Sequence[Sequence[dict]], weights: Sequence[float], num_features: int, scale: float = 1.0
) -> TreeEnsemble:
    """Flat tables from per-tree node records.

    Each record: ``id`` (0 = root), ``prediction``, ``leftChild``/``rightChild`` (ids, -1 for a leaf) and
    ``split`` = {``featureIndex``, ``leftCategoriesOrThreshold``, ``numCategories`` (-1 = continuous)}:
    the layout of Spark's tree persistence (``DecisionTreeModelReadWrite.NodeData``).
    """
    feature, walk_threshold, walk_base, category_row, left, right, value, roots = [], [], [], [], [], [], [], []
    categories: list[tuple[int, list[float]]] = []
    depth = 0
    offset = 0
    for nodes, weight in zip(trees, weights, strict=True):
        by_id = {int(n["id"]): n for n in nodes}
        order = _walk_order(by_id)
        index = {node_id: offset + i for i, node_id in enumerate(order)}
        for node_id in order:
            node = by_id[node_id]
            split = node.get("split") or {}
            value.append(scale * weight * float(node["prediction"]))
            if int(node["leftChild"]) == _LEAF:
                # A leaf: no feature to read (num_features), and itself as the next node.
                left.append(_LEAF)
                right.append(_LEAF)
                feature.append(num_features)
                walk_base.append(index[node_id])
                walk_threshold.append(0.0)
                category_row.append(-1)
                continue
            left.append(index[int(node["leftChild"])])
            right.append(index[int(node["rightChild"])])
            feature.append(int(split["featureIndex"]))
            walk_base.append(min(left[-1], right[-1]))
            bounds = list(split.get("leftCategoriesOrThreshold") or [])
            binary = _binary_split(split)
            general = int(split.get("numCategories", -1)) >= 0 and not binary
            walk_threshold.append(0.5 if binary else (0.0 if general else bounds[0]))
            category_row.append(len(categories) if general else -1)
            if general:
                categories.append((int(split["numCategories"]), bounds))
        roots.append(index[0])
        depth = max(depth, _depth(by_id))
        offset += len(by_id)
    path_feature, path_delta = _paths(roots, left, right, feature, value, depth)
    width = max([n for n, _ in categories] + [1])
    table = np.zeros((max(len(categories), 1), width), dtype=bool)
    for row, (_, cats) in enumerate(categories):
        table[row, [int(c) for c in cats]] = True
    return TreeEnsemble(
        category_row=np.asarray(category_row, dtype=np.int64),
        left_categories=table,
        value=np.asarray(value, dtype=np.float64),
        roots=np.asarray(roots, dtype=np.int64),
        depth=depth,
        num_features=num_features,
        path_feature=path_feature,
        path_delta=path_delta,
        walk_base=np.asarray(walk_base, dtype=np.int64),
        walk_feature=np.asarray(feature, dtype=np.int64),
        walk_threshold=np.asarray(walk_threshold, dtype=np.float64),
    )


def _binary_split(split: dict) -> bool:
    """A split on a two-category feature (a one-hot slot: values 0 and 1) with one left category: the
    same as a threshold at 0.5 with the children in the right order (see _walk_order)."""
    return int(split.get("numCategories", -1)) == 2 and len(split.get("leftCategoriesOrThreshold") or []) == 1


def _walk_order(by_id: dict[int, dict]) -> list[int]:
    """Node ids breadth first, the two children of a node next to each other: the child taken when
    x <= threshold first. For a two-category split that is the child of category 0: the left child when
    category 0 goes left, else the right one."""
    order, i = [0], 0
    while i < len(order):
        node = by_id[order[i]]
        if int(node["leftChild"]) != _LEAF:
            children = [int(node["leftChild"]), int(node["rightChild"])]
            split = node.get("split") or {}
            if _binary_split(split) and float(split["leftCategoriesOrThreshold"][0]) == 1.0:
                children.reverse()
            order += children
        i += 1
    return order


def _paths(roots, left, right, feature, value, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the feature of each split from its root down to it, and the change of value it made."""
    width = max(depth, 1)
    path_feature = np.zeros((len(value), width), dtype=np.int64)
    path_delta = np.zeros((len(value), width))
    stack = [(int(root), 0) for root in roots]
    while stack:
        node, level = stack.pop()
        if left[node] == _LEAF:
            continue
        for child in (left[node], right[node]):
            path_feature[child], path_delta[child] = path_feature[node], path_delta[node]
            path_feature[child, level] = feature[node]
            path_delta[child, level] = value[child] - value[node]
            stack.append((child, level + 1))
    return path_feature, path_delta


def _depth(by_id: dict[int, dict]) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node_id, d = stack.pop()
        deepest = max(deepest, d)
        node = by_id[node_id]
        if int(node["leftChild"]) != _LEAF:
            stack += [(int(node["leftChild"]), d + 1), (int(node["rightChild"]), d + 1)]
    return deepest


def gbt_ensemble(gbt) -> TreeEnsemble:
    """The tables of a fitted binary ``GBTClassificationModel``, scaled to log-odds (factor 2)."""
    java_trees = list(gbt._java_obj.trees())
    try:
        trees = _nodes_via_json(java_trees)
    except Exception:  # noqa: BLE001 - the internal fast path is optional; the public walk always works
        trees = [_nodes_via_walk(tree.rootNode()) for tree in java_trees]
    return ensemble_from_nodes(trees, list(gbt.treeWeights), int(gbt.numFeatures), scale=2.0)


def _scala_object(package, name: str):
    return getattr(getattr(package, name), "MODULE$")


def _nodes_via_json(java_trees: list) -> list[list[dict]]:
    """One JVM call: Spark's own persistence records of every tree, as JSON (fields only)."""
    from pyspark import SparkContext

    jvm = SparkContext._active_spark_context._jvm
    node_data = _scala_object(jvm.org.apache.spark.ml.tree, "DecisionTreeModelReadWrite$NodeData$")
    mapper = jvm.com.fasterxml.jackson.databind.ObjectMapper()
    mapper.registerModule(_scala_object(jvm.com.fasterxml.jackson.module.scala, "DefaultScalaModule$"))
    accessor = jvm.com.fasterxml.jackson.annotation.PropertyAccessor
    visibility = getattr(jvm.com.fasterxml.jackson.annotation, "JsonAutoDetect$Visibility")
    mapper.setVisibility(accessor.ALL, visibility.NONE)
    mapper.setVisibility(accessor.FIELD, visibility.ANY)
    batch = jvm.java.util.ArrayList()
    for tree in java_trees:
        batch.add(node_data.build(tree.rootNode(), 0)._1())
    return json.loads(mapper.writeValueAsString(batch))


def _nodes_via_walk(root) -> list[dict]:
    """The same records from the public Node API (a few JVM calls per node)."""
    records, stack, next_id = [], [(root, 0)], 1
    while stack:
        node, node_id = stack.pop()
        record = {"id": node_id, "prediction": float(node.prediction()), "leftChild": _LEAF, "rightChild": _LEAF}
        if node.getClass().getSimpleName() == "InternalNode":
            split = node.split()
            if split.getClass().getSimpleName() == "CategoricalSplit":
                bounds, num = [float(c) for c in split.leftCategories()], int(split.numCategories())
            else:
                bounds, num = [float(split.threshold())], -1
            record["split"] = {"featureIndex": int(split.featureIndex()), "leftCategoriesOrThreshold": bounds,
                               "numCategories": num}  # fmt: skip
            record["leftChild"], record["rightChild"] = next_id, next_id + 1
            stack += [(node.leftChild(), next_id), (node.rightChild(), next_id + 1)]
            next_id += 2
        records.append(record)
    return records


# -- attribution ------------------------------------------------------------------------------------
def descend(ensemble: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    """The leaf every row reaches in every tree: a (rows x trees) array of node indices. ``x``: rows x
    num_features."""
    e = ensemble
    x = np.ascontiguousarray(x, dtype=np.float64)
    return _descend(
        x, e.roots, e.depth, e.walk_feature, e.walk_threshold, e.walk_base, e.category_row, e.left_categories
    )


def contributions(
    ensemble: TreeEnsemble, leaves: np.ndarray, groups: np.ndarray | None = None, num_groups: int | None = None
) -> np.ndarray:
    """Saabas contributions of the rows that reached ``leaves``: every split on the way to each leaf
    credits its change of value to its feature. Rows x num_features (rows sum to score - bias), or, with
    ``groups`` (the column each slot comes from), rows x num_groups: one-hot slots summed into their
    categorical column."""
    if groups is None:
        groups, num_groups = np.arange(ensemble.num_features), ensemble.num_features
    groups = np.asarray(groups, dtype=np.int64)
    return _credit(leaves, ensemble.path_feature, ensemble.path_delta, groups, int(num_groups))


def saabas(
    ensemble: TreeEnsemble, x: np.ndarray, groups: np.ndarray | None = None, num_groups: int | None = None
) -> np.ndarray:
    """Per-row contributions (see :func:`contributions`) of the rows of ``x``."""
    return contributions(ensemble, descend(ensemble, x), groups, num_groups)


# Compiled loops (numba): per row and tree, a walk of at most depth steps and a sum of at most depth
# credits, with no intermediate arrays; numpy's vectorised form gathered rows x trees x depth
# temporaries and ran about 3x slower. cache=True keeps the machine code beside the module (or in
# numba's user cache when that folder is read-only), so a Python worker compiles once per install.
@numba.njit(cache=True, nogil=True)
def _descend(x, roots, depth, walk_feature, walk_threshold, walk_base, category_row, left_categories):
    rows, num_features = x.shape
    width = left_categories.shape[1]
    out = np.empty((rows, roots.size), dtype=np.int64)
    for r in range(rows):
        for t in range(roots.size):
            node = roots[t]
            for _ in range(depth):
                feature = walk_feature[node]
                if feature >= num_features:  # a leaf
                    break
                v = x[r, feature]
                row = category_row[node]
                if row >= 0:  # NaN, negative or unseen categories go right, as in Spark
                    go_left = v >= 0 and v < width and left_categories[row, int(v)]
                else:  # NaN compares false: right, as in Spark
                    go_left = v <= walk_threshold[node]
                node = walk_base[node] + (0 if go_left else 1)
            out[r, t] = node
    return out


@numba.njit(cache=True, nogil=True)
def _credit(leaves, path_feature, path_delta, groups, num_groups):
    rows, trees = leaves.shape
    out = np.zeros((rows, num_groups))
    for r in range(rows):
        for t in range(trees):
            leaf = leaves[r, t]
            for d in range(path_feature.shape[1]):  # past the leaf's depth: a zero credit
                out[r, groups[path_feature[leaf, d]]] += path_delta[leaf, d]
    return out


def margin(ensemble: TreeEnsemble, leaves: np.ndarray) -> np.ndarray:
    """The ensemble's score per row (log-odds for a scaled GBT) from the leaves :func:`descend` found:
    the trees' leaf values summed in tree order, as Spark sums its weighted tree predictions."""
    return ensemble.value[leaves].sum(axis=1)


def top_k(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest |contributions| per row (ties: lower index first).

    k rounds of argmax (which returns the first of equal maxima) instead of sorting every row: k is 3
    and a row has one entry per model input."""
    k = min(k, contributions.shape[1])
    magnitude = np.abs(contributions)
    rows = np.arange(contributions.shape[0])
    order = np.empty((contributions.shape[0], k), dtype=np.int64)
    for j in range(k):
        order[:, j] = np.argmax(magnitude, axis=1)
        magnitude[rows, order[:, j]] = -1.0  # below every |contribution|: never picked again
    return order, np.take_along_axis(contributions, order, axis=1)


@dataclass(frozen=True)
class Explainer:
    """What the reasons UDF needs: the trees, and which source column each vector slot comes from."""

    ensemble: TreeEnsemble
    groups: tuple[int, ...]
    names: tuple[str, ...]


def reasons_text(explainer: Explainer, features: Column, k: int, decimals: int) -> Column:
    """The reasons text (see :func:`reason_texts`) from the assembled feature vector, computed by a
    vectorised pandas UDF."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql.functions import pandas_udf

    ensemble = explainer.ensemble
    groups = np.asarray(explainer.groups, dtype=np.int64)
    names = explainer.names

    @pandas_udf(T.StringType())
    def _reasons(vectors: pd.Series) -> pd.Series:
        if len(vectors) == 0:
            return pd.Series([], dtype=object)
        x = np.vstack(vectors.to_numpy()).astype(np.float64, copy=False)
        return pd.Series(reason_texts(saabas(ensemble, x, groups, len(names)), names, k, decimals))

    return _reasons(vector_to_array(features))


def reason_texts(per_column: np.ndarray, names: Sequence[str], k: int, decimals: int) -> np.ndarray:
    """'name (+0.84); name (-0.32)' per row: the k source columns of largest |contribution| (log-odds),
    largest first; None where no column contributed.

    Written here, in the pandas UDF, with numpy lookups and concatenations: the same text built by
    Spark expressions (a decimal cast per number) cost several times more, most of it in the scoring
    projection's cold generated code."""
    index, value = top_k(per_column, min(k, len(names)))
    present = np.abs(value) > 1e-12  # ranked by magnitude: a prefix of each row
    labels = np.array([f"{name} (" for name in names], dtype=object)
    parts = labels[index] + number_texts(value, decimals) + ")"
    text = parts[:, 0]
    for j in range(1, index.shape[1]):
        text = np.where(present[:, j], text + "; " + parts[:, j], text)
    return np.where(present[:, 0], text, None)


def number_texts(values: np.ndarray, decimals: int) -> np.ndarray:
    """Each value as "+0.84" / "-0.32" (an object array shaped like ``values``): value x 10^decimals
    (in double precision) rounded half away from zero, the sign always written ("-0.00" for a small
    negative value)."""
    units = np.floor(np.abs(values) * 10.0**decimals + 0.5).astype(np.int64)
    table = _magnitudes(decimals)
    beyond = units >= table.size
    text = table[np.where(beyond, 0, units)]
    text[beyond] = [_magnitude(int(u), decimals) for u in units[beyond]]
    return np.where(values < 0, "-", "+").astype(object) + text


@functools.lru_cache(maxsize=8)
def _magnitudes(decimals: int) -> np.ndarray:
    """The text of every magnitude of up to 100,000 units (0.00 .. 999.99 at two decimals): a lookup
    per number instead of a float format."""
    return np.array([_magnitude(u, decimals) for u in range(100_000)], dtype=object)


def _magnitude(units: int, decimals: int) -> str:
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}" if decimals else str(whole)
