"""`aimo bench compare A.json B.json`: two results of one benchmark side by side, with B/A ratios.

Rows are matched by their key: the first column, or as many leading columns as it takes to tell
the rows apart (e.g. `kind` and `chars` in `bench answers`). Each numeric column shows A, B and B/A.
Settings and machines that differ are listed, since a ratio only means something when they do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from aimo.bench.result import BenchResult

Key = tuple[Any, ...]
MACHINE_FIELDS = ("hostname", "cpus", "processor", "platform", "aimo")


def key_columns(*tables: Sequence[dict[str, Any]]) -> list[str]:
    """The fewest leading columns that identify every row of every table."""
    columns = list(tables[0][0]) if tables and tables[0] else []
    for n in range(1, len(columns) + 1):
        chosen = columns[:n]
        if all(len({_key(row, chosen) for row in rows}) == len(rows) for rows in tables):
            return chosen
    return columns


def _key(row: dict[str, Any], columns: Sequence[str]) -> Key:
    return tuple(row.get(c) for c in columns)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def ratio(a: float | None, b: float | None) -> float | None:
    """B/A, or None when either is missing, not finite, or A is zero."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or a == 0:
        return None
    return b / a


def compare(a: BenchResult, b: BenchResult, columns: Sequence[str] | None = None) -> BenchResult:
    """A result whose rows pair A's and B's rows by key, and whose ratios are B/A of the headlines."""
    keys = key_columns(a.rows, b.rows)
    numeric = [
        c
        for c in (a.rows[0] if a.rows else {})
        if c not in keys
        and (columns is None or c in columns)
        and any(_number(r.get(c)) is not None for r in [*a.rows, *b.rows])
    ]
    b_rows = {_key(row, keys): row for row in b.rows}
    rows = []
    for row in a.rows:
        other = b_rows.pop(_key(row, keys), None)
        if other is None:
            continue
        paired: dict[str, Any] = {k: row.get(k) for k in keys}
        for column in numeric:
            va, vb = _number(row.get(column)), _number(other.get(column))
            paired.update({f"{column} A": va, f"{column} B": vb, f"{column} B/A": ratio(va, vb)})
        rows.append(paired)
    result = BenchResult(
        name=f"compare {a.name}" if a.name == b.name else f"compare {a.name} / {b.name}",
        settings={"key": keys, "a_created": a.created, "b_created": b.created},
        rows=rows,
        machine=a.machine,
    )
    for name in a.ratios.keys() & b.ratios.keys():
        value = ratio(a.ratios[name], b.ratios[name])
        if value is not None:
            result.ratios[f"{name} B/A"] = value
    result.notes.extend(_differences(a, b))
    b_keys = {_key(row, keys) for row in b.rows}
    only_a = [k for row in a.rows if (k := _key(row, keys)) not in b_keys]
    for side, missing in (("A", only_a), ("B", list(b_rows))):
        if missing:
            result.notes.append(f"rows only in {side}: {', '.join(map(_show_key, missing))}")
    return result


def _differences(a: BenchResult, b: BenchResult) -> list[str]:
    notes = []
    if a.name != b.name:
        notes.append(f"different benchmarks: A is {a.name!r}, B is {b.name!r}")
    for label, da, db, fields in (
        ("settings", a.settings, b.settings, sorted(a.settings.keys() | b.settings.keys())),
        ("machine", a.machine, b.machine, MACHINE_FIELDS),
    ):
        for field in fields:
            if da.get(field) != db.get(field):
                shown = f"{_short(da.get(field))} (A) vs {_short(db.get(field))} (B)"
                notes.append(f"{label} differ: {field} = {shown}")
    return notes


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_key(key: Key) -> str:
    return "/".join(str(k) for k in key)
