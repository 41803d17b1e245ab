"""A self-contained HTML report comparing runs: params, latest metrics, metric curves.

The charts are inline SVG, so the file opens anywhere, offline, with no script.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from loopml.domain import Metric, Run

__all__ = ["RunCurves", "render_comparison"]

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_WIDTH, _HEIGHT, _PAD = 640, 260, 48


@dataclass(frozen=True, slots=True)
class RunCurves:
    """A run and the full history of each of its metrics."""

    run: Run
    histories: dict[str, list[Metric]]


def render_comparison(items: Sequence[RunCurves], title: str = "Run comparison") -> str:
    """The HTML page: a table of params and latest metrics (differences highlighted), a
    bar chart of each metric's latest value across runs, and one line chart per metric
    with more than one logged value."""
    keys = sorted(
        {key for item in items for key, values in item.histories.items() if len(values) > 1}
    )
    latest = sorted({key for item in items for key in item.run.metrics})
    bars = "\n".join(_bars(key, items) for key in latest)
    charts = "\n".join(_chart(key, items) for key in keys)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
tr.differs td {{ background: #fff6d5; }}
figure {{ margin: 0 0 2rem 0; }} figcaption {{ font-weight: 600; margin-bottom: .3rem; }}
.legend {{ margin-bottom: 1rem; }} .legend span {{ margin-right: 1rem; }}
.bars {{ display: flex; flex-wrap: wrap; gap: 0 2rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{_table(items)}
<div class="legend">{_legend(items)}</div>
<h2>Latest values</h2>
<div class="bars">{bars}</div>
<h2>Histories</h2>
{charts or "<p>No metric has more than one value to draw.</p>"}
</body></html>
"""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return html.escape(str(value))


def _table(items: Sequence[RunCurves]) -> str:
    head = "".join(
        f"<th>{html.escape(i.run.name)}<br><small>{i.run.id[:12]}</small></th>" for i in items
    )
    rows = [f"<tr><td>status</td>{''.join(f'<td>{i.run.status.value}</td>' for i in items)}</tr>"]
    for kind in ("params", "metrics"):
        for key in sorted({k for i in items for k in getattr(i.run, kind)}):
            cells = [_cell(getattr(i.run, kind).get(key)) for i in items]
            marker = ' class="differs"' if len(set(cells)) > 1 else ""
            body = "".join(f"<td>{c}</td>" for c in cells)
            rows.append(f"<tr{marker}><td>{kind}.{html.escape(key)}</td>{body}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _legend(items: Sequence[RunCurves]) -> str:
    return "".join(
        f'<span style="color:{_COLORS[n % len(_COLORS)]}">&#9632; {html.escape(i.run.name)}</span>'
        for n, i in enumerate(items)
    )


def _chart(key: str, items: Sequence[RunCurves]) -> str:
    points = [
        (m.step, m.value)
        for item in items
        for m in item.histories.get(key, [])
        if math.isfinite(m.value)
    ]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def place(step: int, value: float) -> str:
        x = _PAD + (step - x0) / (x1 - x0) * (_WIDTH - 2 * _PAD)
        y = _HEIGHT - _PAD - (value - y0) / (y1 - y0) * (_HEIGHT - 2 * _PAD)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for n, item in enumerate(items):
        finite = [m for m in item.histories.get(key, []) if math.isfinite(m.value)]
        if finite:
            path = " ".join(place(m.step, m.value) for m in finite)
            color = _COLORS[n % len(_COLORS)]
            lines.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>'
            )
    axes = (
        f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" y2="{_HEIGHT - _PAD}" stroke="#999"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_HEIGHT - _PAD}" stroke="#999"/>'
        f'<text x="{_PAD}" y="{_HEIGHT - _PAD + 16}" font-size="11">{x0}</text>'
        f'<text x="{_WIDTH - _PAD}" y="{_HEIGHT - _PAD + 16}" font-size="11" text-anchor="end">{x1} (step)</text>'
        f'<text x="{_PAD - 4}" y="{_HEIGHT - _PAD}" font-size="11" text-anchor="end">{y0:.4g}</text>'
        f'<text x="{_PAD - 4}" y="{_PAD + 4}" font-size="11" text-anchor="end">{y1:.4g}</text>'
    )
    return (
        f"<figure><figcaption>{html.escape(key)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'role="img" aria-label="{html.escape(key)} by step">{axes}{"".join(lines)}</svg></figure>'
    )


def _bars(key: str, items: Sequence[RunCurves]) -> str:
    """Horizontal bars of the metric's latest value in each run (absent or non-finite:
    no bar, the value written out)."""
    values = [item.run.metrics.get(key) for item in items]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(0.0, *finite), max(0.0, *finite)
    span = (high - low) or 1.0
    width, row, label = 300, 22, 60
    parts = []
    for n, value in enumerate(values):
        y = n * row
        if value is not None and math.isfinite(value):
            x0 = label + (min(value, 0.0) - low) / span * width
            length = max(abs(value) / span * width, 1.0)
            color = _COLORS[n % len(_COLORS)]
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{length:.1f}" '
                f'height="{row - 8}" fill="{color}"/>'
            )
        parts.append(
            f'<text x="{label - 4}" y="{y + row - 7}" font-size="11" '
            f'text-anchor="end">{_cell(value)}</text>'
        )
    return (
        f"<figure><figcaption>{html.escape(key)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 10}" '
        f'height="{row * len(values)}" role="img" '
        f'aria-label="latest {html.escape(key)} per run">{"".join(parts)}</svg></figure>'
    )
