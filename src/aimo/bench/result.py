"""The one shape every benchmark reports: what ran where, a table of rows, and derived ratios."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import aimo


def machine_info() -> dict[str, Any]:
    """Facts about the machine a benchmark ran on, so two results can be compared honestly."""
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "aimo": aimo.__version__,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


@dataclass
class BenchResult:
    """A benchmark's result: `rows` is the table (one dict a row, same keys), `ratios` the headline."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine_info)
    created: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps({"schema": 1, **asdict(self)}, indent=2, default=str)

    def write(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n")

    @classmethod
    def read(cls, path: Path) -> BenchResult:
        data = json.loads(path.read_text())
        data.pop("schema", None)
        return cls(**data)

    def print(self, console: Console | None = None) -> None:
        """Print the table, then the ratios and notes."""
        console = console or Console()
        table = Table(title=f"aimo bench {self.name}")
        columns = list(self.rows[0]) if self.rows else []
        for column in columns:
            table.add_column(column, justify="left" if column in (columns[0],) else "right")
        for row in self.rows:
            table.add_row(*(_fmt(row.get(c)) for c in columns))
        console.print(table)
        for key, value in self.ratios.items():
            console.print(f"{key}: {_fmt(value)}")
        for note in self.notes:
            console.print(f"[dim]{note}[/dim]")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)
