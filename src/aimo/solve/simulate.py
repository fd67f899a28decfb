"""Offline simulation of solving strategies on recorded samples, without a model.

(a) `replay_rules`: stopping rules applied to recorded samples in sampling order: accuracy of the
    vote at the stop, and the tokens of the samples used.
(b) `simulate_competition`: many simulated competition runs (random problem order, random sample
    durations from token counts at a decode speed with noise) under the `BudgetManager`, against a
    fixed equal split of the same budget.

`python -m aimo.solve.simulate` prints both tables on the ConSol o3-mini-low traces.
"""

from __future__ import annotations

import math
import os
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aimo.engines.traces import TraceProblem, load_traces
from aimo.solve.arrival import replay_problem
from aimo.solve.budget import BudgetManager, ProblemBudget
from aimo.solve.confidence import OnlineConfidence
from aimo.solve.config import BudgetConfig
from aimo.solve.stopping import AgreeRule, StopRule, check_stop, format_stop_rules, parse_stop_rules
from aimo.solve.voting import VoteConfig, majority, normalize_key

Grader = Callable[[str | None, str | None], bool]
Policy = Literal["managed", "equal", "scheduled"]

CONSOL_FILE = "traces/consol_aime24_all_runs.jsonl"
CONSOL_VOTE_RUN = "o3minilow-aime24-vote"
CONSOL_SPRT_RUN = "o3minilow-aime24-sprt-050010050949976"
DEFAULT_RULES = ("", "sprt", "sprt:p1=0.7,alpha=0.05,beta=0.05", "4/4,4/5,5/7,6/9", "unbeatable")


def same_answer(answer: str | None, gold: str | None) -> bool:
    """Default grading: equal voting keys (exact for integer answers)."""
    return answer is not None and normalize_key(answer) == normalize_key(gold)


def shared_data_dir() -> Path:
    """The shared data folder: $AIMO_SHARED_DATA, else `../shared/data` from the working directory or
    next to this checkout of aimo (the first that exists; the latter when neither does)."""
    if env := os.environ.get("AIMO_SHARED_DATA"):
        return Path(env)
    beside_checkout = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    from_cwd = Path("..") / "shared" / "data"
    return from_cwd if from_cwd.is_dir() else beside_checkout


# -- (a) stopping rules on recorded samples ---------------------------------------------------------


@dataclass(frozen=True)
class RuleOutcome:
    """A stopping rule replayed over a set of problems."""

    rule: str
    problems: int
    correct: int
    tokens: int
    samples: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.problems if self.problems else 0.0

    @property
    def mean_samples(self) -> float:
        return self.samples / self.problems if self.problems else 0.0


def recorded_grade(problem: TraceProblem, answer: str | None, grade: Grader = same_answer) -> bool:
    """Whether `answer` is right: by the recorded grade of a sample with that answer when the trace
    has one (`meta["correct"]`, e.g. math_cot's LaTeX answers graded by their authors), else `grade`."""
    key = normalize_key(answer)
    graded = [
        s.meta["correct"] for s in problem.samples if "correct" in s.meta and normalize_key(s.answer) == key
    ]
    if key is not None and graded:
        return bool(graded[0])
    return grade(answer, problem.gold)


def stop_point(answers: Sequence[str | None], rules: Sequence[StopRule], total: int) -> int:
    """How many of `answers` (in order) are consumed before `rules` stop (all of them if never)."""
    for used in range(1, len(answers) + 1):
        if check_stop(rules, answers[:used], total) is not None:
            return used
    return len(answers)


def replay_rule(
    problems: Sequence[TraceProblem],
    spec: str,
    max_samples: int | None = None,
    grade: Grader = same_answer,
    concurrent: bool = False,
    width: int | None = None,
    vote: VoteConfig | None = None,
    online: OnlineConfidence | None = None,
) -> RuleOutcome:
    """Apply the stop rules of `spec` ("" = none: the vote of all) to each problem's samples.

    Sequential (default): samples arrive in sampling order and cost their tokens only if they are
    used. `concurrent=True`: all samples run at once at the same speed, so answers arrive shortest
    first (ties: sampling order), and stopping at an answer of t tokens costs every sample up to t
    tokens. `width`: that many samples run at once, a new one starting when one ends (overrides
    `concurrent`). `vote` weighs the votes (and the rules count them that way); `online` replays
    DeepConf online on samples that recorded their logprobs (see `aimo.solve.arrival`).
    """
    rules = parse_stop_rules(spec)
    correct = tokens = used_total = 0
    run_gate = online.gate() if online is not None and online.scope == "run" else None
    for problem in problems:
        n = len(problem.samples[:max_samples])
        pool = width or (n if concurrent else 1)
        replayed = replay_problem(problem, rules, max(1, pool), vote, online, max_samples, run_gate)
        correct += recorded_grade(problem, replayed.answer, grade)
        tokens += replayed.tokens
        used_total += replayed.used
    label = spec or f"majority@{max_samples or max((len(p.samples) for p in problems), default=0)}"
    if vote is not None and vote != VoteConfig():
        label += f" vote[{format_vote(vote)}]"
    if online is not None:
        scope = ",scope=run" if online.scope == "run" else ""
        scope += ",warmup_on=first_window" if online.warmup_on == "first_window" else ""
        label += f" online[warmup={online.warmup},keep={online.keep:g},window={online.window}{scope}]"
    if width:
        label += f" (width {width})"
    elif concurrent:
        label += " (concurrent)"
    return RuleOutcome(label, len(problems), correct, tokens, used_total)


