"""Preference pairs (DPO) and labelled completions (KTO) from graded samples.

- "shorter" (AIMO-2 2nd place, imagination-research): chosen and rejected both correct, with
  len(chosen) < ratio × len(rejected), len(chosen) > min_tokens, and, when a `max_similarity` is
  given, cosine similarity of their sentence embeddings below it (their "dpo-2"; "dpo-1" had no
  similarity criterion). It teaches the model to reach the same answer in fewer tokens.
- "correct-wrong": chosen correct, rejected wrong (the length criteria apply too when set).
- KTO (Numina's on-policy recipe): every graded sample with `label` = correct.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from aimo.data.graded import GradedProblem, GradedSample
from aimo.data.select import SampleFilter

ANY = SampleFilter()
PairMode = Literal["shorter", "correct-wrong"]
Similarity = Callable[[Sequence[str]], np.ndarray]  # texts -> their pairwise cosine similarity matrix


@dataclass(frozen=True)
class PairRule:
    """Which (chosen, rejected) pairs to build (see the module doc)."""

    mode: PairMode = "shorter"
    ratio: float | None = 0.7  # len(chosen) < ratio * len(rejected); None: no length criterion
    min_tokens: int = 0  # len(chosen) > min_tokens
    max_similarity: float | None = None  # embedding cosine similarity below this; None: not checked
    per_problem: int = 2  # at most this many pairs per problem (the most different lengths first)

    def lengths_ok(self, chosen: GradedSample, rejected: GradedSample) -> bool:
        if chosen.length <= self.min_tokens:
            return False
        return self.ratio is None or chosen.length < self.ratio * rejected.length


def dpo_pairs(
    problems: Sequence[GradedProblem],
    rule: PairRule,
    only: SampleFilter = ANY,
    similarity: Similarity | None = None,
) -> Iterator[tuple[GradedProblem, GradedSample, GradedSample]]:
    """(problem, chosen, rejected) triples by `rule`; `similarity` is needed when the rule sets
    `max_similarity`."""
    if rule.max_similarity is not None and similarity is None:
        raise ValueError("a pair rule with max_similarity needs a similarity function (embeddings)")
    for problem in problems:
        if not problem.text or not only.problem_ok(problem):
            continue
        samples = [s for s in problem.samples if s.correct is not None and only.sample_ok(s)]
        candidates = [
            (c, r)
            for c, r in itertools.permutations(samples, 2)
            if c.correct
            and (r.correct if rule.mode == "shorter" else not r.correct)
            and rule.lengths_ok(c, r)
        ]
        candidates.sort(key=lambda pair: pair[0].length / max(1, pair[1].length))
        if rule.max_similarity is not None and candidates:
            candidates = _dissimilar(candidates, samples, rule.max_similarity, similarity)  # type: ignore[arg-type]
        used: set[int] = set()
        picked = 0
        for chosen, rejected in candidates:
            if picked >= rule.per_problem:
                break
            if id(rejected) in used:  # spread the pairs over different rejected samples
                continue
            used.add(id(rejected))
            picked += 1
            yield problem, chosen, rejected


def _dissimilar(
    pairs: list[tuple[GradedSample, GradedSample]],
    samples: list[GradedSample],
    limit: float,
    similarity: Similarity,
) -> list[tuple[GradedSample, GradedSample]]:
    index = {id(s): i for i, s in enumerate(samples)}
    matrix = similarity([s.text for s in samples])
    return [(c, r) for c, r in pairs if matrix[index[id(c)], index[id(r)]] < limit]


def kto_samples(
    problems: Sequence[GradedProblem], only: SampleFilter = ANY, balance: bool = False
) -> Iterator[tuple[GradedProblem, GradedSample]]:
    """Every graded sample that passes `only`. `balance`: per problem, as many wrong as correct ones
    (the rest of the larger side dropped, shortest kept), since KTO weighs the two sides."""
    for problem in problems:
        if not problem.text or not only.problem_ok(problem):
            continue
        graded = [s for s in problem.samples if s.correct is not None and only.sample_ok(s)]
        if balance:
            good = sorted((s for s in graded if s.correct), key=lambda s: s.length)
            bad = sorted((s for s in graded if not s.correct), key=lambda s: s.length)
            n = min(len(good), len(bad))
            graded = good[:n] + bad[:n]
        yield from ((problem, s) for s in graded)
