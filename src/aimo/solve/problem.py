"""One problem's orchestration: samples started as the plan says, stop rules on the answers as they
arrive, samples added while the vote is unsettled and time remains, the vote."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence

from aimo.problems import Problem
from aimo.solve.budget import ProblemBudget
from aimo.solve.confidence import ConfidenceGate, ProblemGate
from aimo.solve.config import BudgetConfig, StrategyConfig
from aimo.solve.planner import Planner, Start
from aimo.solve.prompts import prompt_kinds
from aimo.solve.reward import RewardScorer
from aimo.solve.sample import SampleRunner
from aimo.solve.stopping import StopRule, check_stop
from aimo.solve.types import ProblemResult, Sample, SampleEnd, StopReason
from aimo.solve.voting import (
    VoteConfig,
    confidence_measure,
    leader_margin,
    max_sample_weight,
    sample_weights,
    tally,
    winner,
)

SampleCallback = Callable[[Sample], None]
# Answers that count as "the sample reached an answer by itself" for the planner's token model.
_NATURAL_ENDS: tuple[SampleEnd, ...] = ("boxed", "stop", "think", "code_answer")


class ProblemSolver:
    """Solves one problem at a time: launches samples, stops early when a rule says so, votes.

    Without a planner (or without a budget) all the strategy's samples start at once. With both, the
    planner decides how many start, with how many tokens, and whether to add more later; samples
    are added only while the vote's leader is less than `settled_lead` votes ahead."""

    def __init__(
        self,
        runner: SampleRunner,
        strategy: StrategyConfig,
        vote: VoteConfig | None = None,
        stop_rules: Sequence[StopRule] | None = None,
        clock: Callable[[], float] = time.monotonic,
        planner: Planner | None = None,
        settled_lead: float = BudgetConfig.model_fields["settled_lead"].default,
    ) -> None:
        self.runner = runner
        self.strategy = strategy
        self.vote = vote or strategy.vote
        self.stop_rules: list[StopRule] = list(stop_rules if stop_rules is not None else strategy.stop_rules)
        self.clock = clock
        self.planner = planner
        self.settled_lead = settled_lead
        self._run_gate: ConfidenceGate | None = None

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
            sample_deadline = max(started, budget.deadline - min(reserve, budget.allotted_s / 8))
        planner = self.planner if budget is not None else None
        if budget is not None and budget.allotted_s <= 0:  # no time left at all: nothing could finish
            return ProblemResult(problem.id, None, {}, [], "deadline", 0.0, gold=problem.answer)
        samples: list[Sample] = []
        tasks: dict[asyncio.Task[None], Sample] = {}
        gate = self._confidence_gate(n)
        scorer = RewardScorer(self.vote.reward_model, problem.text) if self.vote.reward_model else None

        def launch(plan: Start) -> None:
            for _ in range(plan.samples):
                if len(samples) >= n:
                    return
                sample = Sample(problem_id=problem.id, index=len(samples), prompt_kind=kinds[len(samples)])
                sample.max_tokens = plan.max_tokens
                samples.append(sample)
                if gate is not None:
                    gate.started()
                fill = self.runner.fill(
                    problem, sample, sample_deadline, max_tokens=plan.max_tokens, gate=gate
                )
                tasks[asyncio.create_task(fill)] = sample

        if planner is not None and budget is not None:
            now = self.clock()
            launch(planner.first(budget.soft_deadline - now, _left(sample_deadline, now)))
        else:
            launch(Start(min(n, self.strategy.in_flight or n), self.runner.sampling.max_tokens))
        finished: list[Sample] = []
        stop_reason: StopReason = "all_finished"
        pending = set(tasks)
        try:
            while pending:
                timeout = None if budget is None else max(0.0, budget.deadline - self.clock())
                done, pending = await asyncio.wait(
                    pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    sample = tasks[task]
                    if (exc := task.exception()) is not None:
                        # One failing sample (engine, sandbox, anything) loses that sample, not the run.
                        sample.finish_reason = "error"
                        sample.error = f"{type(exc).__name__}: {exc}"
                    elif (
                        planner is not None
                        and sample.answer is not None
                        and sample.finish_reason in _NATURAL_ENDS
                    ):
                        planner.tokens.add(sample.completion_tokens)
                    finished.append(sample)
                    if scorer is not None and sample.answer is not None:
                        await scorer.score(sample)
                    if gate is not None:
                        gate.ended(sample, natural=sample.finish_reason in _NATURAL_ENDS)
                    if on_sample:
                        on_sample(sample)
                if not done:
                    stop_reason = "deadline"
                    break
                weights = sample_weights(finished, problem.text, self.vote)
                answers = [s.answer for s in finished]
                if (pending or (planner is None and len(samples) < n)) and (
                    reason := check_stop(self.stop_rules, answers, n, weights, max_sample_weight(self.vote))
                ):
                    stop_reason = reason
                    break
                if planner is None and len(samples) < n:  # a bounded pool: one ended, start the next
                    before = set(tasks)
                    launch(Start(len(done), self.runner.sampling.max_tokens))
                    pending |= set(tasks) - before
                margin = leader_margin(answers, weights)
                if planner is not None and budget is not None and margin < self.settled_lead:
                    now = self.clock()
                    # Fewer new votes than the margin (+1) could not change the winner.
                    wanted = max(1, math.floor(margin) + 1 - len(pending))
                    more = planner.more(
                        len(pending),
                        len(samples),
                        budget.soft_deadline - now,
                        _left(sample_deadline, now),
                        wanted,
                    )
                    before = set(tasks)
                    launch(more)
                    pending |= set(tasks) - before
        finally:
            await _cancel(pending)
            if scorer is not None:
                await scorer.aclose()
        for task in pending:
            tasks[task].finish_reason = "cancelled"
        votes = tally(finished, problem.text, self.vote)
        errors = [s.error for s in finished if s.finish_reason == "error"]
        if errors and len(errors) == len(samples):
            stop_reason = "error"
        result = ProblemResult(
            problem_id=problem.id,
            answer=winner(votes, _vote_order(finished, self.strategy.greedy_first)),
            votes=votes,
            samples=finished + [tasks[t] for t in pending],
            stop_reason=stop_reason,
            seconds=self.clock() - started,
            gold=problem.answer,
        )
        if stop_reason == "error":
            result.error = errors[0]
        if gate is not None:
            result.confidence_threshold = gate.threshold
        if scorer is not None and scorer.error:
            result.reward_error = scorer.error
        return result

    def _confidence_gate(self, planned: int) -> ProblemGate | None:
        """DeepConf online's gate for a problem of `planned` samples, when the strategy asks for it: a
        new one per problem, or with `confidence_scope = "run"` one for all the problems this solver
        solves."""
        gate = self._run_gate or self._new_gate(planned)
        return None if gate is None else ProblemGate(gate, planned)

    def _new_gate(self, planned: int | None = None) -> ConfidenceGate | None:
        """A fresh gate (kept as the run's with scope "run"); None when the strategy has no gate. A
        problem's own gate (`planned` samples) warms up on at most all of them."""
        online = self.strategy.online_confidence
        if online is None:
            return None
        gate = online.gate(planned)
        if online.scope == "run":
            self._run_gate = gate
        return gate

    def resume_run_gate(self, finished: Iterable[Sample]) -> None:
        """Give a resumed run back its run-wide confidence threshold: the samples it finished before,
        in the order they finished, warm the gate up as they did then (without this the rest of the
        run would warm up again, on other traces). Reads `finished` only until the warm-up is full."""
        if self.strategy.confidence_scope != "run":
            return
        gate = self._run_gate or self._new_gate()
        for sample in finished:
            if gate is None or gate.threshold is not None:
                return
            if sample.finish_reason in _NATURAL_ENDS:
                gate.observe(confidence_measure(sample, "lowest_group"))


def _left(deadline: float | None, now: float) -> float | None:
    return None if deadline is None else max(0.0, deadline - now)


def _vote_order(finished: Sequence[Sample], greedy_first: bool) -> list[str | None]:
    """Answers in the order ties are broken: the greedy sample's first (if any), then as finished."""
    order = [s.answer for s in finished]
    if greedy_first:
        order = [s.answer for s in finished if s.index == 0] + order
    return order


async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
    """Cancel the samples still running and wait until they have released their engine and sandbox."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
