"""The look-up API and the snapshot it serves (docs/serving.md).

``build`` (Spark) materialises the wide table, segment members and Change Data Feed into SQLite shards and
publishes them; ``store`` reads a published snapshot; ``app`` is the FastAPI application; ``keys`` the
hashed API keys; ``layout`` the files on disk. The API side (layout, keys, store, app) imports no pyspark:
import those modules directly rather than through this package.
"""
