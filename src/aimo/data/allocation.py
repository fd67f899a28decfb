"""Does the token scheduler's time allocation beat the fair share? Measured offline on recorded samples.

The scheduler is fitted on the recorded problems themselves, so each problem's weight comes from its
leave-one-out prediction (a model that never saw that problem). `aimo.solve.simulate` then plays many
competition runs (random order, noisy durations) under three policies that see the same random
draws: an equal split, the time manager's fair share, and the fair share scaled by the scheduler's
weight; an "oracle" row uses the weight of the problem's true median tokens, the ceiling of the idea.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from aimo.data.graded import GradedProblem
from aimo.data.scheduler import WEIGHT_RANGE, Fit
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.solve.simulate import CompetitionSetup, simulate_competition


def as_traces(problems: Sequence[GradedProblem]) -> list[TraceProblem]:
    """The problems as the simulator replays them: each finished sample's answer and token count."""
    return [
        TraceProblem(
            p.problem_id,
            p.text,
            p.gold,
            tuple(TraceSample(answer=s.answer, completion_tokens=s.tokens) for s in p.samples if s.finished),
        )
        for p in problems
    ]


def weights_from(problem_ids: Sequence[str], tokens: Sequence[float]) -> dict[str, float]:
    """Each problem's tokens over their median, clipped to `WEIGHT_RANGE` (as `TokenScheduler.weight`)."""
    typical = float(np.median(tokens))
    low, high = WEIGHT_RANGE
    return {pid: min(high, max(low, t / typical)) for pid, t in zip(problem_ids, tokens, strict=True)}


@dataclass(frozen=True)
class AllocationRow:
    """Mean scores of the policies at one budget, and the scheduled policy's paired gain over the
    fair share with its standard error."""

    per_problem_s: float
    equal: float
    fair: float
    scheduled: float
    oracle: float
    gain: float
    gain_se: float


def compare_allocation(
    traces: Sequence[TraceProblem], fit: Fit, setup: CompetitionSetup, per_problem_s: Sequence[float]
) -> list[AllocationRow]:
    """The table of the module doc; problems the scheduler could not fit (no text) get weight 1."""
    predicted = weights_from(fit.problem_ids, fit.loo_tokens)
    oracle = weights_from(fit.problem_ids, fit.tokens)
    rows = []
    for seconds in per_problem_s:
        budget = setup.budget.model_copy(update={"total_s": seconds * len(traces)})
        base = replace(setup, budget=budget)
        run = simulate_competition(traces, replace(base, weights=predicted))
        best = simulate_competition(traces, replace(base, weights=oracle))["scheduled"]
        gains = [s - f for s, f in zip(run["scheduled"].scores, run["managed"].scores, strict=True)]
        rows.append(
            AllocationRow(
                seconds,
                run["equal"].mean_score,
                run["managed"].mean_score,
                run["scheduled"].mean_score,
                best.mean_score,
                statistics.fmean(gains),
                statistics.pstdev(gains) / len(gains) ** 0.5,
            )
        )
    return rows


def format_allocation(rows: Sequence[AllocationRow], fit: Fit) -> str:
    lines = [
        f"token scheduler on {fit.scheduler.problems} problems: leave-one-out |log tokens error| "
        f"{fit.loo_log_error():.3f} vs {fit.baseline_log_error():.3f} for a constant guess",
        f"{'s/problem':>9} {'equal':>7} {'fair':>7} {'sched':>7} {'oracle':>7} {'sched-fair':>11}",
    ]
    lines += [
        f"{r.per_problem_s:>9.0f} {r.equal:>7.2f} {r.fair:>7.2f} {r.scheduled:>7.2f} {r.oracle:>7.2f} "
        f"{r.gain:>+7.3f}±{r.gain_se:.3f}"
        for r in rows
    ]
    return "\n".join(lines)
