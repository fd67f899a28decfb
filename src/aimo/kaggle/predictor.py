"""`make_predict`: the competition's `predict(id_, problem, *rest)` over aimo's engine, strategy and budget.

The engine loads on a background thread (its own event loop) from the moment the predictor is made,
so the server is up at once however slow loading is; the first `predict` waits for it. The run's
clock starts when the predictor is made, because the competition's limit counts model loading too.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimo.config import RunConfig
from aimo.engines.factory import open_engine
from aimo.kaggle.answer import submitted_answer
from aimo.problems import Problem
from aimo.solve.budget import BudgetManager
from aimo.solve.records import RecordWriter
from aimo.solve.run import RunSettings, RunSolver, sandbox_for
from aimo.solve.types import ProblemResult

if TYPE_CHECKING:
    import polars as pl

Clock = Callable[[], float]


def one_value(column: Any, name: str) -> Any:
    """The single value of a one-row column (a polars/pandas Series, a list, or a plain value)."""
    if isinstance(column, str | int | float):
        return column
    values = column.to_list() if hasattr(column, "to_list") else list(column)
    if len(values) != 1:
        raise ValueError(f"predict expects one row per call, got {len(values)} values of {name}")
    return values[0]


def run_settings(config: RunConfig) -> RunSettings:
    """The run's settings, with the competition's whole-run budget when the config sets none."""
    budget = config.budget
    if budget.total_s is None:
        budget = budget.model_copy(update={"total_s": config.kaggle.run_seconds})
    return RunSettings(strategy=config.strategy, sampling=config.sampling, budget=budget)


class Predictor:
    """Solves one problem per call, one at a time, under one budget for `config.kaggle.problems`."""

    def __init__(self, config: RunConfig, clock: Clock = time.monotonic) -> None:
        self.config = config
        self.settings = run_settings(config)
        self.manager = BudgetManager(self.settings.budget, n_problems=config.kaggle.problems, clock=clock)
        self.clock = clock
        self.log = RecordWriter(Path(config.kaggle.log), resume=True)
        self._stack = contextlib.AsyncExitStack()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aimo-engine", daemon=True)
        self._thread.start()
        self._run: Future[RunSolver] = asyncio.run_coroutine_threadsafe(self._start(), self._loop)

    async def _start(self) -> RunSolver:
        config = self.config
        engine = await self._stack.enter_async_context(open_engine(config.engine_for_run()))
        sandbox = await self._stack.enter_async_context(sandbox_for(config.strategy, config.sandbox))
        return await RunSolver.start(engine, self.settings, sandbox, manager=self.manager, clock=self.clock)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the engine is loaded (raises what loading raised)."""
        self._run.result(timeout)

    def solve(self, problem: Problem) -> ProblemResult:
        """Solve one problem on the engine's loop; a failure becomes an unanswered result saying why."""
        started = self.clock()
        try:
            run = self._run.result()
            return asyncio.run_coroutine_threadsafe(run.solve(problem), self._loop).result()
        except Exception as exc:  # the submission must go on: this problem gets the fallback answer
            message = f"{type(exc).__name__}: {exc}"
            print(f"aimo: problem {problem.id}: {message}", file=sys.stderr)
            return ProblemResult(problem.id, None, {}, [], "error", self.clock() - started, error=message)

    def __call__(self, id_: Any, problem: Any, *rest: Any) -> pl.DataFrame:
        """The competition's predict: one-row `id_` and `problem` columns in, a one-row (id, answer) out."""
        import polars as pl

        problem_id = str(one_value(id_, "id"))
        result = self.solve(Problem(id=problem_id, text=str(one_value(problem, "problem"))))
        answer = submitted_answer(result, self.config.kaggle)
        self.log.write(
            {
                **result.to_record(),
                "submitted": answer,
                "run_elapsed_s": self.clock() - self.manager.run_start,
            }
        )
        return pl.DataFrame({"id": [problem_id], "answer": [answer]})

    def close(self) -> None:
        """Close the engine and the sandbox, stop the loop, close the log."""
        if not self._run.cancel() and self._run.exception() is None:  # loaded: keep what it measured
            self._run.result().close()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self.log.close()


def make_predict(config: RunConfig | str | Path, clock: Clock = time.monotonic) -> Predictor:
    """The competition's `predict` for a run config (or a TOML path); the engine starts loading now."""
    if not isinstance(config, RunConfig):
        config = RunConfig.load(config)
    return Predictor(config, clock)
