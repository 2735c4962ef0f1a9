"""Social-network analysis at a date (docs/social.md): edges -> influence, reach, conversions driven,
communities -> per-user table, communities, KOLs.

edges: the weighted influence edges before D; ranking: exact percentiles without a single-task sort;
metrics: per-user measures; communities: label propagation, sizes, values, hubs and top members.
"""
