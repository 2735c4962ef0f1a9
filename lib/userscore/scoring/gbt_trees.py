"""The flat tables of a fitted Spark GBT classifier (see :mod:`userscore.scoring.ensemble`).

Tree structure is read once per model on the driver (bounded by model size, ~ trees x 2^depth nodes):
one JVM call serialises every tree's nodes (Spark's own ``NodeData`` persistence records) to JSON; if
that internal API is unavailable, a walk over the public Node API (``rootNode``, ``split``,
``leftChild``...) gives the same tables, more slowly.
"""

from __future__ import annotations

import json

from userscore.scoring.ensemble import LEAF, TreeEnsemble, ensemble_from_nodes


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
