"""Reading JSON Lines files whose every line must be an object, with errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aimo.errors import AimoError


def read_jsonl_objects(
    path: Path, error: type[Exception] = AimoError
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; a bad line raises `error("FILE:LINE: why")`."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{number}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield number, row
