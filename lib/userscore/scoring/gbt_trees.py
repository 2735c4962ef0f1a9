"""The flat tables of a fitted Spark GBT classifier (see :mod:`userscore.scoring.ensemble`).

Tree structure is read once per model on the driver (bounded by model size, ~ trees x 2^depth nodes):
one JVM call serialises every tree's nodes (Spark's own ``NodeData`` persistence records) to JSON; if
that internal API is unavailable, a walk over the public Node API (``rootNode``, ``split``,
``leftChild``...) gives the same tables, more slowly.

An uplift pipeline (userscore.uplift.model) holds two GBTs over one vector; :func:`uplift_ensemble` puts
both arms in ONE table, the control arm's values negated, so that one walk gives both arms' leaves and
the Saabas credits of that table are the treated arm's minus the control arm's.
"""

from __future__ import annotations

import json

from userscore.scoring.ensemble import LEAF, TreeEnsemble, ensemble_from_nodes


def gbt_ensemble(gbt) -> TreeEnsemble:
    """The tables of a fitted binary ``GBTClassificationModel``, scaled to log-odds (factor 2)."""
    return ensemble_from_nodes(_tree_nodes(gbt), list(gbt.treeWeights), int(gbt.numFeatures), scale=2.0)


def uplift_ensemble(treated, control) -> TreeEnsemble:
    """The treated arm's trees, then the control arm's with negated weights, scaled to log-odds: the
    margin of the first len(treated.treeWeights) trees is the treated arm's log-odds, minus the rest's
    the control arm's, and the Saabas credits of a row are its treated minus its control credits. Both
    GBTs read the same vector (``numFeatures`` equal)."""
    if int(treated.numFeatures) != int(control.numFeatures):
        raise ValueError(f"arms over different vectors: {treated.numFeatures} and {control.numFeatures} slots")
    weights = [*treated.treeWeights, *(-w for w in control.treeWeights)]
    trees = [*_tree_nodes(treated), *_tree_nodes(control)]
    return ensemble_from_nodes(trees, weights, int(treated.numFeatures), scale=2.0)


def arm_stages(model):
    """The (treated, control) GBT stages of a served uplift pipeline, told apart by the probability
    column each writes (userscore.uplift.model.ARM_OUTPUTS); None when the pipeline lacks either."""
    from pyspark.ml.classification import GBTClassificationModel

    from userscore.uplift.model import CONTROL_PROBABILITY, TREATED_PROBABILITY

    arms = {
        stage.getProbabilityCol(): stage
        for stage in getattr(model, "stages", [model])
        if isinstance(stage, GBTClassificationModel) and stage.numClasses == 2
    }
    treated, control = arms.get(TREATED_PROBABILITY), arms.get(CONTROL_PROBABILITY)
    return None if treated is None or control is None else (treated, control)


def _tree_nodes(gbt) -> list[list[dict]]:
    java_trees = list(gbt._java_obj.trees())
    try:
        return _nodes_via_json(java_trees)
    except Exception:  # noqa: BLE001 - the internal fast path is optional; the public walk always works
        return [_nodes_via_walk(tree.rootNode()) for tree in java_trees]


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
        record = {"id": node_id, "prediction": float(node.prediction()), "leftChild": LEAF, "rightChild": LEAF}
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
