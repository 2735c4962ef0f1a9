"""The paths report section from hand-made table partitions (pandas only, no Spark)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import REPO
from userscore.analysis.report_paths import drawn_links, flow_layout, section
from userscore.config import load_config

PATH_COLUMNS = ["kind", "funnel", "anchor", "rank", "path", "depth", "sessions", "users", "share", "group_sessions",
                "group_users"]  # fmt: skip
STEP_COLUMNS = ["step", "from_element", "to_element", "sessions", "users", "share", "rank"]


@pytest.fixture(scope="module")
def config():
    return load_config(env="local", conf_dir=REPO / "conf")


def _links(rows):
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def test_drawn_links_leave_session_ends_out_and_keep_the_busiest_per_step():
    links = _links(
        [
            (1, "a", "(end)", 9, 9, 0.5, 1),
            (1, "a", "b", 6, 5, 0.3, 2),
            (1, "a", "c", 2, 2, 0.1, 3),
            (1, "x", "c", 2, 1, 1.0, 4),
            (2, "b", "d", 4, 4, 1.0, 1),
        ]
    )
    kept = drawn_links(links, per_step=2)
    assert kept[["step", "from_element", "to_element"]].values.tolist() == [[1, "a", "b"], [1, "a", "c"], [2, "b", "d"]]


def test_flow_layout_sizes_nodes_by_their_larger_flow_on_one_scale():
    links = _links([(1, "a", "b", 6, 6, 0.75, 1), (1, "a", "c", 2, 2, 0.25, 2), (2, "b", "d", 4, 4, 1.0, 1)])
    nodes, scale = flow_layout(links)
    # Columns 1 and 2 both carry 8 sessions; column 2 has two nodes, so one 0.02 gap: (1 - 0.02) / 8.
    assert scale == pytest.approx(0.1225)
    got = {key: (round(n.height, 6), round(n.bottom, 6)) for key, n in nodes.items()}
    assert got == {
        (1, "a"): (0.98, 0.02),
        (2, "b"): (0.735, 0.265),  # in 6 > out 4
        (2, "c"): (0.245, 0.0),  # below b and the gap
        (3, "d"): (0.49, 0.51),
    }


def _frames(config, paths, steps):
    tables = config.analysis.paths.tables
    return {tables.paths: pd.DataFrame(paths, columns=PATH_COLUMNS), tables.transitions: _links(steps)}


def _rows(html: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html)]


def test_section_shows_the_flow_top_paths_anchors_and_the_funnel_comparison(config):
    paths = [
        ("all", "", "", 1, "product > add_to_cart", 2, 30, 20, 0.6, 50, 40),
        ("all", "", "", 2, "search", 1, 20, 20, 0.4, 50, 40),
        ("ending", "", "checkout", 1, "cart > checkout", 2, 5, 4, 1.0, 5, 4),
        ("converted", "buy", "", 1, "product > add_to_cart", 2, 8, 6, 0.8, 10, 6),
        ("converted", "buy", "", 2, "search", 1, 2, 2, 0.2, 10, 6),
        ("dropped", "buy", "", 1, "search", 1, 9, 9, 0.9, 10, 9),
        ("dropped", "buy", "", 2, "home", 1, 1, 1, 0.1, 10, 9),
    ]
    steps = [(1, "product", "add_to_cart", 30, 20, 1.0, 1), (1, "search", "(end)", 20, 20, 1.0, 2)]
    html = section(_frames(config, paths, steps), config)
    assert html.startswith("<h2>Behaviour paths</h2>")
    assert "ends after 30 minutes without any event" in html
    assert html.count("data:image/png;base64,") == 1
    rows = _rows(html)
    assert ["1", "product &gt; add_to_cart", "30", "20", "60.0%"] in rows
    assert "<h3>Paths leading to checkout</h3>" in html and ["1", "cart &gt; checkout", "5", "4", "100.0%"] in rows
    assert "6 users converted, 9 entered and dropped" in html
    comparison = rows[rows.index(["path", "converted users", "dropped users", "difference"]) + 1 :]
    assert comparison == [
        ["product &gt; add_to_cart", "80.0%", "-", "+80.0%"],
        ["home", "-", "10.0%", "-10.0%"],
        ["search", "20.0%", "90.0%", "-70.0%"],
    ]


def test_section_without_sessions_says_so(config):
    html = section(_frames(config, [], []), config)
    assert "No sessions in the analysed period." in html
    assert "<img" not in html
