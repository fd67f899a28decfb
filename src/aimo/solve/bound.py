"""The least any question-level stop rule could spend: a rule that knows the gold answers.

Replayed through the same pool as real rules (`aimo.solve.arrival`), each problem has two costs: stop
at its first answer (the cheapest any rule can stop), and stop at the first moment the vote's leader
is right (if ever). To reach a number of correct problems at the fewest tokens, an oracle takes the
first answer everywhere and pays for waiting only on the problems where waiting is cheapest. No
real rule does better, so when this bound misses a goal, the goal is out of reach of stop rules on
these samples (cutting single samples, as DeepConf online does, is not covered by it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from aimo.engines.traces import TraceProblem
from aimo.solve.arrival import replay_problem
from aimo.solve.stopping import AgreeRule
from aimo.solve.types import AgreeReason, RuleReason
from aimo.solve.voting import weigh_answers, winner


@dataclass(frozen=True)
class KnowsTheAnswer:
    """A stop rule no real run has: stop as soon as the vote's leader (ties: the earliest) is right."""

    right: Callable[[str | None], bool]

    @property
    def spec(self) -> str:
        return "oracle"

    def check(
        self,
        answers: Sequence[str | None],
        total: int,
        weights: Sequence[float] | None = None,
        max_weight: float = 1.0,
    ) -> RuleReason | None:
        leader = winner(weigh_answers(answers, weights))
        return AgreeReason("oracle") if leader is not None and self.right(leader) else None


@dataclass(frozen=True)
class Bound:
    """The fewest tokens with which a stop rule gets `correct` of `problems` right (None: no rule can)."""

    problems: int
    correct: int
    tokens: int | None


def fewest_tokens(
    problems: Sequence[TraceProblem],
    correct: int,
    width: int | None,
    right: Callable[[TraceProblem, str | None], bool],
    max_samples: int | None = None,
) -> Bound:
    """The bound (module doc) for `correct` right answers, samples run `width` at a time (None: all).
    `right(problem, answer)` grades an answer."""
    first_tokens = 0
    first_correct = 0
    extra: list[int] = []  # what waiting for a right leader costs over the first answer, per problem
    for problem in problems:
        n = len(problem.samples[:max_samples])
        pool = max(1, width or n)
        first = replay_problem(problem, [AgreeRule(1, 1)], pool, max_samples=max_samples)
        first_tokens += first.tokens
        if right(problem, first.answer):
            first_correct += 1
            continue
        oracle = KnowsTheAnswer(partial(right, problem))
        waited = replay_problem(problem, [oracle], pool, max_samples=max_samples)
        if right(problem, waited.answer):
            extra.append(waited.tokens - first.tokens)
    missing = max(0, correct - first_correct)
    if missing > len(extra):
        return Bound(len(problems), correct, None)
    return Bound(len(problems), correct, first_tokens + sum(sorted(extra)[:missing]))
