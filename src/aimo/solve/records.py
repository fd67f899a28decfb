"""Append-only JSONL records that survive a killed run: each line is written whole and flushed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aimo.errors import AimoError


class RecordError(AimoError):
    """A record file that cannot be read or written."""


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The complete records of a JSONL file; a torn last line (from a kill mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError:
            if n == len(lines):  # the last line has no newline: a write that was cut off
                return
            raise RecordError(f"{path}:{n}: not a JSON record") from None


class RecordWriter:
    """Appends one JSON object per line, flushed and synced, so a killed run loses nothing it finished.

    `sync_each=False` only flushes each line (it survives a killed process, not a power cut) and leaves
    syncing to `sync()`, for records written many at a time (e.g. samples, synced with their problem).
    """

    def __init__(self, path: Path, resume: bool = False, sync_each: bool = True) -> None:
        self.path = path
        self.sync_each = sync_each
        if path.exists() and not resume and path.stat().st_size > 0:
            raise RecordError(f"{path} already exists: pass --resume to continue it, or choose another file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        self._file = path.open("a", encoding="utf-8")

    def _drop_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        if self.sync_each:
            os.fsync(self._file.fileno())

    def sync(self) -> None:
        """Make every line written so far durable (fsync)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
