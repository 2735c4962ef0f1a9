"""The behaviour paths section of the analysis report: a Sankey-style flow of the sessions' first steps,
the top paths, the paths from / to the anchors, and converted vs dropped users' paths per funnel."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from userscore.analysis.paths import END
from userscore.charts import COLORS, img, plt, png, table
from userscore.config.root import Config

_OTHER = "#bbbbbb"
_LINKS_PER_STEP = 12
_GAP = 0.02  # vertical space between the nodes of a column, as a share of the chart's height
_ANCHOR_ROWS = 10


@dataclass(frozen=True)
class Node:
    column: int
    element: str
    height: float
    bottom: float  # y of the node's lower edge (the chart runs from 0 to 1)


def drawn_links(transitions: pd.DataFrame, per_step: int = _LINKS_PER_STEP) -> pd.DataFrame:
    """The links the flow chart draws: per step the ``per_step`` busiest moves to a next element (session
    ends are labels on the nodes, not bands: most sessions are short and would drown every other flow)."""
    moves = transitions[transitions.to_element != END]
    return (
        moves.sort_values(["step", "sessions", "from_element", "to_element"], ascending=[True, False, True, True])
        .groupby("step", sort=True)
        .head(per_step)
        .reset_index(drop=True)
    )


def flow_layout(links: pd.DataFrame) -> tuple[dict[tuple[int, str], Node], float]:
    """The flow chart's nodes and the height of one session, from links (step, from_element, to_element,
    sessions): column i holds the elements at position i; a node is as tall as the larger of its in- and
    outflow; columns are stacked from the top, biggest first, all on one scale (the busiest column plus
    its gaps fills the height)."""
    inflow: dict[tuple[int, str], float] = {}
    outflow: dict[tuple[int, str], float] = {}
    for step, frm, to, n in links[["step", "from_element", "to_element", "sessions"]].itertuples(index=False):
        outflow[(step, frm)] = outflow.get((step, frm), 0.0) + n
        inflow[(step + 1, to)] = inflow.get((step + 1, to), 0.0) + n
    sizes = {key: max(inflow.get(key, 0.0), outflow.get(key, 0.0)) for key in {*inflow, *outflow}}
    columns = sorted({c for c, _ in sizes})
    counts = {c: sum(1 for k in sizes if k[0] == c) for c in columns}
    tallest = max((sum(v for k, v in sizes.items() if k[0] == c) for c in columns), default=1.0)
    scale = (1.0 - _GAP * (max(counts.values(), default=1) - 1)) / tallest
    nodes: dict[tuple[int, str], Node] = {}
    for c in columns:
        top = 1.0
        for key in sorted((k for k in sizes if k[0] == c), key=lambda k: (-sizes[k], k[1])):
            height = sizes[key] * scale
            nodes[key] = Node(c, key[1], height, top - height)
            top -= height + _GAP
    return nodes, scale


def flow_chart(transitions: pd.DataFrame) -> str | None:
    """The Sankey-style flow: one column per path position, bands as wide as the sessions moving on; each
    node says which share of the sessions there end."""
    links = drawn_links(transitions)
    if links.empty:
        return None
    nodes, scale = flow_layout(links)
    ends = {(int(r.step), r.from_element): r.share for r in transitions[transitions.to_element == END].itertuples()}
    volume = links.groupby("from_element")["sessions"].sum().sort_values(ascending=False)
    color = {e: COLORS[i % len(COLORS)] for i, e in enumerate(volume.index)}
    width = 0.1
    last = int(links["step"].max()) + 1
    fig, ax = plt.subplots(figsize=(2.6 * last + 1.0, 6.0))
    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    for step, frm, to, n in links[["step", "from_element", "to_element", "sessions"]].itertuples(index=False):
        source, target = nodes[(step, frm)], nodes[(step + 1, to)]
        h = n * scale
        y0 = source.bottom + source.height - out_used.get((step, frm), 0.0)
        y1 = target.bottom + target.height - in_used.get((step + 1, to), 0.0)
        out_used[(step, frm)] = out_used.get((step, frm), 0.0) + h
        in_used[(step + 1, to)] = in_used.get((step + 1, to), 0.0) + h
        x0, x1 = step + width / 2, step + 1 - width / 2
        xm = (x0 + x1) / 2
        vertices = [(x0, y0), (xm, y0), (xm, y1), (x1, y1), (x1, y1 - h), (xm, y1 - h), (xm, y0 - h), (x0, y0 - h),
                    (x0, y0)]  # fmt: skip
        codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3, MplPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MplPath(vertices, codes), facecolor=color.get(frm, _OTHER), alpha=0.35, lw=0))
    for (column, element), node in nodes.items():
        ax.add_patch(plt.Rectangle((column - width / 2, node.bottom), width, node.height,
                                   color=color.get(element, _OTHER)))  # fmt: skip
        end = ends.get((column, element))
        label = element if end is None else f"{element} ({end:.0%} end)"
        box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
        ax.text(column + width / 2 + 0.03, node.bottom + node.height / 2, label, va="center", fontsize=7, bbox=box)
    ax.set_xlim(0.7, last + 0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(range(1, last + 1), [f"step {i}" for i in range(1, last + 1)])
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title("How sessions move on (band width = sessions; % end = sessions ending at that step)", fontsize=11)
    return png(fig)


def section(frames: Mapping[str, pd.DataFrame], config: Config) -> str:
    """The paths section: flow chart, top paths, anchors, converted vs dropped (an HTML fragment)."""
    cfg = config.analysis.paths
    paths = frames.get(cfg.tables.paths, pd.DataFrame())
    links = frames.get(cfg.tables.transitions, pd.DataFrame())
    element = "event types" if cfg.element == "event_type" else "pages"
    parts = [
        "<h2>Behaviour paths</h2>",
        f'<p class="note">A session is a visit: it ends after {cfg.session_gap_minutes} minutes without any event. '
        f"A path is the {element} a session went through, in order, repeats merged, at most {cfg.depth} "
        "steps.</p>",
    ]
    if paths.empty:
        parts.append('<p class="note">No sessions in the analysed period.</p>')
        return "\n".join(parts)
    chart = flow_chart(links) if not links.empty else None
    if chart:
        parts.append(img(chart, "flow of sessions between steps"))
    overall = paths[paths.kind == "all"].sort_values("rank")
    if not overall.empty:
        first = overall.iloc[0]
        parts.append(
            f"<h3>Most common paths</h3><p class='note'>{int(first.group_sessions):,} sessions of "
            f"{int(first.group_users):,} users; the top path covers {first.share:.1%} of sessions.</p>"
        )
        parts.append(_paths_table(overall))
    for kind, title in (("starting", "Paths after {}"), ("ending", "Paths leading to {}")):
        for anchor, rows in paths[paths.kind == kind].groupby("anchor", sort=True):
            rows = rows.sort_values("rank").head(_ANCHOR_ROWS)
            parts.append(f"<h3>{html.escape(title.format(anchor))}</h3>")
            parts.append(
                f"<p class='note'>{int(rows.iloc[0].group_sessions):,} sessions of "
                f"{int(rows.iloc[0].group_users):,} users reach {html.escape(anchor)}.</p>"
            )
            parts.append(_paths_table(rows))
    parts.extend(_outcomes(paths))
    return "\n".join(parts)


def _paths_table(rows: pd.DataFrame) -> str:
    body = [(int(r.rank), r.path, int(r.sessions), int(r.users), f"{r.share:.1%}") for r in rows.itertuples()]
    return table(["#", "path", "sessions", "users", "share of sessions"], body)


def _outcomes(paths: pd.DataFrame) -> list[str]:
    """Per funnel: the top paths of converted and dropped users side by side, most typical of converting
    users first (a path outside a group's top paths shows "-" there and counts as 0 in the difference)."""
    parts = []
    compared = paths[paths.kind.isin(["converted", "dropped"])]
    for funnel, rows in compared.groupby("funnel", sort=True):
        share = rows.pivot_table(index="path", columns="kind", values="share", aggfunc="sum")
        share = share.reindex(columns=["converted", "dropped"])
        share["gap"] = share["converted"].fillna(0.0) - share["dropped"].fillna(0.0)
        share = share.reset_index().sort_values(["gap", "path"], ascending=[False, True])
        totals = rows.groupby("kind")["group_users"].first()
        parts.append(f"<h3>Funnel {html.escape(str(funnel))}: paths of converted vs dropped users</h3>")
        parts.append(
            f"<p class='note'>{int(totals.get('converted', 0)):,} users converted, "
            f"{int(totals.get('dropped', 0)):,} entered and dropped. Share of each group's sessions; paths "
            "more typical of converting users first (- = not among that group's top paths).</p>"
        )
        body = [(r.path, _share(r.converted), _share(r.dropped), f"{r.gap:+.1%}") for r in share.itertuples()]
        parts.append(table(["path", "converted users", "dropped users", "difference"], body))
    return parts


def _share(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.1%}"
