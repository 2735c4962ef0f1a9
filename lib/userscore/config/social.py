"""Config section ``social``: social-network analysis (conf/base/social.yaml, docs/social.md).

``edge_types``: each type's weight and which end it shows influential (``dst``: a follow; ``src``: a share
or an invite); ``pagerank`` and ``community_max_iter``: the iterations; ``share_conversion_days``: how long
after a share the recipient's orders count for the sharer; ``kol``: the influence share and conversions a
KOL needs; ``min_community_size``: the smallest community with a hub; the output tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from userscore.config.tables import TableSpec
from userscore.config.typed import Count, Days, KeyPath, NonNegative, Range, frozen

_EDGE_COLUMNS = ("src_user_id", "dst_user_id", "edge_type", "created_at")


@frozen
class EdgeType:
    weight: Annotated[float, Range(0.0, low_open=True)]
    influencer: Literal["src", "dst"]


@frozen
class PageRankConfig:
    damping: Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)]
    tolerance: Annotated[float, Range(0.0, low_open=True)]
    max_iter: Count


@frozen
class KolConfig:
    top_share: Annotated[float, Range(0.0, 1.0, low_open=True)]
    min_conversions: NonNegative


@frozen
class SocialConfig:
    edges_table: str
    profiles_table: str
    orders_table: str
    edge_types: Mapping[str, EdgeType]
    pagerank: PageRankConfig
    community_max_iter: Count
    share_conversion_days: Days
    kol: KolConfig
    min_community_size: Annotated[int, Range(2)]
    top_members: Count
    user_table: str
    communities_table: str
    members_table: str
    kols_table: str

    def __post_init__(self):
        if not self.edge_types:
            raise ValueError("edge_types: at least one edge type with its weight and influencer end")

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.user_table, self.communities_table, self.members_table, self.kols_table


def reference_errors(
    social: SocialConfig, tables: Mapping[str, TableSpec], edges_allowed: tuple[str, ...] | None
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undeclared tables or edge columns, and edge types ingest admits (``edges_allowed``; None: any) that
    have no weight here (their edges would be left out without a word)."""
    keys = ("edges_table", "profiles_table", "orders_table", "user_table", "communities_table", "members_table")
    for key in (*keys, "kols_table"):
        name = getattr(social, key)
        if name not in tables:
            yield ("social", key), f"undefined table {name!r}", f"one of {sorted(tables)}"
    if social.edges_table in tables:
        missing = [c for c in _EDGE_COLUMNS if c not in tables[social.edges_table].column_names]
        if missing:
            yield ("social", "edges_table"), f"{social.edges_table} lacks {missing}", f"columns {list(_EDGE_COLUMNS)}"
    if edges_allowed is None:
        yield (
            ("social", "edges_table"),
            f"the ingest source of {social.edges_table} admits any edge_type",
            "an allowed.edge_type rule, so that every edge type has a weight here",
        )
    for edge_type in edges_allowed or ():
        if edge_type not in social.edge_types:
            yield (
                ("social", "edge_types"),
                f"no weight for edge type {edge_type!r}, which ingest admits",
                "a weight per type",
            )
