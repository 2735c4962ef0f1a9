"""The analysis report renders completely in a real headless browser: every chart decoded to a non-empty
image, every section there with its heading, no script, resource or console error. Skipped where no
Chromium is installed (`apt-get install chromium` on Debian; scripts/setup.sh does not install it: it
needs root and ~300 MB, and nothing else in the project needs a browser). A negative control shows the
probe does catch a broken image and a console error."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.analysis.browser import find_browser, render
from tests.base_config import base_config
from userscore.analysis.report import SECTIONS, write_report
from userscore.analysis.report import render as render_report
from userscore.charts import img, plt, png, table

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (apt-get install chromium)")
D = dt.date(2026, 11, 1)


def _section(name: str):
    """A section like the real ones: a heading, a bar chart of its frame, a small table, a note."""

    def section(frames, config) -> str:
        (frame,) = frames.values()
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(frame["label"], frame["users"])
        rows = list(frame.itertuples(index=False, name=None))
        return (f"<h2>{name}</h2>" + img(png(fig), f"{name} chart") + table(["label", "users"], rows)
                + '<p class="note">one line a marketing analyst reads</p>')  # fmt: skip

    return section


def _frames() -> dict[str, dict[str, pd.DataFrame]]:
    counts = pd.DataFrame({"label": ["a", "b", "c"], "users": [30, 20, 5]})
    return {analyses[0]: {f"analysis.{name}": counts} for name, (_, analyses) in SECTIONS.items()}


def test_the_report_renders_completely(tmp_path):
    sections = {name: _section(name) for name in SECTIONS}
    facts = [("Users capped at their latest 10,000 events (likely bots)", "3")]
    text = render_report(D, _frames(), base_config(), facts, sections)
    page = write_report(text, tmp_path / "analysis-2026-11-01.html")
    seen = render(BROWSER, page, tmp_path)
    assert seen.errors == []
    assert seen.title == "userscore analyses 2026-11-01"
    assert [i["alt"] for i in seen.images] == [f"{name} chart" for name in SECTIONS]
    assert seen.undecoded() == []
    # Each chart decodes to the figure's size: 6 x 3 inches at the charts' 90 dpi (tight layout keeps it).
    assert {(i["width"], i["height"]) for i in seen.images} == {(540, 270)}
    assert [(s["id"], s["headings"]) for s in seen.sections] == [(name, 1) for name in SECTIONS]
    assert all(s["height"] > 200 for s in seen.sections)


def test_the_probe_catches_a_broken_image_and_a_console_error(tmp_path):
    broken = "<h2>broken</h2>" + img("AAAA", "truncated chart") + "<script>console.error('boom')</script>"
    sections = {name: _section(name) for name in SECTIONS} | {"paths": lambda frames, config: broken}
    page = write_report(render_report(D, _frames(), base_config(), (), sections), tmp_path / "broken.html")
    seen = render(BROWSER, page, tmp_path)
    assert seen.undecoded() == ["truncated chart"]
    assert sorted(seen.errors) == ["console.error: boom", "failed to load IMG data:image/png;base64,AAAA"]
