"""Small inline SVG charts (the HTML report, the benchmarks): line chart with interval bands, grouped
histogram, bars.

No plotting library and nothing fetched: each function returns one `<svg>` element as text, with
escaped labels, so the report is a single self-contained file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Literal

WIDTH, HEIGHT = 640, 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 30, 44
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
GREEN, RED, GREY = "#16a34a", "#dc2626", "#94a3b8"


@dataclass(frozen=True)
class Series:
    """A line: points (x, y) and optional interval bounds per point."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    lows: Sequence[float] | None = None
    highs: Sequence[float] | None = None
    color: str = PALETTE[0]
    line: bool = True  # False: unconnected hollow diamonds (reference points)


@dataclass(frozen=True)
class Group:
    """One colour of a histogram or bar chart."""

    label: str
    values: Sequence[float]
    color: str = PALETTE[0]


@dataclass
class _Frame:
    """The plotting area and the mapping of data to pixels."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = WIDTH
    height: int = HEIGHT
    parts: list[str] = field(default_factory=list)

    @property
    def left(self) -> float:
        return MARGIN_LEFT

    @property
    def right(self) -> float:
        return self.width - MARGIN_RIGHT

    @property
    def top(self) -> float:
        return MARGIN_TOP

    @property
    def bottom(self) -> float:
        return self.height - MARGIN_BOTTOM

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (x - self.x0) / span * (self.right - self.left)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (y - self.y0) / span * (self.bottom - self.top)

    def svg(self, title: str, heading: str = "") -> str:
        if heading:
            x = self.width / 2
            self.parts.append(
                f'<text x="{x}" y="16" text-anchor="middle" font-size="14">{escape(heading)}</text>'
            )
        body = "".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" aria-label="{escape(title)}" '
            f'font-family="system-ui, sans-serif" font-size="12">{body}</svg>'
        )


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × a power of ten that is at least `raw` (> 0)."""
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high]."""
    if high <= low:
        return [low]
    step = nice_step((high - low) / count)
    first = math.ceil(low / step - 1e-9)
    return [round(i * step, 10) for i in range(first, math.floor(high / step + 1e-9) + 1)]


def fmt_tick(value: float) -> str:
    """A tick label: integers plain, large numbers with k, others with two significant decimals."""
    value = round(value, 9)
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def _axes(frame: _Frame, x_label: str, y_label: str, y_ticks: Sequence[float], percent: bool) -> None:
    parts = frame.parts
    for tick in y_ticks:
        y = frame.py(tick)
        label = f"{tick:.0%}" if percent else fmt_tick(tick)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#475569">{label}</text>'
        )
    parts.append(
        f'<line x1="{frame.left}" x2="{frame.right}" y1="{frame.bottom}" y2="{frame.bottom}" '
        'stroke="#64748b"/>'
        f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{frame.height - 8}" text-anchor="middle" '
        f'fill="#334155">{escape(x_label)}</text>'
        f'<text transform="translate(14 {(frame.top + frame.bottom) / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="#334155">{escape(y_label)}</text>'
    )


LegendKind = Literal["box", "line", "dash", "diamond"]


def _legend(frame: _Frame, items: Sequence[tuple[str, str]], kinds: Sequence[LegendKind] = ()) -> None:
    """A row of swatches above the plot: (label, colour), each drawn as its kind (default a box)."""
    x = frame.left
    for n, (label, color) in enumerate(items):
        kind = kinds[n] if n < len(kinds) else "box"
        if kind == "box":
            swatch = f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{color}"/>'
        elif kind == "diamond":
            swatch = _diamond(x + 6, 14, color)
        else:
            dash = ' stroke-dasharray="4 3"' if kind == "dash" else ""
            swatch = f'<line x1="{x}" x2="{x + 14}" y1="14" y2="14" stroke="{color}" stroke-width="2"{dash}/>'
        frame.parts.append(swatch + f'<text x="{x + 18}" y="18" fill="#334155">{escape(label)}</text>')
        x += 34 + 7.2 * len(label)


def _diamond(x: float, y: float, color: str, size: float = 5.5) -> str:
    points = f"{x:.1f},{y - size:.1f} {x + size:.1f},{y:.1f} {x:.1f},{y + size:.1f} {x - size:.1f},{y:.1f}"
    return f'<polygon points="{points}" fill="white" stroke="{color}" stroke-width="2"/>'


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    log2_x: bool = False,
    percent: bool = False,
    marks: Sequence[tuple[float, str, str]] = (),
    title: str = "",
) -> str:
    """Lines with dots and shaded interval bands (a series with `line=False`: hollow diamonds only);
    `marks` are dashed horizontal reference lines (y, label, colour), named in the legend. Points
    whose value is not finite (a level that failed) are left out."""
    series = [_finite(s) for s in series]
    xs = [x for s in series for x in s.xs]
    if not xs:
        return ""

    def tx(x: float) -> float:
        return math.log2(x) if log2_x else x

    values = [y for s in series for y in (*s.ys, *(s.lows or ()), *(s.highs or ()))] + [m[0] for m in marks]
    low, high = y_range or (min(values), max(values))
    if not y_range:
        pad = (high - low) * 0.1 or 0.05
        low, high = low - pad, high + pad
    x0, x1 = tx(min(xs)), tx(max(xs))
    pad_x = (x1 - x0) * 0.04 or 0.5
    frame = _Frame(x0 - pad_x, x1 + pad_x, low, high)
    _axes(frame, x_label, y_label, nice_ticks(low, high), percent)
    for x in sorted(set(xs)):
        frame.parts.append(
            f'<text x="{frame.px(tx(x)):.1f}" y="{frame.bottom + 16}" text-anchor="middle" '
            f'fill="#475569">{fmt_tick(x)}</text>'
        )
    for y, _, color in marks:
        frame.parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{frame.py(y):.1f}" y2="{frame.py(y):.1f}" '
            f'stroke="{color}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
    for s in series:
        points = [(frame.px(tx(x)), frame.py(y)) for x, y in zip(s.xs, s.ys, strict=True)]
        if s.lows is not None and s.highs is not None and len(points) > 1:
            upper = [(frame.px(tx(x)), frame.py(h)) for x, h in zip(s.xs, s.highs, strict=True)]
            lower = [(frame.px(tx(x)), frame.py(lo)) for x, lo in zip(s.xs, s.lows, strict=True)]
            band = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower[::-1])
            frame.parts.append(f'<polygon points="{band}" fill="{s.color}" fill-opacity="0.12"/>')
        if s.line:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            frame.parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        for (x, y), value in zip(points, s.ys, strict=True):
            label = f"{escape(s.label)}: {value:.1%}" if percent else f"{escape(s.label)}: {fmt_tick(value)}"
            marker = (
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{s.color}"/>'
                if s.line
                else _diamond(x, y, s.color)
            )
            frame.parts.append(f"<g>{marker}<title>{label}</title></g>")
    items = [(s.label, s.color) for s in series] + [(label, color) for _, label, color in marks]
    kinds: list[LegendKind] = ["line" if s.line else "diamond" for s in series] + ["dash"] * len(marks)
    _legend(frame, items, kinds)
    return frame.svg(title or y_label, title)


def _finite(s: Series) -> Series:
    keep = [i for i, y in enumerate(s.ys) if math.isfinite(y)]
    if len(keep) == len(s.ys):
        return s

    def pick(values: Sequence[float] | None) -> Sequence[float] | None:
        return None if values is None else [values[i] for i in keep]

    return replace(s, xs=pick(s.xs) or [], ys=pick(s.ys) or [], lows=pick(s.lows), highs=pick(s.highs))


def histogram(
    groups: Sequence[Group],
    edges: Sequence[float],
    *,
    x_label: str,
    y_label: str = "share of samples",
    share: bool = True,
    percent_x: bool = False,
) -> str:
    """Side-by-side bars per bin; each group as a share of its own count (`share`) or raw counts."""
    if len(edges) < 2 or not any(g.values for g in groups):
        return ""
    heights: list[list[float]] = []
    for group in groups:
        counts = bin_counts(group.values, edges)
        total = sum(counts) or 1
        heights.append([c / total for c in counts] if share else [float(c) for c in counts])
    top = max(max(h) for h in heights) or 1.0
    frame = _Frame(0, len(edges) - 1, 0, top * 1.1)
    _axes(frame, x_label, y_label, nice_ticks(0, top * 1.1), share)
    bin_width = frame.px(1) - frame.px(0)
    bar = bin_width * 0.8 / len(groups)
    for g, (group, values) in enumerate(zip(groups, heights, strict=True)):
        for i, value in enumerate(values):
            x = frame.px(i) + bin_width * 0.1 + g * bar
            y = frame.py(value)
            shown = f"{value:.1%}" if share else f"{value:g}"
            frame.parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{frame.bottom - y:.1f}" '
                f'fill="{group.color}" fill-opacity="0.85"><title>{escape(group.label)} '
                f"{fmt_tick(edges[i])}–{fmt_tick(edges[i + 1])}: {shown}</title></rect>"
            )
    step = max(1, (len(edges) - 1) // 10)
    for i in range(0, len(edges), step):
        frame.parts.append(
            f'<text x="{frame.px(i):.1f}" y="{frame.bottom + 16}" text-anchor="middle" '
            f'fill="#475569">{f"{edges[i]:.0%}" if percent_x else fmt_tick(edges[i])}</text>'
        )
    _legend(frame, [(f"{g.label} ({len(g.values)})", g.color) for g in groups])
    return frame.svg(x_label)


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    *,
    x_label: str,
    y_label: str,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """One bar per (label, value, colour), in the order given; labels show on hover."""
    if not bars:
        return ""
    top = max(v for _, v, _ in bars) or 1.0
    frame = _Frame(0, len(bars), 0, top * 1.1)
    _axes(frame, x_label, y_label, nice_ticks(0, top * 1.1), False)
    width = frame.px(1) - frame.px(0)
    for i, (label, value, color) in enumerate(bars):
        y = frame.py(value)
        frame.parts.append(
            f'<rect x="{frame.px(i) + width * 0.1:.1f}" y="{y:.1f}" width="{max(width * 0.8, 0.5):.1f}" '
            f'height="{frame.bottom - y:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {value:.3g}</title></rect>"
        )
    _legend(frame, legend)
    return frame.svg(y_label)


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many values fall in each [edge_i, edge_i+1) bin; the last bin also takes its right edge."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        for i in range(len(counts)):
            last = i == len(counts) - 1
            if edges[i] <= value < edges[i + 1] or (last and value == edges[-1]):
                counts[i] += 1
                break
    return counts


def even_edges(values: Sequence[float], bins: int = 12) -> list[float]:
    """About `bins` + 1 evenly spaced round edges from min(0, values) to at least max(values)."""
    if not values:
        return [0.0, 1.0]
    low, high = min(0.0, min(values)), max(values)
    if high - low <= 1e-9 * max(1.0, abs(high)):  # one value (or float dust): a single bin
        return [low, max(high, low + 1.0)]
    step = nice_step((high - low) / bins)
    count = max(1, math.ceil((high - low) / step - 1e-9))
    edges = [low + step * i for i in range(count + 1)]
    edges[-1] = max(edges[-1], high)  # float error must not leave the maximum outside
    return edges
