"""Reward functions with TRL's signature: `f(completions, **columns) -> list[float]`.

`completions` are strings or, for conversational datasets, lists of messages (the last one's content
is the text). TRL passes every other dataset column as a keyword argument (here the gold `answer`)
plus `prompts` and `completion_ids`; each function uses what it needs and ignores the rest, so they
plug into `GRPOTrainer(reward_funcs=[...])` unchanged. Lengths are in tokens when TRL passes
`completion_ids`, else in characters.

- format (Fast-Math-R1): 1 if the completion matches `^.*?oxed{(.*?)}.*?</think>.*?$` (a boxed answer,
  then the end of thinking), else 0.
- accuracy: 1 if aimo's extracted answer grades equal to the gold answer (`aimo.answers`, integer or
  math mode), else 0.
- cosine (Yeo et al. 2025, "Demystifying Long Chain-of-Thought Reasoning", as in open-r1 and
  Fast-Math-R1): with progress p = min(1, L / max_len), r = lo + (hi - lo)(1 + cos(pi p)) / 2, where
  (lo, hi) = (min_value_correct, max_value_correct) = (0.5, 1) for a correct answer and
  (max_value_wrong, min_value_wrong) = (-0.5, -1) for a wrong one: short correct traces earn most,
  long correct ones less; wrong ones are penalised less the longer they are (the model is not pushed
  to give up early).
- length (Kimi k1.5, arXiv 2501.12599): within the completions of one prompt, with lengths L,
  lambda = 0.5 - (L - L_min) / (L_max - L_min); reward lambda if correct, min(0, lambda) if wrong (0
  when all lengths are equal).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from aimo.answers import ExtractionConfig, GradeMode, extract_answer, grade

RewardFunction = Callable[..., list[float]]
FORMAT_PATTERN = re.compile(r"^.*?oxed{(.*?)}.*?</think>.*?$", re.DOTALL)


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the content of the last message of a list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        return str(completion[-1].get("content") or "")
    return ""


def _lengths(completions: Sequence[Any], completion_ids: Sequence[Sequence[int]] | None) -> list[int]:
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    return [len(completion_text(c)) for c in completions]


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when a boxed answer comes before `</think>` (Fast-Math-R1's format check), else 0.0."""
    return [1.0 if FORMAT_PATTERN.match(completion_text(c)) else 0.0 for c in completions]


def correctness(completions: Sequence[Any], answer: Sequence[Any], mode: GradeMode) -> list[bool]:
    """Whether each completion's extracted answer equals its gold answer (aimo's grader)."""
    extraction = ExtractionConfig(mode="math" if mode == "math" else "integer")
    verdicts = []
    for completion, gold in zip(completions, answer, strict=True):
        pred = extract_answer(completion_text(completion), extraction)
        verdicts.append(pred is not None and gold is not None and grade(pred, str(gold), mode))
    return verdicts


def accuracy_reward(mode: GradeMode = "integer") -> RewardFunction:
    """A reward of 1.0 for a correct answer, 0.0 otherwise, graded in `mode` (integer, math or auto)."""

    def reward(completions: Sequence[Any], answer: Sequence[Any], **_: Any) -> list[float]:
        return [float(ok) for ok in correctness(completions, answer, mode)]

    reward.__name__ = f"accuracy_{mode}"
    return reward


def cosine_reward(
    max_len: int = 1000,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    min_value_wrong: float = -1.0,
    max_value_wrong: float = -0.5,
    mode: GradeMode = "integer",
) -> RewardFunction:
    """Length-scaled correctness (see the module doc); defaults as in open-r1's cosine reward."""

    def reward(
        completions: Sequence[Any],
        answer: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **_: Any,
    ) -> list[float]:
        scores = []
        for ok, length in zip(
            correctness(completions, answer, mode), _lengths(completions, completion_ids), strict=True
        ):
            if ok:
                lo, hi = min_value_correct, max_value_correct
            else:  # swapped: the reward rises from min_value_wrong (short) to max_value_wrong (long)
                lo, hi = max_value_wrong, min_value_wrong
            progress = min(1.0, length / max_len)
            scores.append(lo + 0.5 * (hi - lo) * (1.0 + math.cos(math.pi * progress)))
        return scores

    reward.__name__ = "cosine"
    return reward


def length_reward(mode: GradeMode = "integer") -> RewardFunction:
    """Kimi k1.5's length penalty within each prompt's group of completions (see the module doc)."""

    def reward(
        completions: Sequence[Any],
        answer: Sequence[Any],
        prompts: Sequence[Any] | None = None,
        completion_ids: Sequence[Sequence[int]] | None = None,
        **_: Any,
    ) -> list[float]:
        lengths = _lengths(completions, completion_ids)
        ok = correctness(completions, answer, mode)
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts if prompts is not None else [""] * len(completions)):
            groups.setdefault(repr(prompt), []).append(i)
        scores = [0.0] * len(completions)
        for members in groups.values():
            shortest = min(lengths[i] for i in members)
            longest = max(lengths[i] for i in members)
            if longest == shortest:
                continue
            for i in members:
                lam = 0.5 - (lengths[i] - shortest) / (longest - shortest)
                scores[i] = lam if ok[i] else min(0.0, lam)
        return scores

    reward.__name__ = "length"
    return reward
