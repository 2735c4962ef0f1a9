"""Appending a benchmark's latest figures to its section of docs/benchmarks.md (shared by the bench_* scripts)."""

from __future__ import annotations

from pathlib import Path


def with_entry(text: str, section: str, script: str, entry: str) -> str:
    """``text`` with ``entry`` at the end of ``section`` (a ``## `` heading, added at the end of the file with a
    pointer to ``script`` when missing)."""
    if f"\n{section}\n" not in text:
        text = text.rstrip("\n") + f"\n\n{section}\n\n`scripts/{script}` (its docstring gives the method).\n"
    start = text.index(f"\n{section}\n") + 1
    end = text.find("\n## ", start)
    end = len(text) if end < 0 else end + 1
    return text[:end].rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n" + ("\n" + text[end:] if end < len(text) else "")


def append_entry(report: Path, section: str, script: str, entry: str) -> None:
    """Write ``entry`` at the end of ``section`` of the file ``report`` (see ``with_entry``)."""
    report.write_text(with_entry(report.read_text(encoding="utf-8"), section, script, entry), encoding="utf-8")
