"""One problem's orchestration: N samples at once, stop rules on the answers as they arrive, the vote."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aimo.engines.base import EngineError
from aimo.problems import Problem
from aimo.solve.budget import ProblemBudget
from aimo.solve.config import StrategyConfig
from aimo.solve.prompts import prompt_kinds
from aimo.solve.sample import SampleRunner
from aimo.solve.stopping import StopRule, check_stop, parse_stop_rules
from aimo.solve.types import ProblemResult, Sample
from aimo.solve.voting import VoteConfig, tally, winner

SampleCallback = Callable[[Sample], None]


class ProblemSolver:
    """Solves one problem at a time: launches the samples, stops early when a rule says so, votes."""

    def __init__(
        self,
        runner: SampleRunner,
        strategy: StrategyConfig,
        vote: VoteConfig | None = None,
        stop_rules: Sequence[StopRule] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.strategy = strategy
        self.vote = vote or strategy.vote
        self.stop_rules = (
            list(stop_rules) if stop_rules is not None else parse_stop_rules(strategy.stop_rules)
        )
        self.clock = clock

    async def solve(
        self, problem: Problem, budget: ProblemBudget | None = None, on_sample: SampleCallback | None = None
    ) -> ProblemResult:
        """Run the samples of `problem` (fewer when the budget says so) and return the voted result."""
        started = self.clock()
        n = budget.scaled_samples(self.strategy.samples) if budget else self.strategy.samples
        kinds = prompt_kinds(self.strategy.strategy, n, self.strategy.mix_code_samples)
        sample_deadline = None
        if budget is not None:
            reserve = self.strategy.force_answer_timeout_s if self.strategy.force_answer else 0.0
            sample_deadline = max(started, budget.deadline - min(reserve, budget.allotted_s / 4))
        samples = [Sample(problem_id=problem.id, index=i, prompt_kind=kind) for i, kind in enumerate(kinds)]
        tasks = {
            asyncio.create_task(self.runner.fill(problem, sample, sample_deadline)): sample
            for sample in samples
        }
        finished: list[Sample] = []
        errors: list[BaseException] = []
        stop_reason = "all_finished"
        pending = set(tasks)
        try:
            while pending:
                timeout = self._wait_timeout(budget, finished)
                done, pending = await asyncio.wait(
                    pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    sample = tasks[task]
                    if (exc := task.exception()) is not None:
                        if not isinstance(exc, EngineError):
                            raise exc
                        errors.append(exc)
                        sample.finish_reason, sample.meta["error"] = "error", str(exc)
                    finished.append(sample)
                    if on_sample:
                        on_sample(sample)
                if not done:
                    stop_reason = (
                        "deadline" if budget and self.clock() >= budget.deadline else "soft_deadline"
                    )
                    break
                if pending and (reason := check_stop(self.stop_rules, [s.answer for s in finished], n)):
                    stop_reason = reason
                    break
        finally:
            await _cancel(pending)
        for task in pending:
            tasks[task].finish_reason = "cancelled"
        if errors and len(errors) == len(samples):
            raise errors[0]
        order = [s.answer for s in finished]
        votes = tally(finished, problem.text, self.vote)
        return ProblemResult(
            problem_id=problem.id,
            answer=winner(votes, order),
            votes=votes,
            samples=finished + [tasks[t] for t in pending],
            stop_reason=stop_reason,
            seconds=self.clock() - started,
            gold=problem.answer,
        )

    def _wait_timeout(self, budget: ProblemBudget | None, finished: list[Sample]) -> float | None:
        """Wait for the next sample until the hard deadline, or only until the soft one once a vote is in."""
        if budget is None:
            return None
        until = budget.soft_deadline if any(s.answer is not None for s in finished) else budget.deadline
        return max(0.0, until - self.clock())


async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
    """Cancel the samples still running and wait until they have released their engine and sandbox."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
