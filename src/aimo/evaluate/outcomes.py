"""From a run's records to what the metrics need: every sample graded against its gold answer."""

from __future__ import annotations

from collections.abc import Iterable

from aimo.answers import GradeMode, grade
from aimo.evaluate.metrics import ProblemView, SampleView
from aimo.evaluate.rundir import EvalRecord
from aimo.solve.types import Sample, SampleEnd
from aimo.solve.voting import normalize_key

UNFINISHED: tuple[SampleEnd, ...] = ("cancelled", "error")


class Grader:
    """`grade` with a cache: a run repeats the same (answer, gold) pairs many times."""

    def __init__(self, mode: GradeMode = "auto") -> None:
        self.mode = mode
        self._cache: dict[tuple[str, str], bool] = {}

    def __call__(self, pred: str | None, gold: str | None) -> bool:
        if pred is None or gold is None:
            return False
        key = (pred, gold)
        if key not in self._cache:
            self._cache[key] = grade(pred, gold, self.mode)
        return self._cache[key]


def is_finished(sample: Sample) -> bool:
    """Whether a sample ran to its end (not cancelled by a stop rule or deadline, not failed)."""
    return sample.finish_reason not in UNFINISHED


def sample_view(sample: Sample, gold: str | None, grader: Grader) -> SampleView:
    """The metrics' view of one sample, graded."""
    return SampleView(
        key=normalize_key(sample.answer),
        correct=None if gold is None else grader(sample.answer, gold),
        tokens=sample.completion_tokens,
        seconds=sample.seconds,
        code_calls=len(sample.code_runs),
        code_errors=sum(run.error or run.timed_out for run in sample.code_runs),
        finished=is_finished(sample),
    )


def problem_views(records: Iterable[EvalRecord], grader: Grader) -> list[ProblemView]:
    """The metrics' view of each record; the voted answer keeps the run's own verdict when it has one."""
    views = []
    for record in records:
        result = record.result
        views.append(
            ProblemView(
                problem_id=result.problem_id,
                repeat=record.repeat,
                correct=_voted_correct(record, grader),
                seconds=result.seconds,
                samples=tuple(sample_view(s, result.gold, grader) for s in result.samples),
            )
        )
    return views


def _voted_correct(record: EvalRecord, grader: Grader) -> bool | None:
    result = record.result
    if result.gold is None:
        return None
    return result.correct if result.correct is not None else grader(result.answer, result.gold)