def format_vote(vote: VoteConfig) -> str:
    """The fields of `vote` that differ from plain majority, as `name=value` (the `--vote` syntax)."""
    defaults = VoteConfig()
    return ",".join(
        f"{name}={getattr(vote, name)}"
        for name in type(vote).model_fields
        if getattr(vote, name) != getattr(defaults, name)
    )


def replay_rules(
    problems: Sequence[TraceProblem],
    specs: Sequence[str] = DEFAULT_RULES,
    max_samples: int | None = None,
    grade: Grader = same_answer,
    concurrent: bool = False,
    width: int | None = None,
    vote: VoteConfig | None = None,
    online: OnlineConfidence | None = None,
) -> list[RuleOutcome]:
    """`replay_rule` for each spec."""
    return [
        replay_rule(problems, spec, max_samples, grade, concurrent, width, vote, online) for spec in specs
    ]


# -- (b) competition runs under a time budget -----------------------------------------------------


@dataclass(frozen=True)
class CompetitionSetup:
    """How simulated competition runs go. Durations: startup + tokens / tokens_per_s × lognormal noise."""

    budget: BudgetConfig
    runs: int = 1000
    samples: int = 16
    stop: Sequence[StopRule] = (AgreeRule(4, 4), AgreeRule(4, 5), AgreeRule(5, 7), AgreeRule(6, 9))
    tokens_per_s: float = 40.0
    noise_sigma: float = 0.3
    startup_s: float = 2.0
    seed: int = 0
    # Per-problem time weights (a token scheduler's, by problem id): adds the "scheduled" policy, the
    # time manager with each fair share scaled by the problem's weight.
    weights: Mapping[str, float] | None = None


