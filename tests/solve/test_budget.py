from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aimo.solve.budget import BudgetManager, speed_level
from aimo.solve.config import BudgetConfig

LEVELS = [(0.9, 1.0), (0.7, 0.75), (0.5, 0.5), (0.0, 0.25)]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_no_total_means_no_deadline_unless_capped() -> None:
    clock = FakeClock()
    budget = BudgetManager(BudgetConfig(), 3, clock).start_problem()
    assert budget.deadline == math.inf and budget.samples_scale == 1.0
    capped = BudgetManager(BudgetConfig(per_problem_max_s=60), None, clock).start_problem()
    assert capped.deadline == clock.now + 60 and capped.soft_deadline == clock.now + 60


def test_fair_share_and_unused_time_flows_forward() -> None:
    clock = FakeClock()
    config = BudgetConfig(total_s=100, reserve_s=5, fallback_s=1, borrow=1.0, soft_fraction=0.8)
    manager = BudgetManager(config, 10, clock)
    first = manager.start_problem()
    assert first.allotted_s == pytest.approx((100 - 5 - 10) / 10)
    assert first.soft_deadline == pytest.approx(clock.now + 0.8 * 8.5)
    clock.now += 1.0  # solved fast
    manager.finish_problem()
    second = manager.start_problem()
    assert second.allotted_s == pytest.approx((100 - 5 - 1 - 9) / 9)
    assert second.allotted_s > first.allotted_s
    assert manager.problems_done == 1 and manager.problems_left == 9


def test_plan_horizon_is_the_fair_share_and_running_samples_may_borrow_past_it() -> None:
    clock = FakeClock()
    manager = BudgetManager(BudgetConfig(total_s=100, reserve_s=0, fallback_s=0), 10, clock)
    first = manager.start_problem()
    assert first.soft_deadline == pytest.approx(clock.now + 10)  # plan within the fair share
    assert first.deadline == pytest.approx(clock.now + 30)  # a started sample may run on (borrow 3)
    clock.now += 30
    manager.finish_problem()
    second = manager.start_problem()  # what the first borrowed comes out of the later shares
    assert second.soft_deadline == pytest.approx(clock.now + 70 / 9)


def test_falling_behind_lowers_the_sample_count() -> None:
    clock = FakeClock(0.0)
    config = BudgetConfig(total_s=1000, reserve_s=0, fallback_s=0, speed_levels=LEVELS)
    manager = BudgetManager(config, 10, clock)
    budget = manager.start_problem()
    assert (budget.level, budget.scaled_samples(16)) == (0, 16)
    clock.now = 400.0  # the first problem took 4 shares
    manager.finish_problem()
    budget = manager.start_problem()  # 600 s for 9: ratio 0.67
    assert (budget.level, budget.samples_scale, budget.scaled_samples(16)) == (2, 0.5, 8)
    clock.now = 990.0
    manager.finish_problem()
    assert manager.start_problem().scaled_samples(16) == 4


def test_speed_level_table() -> None:
    assert speed_level(100, 1, 100, LEVELS) == 0
    assert speed_level(80, 1, 100, LEVELS) == 1
    assert speed_level(50, 1, 100, LEVELS) == 2
    assert speed_level(-5, 1, 100, LEVELS) == 3
    assert speed_level(100, 1, 0, LEVELS) == 3


def test_borrow_and_cap() -> None:
    clock = FakeClock(0.0)
    config = BudgetConfig(total_s=100, reserve_s=0, fallback_s=0, borrow=2.0, per_problem_max_s=15)
    assert BudgetManager(config, 10, clock).start_problem().allotted_s == 15
    config = BudgetConfig(total_s=100, reserve_s=0, fallback_s=0, borrow=2.0)
    assert BudgetManager(config, 10, clock).start_problem().allotted_s == 20
    assert BudgetManager(config, 1, clock).start_problem().allotted_s == 100  # never past the end


def test_out_of_time_gives_an_immediate_deadline() -> None:
    clock = FakeClock(0.0)
    manager = BudgetManager(BudgetConfig(total_s=10, reserve_s=1, fallback_s=1), 3, clock)
    manager.start_problem()
    clock.now = 50.0
    budget = manager.start_problem()  # finishes the previous one implicitly
    assert budget.deadline == clock.now and budget.index == 1
    assert manager.durations == [50.0]


def test_finish_without_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        BudgetManager(BudgetConfig(total_s=10), 1, FakeClock()).finish_problem()


def test_speed_levels_validation() -> None:
    with pytest.raises(ValidationError):
        BudgetConfig(speed_levels=[(0.5, 1.0), (0.9, 0.5), (0.0, 0.25)])
    with pytest.raises(ValidationError):
        BudgetConfig(speed_levels=[(0.5, 1.0)])
    with pytest.raises(ValidationError):
        BudgetConfig(speed_levels=[(0.0, 1.5)])
    assert BudgetConfig.model_validate({"speed_levels": [[0.8, 1], [0, 0.5]]}).speed_levels[1] == (0.0, 0.5)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 30),
    known=st.booleans(),
    total=st.floats(1.0, 10_000.0),
    reserve=st.floats(0.0, 20.0),
    fallback=st.floats(0.0, 5.0),
    borrow=st.floats(1.0, 3.0),
    wanted=st.lists(st.floats(0.0, 2_000.0), min_size=30, max_size=30),
    fallback_used=st.lists(st.floats(0.0, 1.0), min_size=30, max_size=30),
)
def test_a_run_never_overruns(
    n: int,
    known: bool,
    total: float,
    reserve: float,
    fallback: float,
    borrow: float,
    wanted: list[float],
    fallback_used: list[float],
) -> None:
    """Problems that stop at their deadline and write their answer within fallback_s end the run in time."""
    assume(total >= reserve + fallback * n)  # otherwise no schedule can make it
    clock = FakeClock(0.0)
    config = BudgetConfig(
        total_s=total, reserve_s=reserve, fallback_s=fallback, borrow=borrow, assumed_problems=max(1, n - 3)
    )
    manager = BudgetManager(config, n if known else None, clock)
    end = manager.run_start + total - reserve
    for i in range(n):
        budget = manager.start_problem()
        assert budget.started <= budget.soft_deadline <= budget.deadline
        assert budget.deadline <= max(budget.started, end)
        if known:
            assert budget.deadline + fallback * (n - i) <= end + 1e-6 or budget.allotted_s == 0
        clock.now = min(budget.started + wanted[i], budget.deadline) + fallback_used[i] * fallback
        manager.finish_problem()
    if known or n <= config.assumed_problems:
        assert clock.now <= end + 1e-6


@given(n=st.integers(1, 50), total=st.floats(1.0, 20_000.0), fallback=st.floats(0.0, 3.0))
def test_problems_using_all_their_time_fit_in_the_total(n: int, total: float, fallback: float) -> None:
    """The sum of all deadlines' allotments, each used in full, stays inside total − reserve."""
    clock = FakeClock(0.0)
    manager = BudgetManager(BudgetConfig(total_s=total, reserve_s=2.0, fallback_s=fallback), n, clock)
    allotted = 0.0
    for _ in range(n):
        budget = manager.start_problem()
        allotted += budget.allotted_s
        clock.now = budget.deadline + fallback
        manager.finish_problem()
    assert allotted + n * fallback <= max(total - 2.0, n * fallback) + 1e-6
    assert clock.now <= max(total - 2.0, n * fallback) + 1e-6
