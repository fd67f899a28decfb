"""What the dataset builders read: problems with their text, gold answer and graded samples.

Two sources, told apart by the path: an `aimo eval` run directory (it holds `config.json`; the problem
texts come from the run's dataset, its samples from every repeat) or a trace file in any format
`aimo.engines.traces` reads. Samples are graded with aimo's grader unless the trace already says
whether they are correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aimo.answers import GradeMode
from aimo.engines.traces import TraceProblem, load_traces
from aimo.errors import AimoError
from aimo.evaluate.datasets import resolve_dataset
from aimo.evaluate.outcomes import Grader, is_finished
from aimo.evaluate.rundir import CONFIG_FILE, RunDir
from aimo.problems import FieldNames, Problem
from aimo.solve.types import Sample

CHARS_PER_TOKEN = 4


class DataError(AimoError):
    """Input that cannot become a dataset (missing file, no texts, bad options)."""


@dataclass(frozen=True)
class GradedSample:
    """One recorded sample: its text as the model wrote it (code outputs included), graded."""

    text: str
    answer: str | None
    correct: bool | None
    tokens: int | None
    prompt_kind: str = "cot"
    finished: bool = True

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    @property
    def length(self) -> int:
        """Completion tokens; estimated as characters / 4 when the record has no count (text traces)."""
        return self.tokens if self.tokens is not None else len(self.text) // CHARS_PER_TOKEN


@dataclass(frozen=True)
class GradedProblem:
    """A problem and its graded samples (every repeat of a run together)."""

    problem_id: str
    text: str
    gold: str | None
    samples: tuple[GradedSample, ...]

    @property
    def graded(self) -> tuple[GradedSample, ...]:
        return tuple(s for s in self.samples if s.correct is not None and s.finished)

    @property
    def pass_rate(self) -> float | None:
        graded = self.graded
        return sum(bool(s.correct) for s in graded) / len(graded) if graded else None

    def answer_tokens(self) -> list[int]:
        """Completion tokens of the finished samples that reached an answer."""
        return [s.tokens for s in self.samples if s.finished and s.answer is not None and s.tokens]


def load_graded(path: str | Path, mode: GradeMode = "auto", run: str | None = None) -> list[GradedProblem]:
    """Problems with graded samples from a run directory or a trace file (`FILE#RUN` for ConSol)."""
    where = Path(path)
    if where.is_dir():
        return _from_run_dir(where, Grader(mode))
    if not where.exists() and "#" not in str(where):
        raise DataError(f"{where}: no such run directory or trace file")
    return [_from_trace(p, Grader(mode)) for p in load_traces(where, run)]


def load_many(paths: Sequence[str | Path], mode: GradeMode = "auto") -> list[GradedProblem]:
    """`load_graded` of each path, in order."""
    return [p for path in paths for p in load_graded(path, mode)]


def _from_run_dir(path: Path, grader: Grader) -> list[GradedProblem]:
    if not (path / CONFIG_FILE).is_file():
        raise DataError(f"{path} is not an aimo eval run directory (no {CONFIG_FILE})")
    run = RunDir.open(path)
    texts = _problem_texts(run)
    by_id: dict[str, tuple[str | None, list[GradedSample]]] = {}
    for record in run.records():
        result = record.result
        _, samples = by_id.setdefault(result.problem_id, (result.gold, []))
        samples.extend(_graded_sample(s, result.gold, grader) for s in result.samples)
    return [
        GradedProblem(pid, texts.get(pid, ""), gold, tuple(samples)) for pid, (gold, samples) in by_id.items()
    ]


def _problem_texts(run: RunDir) -> dict[str, str]:
    """The texts of the run's problems, from its dataset (the records hold only ids)."""
    spec = run.info.dataset.get("spec")
    if not spec:
        return {}
    fields = FieldNames(**(run.info.dataset.get("fields") or {}))
    try:
        dataset = resolve_dataset(spec, run.info.config.engine.traces, fields)
    except AimoError as exc:
        raise DataError(f"{run.path}: cannot read the run's problems from {spec!r}: {exc}") from None
    return {p.id: p.text for p in dataset.problems}


def _graded_sample(sample: Sample, gold: str | None, grader: Grader) -> GradedSample:
    return GradedSample(
        text=sample.text,
        answer=sample.answer,
        correct=None if gold is None else grader(sample.answer, gold),
        tokens=sample.completion_tokens or None,
        prompt_kind=sample.prompt_kind,
        finished=is_finished(sample),
    )


def _from_trace(problem: TraceProblem, grader: Grader) -> GradedProblem:
    samples = []
    for s in problem.samples:
        known = s.meta.get("correct")
        correct = bool(known) if known is not None else None
        if correct is None and problem.gold is not None:
            correct = grader(s.answer, problem.gold)
        kind = str(s.meta.get("prompt_kind", "cot"))
        samples.append(GradedSample(s.text or "", s.answer, correct, s.completion_tokens, kind))
    return GradedProblem(problem.problem_id, problem.text, problem.gold, tuple(samples))


def with_texts(problems: Sequence[GradedProblem], texts: Sequence[Problem]) -> list[GradedProblem]:
    """Fill in missing problem texts from a problem file: by id, else by a gold answer that exactly
    one problem of the file has (ConSol's traces record no statements, only inferred gold answers)."""
    by_id = {p.id: p.text for p in texts}
    by_gold: dict[str, list[str]] = {}
    for p in texts:
        if p.answer is not None:
            by_gold.setdefault(str(p.answer).strip(), []).append(p.text)
    filled = []
    for problem in problems:
        text = problem.text if _recorded(problem.text) else ""
        if not text:
            same_gold = by_gold.get(str(problem.gold).strip(), []) if problem.gold is not None else []
            text = by_id.get(problem.problem_id) or (same_gold[0] if len(same_gold) == 1 else "")
        filled.append(replace(problem, text=text))
    return filled


def _recorded(text: str) -> bool:
    """Whether a trace's problem text is a real statement (not a loader's placeholder)."""
    return bool(text.strip()) and "statement not recorded" not in text
