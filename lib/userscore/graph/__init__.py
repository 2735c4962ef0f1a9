"""Graph algorithms on plain Spark DataFrames: connected components, PageRank, label propagation.

No GraphFrames: every algorithm is groupBy aggregations and joins, iterated with checkpoints (docs/graph.md).
"""

from userscore.graph._lineage import Checkpoint, local_checkpoint
from userscore.graph.components import Components, connected_components
from userscore.graph.label_propagation import Communities, label_propagation
from userscore.graph.pagerank import PageRank, pagerank

__all__ = [
    "Checkpoint",
    "Communities",
    "Components",
    "PageRank",
    "connected_components",
    "label_propagation",
    "local_checkpoint",
    "pagerank",
]
