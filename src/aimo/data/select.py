"""Choosing samples for supervised fine-tuning, and removing near-duplicate problems.

Fast-Math-R1's SFT recipe: keep problems whose pass rate lies in a band (hard but solvable), keep
long traces only, the shortest correct trace per problem, and no duplicate problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from aimo.data.graded import GradedProblem, GradedSample


@dataclass(frozen=True)
class SampleFilter:
    """Which samples of which problems qualify (every bound inclusive; None: no bound)."""

    min_pass_rate: float | None = None
    max_pass_rate: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    # Prompt kinds to keep: ("cot",) chain of thought, ("tir",) tool-integrated; None: both.
    kinds: tuple[str, ...] | None = None

    def problem_ok(self, problem: GradedProblem) -> bool:
        rate = problem.pass_rate
        if self.min_pass_rate is None and self.max_pass_rate is None:
            return True
        if rate is None:
            return False
        low = self.min_pass_rate if self.min_pass_rate is not None else 0.0
        high = self.max_pass_rate if self.max_pass_rate is not None else 1.0
        return low <= rate <= high

    def sample_ok(self, sample: GradedSample) -> bool:
        if not sample.has_text or not sample.finished:
            return False
        if self.kinds is not None and sample.prompt_kind not in self.kinds:
            return False
        if self.min_tokens is not None and sample.length < self.min_tokens:
            return False
        return self.max_tokens is None or sample.length <= self.max_tokens


def select_sft(
    problems: Sequence[GradedProblem], only: SampleFilter, per_problem: int | None = 1
) -> Iterator[tuple[GradedProblem, GradedSample]]:
    """Correct samples that pass `only`, the `per_problem` shortest of each problem (None: all)."""
    for problem in problems:
        if not problem.text or not only.problem_ok(problem):
            continue
        good = sorted((s for s in problem.samples if s.correct and only.sample_ok(s)), key=lambda s: s.length)
        yield from ((problem, s) for s in good[:per_problem])


_WORD = re.compile(r"[a-z0-9]+")


def _shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def dedupe_problems(problems: Sequence[GradedProblem], threshold: float = 0.9) -> list[GradedProblem]:
    """The problems without near-duplicates of an earlier one: word-trigram Jaccard similarity of
    their texts at least `threshold` (1.0: identical up to case, spacing and punctuation).

    Quadratic in the number of problems, with a size check that skips most pairs."""
    kept: list[tuple[GradedProblem, frozenset]] = []
    for problem in problems:
        grams = _shingles(problem.text)
        duplicate = any(
            min(len(grams), len(other)) >= threshold * max(len(grams), len(other))
            and jaccard(grams, other) >= threshold
            for _, other in kept
        )
        if not duplicate:
            kept.append((problem, grams))
    return [p for p, _ in kept]
