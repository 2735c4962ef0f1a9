"""docs/analysis.md names every declared analysis.* table, each on its own line of the table list."""

from __future__ import annotations

import re

from tests.base_config import base_config
from tests.conftest import REPO

DOC = (REPO / "docs" / "analysis.md").read_text(encoding="utf-8")
MARKER = "<!-- analysis tables: one line per declared analysis.* table -->"


def test_the_analysis_page_lists_every_analysis_table():
    listed = re.findall(r"^- `(analysis\.\w+)`", DOC.split(MARKER, 1)[1], flags=re.MULTILINE)
    declared = sorted(name for name in base_config().tables if name.startswith("analysis."))
    assert sorted(listed) == declared
