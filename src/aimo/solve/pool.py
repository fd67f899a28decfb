"""Many problems at once: the samples of (repeat, problem) jobs under one in-flight cap.

An evaluation keeps an engine saturated across problems: jobs start in order while fewer than
`limit` of the running jobs' samples are unfinished, and each sample holds one of `limit` slots
while it generates, so at most `limit` requests are ever in flight. Each problem keeps its own
stop rules and vote (its `ProblemSolver`); results come back as they finish, not in job order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aimo.answers import GradeMode, grade
from aimo.engines.base import Engine, EngineError
from aimo.problems import Problem
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.sample import SampleRunner
from aimo.solve.sessions import SessionSource
from aimo.solve.types import ProblemResult, Sample

# A run stops (keeping what it wrote) when this many problems in a row failed in every sample, or when
# all of them did: the engine is gone, and going on would only write empty answers.
MAX_FAILED_IN_A_ROW = 3


class SampleSlots:
    """At most `limit` samples generate at once (first come, first served); `peak` is the most seen."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the in-flight cap must be at least 1, got {limit}")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.peak = 0

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._semaphore:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1


class SlottedRunner(SampleRunner):
    """A sample runner whose samples each hold a slot of `slots` while they generate."""

    def __init__(self, *args: Any, slots: SampleSlots, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots

    async def fill(self, *args: Any, **kwargs: Any) -> None:
        async with self.slots.hold():
            await super().fill(*args, **kwargs)


def pooled_solver(
    engine: Engine,
    strategy: StrategyConfig,
    sampling: SamplingConfig,
    slots: SampleSlots,
    sandbox: SessionSource | None = None,
) -> ProblemSolver:
    """A solver whose samples take slots of `slots` (and sandbox sessions from `sandbox`, if any)."""
    runner = SlottedRunner(
        engine, strategy, sampling, open_session=sandbox.session if sandbox is not None else None, slots=slots
    )
    return ProblemSolver(runner, strategy)


@dataclass(frozen=True)
class Job:
    """One problem to solve with its solver (a repeat's engine and seeds); `tag` routes its records."""

    problem: Problem
    solver: ProblemSolver
    tag: int = 0


JobSampleCallback = Callable[[Job, Sample], None]
JobResultCallback = Callable[[Job, ProblemResult], None]


async def grade_result(result: ProblemResult, problem: Problem, mode: GradeMode) -> None:
    """Set `result.correct` against the problem's gold answer (when it has one)."""
    if problem.answer is not None and result.answer is not None:
        # Math-mode grading can take seconds (sympy): keep it off the event loop.
        result.correct = await asyncio.to_thread(grade, result.answer, problem.answer, mode)
    elif problem.answer is not None:
        result.correct = False


class FailureStreak:
    """Raises `EngineError` when `MAX_FAILED_IN_A_ROW` results in a row (or all `total`) failed whole."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.in_a_row = 0

    def add(self, result: ProblemResult) -> None:
        self.in_a_row = self.in_a_row + 1 if result.stop_reason == "error" else 0
        if self.in_a_row >= MAX_FAILED_IN_A_ROW or self.in_a_row == self.total:
            raise EngineError(
                result.error
                if self.in_a_row == 1
                else f"{self.in_a_row} problems in a row failed in every sample; last: {result.error}"
            )


async def solve_pool(
    jobs: Iterable[Job],
    slots: SampleSlots,
    *,
    on_sample: JobSampleCallback | None = None,
    on_result: JobResultCallback | None = None,
) -> None:
    """Solve `jobs` concurrently, their samples under `slots`; each result graded, then `on_result`.

    A job starts when fewer than `slots.limit` samples of the running jobs are unfinished, so the
    slots never run dry while work is left and jobs start in the given order."""
    queue = list(jobs)
    streak = FailureStreak(len(queue))
    waiting = iter(queue)
    running: dict[asyncio.Task[ProblemResult], Job] = {}
    unfinished: dict[str, int] = {}  # samples not yet finished, per running job (by its key)

    def fill() -> None:
        while sum(unfinished.values()) < slots.limit and (job := next(waiting, None)) is not None:
            start(job)

    def start(job: Job) -> None:
        key = _key(job)
        unfinished[key] = job.solver.strategy.samples

        def sample_done(sample: Sample) -> None:
            unfinished[key] -= 1
            if on_sample:
                on_sample(job, sample)
            fill()  # its slot is free: start the next job if the running ones cannot use it

        running[asyncio.create_task(job.solver.solve(job.problem, None, on_sample=sample_done))] = job

    try:
        fill()
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                job = running.pop(task)
                unfinished.pop(_key(job))
                result = task.result()
                await grade_result(result, job.problem, job.solver.strategy.answer_mode)
                if on_result:
                    on_result(job, result)
                streak.add(result)
            fill()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _key(job: Job) -> str:
    return f"{job.tag}\0{job.problem.id}"
