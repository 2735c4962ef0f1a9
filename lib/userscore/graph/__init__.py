"""Graph algorithms on plain Spark DataFrames: connected components, PageRank, label propagation.

No GraphFrames: every algorithm is groupBy aggregations and joins, iterated with checkpoints (docs/graph.md).
"""

from userscore.graph.components import Components, connected_components
from userscore.graph.label_propagation import Communities, label_propagation
from userscore.graph.pagerank import PageRank, pagerank

__all__ = [
    "Communities",
    "Components",
    "PageRank",
    "connected_components",
    "label_propagation",
    "pagerank",
]
