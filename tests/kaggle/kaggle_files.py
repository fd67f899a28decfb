"""Files the Kaggle tests write: run configs and competition-style problem CSVs."""

from __future__ import annotations

import json
from pathlib import Path


def write_config(path: Path, tables: dict[str, dict[str, object]]) -> Path:
    """A run.toml of the given tables (values are TOML-encodable as JSON: strings, numbers, booleans)."""
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[tuple[str, str, str | None]]) -> Path:
    """A competition-style CSV: id, problem and (when every row has one) answer."""
    import polars as pl

    columns: dict[str, list[str | None]] = {"id": [r[0] for r in rows], "problem": [r[1] for r in rows]}
    if all(r[2] is not None for r in rows):
        columns["answer"] = [r[2] for r in rows]
    pl.DataFrame(columns).write_csv(path)
    return path
