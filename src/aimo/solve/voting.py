"""Voting over the answers of a problem's samples: plain majority, or weighted by evidence.

Every weight is a multiplier on a sample's single vote, and each one is off by default, so the
default `VoteConfig()` is plain majority voting. Samples whose answer is None (or empty) do not vote.

Tie-break (everywhere in aimo: `winner`, `majority`, the stopping rules): among answers whose weight
ties with the best, the one that appeared first in sampling order wins, i.e. the answer of the
earliest sample in the sequence given. The sample loop passes samples in the order they finished,
so on a tie the answer that was reached first is kept.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aimo.solve.types import Sample

# Relative tolerance under which two weighted totals count as a tie (float sums depend on order).
_TIE_RTOL = 1e-9
_INT_RE = re.compile(r"[+-]?\d+")
# Numbers in a problem statement: plain digit runs and thousands-grouped ones ("1,000", "1{,}000").
_TEXT_NUMBER_RE = re.compile(r"\d{1,3}(?:(?:,|\{,\})\d{3})+(?!\d)|\d+")


class VoteConfig(BaseModel):
    """Which vote weights are on, and how strong they are. The default is plain majority.

    - `code_verified`: multiplier for a sample whose answer also came out of one of its code runs.
    - `entropy`: weight each sample by 1 / max(H, `entropy_floor`), H = `Sample.meta["mean_entropy"]`
      (mean token entropy from the engine's logprobs; lower entropy = more confident). A sample
      without it gets the mean weight of those that have it, i.e. stays neutral.
    - `length_power`: weight (median tokens / sample tokens) ** power, clipped to `length_clip`;
      the median is over the problem's answered samples. Wrong answers tend to come from longer traces.
    - `small_number_penalty`: multiplier for integer answers with |answer| <= `small_number_max`.
    - `problem_number_penalty`: multiplier for answers that appear as a number in the problem text.
    """

    model_config = ConfigDict(extra="forbid")

    code_verified: float = Field(1.0, ge=0.0)
    entropy: bool = False
    entropy_floor: float = Field(0.3, gt=0.0)
    length_power: float = Field(0.0, ge=0.0)
    length_clip: tuple[float, float] = (0.5, 2.0)
    small_number_penalty: float = Field(1.0, ge=0.0)
    small_number_max: int = Field(9, ge=0)
    problem_number_penalty: float = Field(1.0, ge=0.0)

    @model_validator(mode="after")
    def _check_clip(self) -> VoteConfig:
        low, high = self.length_clip
        if not 0 < low <= 1 <= high:
            raise ValueError(f"length_clip must satisfy 0 < low <= 1 <= high, got {self.length_clip}")
        return self


def normalize_key(answer: object) -> str | None:
    """The voting key of an answer: stripped text, integers without sign/zero padding noise; None for none."""
    if answer is None:
        return None
    text = str(answer).strip()
    if not text:
        return None
    if _INT_RE.fullmatch(text):
        return str(int(text))
    return text


def problem_numbers(problem_text: str) -> set[str]:
    """The integers written in a problem statement, as voting keys (e.g. {"2024", "1000"})."""
    found = set()
    for match in _TEXT_NUMBER_RE.findall(problem_text):
        digits = match.replace("{,}", "").replace(",", "")
        found.add(str(int(digits)))
    return found


def token_entropy(top_logprobs: Sequence[float]) -> float:
    """Entropy (nats) of one token position from its top log-probabilities, renormalised over them."""
    if not top_logprobs:
        return 0.0
    peak = max(top_logprobs)
    weights = [math.exp(lp - peak) for lp in top_logprobs]
    total = sum(weights)
    return -sum(w / total * math.log(w / total) for w in weights if w > 0)


class EntropyMeter:
    """Running mean token entropy of a stream; feed it each chunk's `logprobs` as they arrive."""

    def __init__(self) -> None:
        self.tokens = 0
        self.total = 0.0

    def add(self, logprobs: Iterable[Sequence[float]]) -> None:
        for position in logprobs:
            self.total += token_entropy(position)
            self.tokens += 1

    @property
    def mean(self) -> float | None:
        """Mean entropy per token; None when no logprobs came. Store it in `Sample.meta["mean_entropy"]`."""
        return self.total / self.tokens if self.tokens else None


def is_code_verified(sample: Sample) -> bool:
    """Whether one of the sample's code runs produced the same answer as the sample."""
    key = normalize_key(sample.answer)
    return key is not None and any(normalize_key(run.answer) == key for run in sample.code_runs)


def sample_weights(
    samples: Sequence[Sample], problem_text: str = "", config: VoteConfig | None = None
) -> list[float]:
    """Each sample's vote weight (0.0 for samples without an answer), in the order given."""
    config = config or VoteConfig()
    keys = [normalize_key(s.answer) for s in samples]
    voters = [s for s, k in zip(samples, keys, strict=True) if k is not None]
    numbers = problem_numbers(problem_text) if config.problem_number_penalty != 1.0 else set()
    entropy_default = _mean_entropy_weight(voters, config) if config.entropy else 1.0
    tokens = [s.completion_tokens for s in voters if s.completion_tokens > 0]
    median_tokens = statistics.median(tokens) if config.length_power and tokens else None

    weights = []
    for sample, key in zip(samples, keys, strict=True):
        if key is None:
            weights.append(0.0)
            continue
        weight = 1.0
        if config.code_verified != 1.0 and is_code_verified(sample):
            weight *= config.code_verified
        if config.entropy:
            weight *= _entropy_weight(sample, config) or entropy_default
        if median_tokens is not None and sample.completion_tokens > 0:
            low, high = config.length_clip
            weight *= min(high, max(low, (median_tokens / sample.completion_tokens) ** config.length_power))
        if _is_small_number(key, config.small_number_max):
            weight *= config.small_number_penalty
        if key in numbers:
            weight *= config.problem_number_penalty
        weights.append(weight)
    return weights


def tally(
    samples: Sequence[Sample], problem_text: str = "", config: VoteConfig | None = None
) -> dict[str, float]:
    """Total vote weight of each answer; keys in order of first appearance among `samples`."""
    return weigh_answers([s.answer for s in samples], sample_weights(samples, problem_text, config))


def winner(votes: Mapping[str, float], order: Iterable[str | None] | None = None) -> str | None:
    """The answer with the most weight; ties go to the answer that comes first in `order`.

    `order` is the answers in sampling order (answers missing from it rank after it, in the order of
    `votes`); without it, the order of `votes` (as `tally` builds it: first appearance) is used.
    Returns None when nothing was voted for.
    """
    if not votes:
        return None
    rank: dict[str, int] = {}
    for answer in order or ():
        key = normalize_key(answer)
        if key is not None and key in votes:
            rank.setdefault(key, len(rank))
    for key in votes:
        rank.setdefault(key, len(rank))
    best = max(votes.values())
    tied = [k for k, w in votes.items() if math.isclose(w, best, rel_tol=_TIE_RTOL, abs_tol=1e-12)]
    return min(tied, key=rank.__getitem__)


def count_answers(answers: Iterable[str | None]) -> dict[str, int]:
    """Plain vote counts of answer keys, in order of first appearance; None answers are skipped."""
    counts: dict[str, int] = {}
    for answer in answers:
        key = normalize_key(answer)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    return counts


def weigh_answers(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> dict[str, float]:
    """Vote weight of each answer key (plain counts without `weights`), in order of first appearance."""
    if weights is None:
        return {k: float(v) for k, v in count_answers(answers).items()}
    totals: dict[str, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        key = normalize_key(answer)
        if key is not None:
            totals[key] = totals.get(key, 0.0) + weight
    return totals


def leader_margin(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> float:
    """How many votes the leading answer is ahead of the runner-up (0 when nothing was answered)."""
    ranked = sorted(weigh_answers(answers, weights).values(), reverse=True)
    if not ranked:
        return 0.0
    return ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)


def max_sample_weight(config: VoteConfig | None = None) -> float:
    """The most weight one sample can carry under `config` (a bound for rules about future samples)."""
    config = config or VoteConfig()
    # Every multiplier can apply to the same sample, so the bound is their product.
    bound = (
        max(1.0, config.code_verified)
        * max(1.0, config.small_number_penalty)
        * max(1.0, config.problem_number_penalty)
    )
    if config.length_power > 0:
        bound *= config.length_clip[1]
    if config.entropy:
        bound *= 1.0 / config.entropy_floor
    return bound


def majority(answers: Iterable[str | None]) -> str | None:
    """Plain majority vote of answers given in sampling order (ties: first appearance)."""
    counts = count_answers(answers)
    return winner({k: float(v) for k, v in counts.items()})


def _is_small_number(key: str, limit: int) -> bool:
    return _INT_RE.fullmatch(key) is not None and abs(int(key)) <= limit


def _entropy_weight(sample: Sample, config: VoteConfig) -> float | None:
    entropy = sample.meta.get("mean_entropy")
    if entropy is None:
        return None
    return 1.0 / max(float(entropy), config.entropy_floor)


def _mean_entropy_weight(samples: Iterable[Sample], config: VoteConfig) -> float:
    known = [w for s in samples if (w := _entropy_weight(s, config)) is not None]
    return sum(known) / len(known) if known else 1.0
