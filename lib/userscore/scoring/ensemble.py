"""A tree ensemble as flat numpy tables: every node of every tree, its value, how to walk from it to a
leaf and the splits on the way from its root (the Saabas credits of a row that ends there).

Built from per-tree node records in the layout of Spark's tree persistence (see
:mod:`userscore.scoring.gbt_trees` for reading them from a fitted model); pure numpy, so the tables can be
built by hand in tests and shipped to Python workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEAF = -1


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
            if int(node["leftChild"]) == LEAF:
                # A leaf: no feature to read (num_features), and itself as the next node.
                left.append(LEAF)
                right.append(LEAF)
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
        if int(node["leftChild"]) != LEAF:
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
        if left[node] == LEAF:
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
        if int(node["leftChild"]) != LEAF:
            stack += [(int(node["leftChild"]), d + 1), (int(node["rightChild"]), d + 1)]
    return deepest
