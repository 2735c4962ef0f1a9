"""The report frame: the header, one <section> per report module in order, each given the tables of its
analyses, and a page that needs nothing outside itself (stand-in sections; the real ones are tested with
their analyses)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from tests.base_config import base_config
from userscore.analysis.report import SECTIONS, frames_by_section, render, write_report

D = dt.date(2026, 11, 1)


def test_sections_get_their_analyses_tables_in_order():
    a, b, c = (pd.DataFrame({"n": [i]}) for i in range(3))
    frames = {"funnels": {"analysis.funnel_steps": a}, "profile": {"analysis.profile": b},
              "consumption": {"analysis.rf_grid": c}}  # fmt: skip
    given: dict[str, list[str]] = {}

    def section(name):
        def draw(frames, config):
            given[name] = sorted(frames)
            return f"<h2>{name} &amp; more</h2>"

        return draw

    page = render(D, frames, base_config(), [("Users <scored>", "1,200")], {n: section(n) for n in SECTIONS})
    assert given == {
        "funnels": ["analysis.funnel_steps"],
        "paths": [],
        "consumption": ["analysis.profile", "analysis.rf_grid"],
        "interests": [],
    }
    assert re.findall(r'<section id="(\w+)">', page) == ["funnels", "paths", "consumption", "interests"]
    assert "<h1>User-base analyses as of 2026-11-01</h1>" in page
    assert "<li>Users &lt;scored&gt;: <b>1,200</b></li>" in page
    assert 'Contents: <a href="#funnels">Funnels</a> | <a href="#paths">Behaviour paths</a> | ' in page
    # Self-contained: no script, nothing fetched from anywhere.
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:|#)', page)


def test_frames_by_section_keeps_every_table_once():
    frame = pd.DataFrame()
    grouped = frames_by_section({"paths": {"analysis.t": frame}, "interests": {"analysis.u": frame}})
    assert {name: sorted(tables) for name, tables in grouped.items()} == {
        "funnels": [],
        "paths": ["analysis.t"],
        "consumption": [],
        "interests": ["analysis.u"],
    }


def test_write_report_replaces_the_page_whole(tmp_path):
    path = tmp_path / "reports" / "analysis" / "analysis-2026-11-01.html"
    write_report("<html>first</html>", path)
    write_report("<html>second</html>", path)
    assert path.read_text(encoding="utf-8") == "<html>second</html>"
    assert sorted(p.name for p in path.parent.iterdir()) == ["analysis-2026-11-01.html"]
