"""Self-contained HTML for the KFP UI's HTML viewer: tables and inline SVG charts, no scripts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    ".bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}"
)
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def line_chart(series: dict[str, Sequence[float]], title: str, x_label: str = "") -> str:
    """An SVG line chart of one or more series over their 1-based index (epochs, say)."""
    points = {name: [(i + 1, float(v)) for i, v in enumerate(values)] for name, values in series.items() if values}
    return xy_chart(points, title, x_label)


def xy_chart(series: dict[str, Sequence[tuple[float, float]]], title: str, x_label: str = "") -> str:
    """An SVG chart of (x, y) polylines, axes scaled to the data, the legend to the right."""
    width, height, left, right, pad, legend_width = 460, 240, 56, 16, 24, 120
    xs = [x for pts in series.values() for x, _ in pts] or [0, 1]
    ys = [y for pts in series.values() for _, y in pts] or [0, 1]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    lines, legend = [], []
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        lines.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        legend.append(f'<text x="{width + 8}" y="{pad + 14 * i}" fill="{color}">{escape(name)}</text>')
    axes = (
        f'<line x1="{left}" y1="{height - pad}" x2="{width - right}" y2="{height - pad}" stroke="#888"/>'
        f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{height - pad}" stroke="#888"/>'
        f'<text x="{left}" y="{height - pad + 14}">{fmt(x0)}</text>'
        f'<text x="{width - right}" y="{height - pad + 14}" text-anchor="end">{fmt(x1)} {escape(x_label)}</text>'
        f'<text x="{left - 4}" y="{height - pad}" text-anchor="end">{fmt(y0)}</text>'
        f'<text x="{left - 4}" y="{pad + 4}" text-anchor="end">{fmt(y1)}</text>'
    )
    svg = f"{axes}{''.join(lines)}{''.join(legend)}"
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>"
        f'<svg width="{width + legend_width}" height="{height}" font-size="11">{svg}</svg></figure>'
    )


def page(title: str, *sections: str) -> str:
    head = f"<meta charset='utf-8'><title>{escape(title)}</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body><h1>{escape(title)}</h1>{''.join(sections)}</body></html>"


def verdict(ok: bool, text: str) -> str:
    return f"<p class='{'good' if ok else 'bad'}'>{escape(text)}</p>"
