from __future__ import annotations

import random
from pathlib import Path

from aimo.engines.traces import TraceProblem, TraceSample, load_traces
from aimo.solve.budget import ProblemBudget
from aimo.solve.config import BudgetConfig
from aimo.solve.simulate import (
    CONSOL_FILE,
    CONSOL_SPRT_RUN,
    CompetitionSetup,
    format_competition_table,
    format_rule_table,
    replay_rule,
    replay_rules,
    simulate_competition,
    simulate_problem,
    stop_point,
)
from aimo.solve.stopping import parse_stop_rules


def synthetic_problems(count: int = 12, seed: int = 1) -> list[TraceProblem]:
    """Problems whose samples are right with a per-problem probability, with random lengths."""
    rng = random.Random(seed)
    problems = []
    for i in range(count):
        p_right = rng.uniform(0.2, 0.95)
        samples = tuple(
            TraceSample(
                answer=str(i) if rng.random() < p_right else str(rng.randint(100, 103)),
                completion_tokens=rng.randint(200, 3000),
            )
            for _ in range(24)
        )
        problems.append(TraceProblem(f"s{i}", f"problem {i}", str(i), samples))
    return problems


def test_stop_point() -> None:
    rules = parse_stop_rules("3/3,unbeatable")
    assert stop_point(["a", "a", "a", "b"], rules, 10) == 3
    assert stop_point(["a", "b", "a", "b"], rules, 4) == 3  # b can only draw level, and a came first
    assert stop_point(["b", "a", "a", "b"], rules, 4) == 4
    assert stop_point([], rules, 4) == 0


def test_replay_rules_on_synthetic_problems() -> None:
    problems = synthetic_problems()
    full, sprt = replay_rules(problems, ["", "sprt"])
    assert full.rule == "majority@24" and full.samples == 24 * len(problems)
    assert full.tokens == sum(s.completion_tokens or 0 for p in problems for s in p.samples)
    assert sprt.samples < full.samples and sprt.tokens < full.tokens
    assert "majority@24" in format_rule_table([full, sprt])


def test_replay_rule_sequential_and_concurrent() -> None:
    samples = tuple(
        TraceSample(answer=a, completion_tokens=t) for a, t in [("a", 100), ("b", 10), ("b", 20), ("a", 30)]
    )
    problems = [TraceProblem("x", "", "b", samples)]
    sequential = replay_rule(problems, "2/2")
    assert (sequential.correct, sequential.tokens, sequential.samples) == (0, 160, 4)  # a, b: tie to a
    concurrent = replay_rule(problems, "2/2", concurrent=True)
    # b (10) and b (20) arrive first; by then every sample has run 20 tokens (or finished).
    assert (concurrent.correct, concurrent.tokens, concurrent.samples) == (1, 20 + 10 + 20 + 20, 2)
    assert concurrent.rule == "2/2 (concurrent)"


def test_simulate_problem_ends_at_the_right_moment() -> None:
    budget = ProblemBudget(0, started=0.0, deadline=10.0, soft_deadline=8.0)
    rules = parse_stop_rules("2/2")
    assert simulate_problem(budget, ["a", "a", "b"], [3.0, 1.0, 2.0], rules) == ("a", 3.0)  # 2/2 fails at 2.0
    assert simulate_problem(budget, ["a", "b"], [1.0, 12.0], rules) == ("a", 8.0)  # soft deadline
    assert simulate_problem(budget, [None, "b"], [1.0, 9.0], rules) == ("b", 9.0)  # first answer after soft
    assert simulate_problem(budget, ["a", "b"], [11.0, 12.0], rules) == (None, 10.0)  # hard deadline


def test_competition_never_overruns_and_management_helps() -> None:
    problems = synthetic_problems()
    setup = CompetitionSetup(
        budget=BudgetConfig(total_s=40.0 * len(problems), reserve_s=5.0, fallback_s=1.0), runs=30, samples=12
    )
    outcomes = simulate_competition(problems, setup)
    assert outcomes["managed"].overruns == 0 and outcomes["equal"].overruns == 0
    assert len(outcomes["managed"].scores) == 30
    assert outcomes["managed"].mean_score >= outcomes["equal"].mean_score
    assert simulate_competition(problems, setup)["managed"].scores == outcomes["managed"].scores  # seeded
    assert "managed" in format_competition_table([(40.0, outcomes)])


def test_consol_numbers(shared_data: Path) -> None:
    """maj@40 and ConSol's SPRT on the o3-mini-low traces, as published."""
    path = shared_data / CONSOL_FILE
    vote = load_traces(path, "o3minilow-aime24-vote")
    majority40 = replay_rule(vote, "")
    assert (majority40.correct, majority40.tokens) == (21, 1_965_052)
    consol_sprt = replay_rule(load_traces(path, CONSOL_SPRT_RUN), "sprt")
    assert (consol_sprt.correct, consol_sprt.tokens) == (24, 708_878)
    ours = replay_rule(vote, "sprt")
    assert ours.tokens < majority40.tokens / 3 and ours.correct >= majority40.correct
