"""A run over many problems: one engine, one sandbox, one budget manager, results written as they finish."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aimo.answers import GradeMode
from aimo.engines.base import Engine
from aimo.problems import Problem
from aimo.solve.budget import BudgetManager
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.planner import Planner, prepare_planner
from aimo.solve.pool import FailureStreak, grade_result
from aimo.solve.problem import ProblemSolver, SampleCallback
from aimo.solve.records import RecordWriter, read_records
from aimo.solve.sample import SampleRunner
from aimo.solve.sessions import SessionSource
from aimo.solve.types import ProblemResult, Sample

if TYPE_CHECKING:
    from aimo.sandbox import SandboxConfig

ResultCallback = Callable[[ProblemResult], None]


@dataclass
class RunSettings:
    """What a multi-problem run needs besides the engine and the problems."""

    strategy: StrategyConfig
    sampling: SamplingConfig
    budget: BudgetConfig
    # A problem's time weight from its text (`aimo.data.scheduler.token_prior`); None: fair shares.
    token_prior: Callable[[str], float] | None = None


def problems_from_traces(path: str) -> list[Problem]:
    """The problems recorded in a trace file (`FILE` or `FILE#RUN`), with their gold answers."""
    from aimo.engines.traces import load_problems_from_traces

    return [
        Problem(id=t.problem_id, text=t.text, answer=t.gold, meta=dict(t.meta))
        for t in load_problems_from_traces(path)
    ]


def results_in(path: Path | None) -> list[ProblemResult]:
    """The problem results already in a results file (for --resume), in the order they were solved."""
    if path is None:
        return []
    return [ProblemResult.from_record(r) for r in read_records(path) if r.get("kind") == "problem"]


def samples_as_finished(results: Iterable[ProblemResult]) -> Iterator[Sample]:
    """The samples of problems solved one after another, in the order they finished."""
    for result in results:
        yield from sorted(result.samples, key=lambda s: s.ended or 0.0)


@contextlib.asynccontextmanager
async def sandbox_for(
    strategy: StrategyConfig, sandbox_config: SandboxConfig
) -> AsyncIterator[SessionSource | None]:
    """A warm sandbox pool when the strategy runs code; None otherwise."""
    if strategy.strategy == "cot" or strategy.code_rounds == 0:
        yield None
        return
    from aimo.sandbox import Sandbox

    async with Sandbox(sandbox_config) as sandbox:
        yield sandbox


class RunSolver:
    """Solves a run's problems one at a time under one budget manager, the planner and one sample runner.

    Made with `await RunSolver.start(...)`; the run's clock starts there (before any calibration).
    `n_problems=None`: the count is not known up front (a server fed one problem at a time), and
    `BudgetConfig.assumed_problems` stands in for it. Call `close()` when the run is over."""

    def __init__(
        self,
        solver: ProblemSolver,
        manager: BudgetManager | None,
        planner: Planner | None,
        answer_mode: GradeMode,
        token_prior: Callable[[str], float] | None = None,
    ) -> None:
        self.solver = solver
        self.token_prior = token_prior
        self.manager = manager
        self.planner = planner
        self.answer_mode = answer_mode

    @classmethod
    async def start(
        cls,
        engine: Engine,
        settings: RunSettings,
        sandbox: SessionSource | None = None,
        n_problems: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        manager: BudgetManager | None = None,
    ) -> RunSolver:
        """Set up the run; a `manager` made earlier keeps its own start (e.g. before the engine loaded)."""
        timed = settings.budget.total_s is not None or settings.budget.per_problem_max_s is not None
        if manager is None and timed:
            manager = BudgetManager(settings.budget, n_problems=n_problems, clock=clock)
        planner = (
            await prepare_planner(engine, settings, clock) if timed and settings.budget.planner else None
        )
        runner = SampleRunner(
            planner.meter if planner else engine,
            settings.strategy,
            settings.sampling,
            open_session=sandbox.session if sandbox is not None else None,
            clock=clock,
        )
        solver = ProblemSolver(
            runner, settings.strategy, clock=clock, planner=planner, settled_lead=settings.budget.settled_lead
        )
        return cls(solver, manager, planner, settings.strategy.answer_mode, settings.token_prior)

    async def solve(self, problem: Problem, on_sample: SampleCallback | None = None) -> ProblemResult:
        """Solve the next problem in its share of the run's time; graded when it has a gold answer."""
        # The token scheduler's relative need of this problem (1: an average one) scales its share.
        weight = self.token_prior(problem.text) if self.token_prior else 1.0
        if self.planner:
            self.planner.token_scale = weight
        budget = self.manager.start_problem(weight) if self.manager else None
        result = await self.solver.solve(problem, budget, on_sample=on_sample)
        if self.manager:
            self.manager.finish_problem()
        await grade_result(result, problem, self.answer_mode)
        return result

    def close(self) -> None:
        """Keep what the planner measured for the next run."""
        if self.planner is not None:
            self.planner.remember()


async def solve_problems(
    engine: Engine,
    problems: Sequence[Problem],
    settings: RunSettings,
    sandbox: SessionSource | None = None,
    output: RecordWriter | None = None,
    on_result: ResultCallback | None = None,
    on_sample: SampleCallback | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[ProblemResult]:
    """Solve each problem in turn under one budget; each result is written the moment it is known.

    With a time budget (and `BudgetConfig.planner` on) the planner decides each problem's samples
    from the engine's measured speed; the budget's clock starts before any calibration."""
    earlier = results_in(output.path if output is not None else None)
    done = {r.problem_id for r in earlier}
    todo = [p for p in problems if p.id not in done]
    run = await RunSolver.start(engine, settings, sandbox, n_problems=len(todo) or 1, clock=clock)
    run.solver.resume_run_gate(samples_as_finished(earlier))
    results: list[ProblemResult] = []
    streak = FailureStreak(len(todo))
    try:
        for problem in todo:
            result = await run.solve(problem, on_sample=on_sample)
            if output is not None:
                output.write(result.to_record())
            results.append(result)
            if on_result:
                on_result(result)
            streak.add(result)
    finally:
        run.close()
    return results
