"""Building blocks of the self-contained HTML reports (monitor, analysis): charts as base64 PNGs inside
the page, plain tables and one stylesheet; no scripts, no network."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1320px;color:#222}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
.meta{color:#555;margin-bottom:16px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{color:#aaa;text-align:center}
tr.bad td{background:#fde0dc}tr.warn td{background:#fff4d6}
.ok{background:#e5f5e0;border:1px solid #a1d99b;padding:10px 14px;border-radius:4px}
.alerts{background:#fde0dc;border:1px solid #f4a582;padding:10px 14px;border-radius:4px}
img{max-width:100%;border:1px solid #eee;margin:6px 0}
.note{color:#666;font-size:13px}
"""


def png(fig) -> str:
    """The figure as a base64 PNG (the figure is closed)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def img(data: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def grid(n: int, columns: int = 3) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n`` small charts, at most ``columns`` wide."""
    cols = min(columns, max(n, 1))
    return (n + cols - 1) // cols, cols


def cell(value, fmt: str = "{:.3f}") -> str:
    if value is None:
        return "<td class=na>-</td>"
    if isinstance(value, float):
        return f"<td class=num>{fmt.format(value)}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def table(header: Sequence[str], rows: Sequence[Sequence], classes: Sequence[str] | None = None) -> str:
    """An HTML table; ``classes`` gives each row a CSS class ("bad", "warn" or "")."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(cell(v) for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, sections: Sequence[str]) -> str:
    """One self-contained HTML page: ``sections`` are HTML fragments in order."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + f'<p class="note">Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.</p></body></html>'
    )
