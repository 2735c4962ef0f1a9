"""The fused scoring pass: champions, tiers, uplift, value score, grade, reasons, tags and audiences.

Public API:
- :func:`pipeline.score_snapshot`: score snapshot D and write scores, the tag wide table and audiences;
- :func:`fuse.fused_scores`: the one scores plan over a features frame (pure DataFrame -> DataFrame);
- :func:`models.load_champions`: the ``@champion`` of every scored target and uplift type, with its
  trees and its compiled form (:mod:`compiled`: the pipeline as numpy arrays, every model in one Python
  pass); :mod:`uplift_columns`: the uplift tier and net margin rules;
- :func:`audiences.segment_members`: segment members with control flags from a scores frame.

Submodules import Spark; import them where used.
"""
