"""Problems and problem files: JSONL, JSON, CSV (Kaggle's `id,problem,answer`) and Parquet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimo.errors import AimoError
from aimo.jsonl import read_jsonl_objects

ID_FIELDS = ("id", "problem_id", "unique_id", "idx", "index")
TEXT_FIELDS = ("problem", "question", "text", "prompt", "Problem", "Question")
ANSWER_FIELDS = ("answer", "gold", "expected_answer", "final_answer", "Answer")


class ProblemFileError(AimoError):
    """A problem file that cannot be read; the message names the file and the row."""


@dataclass(frozen=True)
class Problem:
    """One problem: its id, its text, its gold answer when known, and anything else from the file."""

    id: str
    text: str
    answer: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldNames:
    """Which fields of a row hold the id, the text and the answer (None: try the usual names)."""

    id: str | None = None
    text: str | None = None
    answer: str | None = None


def load_problems(path: str | Path, fields: FieldNames | None = None) -> list[Problem]:
    """Read a problem file; the format comes from the extension (.jsonl, .json, .csv, .parquet)."""
    path = Path(path)
    fields = fields or FieldNames()
    if not path.is_file():
        raise ProblemFileError(f"problem file not found: {path}")
    suffix = path.suffix.lower()
    readers = {
        ".jsonl": _read_jsonl,
        ".ndjson": _read_jsonl,
        ".json": _read_json,
        ".csv": _read_csv,
        ".parquet": _read_parquet,
    }
    if suffix not in readers:
        raise ProblemFileError(
            f"{path}: unknown problem file type {suffix!r} (use .jsonl, .json, .csv, .parquet)"
        )
    problems = [_to_problem(row, n, path, fields) for n, row in readers[suffix](path)]
    if not problems:
        raise ProblemFileError(f"{path}: no problems in the file")
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise ProblemFileError(f"{path}: duplicate problem id {problem.id!r}")
        seen.add(problem.id)
    return problems


def problem_from_text(text: str, problem_id: str = "problem") -> Problem:
    """A single problem given on the command line."""
    if not text.strip():
        raise ProblemFileError("the problem text is empty")
    return Problem(id=problem_id, text=text.strip())


def _read_jsonl(path: Path) -> Iterable[tuple[int, Any]]:
    return read_jsonl_objects(path, ProblemFileError)


def _read_json(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ProblemFileError(f"{path}: invalid JSON ({exc})") from None
    if isinstance(data, Mapping):
        data = data.get("problems", data.get("data"))
    if not isinstance(data, list):
        raise ProblemFileError(f"{path}: expected a list of problems (or an object with a 'problems' list)")
    return enumerate(data, 1)


def _read_csv(path: Path) -> Iterable[tuple[int, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise ProblemFileError(f"{path}: empty CSV file (expected a header like id,problem,answer)")
        yield from enumerate(reader, 2)  # row numbers as an editor shows them, after the header


def _read_parquet(path: Path) -> Iterable[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ProblemFileError("reading Parquet needs pyarrow: pip install 'aimo[parquet]'") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise ProblemFileError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    return enumerate(rows, 1)


def _pick(row: Mapping[str, Any], explicit: str | None, candidates: Sequence[str]) -> tuple[str | None, Any]:
    if explicit is not None:
        return explicit, row.get(explicit)
    for name in candidates:
        if row.get(name) not in (None, ""):
            return name, row[name]
    return None, None


def _to_problem(row: Any, n: int, path: Path, fields: FieldNames) -> Problem:
    if not isinstance(row, Mapping):
        raise ProblemFileError(
            f"{path}:{n}: expected an object with the problem's fields, got {type(row).__name__}"
        )
    text_key, text = _pick(row, fields.text, TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        wanted = fields.text or ", ".join(TEXT_FIELDS)
        raise ProblemFileError(f"{path}:{n}: no problem text (looked for: {wanted}; set the field name)")
    id_key, pid = _pick(row, fields.id, ID_FIELDS)
    answer_key, answer = _pick(row, fields.answer, ANSWER_FIELDS)
    used = {text_key, id_key, answer_key}
    return Problem(
        id=str(pid) if pid not in (None, "") else str(n),
        text=text.strip(),
        answer=None if answer in (None, "") else str(answer).strip(),
        meta={k: v for k, v in row.items() if k not in used},
    )
