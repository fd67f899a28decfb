"""The time manager of a run: a deadline for each problem from the time and the problems left.

At the start of every problem the time still usable is shared fairly among the problems left, so
time a problem does not use flows to the later ones. A problem plans its samples to fit its fair share
(`soft_deadline`: no sample is added after it) but the samples it started may run on to its hard
`deadline`, up to `borrow` times the fair share, so a hard problem's long sample is not cut off just
past the average; what it borrows comes out of the later problems' shares. Each problem not yet finished keeps
`fallback_s` back (cancelling its samples and writing a forced answer), and the run keeps
`reserve_s` back at the end. Hence the guarantee: if every problem has finished within `fallback_s`
after its deadline, the run ends by `run_start + total_s - reserve_s`, because every deadline
satisfies `deadline + fallback_s * (problems left, this one included) <= run_start + total_s - reserve_s`.

When the fair share now falls behind the run's initial fair share (earlier problems took longer),
a "speed level" lowers the number of samples per problem (`BudgetConfig.speed_levels`).
All times are readings of the injected clock (`time.monotonic` by default), in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aimo.solve.config import BudgetConfig

Clock = Callable[[], float]


@dataclass(frozen=True)
class ProblemBudget:
    """The time a problem may take, as absolute clock readings.

    - `deadline`: cancel whatever still runs and answer with what is in (forced/fallback answer).
    - `soft_deadline`: the end of the problem's planning horizon (its fair share): the planner adds no
      sample that it predicts cannot finish by then; samples already running go on to `deadline`.
    - `samples_scale`: multiply the planned number of samples by it (1.0 when on schedule).
    """

    index: int
    started: float
    deadline: float
    soft_deadline: float
    samples_scale: float = 1.0
    level: int = 0

    @property
    def allotted_s(self) -> float:
        return self.deadline - self.started

    def time_left(self, now: float) -> float:
        """Seconds until the hard deadline (negative once past it)."""
        return self.deadline - now

    def scaled_samples(self, samples: int) -> int:
        """The number of samples to run at this problem's speed level (at least 1)."""
        return max(1, round(samples * self.samples_scale))


def speed_level(
    time_left: float, problems_left: int, baseline_s: float, levels: Sequence[tuple[float, float]]
) -> int:
    """Index in `levels` for the fair share now (`time_left / problems_left`) relative to `baseline_s`.

    `levels` are (min ratio, samples multiplier) pairs, best first, the last starting at 0.
    """
    if baseline_s <= 0 or problems_left <= 0:
        return len(levels) - 1
    ratio = max(0.0, time_left) / problems_left / baseline_s
    for index, (min_ratio, _) in enumerate(levels):
        if ratio >= min_ratio:
            return index
    return len(levels) - 1


class BudgetManager:
    """Deadlines for the problems of one run; the run starts when the manager is made.

    `n_problems=None` when the number of problems is not known up front; `config.assumed_problems`
    stands in for it (a problem beyond that count gets whatever time is left).
    Call `start_problem()` when a problem begins and `finish_problem()` when its answer is written.
    """

    def __init__(
        self, config: BudgetConfig, n_problems: int | None = None, clock: Clock = time.monotonic
    ) -> None:
        if n_problems is not None and n_problems < 1:
            raise ValueError("n_problems must be at least 1")
        self.config = config
        self.n_problems = n_problems
        self.clock = clock
        self.run_start = clock()
        self.durations: list[float] = []
        self._current: ProblemBudget | None = None
        planned = self._planned_problems
        usable = math.inf if config.total_s is None else config.total_s - config.reserve_s
        self.baseline_s = max(0.0, usable - config.fallback_s * planned) / planned

    @property
    def _planned_problems(self) -> int:
        return self.n_problems if self.n_problems is not None else self.config.assumed_problems

    @property
    def usable_end(self) -> float:
        """Clock reading by which the run must be over: start + total − reserve (inf without a total)."""
        if self.config.total_s is None:
            return math.inf
        return self.run_start + self.config.total_s - self.config.reserve_s

    @property
    def problems_done(self) -> int:
        return len(self.durations)

    @property
    def problems_left(self) -> int:
        """Problems not finished yet, the current one included (at least 1)."""
        return max(1, self._planned_problems - self.problems_done)

    def start_problem(self, weight: float = 1.0) -> ProblemBudget:
        """Begin the next problem and return its budget (an unfinished previous problem is finished now).

        `weight` scales its fair share (a token scheduler's prediction relative to a typical problem)."""
        if self._current is not None:
            self.finish_problem()
        cfg = self.config
        now = self.clock()
        left = self.problems_left
        available = self.usable_end - now - cfg.fallback_s * left
        level = speed_level(available, left, self.baseline_s, cfg.speed_levels) if cfg.total_s else 0
        fair = max(0.0, available) / left * weight
        allotted = min(fair * cfg.borrow, max(0.0, available))
        if cfg.per_problem_max_s is not None:
            allotted = min(allotted, cfg.per_problem_max_s)
        # Clamped so that rounding in `now + allotted` never puts a deadline past the run's end.
        deadline = min(now + allotted, max(now, self.usable_end))
        self._current = ProblemBudget(
            index=self.problems_done,
            started=now,
            deadline=deadline,
            soft_deadline=min(deadline, now + cfg.soft_fraction * min(fair, allotted)),
            samples_scale=cfg.speed_levels[level][1],
            level=level,
        )
        return self._current

    def finish_problem(self, seconds_used: float | None = None) -> None:
        """Record the end of the current problem (`seconds_used` defaults to the clock's account)."""
        if self._current is None:
            raise RuntimeError("finish_problem() without start_problem()")
        if seconds_used is None:
            seconds_used = self.clock() - self._current.started
        self.durations.append(seconds_used)
        self._current = None

    def time_left(self) -> float:
        """Seconds until `usable_end`."""
        return self.usable_end - self.clock()
