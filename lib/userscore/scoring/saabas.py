"""Saabas path attributions of a tree ensemble's score, vectorised.

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

Attribution runs over a batch of rows at a time, in two compiled loops (numba): the walk to every
tree's leaf, and the leaves' credits.
"""

from __future__ import annotations

import numba
import numpy as np

from userscore.scoring.ensemble import TreeEnsemble


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
