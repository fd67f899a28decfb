"""Unicode bar charts for the terminal (SVG charts are `aimo.svg`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
