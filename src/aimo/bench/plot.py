"""Charts without a plotting library: a hand-written SVG line chart and Unicode bars for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

BAR = "█"
PARTIAL = " ▏▎▍▌▋▊▉"


def terminal_bars(labels: Sequence[str], values: Sequence[float], width: int = 40, unit: str = "") -> str:
    """One horizontal bar per label, scaled to the largest value (eighths of a cell resolution)."""
    top = max((v for v in values if math.isfinite(v)), default=0.0)
    label_width = max((len(label) for label in labels), default=0)
    lines = []
    for label, value in zip(labels, values, strict=True):
        eighths = round(width * 8 * value / top) if top > 0 and math.isfinite(value) else 0
        bar = BAR * (eighths // 8) + (PARTIAL[eighths % 8] if eighths % 8 else "")
        lines.append(f"{label.rjust(label_width)} │{bar.ljust(width)} {value:,.1f}{unit}")
    return "\n".join(lines)


def svg_line_chart(
    xs: Sequence[float],
    series: dict[str, Sequence[float]],
    title: str,
    x_label: str,
    y_label: str,
    log2_x: bool = True,
    width: int = 640,
    height: int = 400,
) -> str:
    """A self-contained SVG line chart of one or more series over `xs` (log2 x axis by default)."""
    left, right, top, bottom = 70, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom

    def fx(x: float) -> float:
        return math.log2(x) if log2_x else x

    x_lo, x_hi = fx(min(xs)), fx(max(xs))
    finite = [v for values in series.values() for v in values if math.isfinite(v)]
    y_hi = _nice_ceiling(max(finite, default=1.0))

    def px(x: float) -> float:
        return left + (plot_w * (fx(x) - x_lo) / (x_hi - x_lo) if x_hi > x_lo else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h * (1 - y / y_hi)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for i in range(5):  # horizontal grid lines with y labels
        y = y_hi * i / 4
        parts.append(
            f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + plot_w}" y2="{py(y):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:,.4g}</text>'
        )
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{x:g}</text>')
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>'
        f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    colors = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")
    for n, (name, values) in enumerate(series.items()):
        color = colors[n % len(colors)]
        points = [(px(x), py(y)) for x, y in zip(xs, values, strict=True) if math.isfinite(y)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in points)
        parts.append(f'<text x="{left + 10}" y="{top + 16 + 16 * n}" fill="{color}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (a round top for the y axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)
