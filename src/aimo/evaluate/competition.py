"""Competition mode: the score of each problem order under one total time budget, and its spread.

The real runs go through `run_eval` (competition mode: a random problem order per repeat, the
time manager, early stopping and deadlines as in the Kaggle notebook). `offline_estimate` is the
fast check beside it: `aimo.solve.simulate.simulate_competition` over recorded samples, with sample
durations from their token counts at a decode speed, for many more orders than one can run.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aimo.answers import ExtractionConfig, extract_answer
from aimo.engines.replay import CHARS_PER_TOKEN
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.evaluate.metrics import Spread, spread
from aimo.evaluate.rundir import EvalRecord
from aimo.solve.config import BudgetConfig
from aimo.solve.simulate import CompetitionSetup, simulate_competition
from aimo.solve.stopping import StopRule

ESTIMATE_RUNS = 300


@dataclass(frozen=True)
class OrderScore:
    """One problem order (one repeat) of a competition run."""

    repeat: int
    score: int  # problems answered right
    graded: int
    problems: int
    elapsed_s: float  # from the repeat's start to its last answer
    deadline_stops: int  # problems whose samples the deadline cut off

    def overran(self, budget_s: float) -> bool:
        return self.elapsed_s > budget_s


@dataclass(frozen=True)
class CompetitionSummary:
    """Scores of the orders run under `budget_s`: mean ± sd, min, max; time used."""

    budget_s: float
    orders: tuple[OrderScore, ...]
    score: Spread
    elapsed: Spread

    @property
    def overruns(self) -> int:
        return sum(o.overran(self.budget_s) for o in self.orders)


def order_scores(records: Sequence[EvalRecord], correct: Callable[[EvalRecord], bool]) -> list[OrderScore]:
    """The score of each repeat of a competition run (`correct` grades a record's voted answer)."""
    by_repeat: dict[int, list[EvalRecord]] = {}
    for record in records:
        by_repeat.setdefault(record.repeat, []).append(record)
    scores = []
    for repeat, group in sorted(by_repeat.items()):
        graded = [r for r in group if r.result.gold is not None]
        scores.append(
            OrderScore(
                repeat=repeat,
                score=sum(correct(r) for r in graded),
                graded=len(graded),
                problems=len(group),
                elapsed_s=max((r.elapsed_s or 0.0) for r in group),
                deadline_stops=sum(r.result.stop_reason == "deadline" for r in group),
            )
        )
    return scores


def summarize_competition(scores: Sequence[OrderScore], budget_s: float) -> CompetitionSummary | None:
    """Mean score and spread over the orders (None when no order finished)."""
    if not scores:
        return None
    return CompetitionSummary(
        budget_s=budget_s,
        orders=tuple(scores),
        score=spread([float(s.score) for s in scores]),
        elapsed=spread([s.elapsed_s for s in scores]),
    )


def as_replayed(problems: Sequence[TraceProblem], answer_mode: str = "auto") -> list[TraceProblem]:
    """Recorded samples as the replay engine and the sample loop see them: a text-only sample gets the
    replay's token count (len / CHARS_PER_TOKEN) and the answer aimo extracts from its text."""
    config = ExtractionConfig(mode="math" if answer_mode == "math" else "integer")

    def replayed(sample: TraceSample) -> TraceSample:
        if sample.text is None:
            return sample
        tokens = sample.completion_tokens or max(1, math.ceil(len(sample.text) / CHARS_PER_TOKEN))
        return dataclasses.replace(
            sample, answer=extract_answer(sample.text, config), completion_tokens=tokens
        )

    return [dataclasses.replace(p, samples=tuple(replayed(s) for s in p.samples)) for p in problems]


def offline_estimate(
    problems: Sequence[TraceProblem],
    budget: BudgetConfig,
    *,
    samples: int,
    stop_rules: Sequence[StopRule],
    tokens_per_s: float,
    grade: Callable[[str | None, str | None], bool],
    runs: int = ESTIMATE_RUNS,
    seed: int = 0,
    noise_sigma: float = 0.0,
    startup_s: float = 0.0,
) -> dict[str, Any]:
    """Simulated competition runs over recorded samples: the time manager against an equal split.

    Sample durations are `startup_s + tokens / tokens_per_s` times lognormal noise (`noise_sigma`);
    the defaults (none of either) match the replay engine.
    """
    setup = CompetitionSetup(
        budget=budget,
        runs=runs,
        samples=samples,
        stop=stop_rules,
        tokens_per_s=tokens_per_s,
        noise_sigma=noise_sigma,
        startup_s=startup_s,
        seed=seed,
    )
    outcomes = simulate_competition(problems, setup, grade)
    return {
        "setup": {k: v for k, v in asdict(setup).items() if k != "budget"} | {"total_s": budget.total_s},
        "problems": len(problems),
        "policies": {
            policy: {
                "mean_score": outcome.mean_score,
                "sd": statistics.pstdev(outcome.scores),
                "min": min(outcome.scores),
                "max": max(outcome.scores),
                "overruns": outcome.overruns,
                "max_seconds": outcome.max_seconds,
            }
            for policy, outcome in outcomes.items()
        },
    }
