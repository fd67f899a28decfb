"""A local gateway that behaves like the competition's: one `predict` call per problem, in random order
unless told otherwise, with one single-row polars Series per CSV column; each answer must be a one-row
frame with `id` and `answer`; the answers go to `submission.parquet`. It reports the elapsed time
against the competition's limit, and the score when the CSV holds gold answers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimo.errors import AimoError

SUBMISSION_FILE = "submission.parquet"
Predict = Callable[..., Any]


class GatewayError(AimoError):
    """A test file the gateway cannot read, or a prediction the competition would reject."""


@dataclass(frozen=True)
class GatewayReport:
    """What a rehearsal produced: the submission file, time used against the limit, and the score."""

    submission: Path
    problems: int
    elapsed_s: float
    time_limit_s: float
    correct: int | None = None  # None: the CSV has no gold answers
    graded: int = 0

    @property
    def within_limit(self) -> bool:
        return self.elapsed_s <= self.time_limit_s

    def summary(self) -> str:
        line = (
            f"{self.problems} problems in {self.elapsed_s:.1f}s of the {self.time_limit_s:.0f}s limit"
            f" ({'inside' if self.within_limit else 'OVER'} it); wrote {self.submission}"
        )
        if self.correct is not None:
            line += f"\nscore: {self.correct}/{self.graded}"
        return line


def read_test_csv(path: str | Path) -> Any:
    """The problems as a polars frame with string ids; needs `id` and `problem` columns."""
    import polars as pl

    try:
        frame = pl.read_csv(path, infer_schema_length=0)  # every column as text, as ids must stay
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise GatewayError(f"cannot read the test file {path}: {exc}") from None
    missing = {"id", "problem"} - set(frame.columns)
    if missing:
        raise GatewayError(f"{path}: no {', '.join(sorted(missing))} column (has {', '.join(frame.columns)})")
    return frame


def checked_prediction(prediction: Any, problem_id: str) -> tuple[str, int]:
    """The (id, answer) of one prediction, or a GatewayError saying why the competition would reject it."""
    import polars as pl

    if not isinstance(prediction, pl.DataFrame):
        if type(prediction).__module__.startswith("pandas"):
            prediction = pl.from_pandas(prediction)
        else:
            raise GatewayError(f"predict returned {type(prediction).__name__}, not a DataFrame")
    if prediction.height != 1:
        raise GatewayError(f"predict returned {prediction.height} rows for problem {problem_id}; expected 1")
    if not {"id", "answer"} <= set(prediction.columns):
        raise GatewayError(f"predict's frame needs id and answer columns, got {prediction.columns}")
    row = prediction.row(0, named=True)
    if str(row["id"]) != problem_id:
        raise GatewayError(f"predict answered id {row['id']!r} for problem {problem_id!r}")
    answer = row["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise GatewayError(f"problem {problem_id}: the answer {answer!r} is not an integer")
    return problem_id, answer


def same_answer(answer: int, gold: str) -> bool:
    """Whether a submitted integer matches a gold answer written as text (`"079"` is 79)."""
    try:
        return answer == int(gold.strip())
    except ValueError:
        return False


def run_gateway(
    predict: Predict,
    test_csv: str | Path,
    out_dir: str | Path = ".",
    *,
    shuffle: bool = True,
    seed: int | None = None,
    time_limit_s: float = 5 * 3600,
    on_answer: Callable[[str, int, float], None] | None = None,
) -> GatewayReport:
    """Feed every problem of `test_csv` to `predict` and write `out_dir/submission.parquet`.

    A rejected prediction stops the rehearsal with a GatewayError, as on Kaggle (the submission
    fails); the answers before it are kept in the file."""
    import polars as pl

    frame = read_test_csv(test_csv)
    order = list(range(frame.height))
    if shuffle:
        random.Random(seed).shuffle(order)
    gold = frame.get_column("answer").to_list() if "answer" in frame.columns else None
    submission = Path(out_dir) / SUBMISSION_FILE
    submission.parent.mkdir(parents=True, exist_ok=True)
    answers: dict[str, int] = {}
    started = time.monotonic()
    try:
        for index in order:
            row = frame.slice(index, 1)
            problem_id = row.get_column("id").item()
            before = time.monotonic()
            prediction = predict(*(row.get_column(name) for name in frame.columns))
            _, answers[problem_id] = checked_prediction(prediction, problem_id)
            if on_answer:
                on_answer(problem_id, answers[problem_id], time.monotonic() - before)
    finally:
        pl.DataFrame(
            {"id": list(answers), "answer": list(answers.values())},
            schema={"id": pl.String, "answer": pl.Int64},
        ).write_parquet(submission)
    elapsed = time.monotonic() - started
    correct = None
    graded = 0
    if gold is not None:
        ids = frame.get_column("id").to_list()
        graded_pairs = [(answers[i], g) for i, g in zip(ids, gold, strict=True) if g is not None]
        graded = len(graded_pairs)
        correct = sum(same_answer(answer, g) for answer, g in graded_pairs)
    return GatewayReport(submission, len(answers), elapsed, time_limit_s, correct, graded)
