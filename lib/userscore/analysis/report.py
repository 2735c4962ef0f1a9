"""The analysis report: ONE self-contained HTML page (charts as base64 PNGs, inline CSS, no scripts, no
network) assembled from each analysis's section.

Each report module ``userscore.analysis.report_<name>`` exposes
``section(frames: Mapping[str, pandas.DataFrame], config: Config) -> str``: an HTML fragment drawn from the
analysis's written tables (partition D, bounded aggregates only). This module adds the header (what was
analysed, how many bots were capped), a table of contents and one ``<section id=...>`` per report module.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from userscore.charts import page
from userscore.config import Config

Section = Callable[[Mapping[str, pd.DataFrame], Config], str]

# Report section -> (its title in the contents, the analyses whose tables it draws). Profile and
# consumption share one section module (report_consumption).
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "funnels": ("Funnels", ("funnels",)),
    "paths": ("Behaviour paths", ("paths",)),
    "consumption": ("Profile and consumption", ("profile", "consumption")),
    "interests": ("Interests", ("interests",)),
}


def section_functions() -> dict[str, Section]:
    """Each report section's ``section`` function, from ``userscore.analysis.report_<name>``."""
    return {name: importlib.import_module(f"userscore.analysis.report_{name}").section for name in SECTIONS}


def frames_by_section(frames: Mapping[str, Mapping[str, pd.DataFrame]]) -> dict[str, dict[str, pd.DataFrame]]:
    """Analysis -> {table: frame} regrouped per report section (a section gets all its analyses' tables)."""
    return {
        name: {table: frame for analysis in analyses for table, frame in frames.get(analysis, {}).items()}
        for name, (_, analyses) in SECTIONS.items()
    }


def header(as_of: dt.date, facts: Sequence[tuple[str, str]]) -> str:
    """The title, and one line per (label, value) fact about the analysed data."""
    lines = "".join(f"<li>{html.escape(label)}: <b>{html.escape(value)}</b></li>" for label, value in facts)
    contents = " | ".join(f'<a href="#{name}">{html.escape(title)}</a>' for name, (title, _) in SECTIONS.items())
    return (
        f"<h1>User-base analyses as of {as_of.isoformat()}</h1>"
        f'<div class="meta"><ul>{lines}</ul><p>Contents: {contents}</p></div>'
    )


def render(
    as_of: dt.date,
    frames: Mapping[str, Mapping[str, pd.DataFrame]],
    config: Config,
    facts: Sequence[tuple[str, str]] = (),
    sections: Mapping[str, Section] | None = None,
) -> str:
    """The report page: header, then every section in SECTIONS order, each given its analyses' frames."""
    sections = section_functions() if sections is None else sections
    grouped = frames_by_section(frames)
    body = [header(as_of, facts)]
    for name in SECTIONS:
        body.append(f'<section id="{name}">{sections[name](grouped[name], config)}</section>')
    return page(f"userscore analyses {as_of.isoformat()}", body)


def write_report(text: str, path: Path) -> Path:
    """Write the page (folders created); the file is replaced whole, so a re-run leaves one page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
