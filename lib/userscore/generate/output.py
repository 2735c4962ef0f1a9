"""Land a generated user base as raw files, tallying records and bad records while writing.

The tallies are Spark observed metrics of the write itself (``DataFrame.observe``): no second pass over
the data, and only a handful of numbers per source (bounded by the bad-record kinds) reach the driver.
They go to the batch manifest ``<raw_dir>/_manifest/<batch_id>.json`` so ingest can be reconciled:
per source, records = clean + sum(bad); ingest should accept ``clean``, drop ``duplicate_exact`` as
duplicates and quarantine every other kind under the reason of the same name.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import Observation
from pyspark.sql import functions as F

from userscore import landing
from userscore.config.generate import GenerateConfig
from userscore.generate.bad_records import DUPLICATE_EXACT, KINDS
from userscore.generate.build import SOURCE_FORMATS, SyntheticUserBase


def land_raw(base: SyntheticUserBase, cfg: GenerateConfig, raw_dir: Path) -> dict[str, Any]:
    """Write every raw source to ``raw_dir/<source>/<cfg.batch_id>/`` (replacing the batch folder) and
    the batch manifest; return the manifest."""
    sources = {}
    for source, df in base.raw.items():
        kinds = KINDS.get(source, ())
        observation = Observation(f"generate-{source}-{uuid.uuid4().hex[:8]}")
        observed = df.observe(
            observation,
            F.count(F.lit(1)).alias("records"),
            *(F.count_if(F.col("bad_kind") == kind).alias(kind) for kind in kinds),
        ).drop("bad_kind")
        path = landing.batch_path(raw_dir, source, cfg.batch_id)
        if SOURCE_FORMATS[source] == "json":
            landing.write_text_lines(observed, path)
        else:
            landing.write_parquet(observed, path)
        sources[source] = _source_summary(SOURCE_FORMATS[source], observation.get, kinds)
    manifest = {
        "batch_id": cfg.batch_id,
        "seed": cfg.seed,
        "users": cfg.users,
        "end_date": cfg.end_date.isoformat(),
        "history_days": cfg.history_days,
        "bad_record_share": cfg.bad_record_share,
        "order_scale": base.scales.orders,
        "visit_scale": base.scales.visits,
        "sources": sources,
    }
    landing.write_manifest(raw_dir, cfg.batch_id, manifest)
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
