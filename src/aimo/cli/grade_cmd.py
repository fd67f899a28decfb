"""`aimo grade` (extract and grade a JSONL file of model outputs) and `aimo bench answers`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from aimo.answers import ExtractionConfig, GradeMode, extract, grade, resolve_mode
from aimo.errors import AimoError
from aimo.jsonl import read_jsonl_objects

REQUIRED_FIELDS = ("model_output", "gold")


class ModeChoice(str, Enum):  # noqa: UP042 - StrEnum is Python 3.11+, aimo supports 3.10
    auto = "auto"
    integer = "integer"
    math = "math"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, each an object with a string `model_output` and a `gold` answer."""
    if not path.is_file():
        raise AimoError(f"{path}: no such file")
    rows = []
    for number, row in read_jsonl_objects(path):
        where = f"{path}:{number}"
        missing = [name for name in REQUIRED_FIELDS if name not in row]
        if missing:
            raise AimoError(f"{where}: missing field {', '.join(missing)}")
        if not isinstance(row["model_output"], str):
            raise AimoError(f"{where}: model_output must be a string")
        gold = row["gold"]
        if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
            raise AimoError(f"{where}: gold must be a string or a number")
        rows.append(row)
    return rows


def grade_rows(rows: list[dict[str, Any]], mode: GradeMode = "auto") -> list[dict[str, Any]]:
    """Each row with `pred` (canonical answer or None) and `correct` added."""
    graded = []
    for row in rows:
        gold = str(row["gold"])
        resolved = resolve_mode(gold, mode)
        found = extract(row["model_output"], ExtractionConfig(mode=resolved))
        pred = found.answer if found else None
        graded.append({**row, "pred": pred, "correct": grade(pred, gold, resolved)})
    return graded


def grade_command(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT.jsonl", help="Rows with model_output and gold.")
    ],
    mode: Annotated[ModeChoice, typer.Option(help="integer, math, or auto (integer when gold is).")] = (
        ModeChoice.auto
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the rows with pred and correct here.")
    ] = None,
) -> None:
    """Extract each row's final answer from model_output and grade it against gold."""
    graded = grade_rows(read_rows(input_path), cast(GradeMode, mode.value))
    if output is not None:
        output.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in graded))
    correct = sum(row["correct"] for row in graded)
    no_answer = sum(row["pred"] is None for row in graded)
    accuracy = correct / len(graded) if graded else 0.0
    typer.echo(
        f"rows: {len(graded)}  accuracy: {accuracy:.4f} ({correct}/{len(graded)})  no answer: {no_answer}"
    )


def bench_answers_command(
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
    traces: Annotated[
        Path | None,
        typer.Option(help="Also report agreement with a recorded harness (rows with gt, code, pred, score)."),
    ] = None,
    sizes: Annotated[str, typer.Option(help="Output sizes in characters, comma-separated.")] = (
        "10000,100000,1000000"
    ),
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per size (best is kept).")] = 3,
    grading_timeout: Annotated[
        float,
        typer.Option(
            min=0.0, help="Math-Verify's deadline when timing grading on hostile expressions; 0 skips."
        ),
    ] = 2.0,
) -> None:
    """Answer-extraction throughput at growing output sizes (flat chars/s means linear time), and
    the time grading takes on hostile expressions (bounded by --grading-timeout)."""
    from aimo.bench.answers import bench_answers

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise AimoError(f"--sizes: expected comma-separated integers, got {sizes!r}") from None
    if not size_list or min(size_list) <= 0:
        raise AimoError("--sizes: give at least one positive size")
    result = bench_answers(size_list, repeats, traces, grading_timeout or None)
    result.print()
    if json_out is not None:
        result.write(json_out)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add `aimo grade` and `aimo bench answers`."""
    app.command("grade")(grade_command)
    bench_app.command("answers")(bench_answers_command)