@dataclass(frozen=True)
class CompetitionOutcome:
    """Scores and time use of one policy over all simulated runs."""

    policy: Policy
    scores: tuple[int, ...]
    seconds: tuple[float, ...]
    total_s: float

    @property
    def mean_score(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def overruns(self) -> int:
        """Runs that ended after the total budget."""
        return sum(s > self.total_s for s in self.seconds)

    @property
    def max_seconds(self) -> float:
        return max(self.seconds)


class EqualSplitBudget:
    """The baseline: every problem gets the same share of the budget; unused time is lost."""

    def __init__(self, config: BudgetConfig, n_problems: int, clock: Callable[[], float]) -> None:
        if config.total_s is None:
            raise ValueError("an equal split needs a total budget")
        self.config = config
        self.clock = clock
        usable = config.total_s - config.reserve_s - config.fallback_s * n_problems
        self.share = max(0.0, usable) / n_problems
        self.index = 0

    def start_problem(self) -> ProblemBudget:
        now = self.clock()
        budget = ProblemBudget(
            self.index, now, now + self.share, now + self.config.soft_fraction * self.share
        )
        self.index += 1
        return budget

    def finish_problem(self, seconds_used: float | None = None) -> None:
        pass


def simulate_problem(
    budget: ProblemBudget,
    answers: Sequence[str | None],
    durations: Sequence[float],
    rules: Sequence[StopRule],
) -> tuple[str | None, float]:
    """One problem whose samples all start at `budget.started` and take `durations` seconds.

    Answers arrive in order of duration; the problem ends when a rule stops it, at the soft deadline
    once it has an answer, at the hard deadline, or when every sample is in. Returns (voted answer,
    end time).
    """
    arrivals = sorted(zip((budget.started + d for d in durations), answers, strict=True), key=lambda a: a[0])
    got: list[str | None] = []
    end = budget.started
    for at, answer in arrivals:
        if at > budget.soft_deadline and majority(got) is not None:
            return majority(got), max(end, budget.soft_deadline)
        if at > budget.deadline:
            return majority(got), max(budget.started, budget.deadline)
        got.append(answer)
        end = at
        if check_stop(rules, got, len(answers)) or (at >= budget.soft_deadline and majority(got) is not None):
            break
    return majority(got), end


def simulate_competition(
    problems: Sequence[TraceProblem], setup: CompetitionSetup, grade: Grader = same_answer
) -> dict[Policy, CompetitionOutcome]:
    """`setup.runs` runs over `problems` in random order, under the budget manager and an equal split.

    Both policies see the same random draws in each run (problem order, which recorded samples, their
    durations, the time each forced answer takes), so their scores compare pairwise.
    """
    if setup.budget.total_s is None:
        raise ValueError("simulate_competition needs a total budget (budget.total_s)")
    rules = setup.stop
    results: dict[Policy, tuple[list[int], list[float]]] = {"managed": ([], []), "equal": ([], [])}
    if setup.weights is not None:
        results["scheduled"] = ([], [])
    for run in range(setup.runs):
        for policy, (scores, seconds) in results.items():
            score, used = _one_run(
                problems, setup, rules, grade, policy, random.Random(f"{setup.seed}:{run}")
            )
            scores.append(score)
            seconds.append(used)
    return {
        policy: CompetitionOutcome(policy, tuple(scores), tuple(seconds), setup.budget.total_s)
        for policy, (scores, seconds) in results.items()
    }


def _one_run(
    problems: Sequence[TraceProblem],
    setup: CompetitionSetup,
    rules: Sequence[StopRule],
    grade: Grader,
    policy: Policy,
    rng: random.Random,
) -> tuple[int, float]:
    now = 0.0
    manager: BudgetManager | EqualSplitBudget
    if policy in ("managed", "scheduled"):
        manager = BudgetManager(setup.budget, len(problems), clock=lambda: now)
    else:
        manager = EqualSplitBudget(setup.budget, len(problems), clock=lambda: now)
    score = 0
    for problem in rng.sample(list(problems), len(problems)):
        # Draws do not depend on the policy: always draw for the full sample count, then cut.
        picked = rng.sample(list(problem.samples), min(setup.samples, len(problem.samples)))
        noise = [math.exp(rng.gauss(0.0, setup.noise_sigma)) for _ in picked]
        fallback = rng.uniform(0.2, 1.0) * setup.budget.fallback_s
        if policy == "scheduled" and isinstance(manager, BudgetManager):
            budget = manager.start_problem((setup.weights or {}).get(problem.problem_id, 1.0))
        else:
            budget = manager.start_problem()
        n = min(len(picked), budget.scaled_samples(setup.samples))
        durations = [
            setup.startup_s + (s.completion_tokens or 0) / setup.tokens_per_s * f
            for s, f in zip(picked[:n], noise[:n], strict=True)
        ]
        answer, end = simulate_problem(budget, [s.answer for s in picked[:n]], durations, rules)
        score += grade(answer, problem.gold)
        now = end + fallback
        manager.finish_problem()
    return score, now


# -- the report -------------------------------------------------------------------------------------


def format_rule_table(outcomes: Sequence[RuleOutcome]) -> str:
    """A plain-text table of stopping-rule outcomes."""
    width = max([30, *(len(o.rule) for o in outcomes)])
    lines = [f"{'rule':<{width}} {'accuracy':>8} {'tokens':>11} {'answers used':>12}"]
    lines += [
        f"{o.rule:<{width}} {o.accuracy:>8.3f} {o.tokens:>11,} {o.mean_samples:>12.1f}" for o in outcomes
    ]
    return "\n".join(lines)


def format_competition_table(rows: Sequence[tuple[float, dict[Policy, CompetitionOutcome]]]) -> str:
    """A plain-text table of competition simulations, one row per (per-problem budget, policy)."""
    header = ("budget s/problem", "policy", "mean score", "sd", "overruns", "max used/total")
    lines = ["{:>16} {:<8} {:>10} {:>5} {:>8} {:>14}".format(*header)]
    for per_problem, outcomes in rows:
        for outcome in outcomes.values():
            lines.append(
                f"{per_problem:>16.0f} {outcome.policy:<8} {outcome.mean_score:>10.2f} "
                f"{statistics.pstdev(outcome.scores):>5.2f} {outcome.overruns:>8d} "
                f"{outcome.max_seconds / outcome.total_s:>14.3f}"
            )
    return "\n".join(lines)


def main() -> None:
    """Print both tables on the ConSol o3-mini-low traces from the shared data folder."""
    path = shared_data_dir() / CONSOL_FILE
    vote = load_traces(path, CONSOL_VOTE_RUN)
    print(f"(a) stopping rules on {CONSOL_VOTE_RUN} ({len(vote)} problems x 40 samples, sampling order)")
    print(format_rule_table(replay_rules(vote)))
    print("\n    the same with all 40 samples running at once at equal speed (answers arrive shortest first)")
    print(format_rule_table(replay_rules(vote, concurrent=True)))
    sprt_run = load_traces(path, CONSOL_SPRT_RUN)
    print(f"\n    check: 'sprt' on ConSol's own SPRT run {CONSOL_SPRT_RUN}")
    print(format_rule_table([replay_rule(sprt_run, "sprt")]))

    rows = []
    for per_problem in (30.0, 45.0, 60.0, 90.0):
        budget = BudgetConfig(total_s=per_problem * len(vote), reserve_s=10.0, fallback_s=1.0)
        setup = CompetitionSetup(budget=budget)
        rows.append((per_problem, simulate_competition(vote, setup)))
    print(
        f"\n(b) {setup.runs} competition runs per row: {len(vote)} problems in random order, "
        f"{setup.samples} samples at {setup.tokens_per_s:g} tok/s each (lognormal noise "
        f"sigma {setup.noise_sigma}), stop rules {format_stop_rules(setup.stop)!r}"
    )
    print(format_competition_table(rows))


if __name__ == "__main__":
    main()
