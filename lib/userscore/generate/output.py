"""Land a generated user base as raw files, tallying records and bad records while writing.

The tallies are Spark observed metrics of the write itself (``DataFrame.observe``): no second pass over
the data, and only a handful of numbers per source (bounded by the bad-record kinds) reach the driver.
They go to the batch manifest ``<raw_dir>/_manifest/<batch_id>.json`` so ingest can be reconciled:
per source, records = clean + sum(bad); ingest should accept ``clean``, drop ``duplicate_exact`` as
duplicates and quarantine every other kind under the reason of the same name.

The late refunds land as a second batch ``<batch_id>-late`` (with its own manifest): every source has a
folder there, as ingest expects, but only orders have records, each a later version of an order of
``batch_id`` that ingest accepts (it replaces the unrefunded version in silver.orders).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from userscore import landing
from userscore.config.generate import GenerateConfig
from userscore.generate.bad_records import DUPLICATE_EXACT, KINDS
from userscore.generate.build import SOURCE_FORMATS, SyntheticUserBase, late_batch_id


def land_raw(base: SyntheticUserBase, cfg: GenerateConfig, raw_dir: Path) -> dict[str, Any]:
    """Write every raw source to ``raw_dir/<source>/<cfg.batch_id>/`` and the late refunds to
    ``raw_dir/<source>/<cfg.batch_id>-late/`` (replacing the batch folders), each batch with its manifest;
    return the manifest of ``cfg.batch_id`` (whose ``late_batch`` names the second one)."""
    late_id = late_batch_id(cfg.batch_id)
    manifest = _land_batch(base.raw, cfg, cfg.batch_id, base, raw_dir)
    late = _land_batch(base.late, cfg, late_id, base, raw_dir)
    manifest["late_batch"] = {"batch_id": late_id, "orders": late["sources"]["orders"]["records"]}
    landing.write_manifest(raw_dir, cfg.batch_id, manifest)
    return manifest


def _land_batch(
    frames: dict[str, DataFrame], cfg: GenerateConfig, batch_id: str, base: SyntheticUserBase, raw_dir: Path
) -> dict[str, Any]:
    sources = {}
    for source, df in frames.items():
        kinds = KINDS.get(source, ())
        observation = Observation(f"generate-{source}-{uuid.uuid4().hex[:8]}")
        observed = df.observe(
            observation,
            F.count(F.lit(1)).alias("records"),
            *(F.count_if(F.col("bad_kind") == kind).alias(kind) for kind in kinds),
        ).drop("bad_kind")
        path = landing.batch_path(raw_dir, source, batch_id)
        if SOURCE_FORMATS[source] == "json":
            landing.write_text_lines(observed, path)
        else:
            landing.write_parquet(observed, path)
        sources[source] = _source_summary(SOURCE_FORMATS[source], observation.get, kinds)
    manifest = {
        "batch_id": batch_id,
        "seed": cfg.seed,
        "users": cfg.users,
        "end_date": cfg.end_date.isoformat(),
        "history_days": cfg.history_days,
        "bad_record_share": cfg.bad_record_share,
        "order_scale": base.scales.orders,
        "visit_scale": base.scales.visits,
        "sources": sources,
    }
    landing.write_manifest(raw_dir, batch_id, manifest)
    return manifest


def _source_summary(file_format: str, metrics: dict[str, int], kinds: tuple[str, ...]) -> dict[str, Any]:
    bad = {kind: int(metrics[kind]) for kind in kinds}
    records = int(metrics["records"])
    clean = records - sum(bad.values())
    duplicates = bad.get(DUPLICATE_EXACT, 0)
    return {
        "format": file_format,
        "records": records,
        "clean": clean,
        "bad": bad,
        "expected_ingest": {
            "accepted": clean,
            "quarantined": sum(bad.values()) - duplicates,
            "duplicates_dropped": duplicates,
        },
    }
